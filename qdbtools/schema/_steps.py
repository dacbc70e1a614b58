"""Migration building blocks: idempotent steps, and table rebuilds by copy and RENAME."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, SupportsInt, cast

from qdbtools.exceptions import MigrationError, WriteError

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = [
    "TABLE_COPY_SECONDS",
    "Migration",
    "MigrationReport",
    "Step",
    "add_columns",
    "designated_timestamp",
    "enable_dedup",
    "query_int",
    "rebuild_table",
    "repartition",
    "require_dedup",
    "restore_interrupted_rebuild",
    "run_sql",
    "sequencer_txn",
    "staging_names",
]

log = logging.getLogger(__name__)

#: Statements that copy or rewrite a whole table may take this long (query_timeout is for
#: the queries of everyday work).
TABLE_COPY_SECONDS = 3600.0

Step = Callable[["Database"], None]


@dataclass(frozen=True)
class Migration:
    """One numbered schema change made of idempotent steps."""

    version: int
    name: str
    steps: tuple[Step, ...]


@dataclass
class MigrationReport:
    """What :func:`migrate` did."""

    applied: list[int] = field(default_factory=list)
    already_applied: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def run_sql(table: str, statement: str) -> Step:
    """A statement that is idempotent by itself (``CREATE TABLE IF NOT EXISTS``, an UPDATE, a
    DEDUP-protected INSERT), then a wait until the server has applied it to ``table``."""

    def step(db: Database) -> None:
        db.execute(statement, timeout=TABLE_COPY_SECONDS)
        db.wait_until_visible(table)

    return step


def add_columns(table: str, columns: Sequence[tuple[str, str]]) -> Step:
    """Add the columns the table lacks (QuestDB rejects a no-op ``ADD COLUMN`` on WAL tables)."""

    def step(db: Database) -> None:
        present = set(_columns(db, table))
        for name, sql_type in columns:
            if name not in present:
                db.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {sql_type}')
        db.wait_until_visible(table)

    return step


def enable_dedup(table: str, keys: Sequence[str]) -> Step:
    """Make ``keys`` the table's DEDUP UPSERT KEYS (unless they already are)."""

    def step(db: Database) -> None:
        if _dedup_keys(db, table) != set(keys):
            db.execute(f'ALTER TABLE "{table}" DEDUP ENABLE UPSERT KEYS({", ".join(keys)})')
            db.wait_until_visible(table)

    return step


def require_dedup(table: str, keys: Sequence[str]) -> Step:
    """Give ``table`` its DEDUP keys if it lacks them (e.g. a writer created it before any
    migration); refuse, naming the count, when it already holds rows that share a key."""

    def step(db: Database) -> None:
        if table not in db.tables():
            return
        if _dedup_keys(db, table) == set(keys):
            return
        key_list = ", ".join(f'"{k}"' for k in keys)
        # Rows minus distinct keys (QuestDB 9.3.4 counts 1 for an empty filtered group-by).
        ((rows,),) = db.fetch_rows(f'SELECT count() FROM "{table}"')
        ((distinct,),) = db.fetch_rows(f'SELECT count() FROM (SELECT {key_list}, count() FROM "{table}")')
        if rows != distinct:
            raise MigrationError(
                f"{table} was created without its DEDUP keys ({', '.join(keys)}) and {rows - distinct} "
                "of its rows repeat the key of another; qdbtools will not pick which rows to keep. "
                f'Export the table, drop it (DROP TABLE "{table}"), run migrate, and write the rows again'
            )
        db.execute(f'ALTER TABLE "{table}" DEDUP ENABLE UPSERT KEYS({", ".join(keys)})')
        db.wait_until_visible(table)

    return step


def repartition(table: str, unit: str, keys: Sequence[str]) -> Step:
    """Partition ``table`` by ``unit`` (QuestDB cannot alter it: the table is rebuilt)."""

    def step(db: Database) -> None:
        restore_interrupted_rebuild(db, table)
        if _partition_unit(db, table) != unit:
            rebuild_table(db, table, partition_by=unit, dedup_keys=keys)

    return step


def _partition_unit(db: Database, table: str) -> str:
    frame = db.sql("SELECT partitionBy FROM tables() WHERE table_name = :t", {"t": table})
    return str(frame.iat[0, 0])


def designated_timestamp(db: Database, table: str) -> str:
    frame = db.sql("SELECT designatedTimestamp FROM tables() WHERE table_name = :t", {"t": table})
    return str(frame.iat[0, 0])


def _indexed_columns(db: Database, table: str) -> list[str]:
    frame = db.sql('SELECT "column", indexed FROM table_columns(:t)', {"t": table})
    return [str(c) for c, indexed in zip(frame["column"], frame["indexed"], strict=True) if indexed]


def staging_names(table: str) -> tuple[str, str]:
    return f"{table}__rebuild", f"{table}__retired"


def restore_interrupted_rebuild(db: Database, table: str) -> None:
    """Undo what a :func:`rebuild_table` stopped between its two RENAMEs left behind."""
    staging, retired = staging_names(table)
    tables = set(db.tables())
    if table not in tables and retired in tables:
        log.warning("restoring %s after an interrupted rebuild", table, extra={"table": table})
        db.execute(f'RENAME TABLE "{retired}" TO "{table}"')
    if staging in tables:
        db.execute(f'DROP TABLE "{staging}"')


def query_int(db: Database, query: str, params: Mapping[str, Any] | None = None) -> int:
    """The integer a one-value query answers (a count, a transaction number)."""
    # pandas types a cell as any scalar; these queries answer a QuestDB long.
    return int(cast(SupportsInt, db.sql(query, params).iat[0, 0]))


def sequencer_txn(db: Database, table: str) -> int:
    """The last transaction committed to a WAL table (applied or not)."""
    return query_int(db, "SELECT sequencerTxn FROM wal_tables() WHERE name = :t", {"t": table})


def rebuild_table(
    db: Database,
    table: str,
    *,
    dedup_keys: Sequence[str],
    partition_by: str | None = None,
    where: str | None = None,
    params: Mapping[str, Any] | None = None,
    removed_rows: int = 0,
) -> int:
    """Replace ``table`` by a copy of its rows (those matching ``where``, when given).

    QuestDB has no row DELETE and cannot change a table's partitioning, so both are done by
    copying into a new WAL table, checking its row count (``removed_rows`` fewer than the
    original) and swapping the two with RENAME. The designated timestamp is ``timestamp``;
    the partitioning is ``partition_by`` (default: the table's own).
    A crash between the RENAMEs is undone by :func:`restore_interrupted_rebuild`.

    Returns the number of rows in the new table.

    Raises
    ------
    WriteError
        Something wrote to ``table`` while it was copied, or the copy has the wrong number of
        rows; the original table is left as it was and the copy is dropped.
    """
    staging, retired = staging_names(table)
    restore_interrupted_rebuild(db, table)
    partition_by = partition_by or _partition_unit(db, table)
    designated = designated_timestamp(db, table)
    indexes = "".join(f", INDEX({column})" for column in _indexed_columns(db, table))
    txn = sequencer_txn(db, table)
    before = query_int(db, f'SELECT count() FROM "{table}"')
    select = f'SELECT * FROM "{table}"' + (f" WHERE {where}" if where else "")
    db.execute(
        f'CREATE TABLE "{staging}" AS ({select}){indexes} TIMESTAMP({designated}) '
        f"PARTITION BY {partition_by} WAL",
        params or {},
        timeout=TABLE_COPY_SECONDS,
    )
    db.execute(f'ALTER TABLE "{staging}" DEDUP ENABLE UPSERT KEYS({", ".join(dedup_keys)})')
    db.wait_until_visible(staging)
    after = query_int(db, f'SELECT count() FROM "{staging}"')
    if sequencer_txn(db, table) != txn or after != before - removed_rows:
        db.execute(f'DROP TABLE "{staging}"')
        raise WriteError(
            f"{table} changed while it was being copied (a write ran meanwhile: {after} rows copied, "
            f"{before - removed_rows} expected); nothing was changed. Retry when no writes are running"
        )
    db.execute(f'RENAME TABLE "{table}" TO "{retired}"')
    db.execute(f'RENAME TABLE "{staging}" TO "{table}"')
    db.execute(f'DROP TABLE "{retired}"')
    log.info(
        "rebuilt %s: %d rows, partitioned by %s",
        table,
        after,
        partition_by,
        extra={"table": table, "rows": after, "partition_by": partition_by},
    )
    return after


def _column_rows(db: Database, table: str) -> list:  # type: ignore[type-arg]
    frame = db.sql('SELECT "column", type, upsertKey FROM table_columns(:t)', {"t": table})
    return list(frame.itertuples(index=False))


def _dedup_keys(db: Database, table: str) -> set[str]:
    return {row.column for row in _column_rows(db, table) if row.upsertKey}


def _columns(db: Database, table: str) -> list[str]:
    return [row.column for row in _column_rows(db, table)]
