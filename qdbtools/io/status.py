"""What a server holds and how far its WAL applies lag: the facts behind ``qdbtools status``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from qdbtools.io.connection import Connection

__all__ = ["TABLE_STATUS_COLUMNS", "ServerStatus", "server_release", "server_status"]

#: The columns of :attr:`ServerStatus.tables`, in order.
TABLE_STATUS_COLUMNS = ("table", "rows", "disk_bytes", "wal", "wal_lag_txns", "suspended", "error")


@dataclass(frozen=True)
class ServerStatus:
    """One look at a server: its release and, per user table, rows, disk use and WAL lag.

    ``wal_lag_txns`` is ``sequencerTxn - writerTxn`` of ``wal_tables()``: transactions
    committed (acknowledged, durable) but not yet applied, so not yet visible to queries.
    """

    version: str
    tables: pd.DataFrame

    @property
    def disk_bytes(self) -> int:
        return int(self.tables["disk_bytes"].sum())

    @property
    def suspended(self) -> list[str]:
        return sorted(self.tables.loc[self.tables["suspended"], "table"])

    @property
    def wal_lag_txns(self) -> int:
        return int(self.tables["wal_lag_txns"].sum())


def server_release(conn: Connection) -> str:
    """The server's release from ``build()``, e.g. ``"9.3.4"`` (the whole build text if unparsed)."""
    build = str(conn.fetch_rows("SELECT build()")[0][0])
    match = re.search(r"QuestDB (\S+?),", build)
    return match.group(1) if match else build


def server_status(conn: Connection) -> ServerStatus:
    """Read the server's release, ``table_storage()`` and ``wal_tables()`` (three small queries)."""
    version = server_release(conn)
    storage = conn.fetch_rows("SELECT tableName, walEnabled, rowCount, diskSize FROM table_storage()")
    wal = {
        name: (int(sequencer) - int(writer), bool(suspended), message or None)
        for name, suspended, writer, sequencer, message in conn.fetch_rows(
            "SELECT name, suspended, writerTxn, sequencerTxn, errorMessage FROM wal_tables()"
        )
    }
    rows = []
    for name, wal_enabled, row_count, disk in sorted(storage):
        if name.startswith("sys."):
            continue
        lag, suspended, error = wal.get(name, (0, False, None))
        rows.append((name, int(row_count or 0), int(disk or 0), bool(wal_enabled), lag, suspended, error))
    tables = pd.DataFrame(rows, columns=list(TABLE_STATUS_COLUMNS))
    integers = dict.fromkeys(("rows", "disk_bytes", "wal_lag_txns"), "int64")
    tables = tables.astype({**integers, "wal": bool, "suspended": bool})
    return ServerStatus(version, tables)
