"""The indicator registry as a table: what can be computed, under which variant names."""

from __future__ import annotations

import pandas as pd

from ._inputs import fmt
from ._variants import IndicatorSpec, available_indicators

__all__ = ["TABLE_COLUMNS", "indicator_table"]

#: The columns of :func:`indicator_table`, in order (the index is ``name``).
TABLE_COLUMNS = ("pattern", "default", "parameters", "inputs", "outputs", "talib", "summary")


def _row(spec: IndicatorSpec) -> dict[str, str | None]:
    return {
        "pattern": spec.signature,
        "default": spec.name + fmt(*spec.defaults),
        "parameters": ", ".join(f"{p.name}={p.default!r}" for p in spec.params),
        "inputs": ", ".join(spec.inputs),
        "outputs": ", ".join(spec.outputs),
        "talib": spec.name if spec.talib else None,
        "summary": spec.summary,
    }


def indicator_table() -> pd.DataFrame:
    """Every indicator of the registry, one row each: how to name its variants and what they need.

    Returns
    -------
    DataFrame
        Indexed by ``name`` (the registry name, sorted), with string columns:

        ``pattern``
            The variant name pattern, e.g. ``MACD_<fast>_<slow>_<signal>``.
        ``default``
            The variant a bare name means (TA-Lib's defaults), e.g. ``MACD_12_26_9``.
        ``parameters``
            Parameters with their defaults, in the variant name's order: ``fast=12, slow=26, signal=9``
            (empty when it takes none).
        ``inputs``
            The OHLCV columns it reads: ``close``, ``high, low, close`` ...
        ``outputs``
            The outputs of a multi-output indicator (its columns are ``<variant>.<output>``:
            ``MACD_12_26_9.macd``); empty for one that gives a single column named by the variant.
        ``talib``
            The TA-Lib function it equals, or None when TA-Lib has no such indicator.
        ``summary``
            What it computes.

    Examples
    --------
    >>> table = indicator_table()
    >>> table.loc["MACD", ["pattern", "parameters", "outputs"]].tolist()
    ['MACD_<fast>_<slow>_<signal>', 'fast=12, slow=26, signal=9', 'macd, signal, hist']
    >>> table.loc["VWAP", "talib"] is None
    True
    """
    specs = available_indicators()
    frame = pd.DataFrame([_row(spec) for spec in specs.values()], columns=list(TABLE_COLUMNS), dtype=object)
    frame.index = pd.Index(list(specs), name="name", dtype=object)
    return frame
