"""Read-your-writes on WAL tables: wait until committed transactions are applied."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from qdbtools.exceptions import TableSuspendedError, VisibilityError

__all__ = [
    "LOW_DISK_BYTES",
    "UnappliedWrites",
    "low_disk_note",
    "wait_until_visible",
]


RunQuery = Callable[..., pd.DataFrame]


def wait_until_visible(
    run_query: RunQuery, tables: Iterable[str], *, timeout: float = 60.0, poll: float = 0.02
) -> None:
    """Block until every table's applied WAL transaction catches up with its sequencer.

    Parameters
    ----------
    run_query
        ``Database.sql``-like callable: ``run_query(query, params) -> DataFrame``.
    tables
        Table names; tables that are not WAL tables (or do not exist) are ignored.
    timeout
        Seconds before :class:`VisibilityError` is raised.
    poll
        The longest pause between two checks (the first ones come sooner).

    Raises
    ------
    TableSuspendedError
        A table is suspended: its commits will not be applied until it is resumed
        (``ALTER TABLE t RESUME WAL``); the server's error message is included.
    VisibilityError
        The commits were not applied within ``timeout`` seconds.
    """
    pending = set(tables)
    # Commits acknowledged before this call have sequencer numbers <= the first one seen;
    # waiting for exactly those keeps concurrent writers from moving the goal.
    targets: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    # Small commits are applied within milliseconds, large ones take longer: poll soon, then
    # back off to `poll` so that a long wait does not load the server with queries.
    pause = min(0.002, poll)
    while pending:
        frame = run_query(
            "SELECT name, suspended, writerTxn, sequencerTxn, errorTag, errorMessage FROM wal_tables()"
        )
        for name, suspended, writer_txn, sequencer_txn, tag, message in frame.itertuples(
            index=False, name=None
        ):
            if name not in pending:
                continue
            if bool(suspended):
                raise TableSuspendedError(
                    f"WAL table {name!r} is suspended ({tag}: {message}); "
                    "its acknowledged writes are kept in its WAL but not applied. Fix the cause (a "
                    "full disk may show as 'bulk update failed'), then run "
                    f'ALTER TABLE "{name}" RESUME WAL'
                )
            target = targets.setdefault(name, int(sequencer_txn))
            if int(writer_txn) >= target:
                pending.discard(name)
        pending &= set(frame["name"])
        if not pending:
            return
        if time.monotonic() > deadline:
            raise VisibilityError(
                f"rows written to {sorted(pending)} were not applied within {timeout:.0f} s; the server "
                "may be overloaded; retry, or raise the timeout"
            )
        time.sleep(pause)
        pause = min(pause * 2, poll)


class UnappliedWrites:
    """The tables a writer committed rows to that it has not yet seen applied (read-your-writes).

    Each note bumps a table's version; :meth:`forget` drops a table only if no write was
    noted after the versions it was given (a write during a wait is not covered by it).
    """

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()

    def note(self, table: str) -> None:
        with self._lock:
            self._versions[table] = self._versions.get(table, 0) + 1

    def pending(self, tables: Iterable[str] | None = None) -> dict[str, int]:
        """The versions of those of ``tables`` (None: of all) that have unapplied writes."""
        with self._lock:
            if tables is None:
                return dict(self._versions)
            return {t: self._versions[t] for t in tables if t in self._versions}

    def forget(self, noted: dict[str, int]) -> None:
        with self._lock:
            for table, version in noted.items():
                if self._versions.get(table) == version:
                    del self._versions[table]


#: Free space below which a managed server's disk is reported as nearly full.
LOW_DISK_BYTES = 512 * 1024 * 1024


def low_disk_note(root: Path) -> str | None:
    """A sentence on the free space at ``root`` when it is low, else None.

    Low: below the smaller of :data:`LOW_DISK_BYTES` and 5% of the disk.
    """
    try:
        usage = shutil.disk_usage(root)
    except OSError:
        return None
    if usage.free >= min(LOW_DISK_BYTES, usage.total // 20):
        return None
    return (
        f"The server's disk at {root} is nearly full: {usage.free / 2**20:,.0f} MiB free of "
        f"{usage.total / 2**20:,.0f} MiB; free space there before resuming."
    )
