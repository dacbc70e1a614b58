"""Numbered, idempotent schema migrations with a ledger of applied versions.

=======  =====================================================================
version  change
=======  =====================================================================
001      ``tick_prices``: one row per trade; DEDUP on (timestamp, session_id,
         symbol, trade_id), so re-importing the same ticks adds nothing
002      ``aggregated_ohlcv``: bars per interval; DEDUP on (timestamp,
         session_id, symbol, interval), so re-aggregating replaces bars
003      ``indicators`` as the original application created it (seed columns
         before its migration 005)
004      ``indicators``: DEDUP on (timestamp, session_id, symbol, indicator_id)
005      the seed's migration 005: ``indicator_type``, ``scope``, ``user_id``,
         ``created_by`` are added to an existing ``indicators`` table in place
006      ``indicators.generation`` (which overwrite generation a row belongs to);
         rows written before it become generation 0; DEDUP keys become
         (timestamp, session_id, symbol, indicator_type, indicator_id, generation)
007      ``indicator_generations``: the ledger of committed generations
         (see docs/design/persistence.md); every variant already stored is
         recorded as committed generation 0, so it stays readable
008      ``aggregated_ohlcv`` partitioned by MONTH instead of DAY (rebuilt by
         copy and RENAME): bars are few per day (one per symbol and day for
         1d bars), and a million one-minute bars span ~700 daily partitions;
         writing them took 4.4-5.7 s by day, 2.5-2.9 s by month.
         ``indicators`` stays daily: see docs/design/persistence.md
009      ``indicators`` keyed by commit time: the designated timestamp becomes
         ``written_at`` (when the save was made), every save carries its
         commit marker row (``commit_mode``) in the same WAL transaction as
         its values, and the ledger ``indicator_generations`` is folded into
         those markers and dropped (see docs/design/persistence.md)
010      ``indicators_current``: a view of each variant's current values only,
         with the seed's columns, for plain SQL users
=======  =====================================================================

Every step checks the server's metadata first (``tables()``, ``table_columns()``), so a
migration may be re-run safely; the ledger ``qdbtools_schema_migrations`` records
applied versions, so a second :func:`migrate` does nothing. DDL on WAL tables is
applied asynchronously; each step waits until the server has applied it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qdbtools.exceptions import MigrationError, QdbToolsError, WriteError

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = [
    "LEDGER_TABLE",
    "MIGRATIONS",
    "Migration",
    "MigrationReport",
    "applied_versions",
    "migrate",
    "rebuild_table",
    "restore_interrupted_rebuild",
    "sequencer_txn",
]

log = logging.getLogger(__name__)

LEDGER_TABLE = "qdbtools_schema_migrations"

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


# -- idempotent steps -------------------------------------------------------------------


def run_sql(table: str, statement: str) -> Step:
    """A statement that is idempotent by itself (``CREATE TABLE IF NOT EXISTS``, an UPDATE, a
    DEDUP-protected INSERT), then a wait until the server has applied it to ``table``."""

    def step(db: Database) -> None:
        db.execute(statement)
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
        current = {row.column for row in _column_rows(db, table) if row.upsertKey}
        if current != set(keys):
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


def _designated_timestamp(db: Database, table: str) -> str:
    frame = db.sql("SELECT designatedTimestamp FROM tables() WHERE table_name = :t", {"t": table})
    return str(frame.iat[0, 0])


def _indexed_columns(db: Database, table: str) -> list[str]:
    frame = db.sql('SELECT "column", indexed FROM table_columns(:t)', {"t": table})
    return [str(c) for c, indexed in zip(frame["column"], frame["indexed"], strict=True) if indexed]


def _staging_names(table: str) -> tuple[str, str]:
    return f"{table}__rebuild", f"{table}__retired"


def restore_interrupted_rebuild(db: Database, table: str) -> None:
    """Undo what a :func:`rebuild_table` stopped between its two RENAMEs left behind."""
    staging, retired = _staging_names(table)
    tables = set(db.tables())
    if table not in tables and retired in tables:
        log.warning("restoring a table after an interrupted rebuild", extra={"table": table})
        db.execute(f'RENAME TABLE "{retired}" TO "{table}"')
    if staging in tables:
        db.execute(f'DROP TABLE "{staging}"')


def sequencer_txn(db: Database, table: str) -> int:
    """The last transaction committed to a WAL table (applied or not)."""
    frame = db.sql("SELECT sequencerTxn FROM wal_tables() WHERE name = :t", {"t": table})
    return int(frame.iat[0, 0])


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
    staging, retired = _staging_names(table)
    restore_interrupted_rebuild(db, table)
    partition_by = partition_by or _partition_unit(db, table)
    designated = _designated_timestamp(db, table)
    indexes = "".join(f", INDEX({column})" for column in _indexed_columns(db, table))
    txn = sequencer_txn(db, table)
    before = int(db.sql(f'SELECT count() FROM "{table}"').iat[0, 0])
    select = f'SELECT * FROM "{table}"' + (f" WHERE {where}" if where else "")
    db.execute(
        f'CREATE TABLE "{staging}" AS ({select}){indexes} TIMESTAMP({designated}) '
        f"PARTITION BY {partition_by} WAL",
        params or {},
    )
    db.execute(f'ALTER TABLE "{staging}" DEDUP ENABLE UPSERT KEYS({", ".join(dedup_keys)})')
    db.wait_until_visible(staging)
    after = int(db.sql(f'SELECT count() FROM "{staging}"').iat[0, 0])
    if sequencer_txn(db, table) != txn or after != before - removed_rows:
        db.execute(f'DROP TABLE "{staging}"')
        raise WriteError(
            f"{table} changed while it was being copied (a write ran meanwhile: {after} rows copied, "
            f"{before - removed_rows} expected); nothing was changed. Retry when no writes are running"
        )
    db.execute(f'RENAME TABLE "{table}" TO "{retired}"')
    db.execute(f'RENAME TABLE "{staging}" TO "{table}"')
    db.execute(f'DROP TABLE "{retired}"')
    log.info("rebuilt table", extra={"table": table, "rows": after, "partition_by": partition_by})
    return after


def _column_rows(db: Database, table: str) -> list:  # type: ignore[type-arg]
    frame = db.sql('SELECT "column", type, upsertKey FROM table_columns(:t)', {"t": table})
    return list(frame.itertuples(index=False))


def _columns(db: Database, table: str) -> list[str]:
    return [row.column for row in _column_rows(db, table)]


# -- the migrations ---------------------------------------------------------------------

_WAL_DAY = "TIMESTAMP(timestamp) PARTITION BY DAY WAL"

TICK_PRICES_DDL = f"""
CREATE TABLE IF NOT EXISTS tick_prices (
    timestamp TIMESTAMP, session_id SYMBOL, symbol SYMBOL, trade_id LONG, price DOUBLE, volume DOUBLE
) {_WAL_DAY} DEDUP UPSERT KEYS(timestamp, session_id, symbol, trade_id)"""

AGGREGATED_OHLCV_DDL = f"""
CREATE TABLE IF NOT EXISTS aggregated_ohlcv (
    timestamp TIMESTAMP, session_id SYMBOL, symbol SYMBOL, interval SYMBOL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, trades LONG
) {_WAL_DAY} DEDUP UPSERT KEYS(timestamp, session_id, symbol, interval)"""

INDICATORS_DDL = f"""
CREATE TABLE IF NOT EXISTS indicators (
    timestamp TIMESTAMP, session_id SYMBOL, symbol SYMBOL, indicator_id SYMBOL,
    indicator_name VARCHAR, value DOUBLE, confidence DOUBLE, metadata VARCHAR
) {_WAL_DAY}"""

GENERATIONS_DDL = """
CREATE TABLE IF NOT EXISTS indicator_generations (
    committed_at TIMESTAMP, session_id SYMBOL, symbol SYMBOL, indicator_type SYMBOL,
    indicator_id SYMBOL, generation LONG, mode SYMBOL, rows LONG,
    first_ts TIMESTAMP, last_ts TIMESTAMP, checksum VARCHAR, created_by SYMBOL
) TIMESTAMP(committed_at) PARTITION BY MONTH WAL
DEDUP UPSERT KEYS(committed_at, session_id, symbol, indicator_type, indicator_id, generation)"""

# "WHERE generation IS NULL" matches nothing in partitions written before the column existed
# (QuestDB 9.3.4); coalesce() reads those values correctly.
ADOPT_ROWS = "UPDATE indicators SET generation = coalesce(generation, 0)"

# Committed at the epoch, so any later save supersedes it; DEDUP makes a rerun harmless.
ADOPT_VARIANTS = """
INSERT INTO indicator_generations
SELECT cast(0 AS TIMESTAMP), session_id, symbol, indicator_type, indicator_id, 0, 'migrated',
       count(), min(timestamp), max(timestamp), NULL, NULL
FROM indicators WHERE generation = 0"""

#: DEDUP keys of ``indicators`` from migration 006 to 008.
GENERATION_KEYS = ("timestamp", "session_id", "symbol", "indicator_type", "indicator_id", "generation")
#: DEDUP keys of ``indicators`` since migration 009: a resent request changes nothing, and a
#: commit marker never merges with a value (``commit_mode`` is NULL on values).
INDICATOR_KEYS = ("written_at", *GENERATION_KEYS, "commit_mode")

INDICATOR_COLUMNS = (
    "written_at",
    "timestamp",
    "session_id",
    "symbol",
    "indicator_type",
    "indicator_id",
    "generation",
    "commit_mode",
    "indicator_name",
    "value",
    "confidence",
    "metadata",
    "scope",
    "user_id",
    "created_by",
)

#: Set on commit markers only, to the MD5 (hex) of their session_id, and indexed: one
#: session's markers are found without visiting the others' (migration 011). A digest, not
#: the id itself: QuestDB 9.3.4's index lookup never matches a literal with a quote in it
#: (``commit_session = 'it''s'`` finds nothing), while a digest is plain hex. Readers filter
#: on session_id as well, so the lookup stays exact.
MARKER_SESSION_COLUMN = "commit_session_md5"
MARKER_SESSIONS = (
    f"UPDATE indicators SET {MARKER_SESSION_COLUMN} = md5(session_id) "
    f"WHERE commit_mode IS NOT NULL AND {MARKER_SESSION_COLUMN} IS NULL"
)


def marker_session_key(session_id: str) -> str:
    """The :data:`MARKER_SESSION_COLUMN` value of a session: what the server's ``md5()`` gives."""
    return hashlib.md5(session_id.encode("utf-8"), usedforsecurity=False).hexdigest()


INDICATORS_BY_COMMIT_DDL = (
    """
CREATE TABLE "{name}" (
    written_at TIMESTAMP, timestamp TIMESTAMP, session_id SYMBOL, symbol SYMBOL, indicator_type SYMBOL,
    indicator_id SYMBOL, generation LONG, commit_mode SYMBOL INDEX, indicator_name VARCHAR, value DOUBLE,
    confidence DOUBLE, metadata VARCHAR, scope SYMBOL, user_id SYMBOL, created_by SYMBOL
) TIMESTAMP(written_at) PARTITION BY DAY WAL
DEDUP UPSERT KEYS("""
    + ", ".join(INDICATOR_KEYS)
    + ")"
)

_SAVE_TIME = "cast(cast(coalesce(generation, 0) / 1000 AS LONG) AS TIMESTAMP)"

# Values keep their generation; each save's time is the one its generation id carries.
COPY_VALUES = f"""
INSERT INTO "{{name}}" ({", ".join(INDICATOR_COLUMNS)})
SELECT {_SAVE_TIME}, timestamp, session_id, symbol, indicator_type, indicator_id, coalesce(generation, 0),
       NULL, indicator_name, value, confidence, metadata, scope, user_id, created_by
FROM indicators"""

# One commit marker per generation the ledger committed (the last ledger row wins).
COPY_LEDGER = f"""
INSERT INTO "{{name}}" ({", ".join(INDICATOR_COLUMNS)})
SELECT {_SAVE_TIME}, {_SAVE_TIME}, session_id, symbol, indicator_type, indicator_id, generation,
       'overwrite', NULL, NULL, NULL,
       CASE WHEN checksum IS NULL THEN '{{{{"migrated": true}}}}'
            ELSE concat('{{{{"migrated": true, "checksum": "', checksum, '"}}}}') END,
       NULL, NULL, created_by
FROM indicator_generations ORDER BY committed_at"""

LEDGER_KEYS_COUNT = """
SELECT count() FROM (SELECT DISTINCT session_id, symbol, indicator_type, indicator_id, generation
                     FROM indicator_generations)"""


def relayout_indicators(db: Database) -> None:
    """Migration 009: rebuild ``indicators`` keyed by commit time, with commit markers."""
    restore_interrupted_rebuild(db, "indicators")
    if _designated_timestamp(db, "indicators") == "written_at":
        return
    staging, retired = _staging_names("indicators")
    values = int(db.sql("SELECT count() FROM indicators").iat[0, 0])
    markers = int(db.sql(LEDGER_KEYS_COUNT).iat[0, 0])
    db.execute(INDICATORS_BY_COMMIT_DDL.format(name=staging))
    db.execute(COPY_VALUES.format(name=staging))
    db.execute(COPY_LEDGER.format(name=staging))
    db.wait_until_visible(staging)
    copied = int(db.sql(f'SELECT count() FROM "{staging}"').iat[0, 0])
    if copied != values + markers:
        db.execute(f'DROP TABLE "{staging}"')
        raise WriteError(
            f"indicators changed while it was rebuilt ({copied} rows copied, {values} values and "
            f"{markers} commit markers expected); nothing was changed. Run migrate again with no "
            "saves running"
        )
    db.execute(f'RENAME TABLE "indicators" TO "{retired}"')
    db.execute(f'RENAME TABLE "{staging}" TO "indicators"')
    db.execute(f'DROP TABLE "{retired}"')
    db.execute("DROP TABLE IF EXISTS indicator_generations")
    log.info("rebuilt indicators keyed by commit time: %d values, %d commit markers", values, markers)


#: Each variant's current values: the saves since its last overwrite (all of them when it was
#: only ever appended), only saves whose commit marker is visible, and at each timestamp the
#: value of the latest of those saves. One query reads markers and values together.
CURRENT_VIEW_SQL = """
WITH marks AS (
    SELECT written_at, session_id, symbol, indicator_type, indicator_id, generation, commit_mode
    FROM indicators WHERE commit_mode IN ('overwrite', 'append')
),
base AS (
    SELECT session_id, symbol, indicator_type, indicator_id, max(written_at) AS since
    FROM marks WHERE commit_mode = 'overwrite'
),
live AS (
    SELECT m.session_id, m.symbol, m.indicator_type, m.indicator_id, m.generation
    FROM marks m LEFT JOIN base b ON (session_id, symbol, indicator_type, indicator_id)
    WHERE b.since IS NULL OR m.written_at >= b.since
),
saved AS (
    SELECT v.* FROM indicators v JOIN live l ON (session_id, symbol, indicator_type, indicator_id, generation)
    WHERE v.commit_mode IS NULL
)
SELECT timestamp, session_id, symbol, indicator_type, indicator_id, indicator_name, value, confidence,
       metadata, scope, user_id, created_by
FROM saved
LATEST ON written_at PARTITION BY session_id, symbol, indicator_type, indicator_id, timestamp"""

CURRENT_VIEW_DDL = f"CREATE OR REPLACE VIEW indicators_current AS ({CURRENT_VIEW_SQL})"

OHLCV_KEYS = ("timestamp", "session_id", "symbol", "interval")

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tick_prices", (run_sql("tick_prices", TICK_PRICES_DDL),)),
    Migration(2, "aggregated_ohlcv", (run_sql("aggregated_ohlcv", AGGREGATED_OHLCV_DDL),)),
    Migration(3, "indicators (original columns)", (run_sql("indicators", INDICATORS_DDL),)),
    Migration(
        4,
        "indicators dedup",
        (enable_dedup("indicators", ("timestamp", "session_id", "symbol", "indicator_id")),),
    ),
    Migration(
        5,
        "indicators: indicator_type, scope, user_id, created_by",
        (
            add_columns(
                "indicators",
                (
                    ("indicator_type", "SYMBOL"),
                    ("scope", "SYMBOL"),
                    ("user_id", "SYMBOL"),
                    ("created_by", "SYMBOL"),
                ),
            ),
        ),
    ),
    Migration(
        6,
        "indicators: generation",
        (
            add_columns("indicators", (("generation", "LONG"),)),
            run_sql("indicators", ADOPT_ROWS),
            enable_dedup("indicators", GENERATION_KEYS),
        ),
    ),
    Migration(
        7,
        "indicator_generations ledger",
        (
            run_sql("indicator_generations", GENERATIONS_DDL),
            run_sql("indicator_generations", ADOPT_VARIANTS),
        ),
    ),
    Migration(
        8, "aggregated_ohlcv partitioned by month", (repartition("aggregated_ohlcv", "MONTH", OHLCV_KEYS),)
    ),
    Migration(9, "indicators keyed by commit time, with commit markers", (relayout_indicators,)),
    Migration(10, "indicators_current view", (run_sql("indicators", CURRENT_VIEW_DDL),)),
    Migration(
        11,
        "indicators: commit markers indexed by session",
        (
            add_columns("indicators", ((MARKER_SESSION_COLUMN, "SYMBOL INDEX"),)),
            run_sql("indicators", MARKER_SESSIONS),
        ),
    ),
)


# -- runner -----------------------------------------------------------------------------


def _ensure_ledger(db: Database) -> None:
    # Not partitioned, hence not a WAL table: an INSERT is visible as soon as it returns.
    db.execute(f"""
        CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (
            version INT, name VARCHAR, applied_at TIMESTAMP
        ) TIMESTAMP(applied_at) PARTITION BY NONE""")


def applied_versions(db: Database) -> list[int]:
    """Versions recorded in the ledger (empty on a database qdbtools never migrated)."""
    if LEDGER_TABLE not in db.tables():
        return []
    frame = db.sql(f"SELECT DISTINCT version FROM {LEDGER_TABLE} ORDER BY version")
    return [int(v) for v in frame["version"]]


def migrate(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> MigrationReport:
    """Apply every migration not yet in the ledger, in version order.

    Raises
    ------
    MigrationError
        Naming the version that failed and the server's message. That version is not
        recorded, and later ones are not attempted; fix the cause and migrate again.
    """
    _ensure_ledger(db)
    done = set(applied_versions(db))
    report = MigrationReport()
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            report.already_applied.append(migration.version)
            continue
        log.info("applying migration", extra={"version": migration.version, "migration": migration.name})
        try:
            for step in migration.steps:
                step(db)
        except QdbToolsError as exc:
            raise MigrationError(
                f"migration {migration.version:03d} ({migration.name}) failed: {exc}. It was not "
                "recorded as applied; fix the cause and run migrate again",
                version=migration.version,
            ) from exc
        db.execute(
            f"INSERT INTO {LEDGER_TABLE} (version, name, applied_at) VALUES (:v, :n, now())",
            {"v": migration.version, "n": migration.name},
        )
        report.applied.append(migration.version)
    return report
