"""Commit markers: which saves of each variant are committed, and which of them are current.

Every save writes, after its values and in the same request (one WAL transaction), one
*commit marker* row per variant key: ``commit_mode`` is ``overwrite`` or ``append`` (NULL on
value rows), ``written_at`` and ``generation`` identify the save. A table's transactions are
applied in order, so a visible marker proves that every value of its save is visible.

A key's *current* state is made of its saves from its last overwrite on (all of them when
it was only ever appended), in commit order (``written_at``, then ``generation``); at each
timestamp the latest of those saves gives the value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from qdbtools.io.literals import to_utc_timestamp, utc_text
from qdbtools.schema import MARKER_SESSION_COLUMN, marker_session_key
from qdbtools.telemetry import step

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = [
    "VALUE_ROWS",
    "Commit",
    "FullKey",
    "Key",
    "committed",
    "group_commits",
    "in_list",
    "live",
    "marker_query",
    "marker_rows",
    "saves_filter",
    "variant_saves",
    "written_at_in",
]

Key = tuple[str | None, str]  # (indicator_type, indicator_id) within one session and symbol
FullKey = tuple[str, str, str | None, str]  # (session_id, symbol, indicator_type, indicator_id)
MODES = ("append", "overwrite")

#: The value rows (not commit markers). Not ``commit_mode IS NULL``: on the indexed column the
#: server walks the index's NULL key, every value row of the table, and intersects it with the
#: rows asked for (a 10k load paid ~3 ms for it, one variant across 1,000 sessions ~110 ms);
#: on the cast it filters only the rows in the ``written_at`` intervals.
VALUE_ROWS = "commit_mode::varchar IS NULL"


class Commit(NamedTuple):
    """One committed save of one variant key, as its marker records it.

    A named tuple: markers are read by the thousand, and one costs a fifth of a frozen dataclass.
    """

    written_at: int  # microseconds since the epoch, UTC
    generation: int
    mode: str
    details: str | None  # the marker's metadata: JSON with rows, first/last timestamp, checksum
    created_by: str | None

    @property
    def committed_at(self) -> pd.Timestamp:
        return pd.Timestamp(self.written_at, unit="us", tz="UTC")

    def detail(self, name: str) -> Any:
        return json.loads(self.details).get(name) if self.details else None


def in_list(column: str, values: Sequence[Any], prefix: str, params: dict[str, Any]) -> str:
    """``column IN (:prefix0, :prefix1, ...)``, filling ``params``."""
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        names.append(f":{prefix}{i}")
    return f"{column} IN ({', '.join(names)})"


def marker_query(
    session_id: str | None = None,
    symbol: str | None = None,
    variant_ids: Sequence[str] | None = None,
    *,
    variant_type: str | None = None,
    as_of: Any = None,
    details: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The query (and its parameters) of the commit markers of the matching keys.

    One session's markers are found through the index on their session digest
    (:data:`~qdbtools.schema.MARKER_SESSION_COLUMN`), every session's through the index on
    ``commit_mode``.
    """
    params: dict[str, Any] = {}
    if session_id is not None:
        params["session_key"] = marker_session_key(session_id)
        where = [f"{MARKER_SESSION_COLUMN} = :session_key"]
    else:
        where = ["commit_mode IN ('overwrite', 'append')"]
    for column, value in (("session_id", session_id), ("symbol", symbol), ("indicator_type", variant_type)):
        if value is not None:
            params[column] = value
            where.append(f"{column} = :{column}")
    if variant_ids is not None:
        where.append(in_list("indicator_id", list(variant_ids), "v", params) if variant_ids else "false")
    if as_of is not None:
        params["as_of"] = utc_text(to_utc_timestamp(as_of, "as_of"))
        where.append("written_at <= :as_of")
    extra = ", metadata, created_by" if details else ""
    query = (
        "SELECT session_id, symbol, indicator_type, indicator_id, cast(written_at AS LONG), generation, "
        f"commit_mode{extra} FROM indicators WHERE {' AND '.join(where)}"
    )
    return query, params


def committed(
    db: Database,
    session_id: str | None = None,
    symbol: str | None = None,
    variant_ids: Sequence[str] | None = None,
    *,
    variant_type: str | None = None,
    as_of: Any = None,
    details: bool = False,
) -> dict[FullKey, list[Commit]]:
    """Every committed save of the matching keys (up to ``as_of``), oldest first.

    Reads the markers only (:func:`marker_query`). This database's own unapplied saves are
    waited for first, so it reads its own writes.
    """
    if variant_ids is not None and not variant_ids:
        return {}
    query, params = marker_query(
        session_id, symbol, variant_ids, variant_type=variant_type, as_of=as_of, details=details
    )
    return group_commits(marker_rows(db, query, params), details=details)


def variant_saves(
    db: Database, session_id: str, symbol: str, variant_id: str, variant_type: str | None
) -> dict[FullKey, list[Commit]]:
    """Every committed save of one variant (of each type it is stored under), with details."""
    return committed(db, session_id, symbol, [variant_id], variant_type=variant_type, details=True)


def marker_rows(db: Database, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of a :func:`marker_query`, after this database's own unapplied saves are visible."""
    db.require_schema()
    db.wait_for_own_writes(["indicators"])
    with step("markers"):
        return db.fetch_rows(query, params)


def group_commits(rows: Iterable[Sequence[Any]], *, details: bool = False) -> dict[FullKey, list[Commit]]:
    """:func:`marker_rows` as each key's saves, oldest first."""
    saves: dict[FullKey, list[Commit]] = {}
    for row in rows:
        commit = Commit(row[4], row[5], row[6], row[7] if details else None, row[8] if details else None)
        saves.setdefault((row[0], row[1], row[2], row[3]), []).append(commit)
    for commits in saves.values():
        if len(commits) > 1:
            commits.sort(key=_commit_order)
    return saves


def _commit_order(commit: Commit) -> tuple[int, int]:
    return commit.written_at, commit.generation


def live(commits: Sequence[Commit]) -> list[Commit]:
    """The saves that make a key's current state: from its last overwrite on, oldest first."""
    if len(commits) < 2:  # most keys: one save (a listing of 50,000 keys skips the loop)
        return list(commits)
    for position in range(len(commits) - 1, -1, -1):
        if commits[position].mode == "overwrite":
            return list(commits[position:])
    return list(commits)


def _key_generation_filter(
    keys: Iterable[tuple[str | None, str, Sequence[int]]], params: dict[str, Any]
) -> str:
    """``((indicator_type = .. AND indicator_id = .. AND generation IN (..)) OR ...)``."""
    terms = []
    for i, (indicator_type, indicator_id, generations) in enumerate(keys):
        params[f"i{i}"] = indicator_id
        if indicator_type is None:
            type_term = "indicator_type IS NULL"
        else:
            params[f"t{i}"] = indicator_type
            type_term = f"indicator_type = :t{i}"
        gens = in_list("generation", list(generations), f"g{i}_", params)
        terms.append(f"({type_term} AND indicator_id = :i{i} AND {gens})")
    return "(" + " OR ".join(terms) + ")"


def written_at_in(stamps: Sequence[int], params: dict[str, Any]) -> str:
    """``written_at IN (...)`` for save times in UTC microseconds: the server goes straight to them."""
    texts = np.datetime_as_string(np.array(stamps, dtype="datetime64[us]"), unit="us")
    return in_list("written_at", [f"{text}Z" for text in texts], "w", params)


def saves_filter(state: dict[Key, list[Commit]], params: dict[str, Any]) -> str:
    """WHERE terms selecting exactly the value rows of the saves in ``state``.

    ``written_at IN (...)`` lets the server go straight to those saves (the designated
    timestamp); the key and generation terms keep other saves made in the same microsecond out.
    """
    stamps = sorted({c.written_at for commits in state.values() for c in commits})
    keys = ((t, i, [c.generation for c in commits]) for (t, i), commits in state.items())
    return f"{written_at_in(stamps, params)} AND {VALUE_ROWS} AND " + _key_generation_filter(keys, params)
