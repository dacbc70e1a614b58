"""Maintenance: remove superseded saves and abandoned orphans from ``indicators``.

QuestDB has no row DELETE, so the table is rewritten (:func:`qdbtools.schema.rebuild_table`).
Commit markers stay as the audit trail (``indicator_history``); only value rows go.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qdbtools.exceptions import InvalidInputError
from qdbtools.schema import INDICATOR_KEYS, rebuild_table
from qdbtools.store._commits import Commit, FullKey, committed

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = ["PruneResult", "prune"]

log = logging.getLogger(__name__)

Save = tuple[str, str, str | None, str, int]  # a key and a generation


@dataclass(frozen=True)
class PruneResult:
    """What :func:`prune` removed (or, with ``dry_run``, would remove)."""

    rows_removed: int
    superseded_generations: int
    orphan_generations: int
    dry_run: bool


def _kept(commits: list[Commit], keep_history: int) -> set[int]:
    """Generations of the current state and of the ``keep_history`` states before it.

    A state runs from one overwrite to the next; the saves of a kept state are all kept.
    """
    overwrites = [i for i, c in enumerate(commits) if c.mode == "overwrite"]
    starts = overwrites or [0]
    first = starts[max(0, len(starts) - 1 - keep_history)] if overwrites else 0
    return {c.generation for c in commits[first:]}


def _prune_plan(
    db: Database, session_id: str | None, symbol: str | None, keep_history: int, orphan_grace: float
) -> tuple[list[Save], int, int, int]:
    saves: dict[FullKey, list[Commit]] = committed(db)
    stored = db.fetch_rows(
        "SELECT session_id, symbol, indicator_type, indicator_id, generation, count() "
        "FROM indicators WHERE commit_mode IS NULL"
    )
    cutoff = (time.time() - orphan_grace) * 1e9
    kept = {key: _kept(commits, keep_history) for key, commits in saves.items()}
    drops: list[Save] = []
    superseded = orphans = rows = 0
    for sid, sym, indicator_type, indicator_id, generation, count in stored:
        key = (sid, sym, indicator_type, indicator_id)
        if (session_id is not None and sid != session_id) or (symbol is not None and sym != symbol):
            continue
        if generation in kept.get(key, ()):
            continue
        if any(c.generation == generation for c in saves.get(key, ())):
            superseded += 1
        elif 0 < generation < cutoff:
            orphans += 1  # never committed and older than the grace period: an abandoned save
        else:
            continue  # possibly a save still in flight
        drops.append((*key, int(generation)))
        rows += int(count)
    return drops, superseded, orphans, rows


def prune(
    db: Database,
    session_id: str | None = None,
    symbol: str | None = None,
    *,
    keep_history: int = 0,
    orphan_grace: float = 3600.0,
    dry_run: bool = False,
) -> PruneResult:
    """Remove superseded saves and abandoned orphans from ``indicators``.

    The rows to keep are copied to a new table, which replaces ``indicators`` by RENAME
    once its row count is verified. Every variant's current state is kept, plus the
    ``keep_history`` states before it (a state: an overwrite and the appends after it);
    uncommitted saves younger than ``orphan_grace`` seconds are kept too (a save may still
    be in flight). If any save changes ``indicators`` while the copy is made, nothing is
    replaced and :class:`WriteError` asks to retry. Run it when no saves are expected: a
    load during the two RENAMEs fails with a clear error rather than returning wrong data.
    """
    if not isinstance(keep_history, int) or keep_history < 0:
        raise InvalidInputError(f"keep_history must be an integer >= 0, got {keep_history!r}")
    drops, superseded, orphans, rows = _prune_plan(db, session_id, symbol, keep_history, orphan_grace)
    result = PruneResult(rows, superseded, orphans, dry_run)
    if dry_run or not drops:
        return result
    params: dict[str, Any] = {}
    terms = []
    for i, (sid, sym, indicator_type, indicator_id, generation) in enumerate(drops):
        params.update({f"s{i}": sid, f"y{i}": sym, f"i{i}": indicator_id, f"g{i}": generation})
        type_term = "indicator_type IS NULL" if indicator_type is None else f"indicator_type = :t{i}"
        if indicator_type is not None:
            params[f"t{i}"] = indicator_type
        terms.append(
            f"(session_id = :s{i} AND symbol = :y{i} AND {type_term} AND indicator_id = :i{i} "
            f"AND generation = :g{i})"
        )
    rebuild_table(
        db,
        "indicators",
        dedup_keys=INDICATOR_KEYS,
        where=f"commit_mode IS NOT NULL OR NOT ({' OR '.join(terms)})",
        params=params,
        removed_rows=rows,
    )
    log.info("pruned %d indicator rows (%d superseded saves, %d orphans)", rows, superseded, orphans)
    return result
