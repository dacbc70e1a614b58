"""Writers: DataFrames into QuestDB through the official client's ``Sender.dataframe``.

Semantics shared by every writer:

- the designated timestamp is always sent explicitly (``at=``); it must be a tz-aware
  datetime column (or ``DatetimeIndex``) without NaT, and is converted to UTC. Naive
  timestamps are refused: a naive value could be local time or UTC;
- the whole frame is validated before the first row is sent, so a rejected frame writes
  nothing;
- float NaN is written as NULL (QuestDB's NULL for DOUBLE); ``inf`` is refused, because
  QuestDB would silently store it as NULL too;
- object columns must hold only strings (or None): mixed types are refused, naming the
  column and the first bad row;
- frames are sent in chunks of ``chunk_rows`` rows, one HTTP request each. If the server
  fails on a later chunk, the earlier chunks stay written; tables written here have DEDUP
  keys, so sending the same frame again is safe;
- ``wait=True`` returns only when the rows are visible to queries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qdbtools.exceptions import InvalidInputError, MissingColumnsError, QdbToolsError
from qdbtools.io.errors import ingestion_errors
from qdbtools.io.small_frames import ROW_BY_ROW_MAX_ROWS, add_rows
from qdbtools.telemetry import step

if TYPE_CHECKING:
    from qdbtools.io.connection import Connection

__all__ = [
    "TICK_COLUMNS",
    "WriteResult",
    "prepare_frame",
    "prepare_ticks",
    "send_rows",
    "write_frame",
    "write_ticks",
]

log = logging.getLogger(__name__)

TICK_COLUMNS = ("timestamp", "session_id", "symbol", "trade_id", "price", "volume")
DEFAULT_CHUNK_ROWS = 250_000


@dataclass(frozen=True)
class WriteResult:
    """What a writer sent."""

    table: str
    rows: int
    seconds: float


def _first_bad(frame: pd.DataFrame, mask: np.ndarray | pd.Series) -> str:
    position = int(np.flatnonzero(np.asarray(mask))[0])
    return f"row {position} (index {frame.index[position]!r})"


def _is_text(column: pd.Series) -> bool:
    """True when every value is a string (no NULLs), checked in C where the dtype allows."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return bool(column.notna().all()) and pd.api.types.infer_dtype(column.cat.categories) in (
            "string",
            "empty",
        )
    return pd.api.types.infer_dtype(column, skipna=False) in ("string", "empty")


def _timestamp_column(frame: pd.DataFrame, at: str | None) -> pd.DataFrame:
    """Return a frame with a validated UTC ``at`` column named as given (default 'timestamp')."""
    name = at or "timestamp"
    from_index = name not in frame.columns and at is None and isinstance(frame.index, pd.DatetimeIndex)
    naive = isinstance(frame.index, pd.DatetimeIndex) and frame.index.tz is None
    if from_index and naive:
        raise InvalidInputError(
            "the frame's DatetimeIndex is naive (no time zone), which is ambiguous; qdbtools stores "
            "UTC: the times are in the index, so use frame.index = frame.index.tz_localize('UTC') if "
            "they are UTC, or tz_localize(<their zone>) first"
        )
    if name not in frame.columns:
        if from_index:
            frame = frame.reset_index(names=name)
        else:
            raise MissingColumnsError(
                f"no timestamp: the frame has no {name!r} column"
                + ("" if at else " and no DatetimeIndex")
                + "; give one (tz-aware, UTC) or pass at='column'",
                missing=(name,),
            )
    column = frame[name]
    if not isinstance(column.dtype, pd.DatetimeTZDtype):
        if pd.api.types.is_datetime64_dtype(column.dtype):
            raise InvalidInputError(
                f"timestamp column {name!r} is naive (no time zone), which is ambiguous; qdbtools "
                f"stores UTC: use frame[{name!r}].dt.tz_localize('UTC') if the values are UTC, "
                "or tz_localize(<their zone>) first"
            )
        raise InvalidInputError(
            f"timestamp column {name!r} has dtype {column.dtype}, not datetime; convert it with "
            f"pd.to_datetime(frame[{name!r}], utc=True)"
        )
    if column.isna().any():
        raise InvalidInputError(f"timestamp column {name!r} has NaT at {_first_bad(frame, column.isna())}")
    if column.dt.tz is not None and str(column.dt.tz) != "UTC":
        frame = frame.assign(**{name: column.dt.tz_convert("UTC")})
    return frame


def _check_values(frame: pd.DataFrame, skip: str) -> None:
    for name in frame.columns:
        if name == skip:
            continue
        column = frame[name]
        if pd.api.types.is_float_dtype(column.dtype):
            infinite = np.isinf(column.to_numpy(dtype="float64", na_value=np.nan))
            if infinite.any():
                raise InvalidInputError(
                    f"column {name!r} holds inf at {_first_bad(frame, infinite)}; QuestDB cannot store "
                    "infinity (it would become NULL): replace it, e.g. with NaN for NULL"
                )
        elif column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) not in (
            "string",
            "empty",
        ):
            not_text = ~column.map(lambda v: v is None or isinstance(v, str)).to_numpy(dtype=bool)
            if not_text.any():
                bad = column.iloc[int(np.flatnonzero(not_text)[0])]
                raise InvalidInputError(
                    f"column {name!r} mixes types: {_first_bad(frame, not_text)} holds "
                    f"{type(bad).__name__} {bad!r} among strings; convert the column to one type"
                )


def _datetime_unit(dtype: Any) -> str | None:
    if isinstance(dtype, pd.DatetimeTZDtype):
        return dtype.unit
    return np.datetime_data(dtype)[0] if getattr(dtype, "kind", None) == "M" else None


def prepare_frame(frame: pd.DataFrame, *, at: str | None, symbols: Sequence[str]) -> pd.DataFrame:
    """Validate and normalize a frame for ``Sender.dataframe`` (see module docstring)."""
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    frame = _timestamp_column(frame, at)
    missing = [s for s in symbols if s not in frame.columns]
    if missing:
        raise MissingColumnsError(f"symbol columns {missing} are not in the frame", missing=tuple(missing))
    _check_values(frame, at or "timestamp")
    for name in symbols:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype) and str(column.cat.categories.dtype) == "str":
            continue
        if not _is_text(column.dropna()):
            raise InvalidInputError(f"SYMBOL column {name!r} must hold strings (or None)")
        # The client wants categories of strings, also when every value is None.
        frame = frame.assign(**{name: column.astype("str").astype("category")})
    # Column labels, passed to assign as keywords (the client takes only str labels anyway).
    coarse: dict[Any, pd.Series] = {
        name: frame[name].astype(
            pd.api.types.pandas_dtype(str(dtype).replace(f"[{_datetime_unit(dtype)}", "[us"))
        )
        for name, dtype in frame.dtypes.items()
        if _datetime_unit(dtype) in ("s", "ms")
    }
    # The client sends only micro- and nanosecond datetimes; seconds and milliseconds widen exactly.
    return frame.assign(**coarse) if coarse else frame


def _time_order(stamps: np.ndarray, ids: np.ndarray | None) -> np.ndarray | None:
    """Positions that sort rows by (timestamp, trade id), stably; None when already sorted."""
    step = np.diff(stamps)
    in_order = step >= 0 if ids is None else (step > 0) | ((step == 0) & (np.diff(ids) >= 0))
    if in_order.all():
        return None
    return np.argsort(stamps, kind="stable") if ids is None else np.lexsort((ids, stamps))


def prepare_ticks(
    frame: pd.DataFrame, *, session_id: str | None = None, symbol: str | None = None
) -> pd.DataFrame:
    """Validate ticks and shape them as ``tick_prices`` rows, sorted by time.

    ``session_id``/``symbol`` given here fill (or must agree with) those columns. Without a
    ``trade_id`` column, ticks are numbered 0, 1, ... within each identical timestamp, in
    frame order: re-importing the same frame then adds nothing, while two ticks in the same
    microsecond stay two ticks (so do two identical rows: nothing tells them apart). With
    ``trade_id``, exact duplicate rows are dropped, and two rows with the same key but
    different price or volume are refused.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"expected a pandas DataFrame of ticks, got {type(frame).__name__}")
    frame = _timestamp_column(frame, None)
    for name, value in (("session_id", session_id), ("symbol", symbol)):
        if value is not None:
            if not isinstance(value, str):
                raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}")
            if name in frame.columns and not (frame[name] == value).all():
                raise InvalidInputError(f"{name}={value!r} disagrees with the frame's {name!r} column")
            frame = frame.assign(
                **{name: pd.Categorical.from_codes(np.zeros(len(frame), np.int8), pd.Index([value]))}
            )
    missing = [c for c in TICK_COLUMNS if c not in frame.columns and c != "trade_id"]
    if missing:
        raise MissingColumnsError(
            f"ticks need columns {missing} (pass session_id=/symbol= or add the columns)",
            missing=tuple(missing),
        )
    extra = [c for c in frame.columns if c not in TICK_COLUMNS]
    if extra:
        raise InvalidInputError(
            f"tick_prices has no columns {extra}; allowed: {', '.join(TICK_COLUMNS)}. Drop them first"
        )
    for name in ("session_id", "symbol"):
        if not _is_text(frame[name]):
            text = frame[name].map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
            raise InvalidInputError(f"column {name!r} must hold strings; {_first_bad(frame, ~text)} does not")
    for name in ("price", "volume"):
        try:
            values = frame[name].to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"column {name!r} is not numeric ({frame[name].dtype})") from exc
        bad = ~np.isfinite(values) | ((values <= 0) if name == "price" else (values < 0))
        if bad.any():
            rule = "a finite number > 0" if name == "price" else "a finite number >= 0"
            raise InvalidInputError(
                f"column {name!r} must be {rule}; {_first_bad(frame, bad)} holds "
                f"{values[int(np.flatnonzero(bad)[0])]!r}. Nothing was written"
            )
        frame = frame.assign(**{name: values})
    has_ids = "trade_id" in frame.columns
    if has_ids:
        ids = pd.to_numeric(frame["trade_id"], errors="coerce")
        whole = ids.notna() & (ids == ids.round())
        if not whole.all():
            raise InvalidInputError(
                f"column 'trade_id' must hold integers; {_first_bad(frame, ~whole.to_numpy())} does not"
            )
        frame = frame.assign(trade_id=ids.astype("int64"))
    order = _time_order(frame["timestamp"].array.asi8, frame["trade_id"].to_numpy() if has_ids else None)
    if order is not None:
        frame = frame.take(order)
    frame = frame.reset_index(drop=True)[[c for c in TICK_COLUMNS if c in frame.columns]]
    # Rows can only collide with rows of the same timestamp, which sorting made adjacent:
    # the duplicate checks run on those few rows instead of the whole frame.
    stamps = frame["timestamp"].array.asi8
    shared = np.zeros(len(frame), dtype=bool)
    if len(frame) > 1:
        same_as_next = stamps[1:] == stamps[:-1]
        shared[1:] |= same_as_next
        shared[:-1] |= same_as_next
    crowded = frame[shared]
    if not has_ids:
        numbers = np.zeros(len(frame), dtype="int64")
        numbers[shared] = crowded.groupby(["session_id", "symbol", "timestamp"], sort=False).cumcount()
        frame["trade_id"] = numbers
        return prepare_frame(frame[list(TICK_COLUMNS)], at="timestamp", symbols=("session_id", "symbol"))
    repeated = crowded.index[crowded.duplicated(keep="first").to_numpy()]
    frame = frame.drop(index=repeated).reset_index(drop=True)
    crowded = crowded.drop(index=repeated)
    clash = crowded.duplicated(["timestamp", "session_id", "symbol", "trade_id"], keep=False).to_numpy()
    if clash.any():
        position = frame.index.get_loc(crowded.index[int(np.flatnonzero(clash)[0])])  # a RangeIndex: an int
        raise InvalidInputError(
            "two ticks share timestamp, session_id, symbol and trade_id but differ in price or volume "
            f"(row {position} after sorting by time); fix the trade ids. Nothing was written"
        )
    return prepare_frame(frame, at="timestamp", symbols=("session_id", "symbol"))


def _serialized_chunks(
    sender: Any,
    frame: pd.DataFrame,
    table: str,
    symbols: Sequence[str],
    at: str,
    chunk_rows: int,
    trailing_rows: Sequence[Mapping[str, Any]] = (),
) -> Iterator[tuple[int, Any]]:
    """Yield ``(rows, buffer)`` per chunk, serializing the next chunk while the caller sends one.

    The client serializes and sends without holding the GIL, so a worker thread overlaps the
    two; at most two chunks are held in memory. Only the caller's thread touches ``sender``
    (the worker fills a buffer made for it beforehand).
    """

    def serialize(start: int, buffer: Any) -> tuple[int, Any]:
        chunk = frame.iloc[start : start + chunk_rows]
        if len(chunk) <= ROW_BY_ROW_MAX_ROWS:
            add_rows(buffer, chunk, table, symbols, at)
        else:
            buffer.dataframe(chunk, table_name=table, symbols=list(symbols), at=at)
        if start + chunk_rows >= len(frame):
            for row in trailing_rows:
                buffer.row(table, **row)
        return len(chunk), buffer

    starts = range(0, len(frame), chunk_rows)
    if len(starts) < 2:
        for start in starts:
            with step("serialize"):
                chunk = serialize(start, sender.new_buffer())
            yield chunk
        return
    with ThreadPoolExecutor(1, thread_name_prefix="qdbtools-serialize") as pool:
        pending = pool.submit(serialize, starts[0], sender.new_buffer())
        for start in starts[1:]:
            with step("serialize"):  # what the sender waits for; the rest overlaps the requests
                ready = pending.result()
            pending = pool.submit(serialize, start, sender.new_buffer())
            yield ready
        with step("serialize"):
            last = pending.result()
        yield last


def write_frame(
    conn: Connection,
    frame: pd.DataFrame,
    table: str,
    *,
    at: str | None = None,
    symbols: Sequence[str] = (),
    wait: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    prepared: bool = False,
    trailing_rows: Sequence[Mapping[str, Any]] = (),
) -> WriteResult:
    """Write ``frame`` to ``table`` with ``Sender.dataframe`` over ILP/HTTP.

    ``trailing_rows`` (keyword arguments of ``Buffer.row``) travel after the frame's last row,
    in the same request as its last chunk: one request to one table is one WAL transaction,
    and a table's transactions are applied in order, so once a trailing row is visible, every
    row of the frame is too. Without ``wait``, the table is recorded as having unapplied
    writes (:meth:`Connection.note_unapplied`), which the database's own readers wait for.
    """
    started = time.perf_counter()
    if not prepared:
        frame = prepare_frame(frame, at=at, symbols=symbols)
    at = at or "timestamp"
    sent = 0
    try:
        with ingestion_errors(conn.settings, table), conn.sender() as sender:
            chunks = _serialized_chunks(sender, frame, table, symbols, at, chunk_rows, trailing_rows)
            for rows, buffer in chunks:
                with step("request"):  # sent and acknowledged: durably committed to the WAL
                    sender.flush(buffer)
                sent += rows
    except QdbToolsError as exc:
        if sent:
            raise type(exc)(
                f"{exc} ({sent} of {len(frame)} rows were written before the failure; sending the "
                "frame again is safe on tables with DEDUP keys)"
            ) from exc
        raise
    if sent:
        conn.note_unapplied(table)
        if wait:
            with step("wait_visible"):
                conn.wait_until_visible(table)
    result = WriteResult(table, sent, time.perf_counter() - started)
    log.info(
        "wrote %d rows to %s in %.3f s",
        sent,
        table,
        result.seconds,
        extra={"table": table, "rows": sent, "seconds": result.seconds},
    )
    return result


def send_rows(
    conn: Connection, table: str, rows: Sequence[Mapping[str, Any]], *, wait: bool, tracked: bool = True
) -> WriteResult:
    """Send ``Buffer.row`` keyword arguments to ``table`` in one request (one WAL transaction).

    For a few rows built without pandas; recorded as unapplied like :func:`write_frame`'s,
    unless not ``tracked`` (rows that no reader of this connection needs to wait for).
    """
    started = time.perf_counter()
    with ingestion_errors(conn.settings, table), conn.sender() as sender:
        with step("serialize"):
            buffer = sender.new_buffer()
            for row in rows:
                buffer.row(table, **row)
        with step("request"):
            sender.flush(buffer)
    if tracked:
        conn.note_unapplied(table)
    if wait:
        with step("wait_visible"):
            conn.wait_until_visible(table)
    result = WriteResult(table, len(rows), time.perf_counter() - started)
    log.info(
        "wrote %d rows to %s in %.3f s",
        len(rows),
        table,
        result.seconds,
        extra={"table": table, "rows": len(rows), "seconds": result.seconds},
    )
    return result


def write_ticks(
    conn: Connection,
    frame: pd.DataFrame,
    *,
    session_id: str | None = None,
    symbol: str | None = None,
    wait: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> WriteResult:
    """Validate ticks (:func:`prepare_ticks`) and write them to ``tick_prices``."""
    ticks = prepare_ticks(frame, session_id=session_id, symbol=symbol)
    return write_frame(
        conn,
        ticks,
        "tick_prices",
        at="timestamp",
        symbols=("session_id", "symbol"),
        wait=wait,
        chunk_rows=chunk_rows,
        prepared=True,
    )
