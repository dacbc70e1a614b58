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
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from qdbtools.exceptions import NoDataError, QdbToolsError
from qdbtools.offline._executors import run_pairs
from qdbtools.offline._runs import EngineRun

if TYPE_CHECKING:
    from qdbtools.config import Settings
    from qdbtools.database import Database

__all__ = ["OfflineIndicatorEngine", "PairJob", "run_pair", "worker_database", "worker_databases"]

log = logging.getLogger(__name__)

OHLCV = ["open", "high", "low", "close", "volume"]


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
        bars = self.db.read_ohlcv(session_id, symbol, "1m", missing_ok=True)  # else: from ticks
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
        variants: Sequence[str] | str,
        mode: Literal["append", "overwrite"] = "append",
    ) -> EngineRun:
        """Load, compute and save; returns rows per variant output and seconds per phase.

        ``variants`` is a list of names, or one name (``"RSI_14"``).
        """
        from qdbtools.indicators import compute

        summary = EngineRun(session_id, symbol)
        started = time.perf_counter()
        bars = self.load_symbol_data(session_id, symbol)
        summary.bars, summary.source = len(bars), bars.attrs.get("source")
        summary.seconds["load"] = time.perf_counter() - started

        started = time.perf_counter()
        values = compute(bars, _variant_names(variants))
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
        log.info(
            "engine run of %r/%r: %d bars",
            session_id,
            symbol,
            summary.bars,
            extra={"session_id": session_id, "symbol": symbol, "bars": summary.bars},
        )
        return summary

    def run_many(
        self,
        pairs: Iterable[tuple[str, str]],
        variants: Sequence[str] | str,
        mode: Literal["append", "overwrite"] = "append",
        *,
        executor: Executor | Any | None = None,
        processes: int | None = None,
        progress: bool = True,
    ) -> list[EngineRun]:
        """:meth:`run` for many (session_id, symbol) pairs in parallel, with a progress bar.

        Parameters
        ----------
        pairs : iterable of (str, str)
            The (session_id, symbol) pairs.
        variants, mode
            As in :meth:`run` (one name or a list of names).
        executor : concurrent.futures.Executor or dask.distributed.Client, optional
            Where the pairs run. None: ``processes`` local worker processes (default one per
            CPU). A Dask ``Client`` runs them on its cluster's workers; each worker process
            connects to QuestDB once, with this engine's ``db.settings``.
        progress : bool
            A tqdm bar of pairs done, rows saved and errors.

        Returns
        -------
        list of EngineRun
            One per pair, in the order given. A pair that fails (no data, a database error,
            its worker died) has ``error`` set and ``ok`` False; the other pairs go on.

        Examples
        --------
        >>> from dask.distributed import Client                                # doctest: +SKIP
        >>> client = Client("tcp://scheduler:8786")                            # doctest: +SKIP
        >>> runs = engine.run_many(pairs, ["RSI_14", "EMA_12"], executor=client)  # doctest: +SKIP
        """
        job = PairJob(
            self.db.settings, tuple(_variant_names(variants)), mode, self.variant_type, self.created_by
        )
        return run_pairs(run_pair, job, list(pairs), executor, processes=processes, progress=progress)


def _variant_names(variants: Sequence[str] | str) -> list[str]:
    """One name (``"RSI_14"``) is one variant, not its letters."""
    return [variants] if isinstance(variants, str) else list(variants)


@dataclass(frozen=True)
class PairJob:
    """What every pair of one :meth:`OfflineIndicatorEngine.run_many` computes, and where (picklable)."""

    settings: Settings
    variants: tuple[str, ...]
    mode: str
    variant_type: str
    created_by: str


_DATABASES: dict[Settings, Database] = {}
_DATABASES_LOCK = threading.Lock()


def worker_database(settings: Settings) -> Database:
    """This process's :class:`~qdbtools.Database` for ``settings``: built on first use, then kept."""
    with _DATABASES_LOCK:
        db = _DATABASES.get(settings)
        if db is None:
            from qdbtools.database import Database

            db = _DATABASES[settings] = Database(settings)
            log.debug(
                "worker %d built its database for %s",
                os.getpid(),
                settings.address,
                extra={"pid": os.getpid(), "address": settings.address},
            )
        return db


def worker_databases() -> int:
    """How many databases this process has built for :func:`run_pair` (one per distinct settings)."""
    return len(_DATABASES)


def run_pair(job: PairJob, session_id: str, symbol: str) -> EngineRun:
    """One pair's :meth:`OfflineIndicatorEngine.run` in a worker; a failure becomes ``error``."""
    engine = OfflineIndicatorEngine(
        worker_database(job.settings), variant_type=job.variant_type, created_by=job.created_by
    )
    try:
        return engine.run(session_id, symbol, job.variants, job.mode)  # type: ignore[arg-type]
    except Exception as exc:  # a failure of one pair is reported with it, not lost
        if not isinstance(exc, QdbToolsError):  # unexpected: keep its traceback in the log
            log.exception("engine run failed", extra={"session_id": session_id, "symbol": symbol})
        return EngineRun.failed(session_id, symbol, exc)
