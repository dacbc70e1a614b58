"""Variant names (``RSI_14``, ``MACD_12_26_9``), the indicator registry and ``compute``.

Naming scheme
-------------
``<INDICATOR>[_<p1>_<p2>...]``: the indicator's registry name followed by
*all* of its parameters, underscore-separated, in the order of its signature
(see :func:`available_indicators`).  Integer parameters take integer literals
(``RSI_14``; ``RSI_14.5`` is rejected); real parameters take decimals
(``BBANDS_20_2.5``).  A bare name (``RSI``, ``MACD``, ``OBV``, ``VWAP``) means
the TA-Lib defaults.  Any other parameter count is an error.  Names are
case-insensitive and canonicalised: ``rsi`` -> ``RSI_14``, ``BBANDS_20_2.0``
-> ``BBANDS_20_2``; the canonical name is the column name, so duplicates
collapse into one column.

A single-output indicator gives one column named by the canonical variant.
A multi-output one gives ``<variant>.<output>`` columns:
``MACD_12_26_9.macd/.signal/.hist``, ``BBANDS_20_2.upper/.middle/.lower``,
``STOCH_14_3_3.k/.d``, ``STOCHF_5_3.k/.d``, ``STOCHRSI_14_5_3.k/.d``.  The
directional family is one column each: ``ADX_14``, ``DX_14``, ``PLUS_DI_14``,
``MINUS_DI_14`` (computed once when requested together).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pandas as pd

from qdbtools.exceptions import InvalidInputError, InvalidVariantError, MissingColumnsError

from . import _averages as avg
from . import _momentum as mom
from . import _stats as st
from . import _trend as tr
from . import _volatility as vol
from . import _volume as vlm
from ._core import Ctx, FloatArray
from ._inputs import check_index, column_array, fmt

Number = int | float

_INT = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


@dataclass(frozen=True)
class Param:
    """One parameter of an indicator: its name, type, TA-Lib default and minimum."""

    name: str
    kind: type
    default: Number
    minimum: Number


@dataclass(frozen=True, repr=False)
class IndicatorSpec:
    """A registry entry: how a variant name maps onto a computation.

    ``talib`` tells whether TA-Lib has the indicator under the same name (and the values
    equal TA-Lib's); :func:`qdbtools.indicators.indicator_table` lists every entry.
    """

    name: str
    params: tuple[Param, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    kernel: Callable[..., Any]
    summary: str
    check: Callable[[tuple[Number, ...]], str | None] | None = None
    talib: bool = True

    def __repr__(self) -> str:
        outputs = f" -> {', '.join(self.outputs)}" if self.outputs else ""
        defaults = f", default {self.name}{fmt(*self.defaults)}" if self.params else ""
        inputs = ", ".join(self.inputs)
        return f"IndicatorSpec({self.signature}{outputs}: {self.summary}; inputs {inputs}{defaults})"

    @property
    def signature(self) -> str:
        """``MACD_<fast>_<slow>_<signal>``."""
        return self.name + "".join(f"_<{p.name}>" for p in self.params)

    @property
    def defaults(self) -> tuple[Number, ...]:
        return tuple(p.default for p in self.params)


@dataclass(frozen=True)
class Variant:
    """A parsed variant: indicator, parameter values, canonical name and column names."""

    indicator: str
    params: tuple[Number, ...]
    name: str
    outputs: tuple[str, ...]


def _p(name: str, default: Number, minimum: Number, kind: type = int) -> Param:
    return Param(name, kind, default, minimum)


def _period(default: int, minimum: int = 2) -> tuple[Param, ...]:
    return (_p("period", default, minimum),)


C, HLC, HLCV, CV = ("close",), mom.HLC, vlm.HLCV, ("close", "volume")


def _macd_check(params: tuple[Number, ...]) -> str | None:
    fast, slow, _ = params
    return None if fast < slow else f"fast ({fast}) must be smaller than slow ({slow})"


_SPECS = (
    IndicatorSpec("ADX", _period(14), HLC, (), tr.adx_k, "average directional index"),
    IndicatorSpec("ATR", _period(14, 1), HLC, (), vol.atr_k, "average true range"),
    IndicatorSpec(
        "BBANDS",
        (_p("period", 20, 2), _p("nbdev", 2.0, 0.0, float)),
        C,
        ("upper", "middle", "lower"),
        lambda ctx, n, nb: avg.bbands_k(ctx, n, nb, nb),
        "Bollinger Bands (SMA, population stdev, symmetric width)",
    ),
    IndicatorSpec("CCI", _period(14), HLC, (), mom.cci_k, "commodity channel index"),
    IndicatorSpec("DEMA", _period(30, 1), C, (), avg.dema_k, "double EMA"),
    IndicatorSpec("DX", _period(14), HLC, (), tr.dx_k, "directional movement index"),
    IndicatorSpec("EMA", _period(30, 1), C, (), avg.ema_k, "exponential moving average"),
    IndicatorSpec("LOGRET", (_p("periods", 1, 1),), C, (), st.log_returns_k, "log returns", talib=False),
    IndicatorSpec(
        "MACD",
        (_p("fast", 12, 2), _p("slow", 26, 2), _p("signal", 9, 1)),
        C,
        ("macd", "signal", "hist"),
        mom.macd_k,
        "moving average convergence/divergence",
        _macd_check,
    ),
    IndicatorSpec("MFI", _period(14), HLCV, (), vlm.mfi_k, "money flow index"),
    IndicatorSpec("MINUS_DI", _period(14), HLC, (), lambda ctx, n: tr.di_k(ctx, n)[1], "minus DI"),
    IndicatorSpec("MOM", _period(10, 1), C, (), mom.mom_k, "momentum"),
    IndicatorSpec("NATR", _period(14, 1), HLC, (), vol.natr_k, "normalized ATR (%)"),
    IndicatorSpec("OBV", (), CV, (), vlm.obv_k, "on-balance volume"),
    IndicatorSpec("PLUS_DI", _period(14), HLC, (), lambda ctx, n: tr.di_k(ctx, n)[0], "plus DI"),
    IndicatorSpec("RET", (_p("periods", 1, 1),), C, (), st.simple_returns_k, "simple returns", talib=False),
    IndicatorSpec("ROC", _period(10, 1), C, (), mom.roc_k, "rate of change (%)"),
    IndicatorSpec("RSI", _period(14), C, (), mom.rsi_k, "relative strength index (Wilder)"),
    IndicatorSpec("SMA", _period(30, 1), C, (), avg.sma_k, "simple moving average"),
    IndicatorSpec(
        "STOCH",
        (_p("fastk", 5, 1), _p("slowk", 3, 1), _p("slowd", 3, 1)),
        HLC,
        ("k", "d"),
        mom.stoch_k,
        "slow stochastic",
    ),
    IndicatorSpec(
        "STOCHF",
        (_p("fastk", 5, 1), _p("fastd", 3, 1)),
        HLC,
        ("k", "d"),
        mom.stochf_k,
        "fast stochastic",
    ),
    IndicatorSpec(
        "STOCHRSI",
        (_p("period", 14, 2), _p("fastk", 5, 1), _p("fastd", 3, 1)),
        C,
        ("k", "d"),
        mom.stochrsi_k,
        "stochastic RSI",
    ),
    IndicatorSpec("TEMA", _period(30, 1), C, (), avg.tema_k, "triple EMA"),
    IndicatorSpec("TRANGE", (), HLC, (), vol.trange_k, "true range"),
    IndicatorSpec(
        "VWAP",
        (),
        HLCV,
        (),
        lambda ctx: vlm.vwap_k(ctx, "D", "UTC"),
        "VWAP anchored to the UTC day",
        talib=False,
    ),
    IndicatorSpec("WILLR", _period(14), HLC, (), mom.willr_k, "Williams %R"),
    IndicatorSpec("WMA", _period(30, 1), C, (), avg.wma_k, "weighted moving average"),
    IndicatorSpec("ZSCORE", _period(20), C, (), st.zscore_k, "rolling z-score (ddof=0)", talib=False),
)

_REGISTRY: Mapping[str, IndicatorSpec] = MappingProxyType({s.name: s for s in _SPECS})
_MAX_NAME_TOKENS = max(s.name.count("_") + 1 for s in _SPECS)


def available_indicators() -> Mapping[str, IndicatorSpec]:
    """The registry: indicator name -> :class:`IndicatorSpec` (read-only, sorted).

    :func:`qdbtools.indicators.indicator_table` shows the same entries as a DataFrame.

    Examples
    --------
    >>> available_indicators()["MACD"].signature
    'MACD_<fast>_<slow>_<signal>'
    """
    return _REGISTRY


def _accepted() -> str:
    return ", ".join(s.signature for s in _SPECS)


def _usage(spec: IndicatorSpec) -> str:
    if not spec.params:
        return f"{spec.name} takes no parameters"
    return f"expected {spec.signature} (defaults {spec.name}{fmt(*spec.defaults)})"


def parse_variant(name: str) -> Variant:
    """Parse a variant name such as ``"RSI_14"`` or ``"BBANDS_20_2.5"``.

    Raises
    ------
    InvalidVariantError
        Unknown indicator, non-numeric or out-of-range parameter, wrong
        parameter count, or inconsistent parameters (``MACD`` with
        ``fast >= slow``); the message lists what is accepted.

    Examples
    --------
    >>> parse_variant("macd_12_26_9").outputs
    ('MACD_12_26_9.macd', 'MACD_12_26_9.signal', 'MACD_12_26_9.hist')
    """
    if not isinstance(name, str):
        raise InvalidVariantError(f"a variant name must be a string, got {name!r}")
    tokens = name.strip().split("_")
    spec = None
    for size in range(min(_MAX_NAME_TOKENS, len(tokens)), 0, -1):
        spec = _REGISTRY.get("_".join(tokens[:size]).upper())
        if spec is not None:
            break
    if spec is None:
        raise InvalidVariantError(f"unknown indicator variant {name!r}; accepted: {_accepted()}")
    raw = tokens[size:]
    if raw and len(raw) != len(spec.params):
        raise InvalidVariantError(
            f"{name!r}: {spec.name} takes {len(spec.params)} parameter(s), got {len(raw)}; {_usage(spec)}"
        )
    if not raw:
        values = spec.defaults
    else:
        parsed: list[Number] = []
        for token, param in zip(raw, spec.params, strict=True):
            pattern = _INT if param.kind is int else _NUMBER
            if not pattern.fullmatch(token):
                kind = "an integer" if param.kind is int else "a number"
                raise InvalidVariantError(
                    f"{name!r}: {param.name} must be {kind}, got {token!r}; {_usage(spec)}"
                )
            value: Number = int(token) if param.kind is int else float(token)
            if value < param.minimum:
                raise InvalidVariantError(
                    f"{name!r}: {param.name} must be >= {param.minimum}, got {token}; {_usage(spec)}"
                )
            parsed.append(value)
        values = tuple(parsed)
    if spec.check is not None and (problem := spec.check(values)) is not None:
        raise InvalidVariantError(f"{name!r}: {problem}; {_usage(spec)}")
    canonical = spec.name + fmt(*values)
    outputs = tuple(f"{canonical}.{o}" for o in spec.outputs) or (canonical,)
    return Variant(spec.name, values, canonical, outputs)


def _column_source(frame: pd.DataFrame, name: str) -> Callable[[], FloatArray]:
    """A :class:`Ctx` source that converts ``frame[name]`` when an indicator first needs it."""
    return lambda: column_array(frame[name], name)


def compute(ohlcv: pd.DataFrame, variants: Iterable[str | Variant] | str) -> pd.DataFrame:
    """Compute indicator variants on an OHLCV frame, sharing intermediates.

    Parameters
    ----------
    ohlcv : pandas.DataFrame
        Lowercase columns ``open, high, low, close, volume`` (only those the
        variants need), indexed by a strictly increasing index (for ``VWAP`` a
        :class:`~pandas.DatetimeIndex`).
    variants : list of str or Variant
        Names such as ``["RSI_14", "MACD_12_26_9", "BBANDS_20_2"]``.

    Returns
    -------
    pandas.DataFrame
        float64, one column per output (see the naming scheme in
        :mod:`qdbtools.indicators`), the input's index.

    Raises
    ------
    InvalidVariantError
        A variant name is invalid (raised before anything is computed).
    MissingColumnsError
        Columns needed by some variants are absent (names them and the variants).
    InvalidInputError
        The index is unsorted, duplicated or contains NaT; a column is not numeric.

    Examples
    --------
    >>> df = pd.DataFrame({"close": [1.0, 2, 3, 2, 3]})
    >>> compute(df, ["RSI_2", "SMA_2"]).columns.tolist()
    ['RSI_2', 'SMA_2']
    """
    if not isinstance(ohlcv, pd.DataFrame):
        raise InvalidInputError(f"ohlcv must be a DataFrame, got {type(ohlcv).__name__}")
    if isinstance(variants, str | Variant):
        variants = [variants]
    parsed: dict[str, Variant] = {}
    for item in variants:
        v = item if isinstance(item, Variant) else parse_variant(item)
        parsed.setdefault(v.name, v)
    needers: dict[str, list[str]] = {}
    for v in parsed.values():
        for col in _REGISTRY[v.indicator].inputs:
            if col not in ohlcv.columns:
                needers.setdefault(col, []).append(v.name)
    if needers:
        missing = tuple(sorted(needers))
        users = sorted({name for names in needers.values() for name in names})
        by_lower = {str(c).lower(): c for c in ohlcv.columns}
        near = {col: by_lower[col] for col in missing if col in by_lower}
        hint = (
            "; found " + ", ".join(f"{c!r}" for c in near.values()) + ": column names are lower case, "
            "rename with frame.rename(columns=str.lower)"
            if near
            else ""
        )
        raise MissingColumnsError(
            f"ohlcv lacks column(s) {', '.join(missing)} needed by {', '.join(users)}{hint}",
            missing=missing,
        )
    check_index(ohlcv.index, "ohlcv")
    ctx = Ctx(
        {c: _column_source(ohlcv, c) for c in ("open", *HLCV) if c in ohlcv},
        ohlcv.index,
    )
    columns: dict[str, FloatArray] = {}
    for v in parsed.values():
        spec = _REGISTRY[v.indicator]
        result = spec.kernel(ctx, *v.params)
        if spec.outputs:
            columns.update(zip(v.outputs, result, strict=True))
        else:
            columns[v.name] = result
    return pd.DataFrame(columns, index=ohlcv.index, copy=False)


__all__ = [
    "IndicatorSpec",
    "Param",
    "Variant",
    "available_indicators",
    "compute",
    "parse_variant",
]
