"""Market data tables: read ticks and OHLCV bars, aggregate bars inside QuestDB."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, SupportsInt, cast

import pandas as pd
import pyarrow as pa

from qdbtools.exceptions import InvalidInputError, NoDataError
from qdbtools.io.engines import read_frame, resolve_engine
from qdbtools.io.literals import key_text, time_range_filter
from qdbtools.names import natural_sorted, naturally_sorted_keys, nearby

if TYPE_CHECKING:
    from qdbtools.io.connection import Connection

__all__ = [
    "INTERVALS",
    "OHLCV_DTYPES",
    "TICK_DTYPES",
    "aggregate_ohlcv",
    "check_interval",
    "checked_pairs",
    "list_pairs",
    "normalize",
    "read_ohlcv",
    "read_ohlcv_many",
    "read_ticks",
    "require_bars",
]

#: Column dtypes of the frames the readers return (index: ``timestamp``, UTC).
TICK_DTYPES: Mapping[str, str] = {
    "session_id": "str",
    "symbol": "str",
    "trade_id": "Int64",
    "price": "float64",
    "volume": "float64",
}
OHLCV_DTYPES: Mapping[str, str] = {
    "session_id": "str",
    "symbol": "str",
    "interval": "str",
    "open": "float64",
    "high": "float64",
    "low": "float64",
    "close": "float64",
    "volume": "float64",
    "trades": "Int64",
}

#: Bar intervals: the SAMPLE BY unit QuestDB takes, and the pandas frequency that matches.
INTERVALS: Mapping[str, str] = {
    "1s": "1s",
    "5s": "5s",
    "10s": "10s",
    "15s": "15s",
    "30s": "30s",
    "1m": "1min",
    "5m": "5min",
    "15m": "15min",
    "30m": "30min",
    "1h": "1h",
    "2h": "2h",
    "4h": "4h",
    "1d": "1D",
}


def check_interval(interval: str) -> str:
    if interval not in INTERVALS:
        raise InvalidInputError(f"unknown interval {interval!r}; use one of {', '.join(INTERVALS)}")
    return interval


def normalize(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """Give a raw query result the documented dtypes and a UTC ``DatetimeIndex``."""
    stamps = pd.to_datetime(frame["timestamp"])
    stamps = stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps.dt.tz_convert("UTC")
    result = frame.drop(columns="timestamp")
    result.index = pd.DatetimeIndex(stamps.dt.as_unit("us"), name="timestamp")
    return result.astype({name: dtypes[name] for name in result.columns})


def constant_text(value: str, rows: int) -> pd.Series:
    """A ``str`` column holding ``value`` ``rows`` times, built without Python objects."""
    text = pa.repeat(value, rows)
    return pd.Series(pd.array(text, dtype="str"))  # type: ignore[call-overload]  # stubs omit Arrow input


def _select(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    keys: Mapping[str, str],
    where: str,
    params: dict[str, Any],
    order: str,
    dtypes: Mapping[str, str],
    engine: str,
) -> pd.DataFrame:
    """Run the query and return ``columns`` in order.

    ``keys`` are the SYMBOL columns the WHERE clause pins to one exact value: every row
    holds that value, so they are not fetched but filled in here. The server's export of a
    SYMBOL column costs more than all the numeric columns of a bar together.
    """
    fetched = [c for c in columns if c not in keys]
    query = f"SELECT {', '.join(['timestamp', *fetched])} FROM {table} WHERE {where} ORDER BY {order}"
    frame = normalize(read_frame(conn, query, params, resolve_engine(conn, engine)), dtypes)
    for name in columns:
        if name in keys:
            frame[name] = constant_text(keys[name], len(frame)).set_axis(frame.index)
    return frame[list(columns)]


def read_ticks(
    conn: Connection,
    session_id: str,
    symbol: str,
    start: Any = None,
    end: Any = None,
    columns: Sequence[str] | None = None,
    *,
    engine: str = "auto",
) -> pd.DataFrame:
    """Ticks of one session and symbol in ``[start, end)``, indexed by UTC timestamp."""
    wanted = list(TICK_DTYPES) if columns is None else list(columns)
    unknown = [c for c in wanted if c not in TICK_DTYPES]
    if unknown:
        raise InvalidInputError(f"tick_prices has no columns {unknown}; choose from {', '.join(TICK_DTYPES)}")
    params: dict[str, Any] = {
        "session_id": key_text("session_id", session_id),
        "symbol": key_text("symbol", symbol),
    }
    where = "session_id = :session_id AND symbol = :symbol" + time_range_filter(start, end, params)
    keys = {"session_id": session_id, "symbol": symbol}
    return _select(
        conn, "tick_prices", wanted, keys, where, params, "timestamp, trade_id", TICK_DTYPES, engine
    )


def read_ohlcv(
    conn: Connection,
    session_id: str,
    symbol: str,
    interval: str = "1m",
    start: Any = None,
    end: Any = None,
    *,
    engine: str = "auto",
    missing_ok: bool = False,
) -> pd.DataFrame:
    """Bars of one session, symbol and interval in ``[start, end)``, indexed by bar open time (UTC).

    No bars at all for the session, symbol and interval: :class:`~qdbtools.NoDataError` naming
    what is stored (:func:`require_bars`), unless ``missing_ok``. A window without bars is empty.
    """
    params: dict[str, Any] = {
        "session_id": key_text("session_id", session_id),
        "symbol": key_text("symbol", symbol),
        "interval": check_interval(interval),
    }
    where = "session_id = :session_id AND symbol = :symbol AND interval = :interval"
    where += time_range_filter(start, end, params)
    keys = {"session_id": session_id, "symbol": symbol, "interval": interval}
    bars = _select(
        conn, "aggregated_ohlcv", list(OHLCV_DTYPES), keys, where, params, "timestamp", OHLCV_DTYPES, engine
    )
    if bars.empty and not missing_ok:
        require_bars(conn, session_id, symbol, interval)
    return bars


def _distinct(conn: Connection, column: str, table: str, where: str, params: dict[str, Any]) -> list[str]:
    rows = conn.fetch_rows(f"SELECT DISTINCT {column} FROM {table} WHERE {where}", params)
    return natural_sorted(str(row[0]) for row in rows if row[0] is not None)


def require_bars(conn: Connection, session_id: str, symbol: str, interval: str) -> None:
    """Raise :class:`~qdbtools.NoDataError` unless ``interval`` bars are stored for the pair.

    The message lists the intervals stored for the pair, else the close matches among the
    symbols of the session or among the sessions, and says whether ticks could make the bars.
    """
    params = {"s": session_id, "y": symbol}
    intervals = _distinct(conn, "interval", "aggregated_ohlcv", "session_id = :s AND symbol = :y", params)
    if interval in intervals:
        return
    pair = f"session_id={session_id!r}, symbol={symbol!r}"
    opt_out = "pass missing_ok=True to get an empty frame instead"
    build = f"build them with db.aggregate_ohlcv({session_id!r}, {symbol!r}, {interval!r})"
    if intervals:
        order = {name: position for position, name in enumerate(INTERVALS)}
        stored = ", ".join(repr(i) for i in sorted(intervals, key=lambda i: order.get(i, len(order))))
        raise NoDataError(
            f"no {interval} bars for {pair} (stored intervals: {stored}); {build}, or {opt_out}"
        )
    ticks = conn.fetch_rows("SELECT count() FROM tick_prices WHERE session_id = :s AND symbol = :y", params)
    if ticks and ticks[0][0]:
        raise NoDataError(
            f"no bars for {pair}, but {ticks[0][0]:,} ticks in tick_prices: {build}, or {opt_out}"
        )
    symbols = _distinct(conn, "symbol", "aggregated_ohlcv", "session_id = :s", {"s": session_id})
    if symbols:
        raise NoDataError(
            f"no bars for {pair} ({nearby(symbol, symbols, 'symbols of the session')}); {opt_out}"
        )
    sessions = _distinct(conn, "session_id", "aggregated_ohlcv", "true", {})
    near = nearby(session_id, sessions, "sessions with bars")
    raise NoDataError(f"no bars for session_id={session_id!r} ({near}); {opt_out}")


#: Sessions per query of :func:`read_ohlcv_many`, so that each query's filter stays short.
SESSIONS_PER_QUERY = 50

#: Columns of :func:`read_ohlcv_many` (index: session_id, symbol, timestamp).
MANY_OHLCV_COLUMNS = ("open", "high", "low", "close", "volume", "trades")


def checked_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``pairs`` as a list of (session_id, symbol) tuples; anything else is an error naming it."""
    checked = []
    for position, pair in enumerate(pairs):
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise InvalidInputError(f"pairs[{position}] is {pair!r}; pass (session_id, symbol) pairs")
        checked.append((key_text("session_id", pair[0]), key_text("symbol", pair[1])))
    return checked


def _pairs_by_session(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    by_session: dict[str, list[str]] = {}
    for session_id, symbol in checked_pairs(pairs):
        symbols = by_session.setdefault(session_id, [])
        if symbol not in symbols:
            symbols.append(symbol)
    return by_session


def read_ohlcv_many(
    conn: Connection,
    pairs: Iterable[tuple[str, str]],
    interval: str = "1m",
    start: Any = None,
    end: Any = None,
    *,
    engine: str = "auto",
) -> pd.DataFrame:
    """Bars of many (session_id, symbol) pairs, indexed by (session_id, symbol, timestamp), sorted.

    One query per :data:`SESSIONS_PER_QUERY` sessions; a pair without bars has no rows.
    """
    interval = check_interval(interval)
    by_session = _pairs_by_session(pairs)
    sessions = list(by_session)
    frames = []
    for first in range(0, len(sessions), SESSIONS_PER_QUERY):
        params: dict[str, Any] = {"interval": interval}
        terms = []
        for i, session_id in enumerate(sessions[first : first + SESSIONS_PER_QUERY]):
            params[f"s{i}"] = session_id
            names = []
            for j, symbol in enumerate(by_session[session_id]):
                params[f"y{i}_{j}"] = symbol
                names.append(f":y{i}_{j}")
            terms.append(f"(session_id = :s{i} AND symbol IN ({', '.join(names)}))")
        where = f"interval = :interval AND ({' OR '.join(terms)})" + time_range_filter(start, end, params)
        query = (
            f"SELECT timestamp, session_id, symbol, {', '.join(MANY_OHLCV_COLUMNS)} "
            f"FROM aggregated_ohlcv WHERE {where}"
        )
        frames.append(normalize(read_frame(conn, query, params, resolve_engine(conn, engine)), OHLCV_DTYPES))
    if not frames:
        columns = ("session_id", "symbol", *MANY_OHLCV_COLUMNS)
        empty = {name: pd.Series(dtype=OHLCV_DTYPES[name]) for name in columns}
        frame = pd.DataFrame(empty, index=pd.DatetimeIndex([], tz="UTC", name="timestamp").as_unit("us"))
    else:
        frame = pd.concat(frames) if len(frames) > 1 else frames[0]
    frame = frame.set_index(["session_id", "symbol"], append=True).reorder_levels([1, 2, 0])
    return frame[list(MANY_OHLCV_COLUMNS)].sort_index()


def list_pairs(conn: Connection) -> list[tuple[str, str]]:
    """Every (session_id, symbol) pair with 1-minute bars or ticks, sorted."""
    found: set[tuple[str, str]] = set()
    for query in (
        "SELECT DISTINCT session_id, symbol FROM aggregated_ohlcv WHERE interval = '1m'",
        "SELECT DISTINCT session_id, symbol FROM tick_prices",
    ):
        found.update((str(s), str(y)) for s, y in conn.fetch_rows(query) if s is not None and y is not None)
    return naturally_sorted_keys(found)


def aggregate_ohlcv(
    conn: Connection, session_id: str, symbol: str, interval: str = "1m", *, wait: bool = True
) -> int:
    """Fill ``aggregated_ohlcv`` from ``tick_prices`` with ``SAMPLE BY``; returns the bar count.

    Bars are labelled by their open time, aligned to the UTC calendar; intervals without
    ticks produce no bar (pandas' ``resample(...).ohlc()`` followed by dropping empty bins).
    Re-running replaces the bars (DEDUP on timestamp, session_id, symbol, interval).
    """
    params = {
        "session_id": key_text("session_id", session_id),
        "symbol": key_text("symbol", symbol),
        "interval": check_interval(interval),
    }
    # The interval is SQL syntax here; it comes from the fixed INTERVALS table above.
    conn.execute(
        "INSERT INTO aggregated_ohlcv (timestamp, session_id, symbol, interval, open, high, low, close, "
        "volume, trades) SELECT timestamp, session_id, symbol, :interval, first(price), max(price), "
        "min(price), last(price), sum(volume), count() FROM tick_prices "
        f"WHERE session_id = :session_id AND symbol = :symbol SAMPLE BY {interval} ALIGN TO CALENDAR",
        params,
    )
    if wait:
        conn.wait_until_visible("aggregated_ohlcv")
    count = conn.read(
        "SELECT count() FROM aggregated_ohlcv WHERE session_id = :session_id AND symbol = :symbol "
        "AND interval = :interval",
        params,
    )
    return int(cast(SupportsInt, count.iat[0, 0]))  # pandas types a cell as any scalar; count() is a long
