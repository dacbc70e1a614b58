"""The original application's API: ``IndicatorPersistenceService`` and ``IndicatorValue``.

A drop-in replacement for the CSV-based service of the trading system (see
``../shared/seed/NOTES.md``, Task 1), built on :mod:`qdbtools.store`.

Log events (through the given ``logger`` as ``logger.info(event, context_dict)``, or the
``qdbtools.service`` logging logger with the context in ``extra``):

``indicator_persistence.saved_to_questdb`` / ``indicator_persistence.saved_to_csv``
    session_id, symbol, variant_id, variant_type, mode, count (and generation).
``indicator_persistence.save_failed`` / ``indicator_persistence.load_failed`` /
``indicator_persistence.get_file_info_failed``
    the ids, error, error_type; the error is re-raised.
``indicator_persistence.loaded_from_questdb`` / ``indicator_persistence.loaded_from_csv``
    the ids and count.

Events published on ``event_bus`` (when given; ``publish(name, payload)``, sync or async):
``indicator_values.saved`` with the same payload as the log line, and
``indicator_values.save_failed`` with the ids and the error.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from qdbtools.exceptions import InvalidInputError
from qdbtools.service._values import (
    IndicatorValue,
    frame_to_values,
    values_to_columns,
    values_to_frame,
    values_to_rows,
)
from qdbtools.store import save_columns
from qdbtools.telemetry import Telemetry, instrumented

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = [
    "IndicatorPersistenceService",
    "IndicatorValue",
    "frame_to_values",
    "values_to_columns",
    "values_to_frame",
    "values_to_rows",
]

log = logging.getLogger(__name__)


def _ids(session_id: str, symbol: str, variant_id: str, variant_type: str) -> dict[str, Any]:
    """A variant's ids, as logs, events and info name them."""
    return {
        "session_id": session_id,
        "symbol": symbol,
        "variant_id": variant_id,
        "variant_type": variant_type,
    }


def _with_error(context: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    """The log/event context of a failure: the ids plus the error and its type."""
    return {**context, "error": str(exc), "error_type": type(exc).__name__}


class _StdlibEventLogger:
    """``logger.info(event, context)`` on top of :mod:`logging`."""

    def __getattr__(self, level: str) -> Any:
        method = getattr(log, level)
        return lambda event, context=None: method(event, extra={"context": context or {}})


class IndicatorPersistenceService:
    """Save and load indicator values per (session, symbol, variant) – now in QuestDB.

    Parameters
    ----------
    event_bus : object, optional
        Anything with ``publish(event_name, payload)`` (sync or async); events are listed
        in the module docstring.
    logger : object, optional
        The application's structured logger (``logger.info(event, dict)``); the stdlib
        ``logging`` logger of this module when None.
    questdb_provider : Database, optional
        The database; the default database (:func:`qdbtools.get_default_database`),
        created on first use, when None.
    base_data_dir : str or path
        Root of the legacy CSV layout, used when ``storage="csv"``.
    storage : {"questdb", "csv"}
        ``csv`` keeps the old per-variant CSV files readable and writable (rollback).

    Examples
    --------
    >>> service = IndicatorPersistenceService(bus, logger, db)                # doctest: +SKIP
    >>> await service.save_values("s1", "BTC_USDT", "RSI_14", values)         # doctest: +SKIP
    """

    def __init__(
        self,
        event_bus: Any = None,
        logger: Any = None,
        questdb_provider: Database | None = None,
        base_data_dir: str | Path = "data",
        *,
        storage: Literal["questdb", "csv"] = "questdb",
    ) -> None:
        if storage not in ("questdb", "csv"):
            raise InvalidInputError(f"storage must be 'questdb' or 'csv', got {storage!r}")
        self.event_bus = event_bus
        self.logger = logger if logger is not None else _StdlibEventLogger()
        self._db = questdb_provider
        self.base_data_dir = Path(base_data_dir)
        self.storage = storage
        self._csv_lock = threading.RLock()
        self._csv_telemetry: Telemetry | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            from qdbtools.session import get_default_database

            self._db = get_default_database()
        return self._db

    @property
    def telemetry(self) -> Telemetry:
        """The database's (``storage="csv"``: the service's own) metrics and traces."""
        if self.storage == "questdb":
            return self.db.telemetry
        if self._csv_telemetry is None:
            self._csv_telemetry = Telemetry()
        return self._csv_telemetry

    # -- API ----------------------------------------------------------------------------

    @instrumented("service.save", table="indicators")
    async def save_values(
        self,
        session_id: str,
        symbol: str,
        variant_id: str,
        indicator_values: Sequence[IndicatorValue],
        variant_type: str = "general",
        mode: Literal["append", "overwrite"] = "append",
    ) -> int:
        """Store values of one variant; returns the number stored (NaN values are not stored)."""
        context = _ids(session_id, symbol, variant_id, variant_type) | {"mode": mode}
        try:
            if self.storage == "csv":
                frame = values_to_frame(
                    indicator_values, variant_id, variant_type, session_id=session_id, symbol=symbol
                )
                count = await asyncio.to_thread(
                    self._save_csv, frame, session_id, symbol, variant_id, variant_type, mode
                )
                event = "indicator_persistence.saved_to_csv"
            else:
                columns = values_to_columns(indicator_values, session_id, symbol, variant_id, variant_type)
                result = await asyncio.to_thread(save_columns, self.db, columns, mode)
                count, context["generation"] = result.rows, result.generation
                event = "indicator_persistence.saved_to_questdb"
        except Exception as exc:
            failure = _with_error(context, exc)
            self.logger.error("indicator_persistence.save_failed", failure)
            await self._publish("indicator_values.save_failed", failure)
            raise
        context["count"] = count
        self.logger.info(event, context)
        await self._publish("indicator_values.saved", {**context, "storage": self.storage})
        return count

    @instrumented("service.load", table="indicators")
    async def load_values(
        self,
        session_id: str,
        symbol: str,
        variant_id: str,
        variant_type: str = "general",
        limit: int | None = None,
    ) -> list[IndicatorValue]:
        """Values of one variant ordered by time; ``[]`` only when nothing is stored.

        A database failure raises (it is logged as ``indicator_persistence.load_failed``).
        """
        context = _ids(session_id, symbol, variant_id, variant_type)
        try:
            if self.storage == "csv":
                frame = await asyncio.to_thread(self._load_csv, session_id, symbol, variant_id, variant_type)
                if limit is not None:
                    frame = frame.head(limit) if limit > 0 else frame.tail(-limit)
            else:
                frame = await asyncio.to_thread(
                    self.db.load_indicators,
                    session_id,
                    symbol,
                    variant_id,
                    limit=limit,
                    shape="long",
                    variant_type=variant_type,
                    missing_ok=True,  # the seed's contract: [] when nothing is stored
                )
        except Exception as exc:
            self.logger.error("indicator_persistence.load_failed", _with_error(context, exc))
            raise
        values = frame_to_values(frame)
        self.logger.debug(
            f"indicator_persistence.loaded_from_{self.storage}", {**context, "count": len(values)}
        )
        return values

    @instrumented("service.info", table="indicators")
    async def get_file_info(
        self, session_id: str, symbol: str, variant_id: str, variant_type: str = "general"
    ) -> dict[str, Any]:
        """The seed's keys: exists, path, rows, size, storage, session_id, symbol, variant_id.

        For QuestDB, ``size`` is an estimate (``size_is_estimate`` is True and
        ``size_note`` says how it is made); for CSV it is the file's real size.
        """
        ids = _ids(session_id, symbol, variant_id, variant_type)
        try:
            if self.storage == "csv":
                return await asyncio.to_thread(self._csv_info, **ids)
            info = await asyncio.to_thread(
                self.db.indicator_info, session_id, symbol, variant_id, variant_type=variant_type
            )
        except Exception as exc:
            self.logger.error("indicator_persistence.get_file_info_failed", _with_error(ids, exc))
            raise
        return {
            **ids,
            "exists": info["exists"],
            "path": info["path"],
            "rows": info["rows"],
            "size": info["size_bytes_estimate"],
            "size_is_estimate": True,
            "size_note": info["size_note"],
            "storage": "questdb",
            "first_timestamp": info["first_timestamp"],
            "last_timestamp": info["last_timestamp"],
            "generation": info["generation"],
        }

    # -- helpers ------------------------------------------------------------------------

    async def _publish(self, name: str, payload: dict[str, Any]) -> None:
        if self.event_bus is None:
            return
        outcome = self.event_bus.publish(name, payload)
        if inspect.isawaitable(outcome):
            await outcome

    def _csv_path(self, session_id: str, symbol: str, variant_id: str, variant_type: str) -> Path:
        from qdbtools.legacy import indicator_path

        return indicator_path(self.base_data_dir, session_id, symbol, variant_type, variant_id)

    def _load_csv(self, session_id: str, symbol: str, variant_id: str, variant_type: str) -> pd.DataFrame:
        from qdbtools.legacy import read_indicator_csv

        path = self._csv_path(session_id, symbol, variant_id, variant_type)
        with self._csv_lock:
            if not path.exists():
                return values_to_frame([], variant_id, variant_type)
            return read_indicator_csv(path)

    def _save_csv(
        self, frame: pd.DataFrame, session_id: str, symbol: str, variant_id: str, variant_type: str, mode: str
    ) -> int:
        from qdbtools.legacy import write_indicator_csv

        new = frame[frame["value"].notna()].drop_duplicates("timestamp", keep="last")
        path = self._csv_path(session_id, symbol, variant_id, variant_type)
        with self._csv_lock:
            stored = new
            if mode == "append" and path.exists():
                merged = pd.concat([self._load_csv(session_id, symbol, variant_id, variant_type), new])
                stored = merged.drop_duplicates("timestamp", keep="last")
            write_indicator_csv(path, stored.sort_values("timestamp", kind="stable"))
        return len(new)

    def _csv_info(self, session_id: str, symbol: str, variant_id: str, variant_type: str) -> dict[str, Any]:
        path = self._csv_path(session_id, symbol, variant_id, variant_type)
        frame = self._load_csv(session_id, symbol, variant_id, variant_type)
        return _ids(session_id, symbol, variant_id, variant_type) | {
            "exists": path.exists(),
            "path": str(path),
            "rows": len(frame),
            "size": path.stat().st_size if path.exists() else 0,
            "size_is_estimate": False,
            "storage": "csv",
        }
