"""Exact figures of keys' current states: from memory, from the states other readers counted, or counted.

A state of one save, or of saves whose time ranges are disjoint, adds up its markers
(:meth:`~._figures.MarkerCache.state`, no query). A state whose saves overlap (a sliding
window re-saving its last bars) must be counted in the table: once, by whichever reader
first lists it. That reader writes what it counted to :data:`STATE_FIGURES_TABLE` (one
request, not waited for), and every other process reads it from there with one query
instead of counting again: a notebook after a kernel restart, each ``qdbtools list``.

Stored figures are exact for as long as their state is current: markers are never
removed, and prune keeps every row of the states it keeps. A state is identified by its
first and last save and their count, so figures of another state (after an overwrite, or
with a late save between) never match. Writing them is an optimization: a failure is
logged and the listing goes on with what it counted.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from questdb import TimestampMicros

from qdbtools.exceptions import QdbToolsError
from qdbtools.io.writer import send_rows
from qdbtools.schema import STATE_FIGURES_TABLE
from qdbtools.store._commits import Commit, FullKey, Key, in_list, saves_filter
from qdbtools.store._figures import MARKERS, Figures, StateId, state_id

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = ["STATE_FIGURES_TABLE", "state_stats", "stored_states"]

log = logging.getLogger(__name__)

#: Up to this many sessions, the stored figures are asked for by session; beyond, all of them.
_SESSIONS_BY_NAME = 64

_COLUMNS = (
    "session_id, symbol, indicator_type, indicator_id, first_written_at, first_generation, "
    "last_written_at, last_generation, saves, rows, first_timestamp, last_timestamp"
)


def state_stats(
    db: Database, states: Mapping[tuple[str, str], Mapping[Key, list[Commit]]]
) -> dict[FullKey, Figures]:
    """Exact (rows, first, last) of each key's current state (first and last naive, in UTC).

    In memory first (:meth:`~._figures.MarkerCache.state`); then, for the states that must be
    counted, what another reader stored; the rest are counted, in one grouped query per
    session and symbol, remembered and stored.
    """
    stats: dict[FullKey, Figures] = {}
    to_count: dict[FullKey, list[Commit]] = {}
    for (session_id, symbol), state in states.items():
        for key, commits in state.items():
            full_key = (session_id, symbol, *key)
            figures = MARKERS.state(full_key, commits)
            if figures is None:
                to_count[full_key] = commits
            else:
                stats[full_key] = figures
    if not to_count:
        return stats
    for full_key, (stored_id, figures) in stored_states(db, to_count).items():
        MARKERS.adopt(full_key, stored_id, figures)
        found = MARKERS.state(full_key, to_count[full_key])
        if found is not None:
            stats[full_key] = found
            del to_count[full_key]
    counted: dict[FullKey, tuple[StateId, Figures]] = {}
    by_pair: dict[tuple[str, str], dict[Key, list[Commit]]] = {}
    for full_key, commits in to_count.items():
        by_pair.setdefault(full_key[:2], {})[full_key[2:]] = commits
    for (session_id, symbol), state in by_pair.items():
        params: dict[str, Any] = {"s": session_id, "y": symbol}
        where = "session_id = :s AND symbol = :y AND " + saves_filter(state, params)
        rows = db.fetch_rows(
            "SELECT indicator_type, indicator_id, count_distinct(cast(timestamp AS LONG)), min(timestamp), "
            f"max(timestamp) FROM indicators WHERE {where}",
            params,
        )
        for indicator_type, indicator_id, count, first, last in rows:
            full_key = (session_id, symbol, indicator_type, indicator_id)
            commits = state[(indicator_type, indicator_id)]
            stats[full_key] = (int(count), first, last)
            MARKERS.remember(full_key, commits, stats[full_key])
            counted[full_key] = (state_id(commits, len(commits)), stats[full_key])
    if counted:
        _store(db, counted)
    return stats


def stored_states(db: Database, keys: Iterable[FullKey]) -> dict[FullKey, tuple[StateId, Figures]]:
    """The latest figures stored for each of ``keys`` (one query), with the state they describe."""
    wanted = set(keys)
    sessions = sorted({key[0] for key in wanted})
    params: dict[str, Any] = {}
    where = (
        f"WHERE {in_list('session_id', sessions, 's', params)} " if len(sessions) <= _SESSIONS_BY_NAME else ""
    )
    rows = db.fetch_rows(
        f"SELECT {_COLUMNS} FROM {STATE_FIGURES_TABLE} {where}"
        "LATEST ON counted_at PARTITION BY session_id, symbol, indicator_type, indicator_id",
        params,
    )
    found = {}
    for session_id, symbol, indicator_type, indicator_id, *ids, rows_counted, first, last in rows:
        full_key = (session_id, symbol, indicator_type, indicator_id)
        if full_key in wanted and None not in ids and rows_counted is not None:
            first_at, first_generation, last_at, last_generation, saves = map(int, ids)
            state = ((first_at, first_generation), (last_at, last_generation), saves)
            found[full_key] = (state, (int(rows_counted), first, last))
    return found


def _stamp(value: dt.datetime | None) -> TimestampMicros | None:
    """A naive UTC datetime from the server as the client's timestamp (None: NULL)."""
    if value is None:
        return None
    return TimestampMicros.from_datetime(value.replace(tzinfo=dt.UTC))


def _store(db: Database, counted: Mapping[FullKey, tuple[StateId, Figures]]) -> None:
    """Write what was counted, for other processes; not waited for, and a failure only logged."""
    now = TimestampMicros.now()
    rows = []
    for (session_id, symbol, indicator_type, indicator_id), (state, figures) in counted.items():
        (first_at, first_generation), (last_at, last_generation), saves = state
        symbols = {"session_id": session_id, "symbol": symbol, "indicator_id": indicator_id}
        if indicator_type is not None:
            symbols["indicator_type"] = indicator_type
        columns: dict[str, Any] = {
            "first_written_at": first_at,
            "first_generation": first_generation,
            "last_written_at": last_at,
            "last_generation": last_generation,
            "saves": saves,
            "rows": figures[0],
            "first_timestamp": _stamp(figures[1]),
            "last_timestamp": _stamp(figures[2]),
        }
        rows.append({"symbols": symbols, "columns": columns, "at": now})
    try:
        send_rows(db.transport, STATE_FIGURES_TABLE, rows, wait=False, tracked=False)
    except QdbToolsError as exc:
        log.warning(
            "could not store the figures of %d counted indicator states in %s (%s); listings in "
            "other processes will count them again",
            len(rows),
            STATE_FIGURES_TABLE,
            exc,
        )
