"""``OfflineIndicatorEngine``: load bars from QuestDB, compute indicator variants, save them.

The seed's Task 2. Prices come from ``aggregated_ohlcv`` at 1 minute first; when a
session and symbol have no bars there, from ``tick_prices`` resampled to 1-minute bars
(empty minutes dropped, as ``aggregate_ohlcv`` does). Neither: :class:`NoDataError`
naming the session and symbol. A database failure raises a :class:`DatabaseError`
instead, so "no data" and "the database failed" stay different outcomes.

``confidence`` stays NULL for computed values: an indicator value is a deterministic
function of the bars, not an estimate with a confidence. (Signals built on indicators may
carry one; they are saved through the store with their own ``confidence`` column.)
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import pandas as pd

from qdbtools.display import html_table
from qdbtools.exceptions import NoDataError, QdbToolsError

if TYPE_CHECKING:
    from qdbtools.config import Settings
    from qdbtools.database import Database

__all__ = ["EngineRun", "OfflineIndicatorEngine"]

log = logging.getLogger(__name__)

OHLCV = ["open", "high", "low", "close", "volume"]


@dataclass
class EngineRun:
    """Summary of one :meth:`OfflineIndicatorEngine.run`."""

    session_id: str
    symbol: str
    bars: int = 0
    source: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        outcome = f"error={self.error!r}" if self.error else f"rows={sum(self.rows.values()):,}"
        return (
            f"EngineRun({self.session_id!r}, {self.symbol!r}, bars={self.bars:,}, "
            f"variants={len(self.rows)}, {outcome}, seconds={sum(self.seconds.values()):.2f})"
        )

    def _repr_html_(self) -> str:
        fields = {
            "session_id": self.session_id,
            "symbol": self.symbol,
            "bars": f"{self.bars:,}",
            "source": self.source or "-",
            "rows saved": ", ".join(f"{k}: {v:,}" for k, v in sorted(self.rows.items())) or "-",
            "seconds": ", ".join(f"{k}: {v:.3f}" for k, v in self.seconds.items()) or "-",
            "error": self.error or "-",
        }
        return html_table("EngineRun", fields)


class OfflineIndicatorEngine:
    """Compute indicator variants for stored market data and save them.

    Parameters
    ----------
    db : Database, optional
        The database; the default database when None.
    variant_type : str
        Variant type the results are saved under (part of the variant key).
    created_by : str
        Provenance written with every value.

    Examples
    --------
    >>> engine = qdbtools.OfflineIndicatorEngine(db)                           # doctest: +SKIP
    >>> engine.run("s1", "BTC_USDT", ["RSI_14", "EMA_12", "MACD_12_26_9"])      # doctest: +SKIP
    """

    def __init__(
        self,
        db: Database | None = None,
        *,
        variant_type: str = "general",
        created_by: str = "OfflineIndicatorEngine",
    ) -> None:
        if db is None:
            from qdbtools.session import get_default_database

            db = get_default_database()
        self.db = db
        self.variant_type = variant_type
        self.created_by = created_by

    def load_symbol_data(self, session_id: str, symbol: str) -> pd.DataFrame:
        """1-minute OHLCV bars of one session and symbol (``attrs["source"]`` names the table).

        Raises
        ------
        NoDataError
            Neither ``aggregated_ohlcv`` nor ``tick_prices`` holds data for them.
        DatabaseError
            The database failed.
        """
        bars = self.db.read_ohlcv(session_id, symbol, "1m")
        if not bars.empty:
            frame = bars[OHLCV].copy()
            frame.attrs["source"] = "aggregated_ohlcv"
            return frame
        ticks = self.db.read_ticks(session_id, symbol, columns=["price", "volume"])
        if ticks.empty:
            raise NoDataError(
                f"no 1m bars in aggregated_ohlcv and no ticks in tick_prices for "
                f"session_id={session_id!r}, symbol={symbol!r}; write ticks (Database.write_ticks) "
                "and build bars (Database.aggregate_ohlcv) first"
            )
        grouped = ticks.resample("1min", label="left", closed="left")
        frame = grouped["price"].ohlc()
        frame["volume"] = grouped["volume"].sum()
        frame = frame[grouped["price"].count() > 0]
        frame.attrs["source"] = "tick_prices"
        return frame

    def run(
        self,
        session_id: str,
        symbol: str,
        variants: Sequence[str],
        mode: Literal["append", "overwrite"] = "append",
    ) -> EngineRun:
        """Load, compute and save; returns rows per variant output and seconds per phase."""
        from qdbtools.indicators import compute

        summary = EngineRun(session_id, symbol)
        started = time.perf_counter()
        bars = self.load_symbol_data(session_id, symbol)
        summary.bars, summary.source = len(bars), bars.attrs.get("source")
        summary.seconds["load"] = time.perf_counter() - started

        started = time.perf_counter()
        values = compute(bars, list(variants))
        summary.seconds["compute"] = time.perf_counter() - started

        started = time.perf_counter()
        # A rerun of the same computation stores nothing new (no extra history).
        saved = self.db.save_indicators(
            values,
            session_id,
            symbol,
            mode,
            variant_type=self.variant_type,
            created_by=self.created_by,
            skip_unchanged=True,
        )
        summary.seconds["save"] = time.perf_counter() - started
        summary.rows = {str(c): int(n) for c, n in values.notna().sum().items()}
        summary.generations = dict(saved.generations)
        log.info("engine run", extra={"session_id": session_id, "symbol": symbol, "bars": summary.bars})
        return summary

    def run_many(
        self,
        pairs: Iterable[tuple[str, str]],
        variants: Sequence[str],
        mode: Literal["append", "overwrite"] = "append",
        *,
        processes: int | None = None,
        progress: bool = True,
    ) -> list[EngineRun]:
        """:meth:`run` for many (session_id, symbol) pairs in worker processes, with a progress bar.

        Every pair gets a summary; a pair that fails has ``error`` set (and ``ok`` False)
        instead of stopping the others.
        """
        from tqdm.auto import tqdm

        pairs = list(pairs)
        workers = max(1, min(processes or os.cpu_count() or 1, len(pairs)))
        results: dict[tuple[str, str], EngineRun] = {}
        args = (self.db.settings, self.variant_type, self.created_by, list(variants), mode)
        with ProcessPoolExecutor(workers) as pool:
            futures = {pool.submit(_run_one, *args, s, y): (s, y) for s, y in pairs}
            done = as_completed(futures)
            for future in tqdm(done, total=len(futures), desc="indicators") if progress else done:
                results[futures[future]] = future.result()
        return [results[pair] for pair in pairs]


def _run_one(
    settings: Settings,
    variant_type: str,
    created_by: str,
    variants: list[str],
    mode: str,
    session_id: str,
    symbol: str,
) -> EngineRun:
    from qdbtools.database import Database

    with Database(settings) as db:
        engine = OfflineIndicatorEngine(db, variant_type=variant_type, created_by=created_by)
        try:
            return engine.run(session_id, symbol, variants, mode)  # type: ignore[arg-type]
        except QdbToolsError as exc:
            return EngineRun(session_id, symbol, error=f"{type(exc).__name__}: {exc}")
