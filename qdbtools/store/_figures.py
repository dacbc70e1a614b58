"""Figures of commit markers and of keys' current states: rows, first and last timestamp.

A marker never changes once written, and a key's state (its saves from its last overwrite
on) keeps every row of its saves (:func:`~._prune.prune` removes only saves outside the
states it keeps), so what is decoded or counted once is kept per process, bounded, and
every later listing reuses it: a dashboard's refresh, or the next listing after one more
append, which then costs its own marker alone.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from qdbtools.store._commits import Commit, FullKey

__all__ = ["MARKERS", "Figures", "MarkerCache", "StateId", "state_id"]

#: (rows, first, last) with first and last naive datetimes in UTC (as the server returns them).
Figures = tuple[int, Any, Any]
StateId = tuple[tuple[int, int], tuple[int, int], int]

_MISSING: Any = object()
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def state_id(commits: Sequence[Commit], n: int) -> StateId:
    """The first ``n`` saves of a key's state: markers are never removed, so the first and the
    last save and the count pin down every save between them."""
    first, last = commits[0], commits[n - 1]
    return (first.written_at, first.generation), (last.written_at, last.generation), n


class MarkerCache:
    """What listings have decoded or counted, kept across calls. Bounded: the decoded markers
    and commit times are emptied when they would hold more than :attr:`LIMIT` entries, the
    states (one per key) when more than :attr:`KEY_LIMIT` keys."""

    LIMIT = 1 << 16
    #: Keys whose states are kept: a few hundred bytes each.
    KEY_LIMIT = 1 << 18

    def __init__(self) -> None:
        self._figures: dict[str, tuple[int, dt.datetime | None, dt.datetime | None] | None] = {}
        self._moments: dict[int, dt.datetime] = {}
        self._states: dict[FullKey, tuple[StateId, Figures]] = {}  # each key's latest

    def clear(self) -> None:
        """Forget everything (a new process starts so)."""
        self._figures.clear()
        self._moments.clear()
        self._states.clear()

    def figures(
        self, texts: list[str]
    ) -> dict[str, tuple[int, dt.datetime | None, dt.datetime | None] | None]:
        """(rows, first, last) of each marker's details; None where they hold no row count."""
        known = self._figures
        found = {text: known.get(text, _MISSING) for text in texts}
        missing = [text for text, figures in found.items() if figures is _MISSING]
        if missing:
            if len(known) + len(missing) > self.LIMIT:
                known.clear()
            # One parse of all the new markers' details: ~3x faster than one json.loads each.
            parse_time = dt.datetime.fromisoformat  # utc_text's ISO text: an aware UTC datetime
            for text, details in zip(missing, json.loads("[" + ",".join(missing) + "]"), strict=True):
                rows, first, last = details.get("rows"), details.get("first"), details.get("last")
                figures = (
                    None
                    if rows is None
                    else (
                        rows,
                        None if first is None else parse_time(first),
                        None if last is None else parse_time(last),
                    )
                )
                found[text] = known[text] = figures
        return found

    def moment(self, micros: int) -> dt.datetime:
        """Microseconds since the epoch as an aware UTC datetime."""
        found = self._moments.get(micros)
        if found is None:
            if len(self._moments) >= self.LIMIT:
                self._moments.clear()
            found = _EPOCH + dt.timedelta(microseconds=micros)  # exact; half fromtimestamp's cost
            self._moments[micros] = found
        return found

    def state(self, key: FullKey, commits: Sequence[Commit]) -> Figures | None:
        """A state's figures without a query: known, or the key's last known state (when it is
        the start of this one) extended by saves of disjoint time ranges (:meth:`extended`);
        None when it must be counted."""
        start, base = 0, None
        known = self._states.get(key)
        if known is not None:
            known_id, figures_known = known
            saves = known_id[2]
            if saves <= len(commits) and state_id(commits, saves) == known_id:
                start, base = saves, figures_known
        figures = self.extended(base, commits[start:])
        if figures is not None and start < len(commits):
            self.remember(key, commits, figures)
        return figures

    def remember(self, key: FullKey, commits: Sequence[Commit], figures: Figures) -> None:
        """``figures`` of the state of ``key`` made of ``commits`` (the key's latest only)."""
        self.adopt(key, state_id(commits, len(commits)), figures)

    def adopt(self, key: FullKey, state: StateId, figures: Figures) -> None:
        """``figures`` of the state ``state`` of ``key``, counted elsewhere (the key's latest only)."""
        if key not in self._states and len(self._states) >= self.KEY_LIMIT:
            self._states.clear()
        self._states[key] = (state, figures)

    def extended(self, base: Figures | None, commits: Sequence[Commit]) -> Figures | None:
        """``base`` (the figures of the saves before ``commits``, None for none) plus ``commits``.

        Exact when each save's values lie outside the time range of the saves before it (a
        marker records its save's rows, first and last timestamp): no timestamp is then stored
        twice, so the rows add up. When two ranges overlap, or a marker lacks its figures (one
        written before they were recorded), only the table can say how many distinct
        timestamps the state holds.
        """
        texts = [commit.details for commit in commits if commit.details]
        if len(texts) < len(commits) or (base is None and not commits):
            return None
        decoded = self.figures(texts)
        ranges: list[tuple[int, dt.datetime, dt.datetime]] = []
        for text in texts:
            figures = decoded[text]
            if figures is None or figures[1] is None or figures[2] is None:
                return None
            ranges.append((figures[0], figures[1].replace(tzinfo=None), figures[2].replace(tzinfo=None)))
        rows, first, last = base if base is not None else ranges.pop(0)
        for count, start, end in ranges:
            if start <= last and end >= first:
                return None
            rows, first, last = rows + count, min(first, start), max(last, end)
        return rows, first, last


#: The process's cache: markers and states are the same for every Database that reads them.
MARKERS = MarkerCache()
