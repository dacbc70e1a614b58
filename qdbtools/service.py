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
import json
import logging
import marshal
import operator
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from qdbtools.exceptions import InvalidInputError
from qdbtools.store import VariantColumns, rows_from_columns, save_columns
from qdbtools.telemetry import Telemetry, instrumented

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = ["IndicatorPersistenceService", "IndicatorValue"]

log = logging.getLogger(__name__)


@dataclass
class IndicatorValue:
    """One indicator value, as the trading system passes it around.

    ``timestamp`` is seconds since the Unix epoch in UTC (microsecond precision is kept).
    ``confidence`` of 0.0 stays 0.0; None means none was given. ``metadata`` is a dict that
    round-trips through JSON.
    """

    timestamp: float
    value: float
    confidence: float | None = None
    indicator_id: str | None = None
    indicator_type: str | None = None
    indicator_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    scope: str | None = None
    user_id: str | None = None
    created_by: str | None = None


def _metadata_texts(items: Sequence[Any]) -> list[str | None]:
    """JSON text per metadata dict (empty or None: NULL, anything else an error); equal dicts once.

    The cache key is the dict's ``marshal`` bytes (its ``repr`` when it holds other objects):
    1, 1.0, True and 0.0, -0.0 are equal but serialize differently, so they never share a text.
    """
    try:
        keys: list[Any] = list(map(marshal.dumps, items))
    except ValueError:
        keys = list(map(repr, items))
    texts: dict[Any, str | None] = dict.fromkeys(keys)
    for key in texts:
        position = keys.index(key)
        metadata = items[position]
        if metadata is None:
            continue
        if not isinstance(metadata, dict):
            raise InvalidInputError(
                f"indicator_values[{position}].metadata must be a dict (a JSON object), "
                f"got {type(metadata).__name__} {metadata!r}"
            )
        if not metadata:
            continue
        try:
            texts[key] = json.dumps(metadata, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"indicator_values[{position}].metadata is not JSON-serializable ({exc}): {metadata!r}"
            ) from exc
    return list(map(texts.__getitem__, keys))


def _no_metadata(items: Sequence[Any]) -> bool:
    """Every item None or ``{}``: the common case, at a quarter of :func:`_metadata_texts`' cost."""
    return all(m is None or (type(m) is dict and not m) for m in items)


def _floats(items: Sequence[Any], field_name: str) -> np.ndarray:
    """One numeric field as float64 (None: NaN); a value that is not a number is an error naming it."""
    try:
        return np.array(items, dtype="float64")
    except (TypeError, ValueError):
        for position, x in enumerate(items):
            try:
                float(x)
            except (TypeError, ValueError):
                raise InvalidInputError(
                    f"indicator_values[{position}].{field_name} is {x!r}, not a number"
                ) from None
        raise


_FIELDS = ("timestamp", "value", "confidence", "metadata", "indicator_name", "scope", "user_id", "created_by")
_GETTERS = tuple(map(operator.attrgetter, _FIELDS))


def values_to_columns(
    values: Sequence[IndicatorValue], session_id: str, symbol: str, variant_id: str, variant_type: str
) -> VariantColumns:
    """Column-wise conversion of ``IndicatorValue`` objects: one list or array per field."""
    exact = set(map(type, values)) <= {IndicatorValue}
    if not exact and not all(isinstance(v, IndicatorValue) for v in values):
        raise InvalidInputError("indicator_values must be a list of IndicatorValue")
    if not values:
        columns: list[list[Any]] = [[] for _ in _FIELDS]
    else:
        columns = [list(map(getter, values)) for getter in _GETTERS]
    stamps, numbers, confidences, metadata, names, scopes, users, creators = columns
    seconds = _floats(stamps, "timestamp")
    if not np.isfinite(seconds).all():
        raise InvalidInputError("every IndicatorValue.timestamp must be a finite number of epoch seconds")
    confidence = [np.nan if c is None else c for c in confidences] if None in confidences else confidences
    return VariantColumns(
        session_id=session_id,
        symbol=symbol,
        indicator_type=variant_type,
        indicator_id=variant_id,
        micros=np.round(seconds * 1e6).astype("int64"),
        values=_floats(numbers, "value"),
        confidence=_floats(confidence, "confidence"),
        names=None if names.count(None) == len(names) else names,
        metadata=None if _no_metadata(metadata) else _metadata_texts(metadata),
        scope=None if scopes.count(None) == len(scopes) else scopes,
        user_id=None if users.count(None) == len(users) else users,
        created_by=None if creators.count(None) == len(creators) else creators,
    )


def values_to_rows(
    values: Sequence[IndicatorValue], session_id: str, symbol: str, variant_id: str, variant_type: str
) -> pd.DataFrame:
    """``IndicatorValue`` objects as ``indicators`` rows (:func:`qdbtools.store.rows_from_columns`)."""
    return rows_from_columns(values_to_columns(values, session_id, symbol, variant_id, variant_type))


def values_to_frame(
    values: Sequence[IndicatorValue],
    variant_id: str,
    variant_type: str,
    *,
    session_id: str = "",
    symbol: str = "",
) -> pd.DataFrame:
    """``IndicatorValue`` objects as a long frame (the legacy CSV layout's columns)."""
    rows = values_to_rows(values, session_id, symbol, variant_id, variant_type)
    columns = [
        "timestamp",
        "indicator_id",
        "indicator_type",
        "value",
        "confidence",
        "indicator_name",
        "metadata",
        "scope",
        "user_id",
        "created_by",
    ]
    texts = {c: rows[c].astype("str") for c in columns if isinstance(rows[c].dtype, pd.CategoricalDtype)}
    return rows[columns].assign(**texts)


def _texts(frame: pd.DataFrame, column: str) -> list[Any]:
    """A column as a list with None for NULL, looked up per distinct value (few per column)."""
    if column not in frame.columns:
        return [None] * len(frame)
    codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
    lookup = np.array([*uniques.tolist(), None], dtype=object)  # code -1 (NULL) picks the None
    cells: list[Any] = lookup[codes].tolist()
    return cells


def _metadata_dicts(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per value (callers may change theirs), each distinct JSON text parsed once."""
    if "metadata" not in frame.columns:
        return [{} for _ in range(len(frame))]
    codes, uniques = pd.factorize(frame["metadata"], use_na_sentinel=True)
    parsed = [json.loads(text) for text in uniques.tolist()] + [{}]
    return [dict(parsed[code]) for code in codes.tolist()]


def frame_to_values(frame: pd.DataFrame) -> list[IndicatorValue]:
    """The inverse of :func:`values_to_frame` (``frame`` indexed or columned by timestamp)."""
    if "timestamp" in frame.columns:
        frame = frame.set_index("timestamp")
    seconds = (pd.DatetimeIndex(frame.index).as_unit("us").asi8 / 1e6).tolist()
    values = frame["value"].to_numpy(dtype="float64").tolist()
    if "confidence" in frame.columns:
        confidence = frame["confidence"].to_numpy(dtype="float64")
        boxed = confidence.astype(object)
        boxed[np.isnan(confidence)] = None
        confidences = boxed.tolist()
    else:
        confidences = [None] * len(frame)
    ids, types, names, scopes, users, creators = (
        _texts(frame, c)
        for c in ("indicator_id", "indicator_type", "indicator_name", "scope", "user_id", "created_by")
    )
    metadata = _metadata_dicts(frame)
    return list(
        map(
            IndicatorValue, seconds, values, confidences, ids, types, names, metadata, scopes, users, creators
        )
    )


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
        context: dict[str, Any] = {
            "session_id": session_id,
            "symbol": symbol,
            "variant_id": variant_id,
            "variant_type": variant_type,
            "mode": mode,
        }
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
        context = {
            "session_id": session_id,
            "symbol": symbol,
            "variant_id": variant_id,
            "variant_type": variant_type,
        }
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
        ids = {
            "session_id": session_id,
            "symbol": symbol,
            "variant_id": variant_id,
            "variant_type": variant_type,
        }
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
        return {
            "session_id": session_id,
            "symbol": symbol,
            "variant_id": variant_id,
            "variant_type": variant_type,
            "exists": path.exists(),
            "path": str(path),
            "rows": len(frame),
            "size": path.stat().st_size if path.exists() else 0,
            "size_is_estimate": False,
            "storage": "csv",
        }
