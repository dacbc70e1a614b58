"""Reading the store: current (or ``as_of``) values and history.

Every read resolves the matching keys' commit markers first (:mod:`._commits`), then reads
exactly the value rows of the saves that make their state. A marker that is not visible yet
belongs to a save that does not count yet: readers see the previous state, complete.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from qdbtools.exceptions import InvalidInputError
from qdbtools.io.engines import read_arrow, read_frame, resolve_engine
from qdbtools.io.literals import key_text, render_params, time_range_filter, utc_text
from qdbtools.io.market import constant_text
from qdbtools.names import natural_sorted
from qdbtools.store._commits import (
    VALUE_ROWS,
    Commit,
    Key,
    committed,
    in_list,
    live,
    saves_filter,
    variant_saves,
    written_at_in,
)
from qdbtools.store._missing import expand_outputs, is_missing, require_stored
from qdbtools.store._rows import text_argument

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = [
    "LONG_COLUMNS",
    "history",
    "load_across_sessions",
    "load_indicators",
]

LONG_COLUMNS = (
    "indicator_type",
    "indicator_id",
    "value",
    "confidence",
    "indicator_name",
    "metadata",
    "scope",
    "user_id",
    "created_by",
    "generation",
)

#: Column dtypes of a long frame, the same from both read engines (text: ``str``, NULL is NaN).
LONG_DTYPES = {c: "str" for c in LONG_COLUMNS} | {
    "value": "float64",
    "confidence": "float64",
    "generation": "Int64",
}


def _variant_list(variant_id: str | Sequence[str] | None) -> list[str] | None:
    if variant_id is None:
        return None
    ids = [variant_id] if isinstance(variant_id, str) else list(variant_id)
    for value in ids:
        text_argument("variant_id", value)
    return ids


def current_state(
    db: Database,
    session_id: str,
    symbol: str,
    variant_ids: Sequence[str] | None = None,
    *,
    variant_type: str | None = None,
    as_of: Any = None,
    details: bool = False,
) -> dict[Key, list[Commit]]:
    """The saves that make each key's state (at ``as_of``), keyed by (type, id)."""
    saves = committed(
        db, session_id, symbol, variant_ids, variant_type=variant_type, as_of=as_of, details=details
    )
    return {(key[2], key[3]): live(commits) for key, commits in saves.items()}


def _resolved(
    db: Database,
    session_id: str,
    symbol: str,
    ids: list[str] | None,
    *,
    variant_type: str | None,
    as_of: Any,
) -> tuple[list[str] | None, dict[Key, list[Commit]]]:
    """The ids to load (a multi-output base name replaced by its stored outputs) and their state."""
    state = current_state(db, session_id, symbol, ids, variant_type=variant_type, as_of=as_of, details=True)
    if ids is None or not is_missing(ids, state):
        return ids, state
    pair_state = current_state(db, session_id, symbol, variant_type=variant_type, as_of=as_of)
    return expand_outputs(ids, state, pair_state)


def _pinned_columns(key: Key, generation: int | None) -> dict[str, Any]:
    """Builders of the long columns that one key fixes (``generation`` too, read from one save)."""
    indicator_type, indicator_id = key
    pinned: dict[str, Any] = {"indicator_id": partial(constant_text, indicator_id)}
    if generation is not None:
        pinned["generation"] = lambda rows: pd.Series(
            pd.array(np.full(rows, generation, dtype="int64"), dtype="Int64")
        )
    if indicator_type is not None:
        pinned["indicator_type"] = partial(constant_text, indicator_type)
    return pinned


def _empty_long() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=LONG_DTYPES[c]) for c in LONG_COLUMNS})
    frame.index = pd.DatetimeIndex([], tz="UTC", name="timestamp").as_unit("us")
    return frame


def _utc_index(raw: pd.DataFrame) -> pd.DataFrame:
    index = pd.DatetimeIndex(raw.pop("timestamp"), name="timestamp")
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    raw.index = index.as_unit("us")
    return raw


def _latest_per_timestamp(raw: pd.DataFrame) -> pd.DataFrame:
    """Of several saves' values at one (type, id, timestamp), keep the latest save's."""
    index = raw.index
    assert isinstance(index, pd.DatetimeIndex), "_utc_index gives the rows a DatetimeIndex"
    order = np.lexsort((raw["generation"].to_numpy(), index.asi8))
    raw = raw.iloc[order]
    keys = raw[["indicator_type", "indicator_id"]].assign(_ts=index.asi8[order])
    return raw[~keys.duplicated(keep="last").to_numpy()]


def _one_variant(db: Database, sql: str, state: Mapping[Key, list[Commit]]) -> pd.DataFrame:
    """A wide frame of one variant straight from the export's columns (no long frame)."""
    table = read_arrow(db.transport, sql)
    ((_, indicator_id),) = state
    return _wide_of_one(table.column("timestamp").to_numpy(), table.column("value").to_numpy(), indicator_id)


def _wide_of_one(stamps: np.ndarray, values: np.ndarray, indicator_id: str) -> pd.DataFrame:
    stamps = stamps.astype("datetime64[us]", copy=False)
    ticks = stamps.view("int64")
    if not (ticks[1:] >= ticks[:-1]).all():  # ORDER BY timestamp DESC for a negative limit
        order = np.argsort(stamps, kind="stable")
        stamps, values = stamps[order], values[order]
    index = pd.DatetimeIndex(stamps, name="timestamp").tz_localize("UTC")
    return pd.DataFrame({indicator_id: values.astype("float64", copy=False)}, index=index)


def _save_alone(db: Database, commit: Commit, indicator_id: str) -> pd.DataFrame | None:
    """The values of a save that wrote one key, read by its save time alone; None: read them filtered.

    Any filter besides the designated ``written_at`` costs the server a compile of each query
    text it has not seen (~2 ms here: a re-saved variant's load is always new text). The rows
    of that microsecond are this save's values, its marker, and the rows of any other process's
    save in the same microsecond: the generation and a non-NULL value (markers have none) keep
    this save's, and their count must be the marker's, else the filtered read decides.
    """
    try:
        figures = json.loads(commit.details) if commit.details else {}
    except ValueError:
        return None  # not a marker this store wrote: the filtered read does not depend on it
    if not isinstance(figures, dict) or figures.get("keys") != 1 or not isinstance(figures.get("rows"), int):
        return None  # several keys share the save's microsecond (or a marker from before "keys")
    params: dict[str, Any] = {}
    where = written_at_in([commit.written_at], params)
    table = read_arrow(
        db.transport,
        render_params(f"SELECT timestamp, value, generation FROM indicators WHERE {where}", params),
    )
    value = table.column("value")
    ours = pc.equal(table.column("generation"), pa.scalar(commit.generation, pa.int64()))  # exact: int64
    keep = pc.and_(ours, value.is_valid()).fill_null(False).to_numpy(zero_copy_only=False)
    if int(keep.sum()) != figures["rows"]:
        return None
    stamps = table.column("timestamp").to_numpy()[keep]
    return _wide_of_one(stamps, value.to_numpy(zero_copy_only=False)[keep], indicator_id)


def load_indicators(
    db: Database,
    session_id: str,
    symbol: str,
    variant_id: str | Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    limit: int | None = None,
    as_of: Any = None,
    shape: Literal["wide", "long"] = "wide",
    *,
    variant_type: str | None = None,
    engine: str = "auto",
    missing_ok: bool = False,
) -> pd.DataFrame:
    """Read the current (or ``as_of``) values (see :meth:`qdbtools.Database.load_indicators`)."""
    if shape not in ("wide", "long"):
        raise InvalidInputError(f"shape must be 'wide' or 'long', got {shape!r}")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit == 0):
        raise InvalidInputError(f"limit must be a non-zero integer (negative = the last rows), got {limit!r}")
    session_id, symbol = key_text("session_id", session_id), key_text("symbol", symbol)
    ids = _variant_list(variant_id)
    asked = ids
    ids, state = _resolved(db, session_id, symbol, asked, variant_type=variant_type, as_of=as_of)
    if not missing_ok and is_missing(ids, state):
        # "Not stored" must mean "not committed": saves that other connections had acknowledged
        # are applied first (this path only; a load of what is stored never waits here).
        db.wait_until_visible(["indicators"])
        ids, state = _resolved(db, session_id, symbol, asked, variant_type=variant_type, as_of=as_of)
        require_stored(db, session_id, symbol, ids, state, variant_type=variant_type, as_of=as_of)
    layered = any(len(commits) > 1 for commits in state.values())
    # Appends layer saves, and at each timestamp the latest save's value counts. The server
    # picks it (LATEST ON the designated written_at) unless two saves of one key share a save
    # time; then the client orders them by generation.
    by_server = layered and all(len({c.written_at for c in cs}) == len(cs) for cs in state.values())
    client_layers = layered and not by_server
    if not state:
        long = _empty_long()
    else:
        params: dict[str, Any] = {"s": session_id, "y": symbol}
        where = "session_id = :s AND symbol = :y AND " + saves_filter(state, params)
        where += time_range_filter(start, end, params)
        single = (len(state) == 1 or shape == "long") and not client_layers
        order = "timestamp DESC" if (limit is not None and limit < 0 and single) else "timestamp"
        sql_limit = f" LIMIT {abs(limit)}" if limit is not None and single else ""
        # Columns that one key read from one save pins to one value are filled in here.
        constants: dict[str, Any] = {}
        if len(state) == 1 and not client_layers:
            ((key, commits),) = state.items()
            constants = _pinned_columns(key, None if layered else commits[0].generation)
        if shape == "wide" and not client_layers:
            fetched = ["value"] if constants else ["indicator_id", "value"]
        elif shape == "wide":
            fetched = ["indicator_type", "indicator_id", "value", "generation"]
        else:
            fetched = [c for c in LONG_COLUMNS if c not in constants]
        query = f"SELECT timestamp, {', '.join(fetched)} FROM indicators WHERE {where}"
        if by_server:
            query += " LATEST ON written_at PARTITION BY indicator_type, indicator_id, timestamp"
            query = f"SELECT * FROM ({query})"
        query += f" ORDER BY {order}"
        engine = resolve_engine(db.transport, engine)
        asked_for_it = ids is None or ids == [key[1] for key in state]
        if fetched == ["value"] and shape == "wide" and engine == "fast" and asked_for_it:
            ((key, commits),) = state.items()
            plain = not layered and start is None and end is None and limit is None
            alone = _save_alone(db, commits[0], key[1]) if plain else None
            return (
                alone
                if alone is not None
                else _one_variant(db, render_params(query + sql_limit, params), state)
            )
        raw = _utc_index(read_frame(db.transport, query + sql_limit, params, engine))
        if client_layers:
            raw = _latest_per_timestamp(raw.astype({"generation": "int64"}))
        if shape == "long":
            arrays = {
                name: (constants[name](len(raw)) if name in constants else raw[name]).array
                for name in LONG_COLUMNS
            }
            raw = pd.DataFrame(arrays, index=raw.index, copy=False)
        dtypes = {
            name: dtype
            for name, dtype in LONG_DTYPES.items()
            if name in raw.columns and str(raw[name].dtype) != dtype
        }
        long = raw.astype(dtypes) if dtypes else raw
        if not long.index.is_monotonic_increasing:
            long = long.sort_index(kind="stable")
        if shape == "long" and limit is not None and not single:
            long = long.head(limit) if limit > 0 else long.tail(-limit)
    if shape == "long":
        return long
    stored_ids = [key[1] for key in state]
    clashing = sorted({i for i in stored_ids if stored_ids.count(i) > 1})
    if clashing:
        types = sorted(str(key[0]) for key in state if key[1] in clashing)
        raise InvalidInputError(
            f"{clashing} are stored under several variant types ({', '.join(types)}); pass "
            "variant_type= to choose one, or use shape='long'"
        )
    columns = ids if ids is not None else natural_sorted(set(stored_ids))
    if len(state) == 1 and columns == stored_ids and (limit is None or not client_layers):
        # One variant: LIMIT and order were applied by the server; the index is UTC microseconds.
        return pd.DataFrame({stored_ids[0]: long["value"].to_numpy(dtype="float64")}, index=long.index)
    if len(state) == 1:
        wide = pd.DataFrame({stored_ids[0]: long["value"].to_numpy()}, index=long.index)
    else:
        wide = long.set_index("indicator_id", append=True)["value"].unstack("indicator_id")
    wide = wide.reindex(columns=columns).rename_axis(columns=None)
    wide.index = pd.DatetimeIndex(wide.index, name="timestamp").as_unit("us")
    if limit is not None:
        wide = wide.head(limit) if limit > 0 else wide.tail(-limit)
    return wide.astype("float64")


def history(
    db: Database, session_id: str, symbol: str, variant_id: str, *, variant_type: str | None = None
) -> pd.DataFrame:
    """Every committed save of one variant, oldest first (committed_at, generation, mode, rows ...)."""
    saves = variant_saves(db, session_id, symbol, text_argument("variant_id", variant_id), variant_type)
    records = [
        {
            "committed_at": commit.committed_at,
            "indicator_type": key[2],
            "generation": commit.generation,
            "mode": commit.mode,
            "rows": commit.detail("rows"),
            "first_ts": commit.detail("first"),
            "last_ts": commit.detail("last"),
            "checksum": commit.detail("checksum"),
            "created_by": commit.created_by,
        }
        for key, commits in saves.items()
        for commit in commits
    ]
    columns = [
        "committed_at",
        "indicator_type",
        "generation",
        "mode",
        "rows",
        "first_ts",
        "last_ts",
        "checksum",
        "created_by",
    ]
    frame = pd.DataFrame.from_records(records, columns=columns)
    for column in ("first_ts", "last_ts"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["committed_at"] = pd.to_datetime(frame["committed_at"], utc=True)
    return frame.sort_values(["committed_at", "generation"], ignore_index=True)


#: Above this many saves, :func:`load_across_sessions` scans their commit-time range once
#: instead of looking each save up (measured: 1,000 saves, 137 ms against 3 x 110 ms).
_SAVES_FOR_A_RANGE_SCAN = 64


def load_across_sessions(
    db: Database,
    symbol: str,
    variant_id: str | Sequence[str],
    session_ids: Sequence[str] | None = None,
    *,
    variant_type: str | None = None,
    as_of: Any = None,
    engine: str = "auto",
) -> pd.DataFrame:
    """Current (or ``as_of``) values of variants of one symbol in every session (see the Database method)."""
    symbol = key_text("symbol", symbol)
    ids = _variant_list(variant_id) or []
    wanted = None if session_ids is None else {key_text("session_id", s) for s in session_ids}
    saves = committed(db, None, symbol, ids, variant_type=variant_type, as_of=as_of)
    states = {key: live(commits) for key, commits in saves.items() if wanted is None or key[0] in wanted}
    pairs = Counter((key[0], key[3]) for key in states)
    clashing = sorted(pair for pair, count in pairs.items() if count > 1)
    if clashing:
        clash = set(clashing)
        types = sorted({str(key[2]) for key in states if (key[0], key[3]) in clash})
        raise InvalidInputError(
            f"{clashing[:3]} are stored under several variant types ({', '.join(types)}); "
            "pass variant_type= to choose one"
        )
    allowed = {(key[3], c.generation) for key, commits in states.items() for c in commits}
    names = sorted({key[0] for key in states})
    code_of = {name: i for i, name in enumerate(names)}
    # A generation belongs to one save, and a save to one session: no session ids to export.
    session_code = {c.generation: code_of[key[0]] for key, commits in states.items() for c in commits}
    commits = sorted({(c.written_at, c.generation) for cs in states.values() for c in cs})
    if not commits:
        index = pd.MultiIndex.from_arrays(
            [pd.Index([], dtype="str"), pd.DatetimeIndex([], tz="UTC").as_unit("us")],
            names=["session_id", "timestamp"],
        )
        return pd.DataFrame({i: pd.Series(dtype="float64") for i in ids}, index=index)
    fetched = "timestamp, value, generation" + (", indicator_id" if len(ids) > 1 else "")
    params: dict[str, Any] = {"y": symbol}
    where = f"symbol = :y AND {VALUE_ROWS} AND " + in_list("indicator_id", ids, "i", params)
    if variant_type is not None:
        params["t"] = variant_type
        where += " AND indicator_type = :t"
    if len(commits) > _SAVES_FOR_A_RANGE_SCAN:
        # Many saves: one scan of the commit-time range that holds them all (the server's
        # compiled filter is faster than hundreds of point lookups); other saves' rows in that
        # range are dropped below by generation.
        params["lo"], params["hi"] = (
            utc_text(pd.Timestamp(commits[i][0], unit="us", tz="UTC")) for i in (0, -1)
        )
        where = f"written_at BETWEEN :lo AND :hi AND {where}"
    else:
        where = f"{written_at_in(sorted({w for w, _ in commits}), params)} AND {where}"
    query = f"SELECT {fetched} FROM indicators WHERE {where}"
    raw = read_frame(db.transport, query, params, resolve_engine(db.transport, engine))
    raw = _utc_index(raw.astype({"value": "float64", "generation": "int64"}))
    if len(ids) > 1:  # a save of several variants shares one generation: keep each variant's own saves
        allowed_rows = pd.DataFrame(sorted(allowed), columns=["indicator_id", "generation"])
        raw = (
            raw.astype({"indicator_id": "str"})
            .reset_index()
            .merge(allowed_rows.astype({"indicator_id": "str"}))
        )
        raw = raw.set_index("timestamp")
    generations = np.array(sorted(session_code), dtype="int64")
    codes_of_generation = np.array([session_code[g] for g in generations], dtype="int64")
    found = np.searchsorted(generations, raw["generation"].to_numpy())
    found = np.minimum(found, len(generations) - 1)
    keep = generations[found] == raw["generation"].to_numpy()  # rows of other saves in a scanned range
    raw, sessions = raw[keep], codes_of_generation[found[keep]]
    stamps = raw.index.asi8
    layered = any(len(commits) > 1 for commits in states.values())
    if len(ids) == 1:  # one column: sort once instead of pivoting
        order = np.lexsort((raw["generation"].to_numpy(), stamps, sessions))
        if layered:  # several saves of one key (appends): at each timestamp the latest save's value
            last = np.r_[
                (sessions[order][1:] != sessions[order][:-1]) | (stamps[order][1:] != stamps[order][:-1]),
                True,
            ]
            order = order[last]
        index = pd.MultiIndex.from_arrays(
            [pd.Categorical.from_codes(sessions[order], pd.Index(names, dtype="str")), raw.index[order]],
            names=["session_id", "timestamp"],
        )
        return pd.DataFrame({ids[0]: raw["value"].to_numpy(dtype="float64")[order]}, index=index)
    raw = raw.reset_index()
    raw["session_id"] = pd.Categorical.from_codes(sessions, pd.Index(names, dtype="str")).astype("str")
    if layered:
        raw = raw.sort_values(["session_id", "indicator_id", "timestamp", "generation"], kind="stable")
        raw = raw.drop_duplicates(["session_id", "indicator_id", "timestamp"], keep="last")
    wide: pd.DataFrame = raw.pivot(index=["session_id", "timestamp"], columns="indicator_id", values="value")
    wide = wide.reindex(columns=ids).rename_axis(columns=None).astype("float64")
    return wide.sort_index()
