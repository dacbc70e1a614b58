"""``df.qdb``: the pandas accessor. Stateless; passes through to ``Database``.

Each method has the signature of the ``Database`` method it calls (without the frame, with
``db=``) and carries that method's documentation; ``tests/test_api.py`` keeps the two alike.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pandas as pd

from qdbtools.database import Database
from qdbtools.store import DEFAULT_VARIANT_TYPE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qdbtools.io.writer import WriteResult
    from qdbtools.store import SaveResult

__all__ = ["QdbAccessor"]

F = TypeVar("F", bound=Callable[..., Any])


def _sections(doc: str | None) -> tuple[str, str, str]:
    """A numpydoc docstring as (summary, the sections before Examples, Examples)."""
    text = inspect.cleandoc(doc or "")
    summary, _, rest = text.partition("\n\n")
    body, marker, examples = rest.partition("Examples\n--------\n")
    return summary, body.strip(), (marker + examples).strip()


def _documented_as(method: Callable[..., Any]) -> Callable[[F], F]:
    """Give the decorated accessor method ``method``'s parameters documentation, and its own examples."""

    def document(accessor_method: F) -> F:
        summary, _, examples = _sections(accessor_method.__doc__)
        _, parameters, _ = _sections(method.__doc__)
        name = f"Database.{method.__name__}"
        note = (
            f"As :meth:`~qdbtools.{name}`, with this frame as ``frame``, and ``db``: the database "
            "(default: the default database)."
        )
        accessor_method.__doc__ = "\n\n".join(part for part in (summary, note, parameters, examples) if part)
        return accessor_method

    return document


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

    __slots__ = ("_obj",)

    def __init__(self, frame: pd.DataFrame) -> None:
        self._obj = frame

    @_documented_as(Database.write_ticks)
    def write_ticks(
        self,
        session_id: str | None = None,
        symbol: str | None = None,
        *,
        db: Database | None = None,
        wait: bool = True,
    ) -> WriteResult:
        """Write this frame of ticks to ``tick_prices``.

        Examples
        --------
        >>> ticks.qdb.write_ticks(session_id="s1", symbol="BTC_USDT")      # doctest: +SKIP
        """
        return _database(db).write_ticks(self._obj, session_id, symbol, wait=wait)

    @_documented_as(Database.write_frame)
    def write(
        self,
        table: str,
        *,
        at: str | None = None,
        symbols: Sequence[str] = (),
        db: Database | None = None,
        wait: bool = True,
    ) -> WriteResult:
        """Write this frame to ``table``.

        Examples
        --------
        >>> frame.qdb.write("fills", at="timestamp", symbols=["symbol"])    # doctest: +SKIP
        """
        return _database(db).write_frame(self._obj, table, at=at, symbols=symbols, wait=wait)

    @_documented_as(Database.save_indicators)
    def save_indicators(
        self,
        session_id: str,
        symbol: str,
        mode: Literal["append", "overwrite"] = "append",
        *,
        variant_type: str = DEFAULT_VARIANT_TYPE,
        scope: str | None = None,
        user_id: str | None = None,
        created_by: str | None = None,
        db: Database | None = None,
        wait: bool = False,
        skip_unchanged: bool = False,
    ) -> SaveResult:
        """Store this frame of indicator values for one session and symbol.

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

    def plot(
        self,
        indicators: pd.DataFrame | None = None,
        *,
        kind: Literal["auto", "candle", "line"] = "auto",
        title: str | None = None,
        overlays: Sequence[str] | None = None,
        oscillators: Sequence[str] | None = None,
        volume: bool = True,
        path: str | PathLike[str] | None = None,
        dpi: int = 120,
        figsize: tuple[float, float] | None = None,
        max_panels: int = 6,
    ) -> Figure:
        """Chart this OHLCV frame with indicators: price, oscillator and volume panels.

        The parameters are those of :func:`qdbtools.plotting.plot_indicators` (whose
        ``ohlcv`` is this frame): ``indicators`` are columns as ``compute`` returns them;
        ``kind`` candles, a line, or ``auto`` (candles up to 600 bars); ``overlays`` and
        ``oscillators`` name what goes on the price panel and below (auto-detected
        otherwise); ``volume`` adds the volume panel; ``path`` also writes the figure (PNG unless
        its suffix names another format) at ``dpi``; ``max_panels`` bounds the panels. In
        Jupyter the figure shows inline.

        Examples
        --------
        >>> bars.qdb.plot(bars.qdb.indicators(["RSI_14", "EMA_12"]), title="BTC")  # doctest: +SKIP
        """
        from qdbtools.plotting import plot_indicators

        return plot_indicators(
            self._obj,
            indicators,
            kind=kind,
            title=title,
            overlays=overlays,
            oscillators=oscillators,
            volume=volume,
            path=path,
            dpi=dpi,
            figsize=figsize,
            max_panels=max_panels,
        )
