"""``df.qdb``: the pandas accessor. Stateless; validates and delegates to ``Database``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qdbtools.database import Database
    from qdbtools.io.writer import WriteResult
    from qdbtools.store import SaveResult

__all__ = ["QdbAccessor"]


def _database(db: Database | None) -> Database:
    if db is not None:
        return db
    from qdbtools.session import get_default_database

    return get_default_database()


@pd.api.extensions.register_dataframe_accessor("qdb")
class QdbAccessor:
    """QuestDB methods on any DataFrame: ``df.qdb.write_ticks(...)``.

    Every method takes ``db=`` (a :class:`~qdbtools.Database`). Without it, the default
    database is used: the innermost active :func:`qdbtools.local_server`, else the one the
    latest :func:`qdbtools.connect` returned, else the embedded default.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._obj = frame

    def write_ticks(
        self,
        session_id: str | None = None,
        symbol: str | None = None,
        *,
        db: Database | None = None,
        wait: bool = True,
    ) -> WriteResult:
        """Write this frame of ticks to ``tick_prices`` (see :meth:`Database.write_ticks`).

        Examples
        --------
        >>> ticks.qdb.write_ticks(session_id="s1", symbol="BTC_USDT")      # doctest: +SKIP
        """
        return _database(db).write_ticks(self._obj, session_id, symbol, wait=wait)

    def write(
        self,
        table: str,
        *,
        at: str | None = None,
        symbols: Sequence[str] = (),
        db: Database | None = None,
        wait: bool = True,
    ) -> WriteResult:
        """Write this frame to ``table`` (see :meth:`Database.write_frame`)."""
        return _database(db).write_frame(self._obj, table, at=at, symbols=symbols, wait=wait)

    def save_indicators(
        self,
        session_id: str,
        symbol: str,
        mode: Literal["append", "overwrite"] = "append",
        *,
        variant_type: str = "general",
        scope: str | None = None,
        user_id: str | None = None,
        created_by: str | None = None,
        db: Database | None = None,
        wait: bool = False,
        skip_unchanged: bool = False,
    ) -> SaveResult:
        """Store this frame of indicator values (see :meth:`Database.save_indicators`).

        Examples
        --------
        >>> bars.qdb.indicators(["RSI_14", "EMA_12"]).qdb.save_indicators(
        ...     session_id="s1", symbol="BTC_USDT", mode="overwrite")        # doctest: +SKIP
        """
        return _database(db).save_indicators(
            self._obj,
            session_id,
            symbol,
            mode,
            variant_type=variant_type,
            scope=scope,
            user_id=user_id,
            created_by=created_by,
            wait=wait,
            skip_unchanged=skip_unchanged,
        )

    def indicators(self, variants: Sequence[str] | str) -> pd.DataFrame:
        """Compute indicator variants on this OHLCV frame (see :func:`qdbtools.indicators.compute`).

        ``variants`` is a list of names, or one name (``"RSI_14"``).

        Examples
        --------
        >>> bars.qdb.indicators(["RSI_14", "EMA_12", "MACD_12_26_9"])      # doctest: +SKIP
        """
        from qdbtools.indicators import compute

        return compute(self._obj, [variants] if isinstance(variants, str) else list(variants))

    def available_indicators(self) -> pd.DataFrame:
        """The indicators :meth:`indicators` computes, one row each (see
        :func:`qdbtools.indicators.indicator_table`): variant pattern, default variant,
        parameters with defaults, inputs, outputs, TA-Lib name and summary.

        Examples
        --------
        >>> bars.qdb.available_indicators().loc["MACD", "outputs"]          # doctest: +SKIP
        'macd, signal, hist'
        """
        from qdbtools.indicators import indicator_table

        return indicator_table()

    def plot(self, indicators: pd.DataFrame | None = None, **kwargs: object) -> Figure:
        """Plot this OHLCV frame with indicators (see :func:`qdbtools.plotting.plot_indicators`)."""
        from qdbtools.plotting import plot_indicators

        return plot_indicators(self._obj, indicators, **kwargs)  # type: ignore[arg-type]
