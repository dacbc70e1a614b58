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
011      ``indicators.commit_session_md5`` (SYMBOL INDEX): the MD5 of the session
         on commit markers, so one session's markers are an index lookup
012      a qdbtools table that exists without its DEDUP keys (a writer created
         it before any migration) gets them; one that already holds rows
         sharing a key is refused, with the count
013      ``indicator_state_figures``: the rows, first and last timestamp that a
         reader counted of a state of overlapping saves, so that other
         processes read them instead of counting it again (30 days' TTL)
=======  =====================================================================

Writers and the store's readers call :func:`require_current_schema` (once per
``Database``): against a server that lacks a migration they raise
:class:`~qdbtools.SchemaNotReadyError` instead of letting ILP create a table by itself.

Every step checks the server's metadata first (``tables()``, ``table_columns()``), so a
migration may be re-run safely; the ledger ``qdbtools_schema_migrations`` records
applied versions, so a second :func:`migrate` does nothing. DDL on WAL tables is
applied asynchronously; each step waits until the server has applied it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from qdbtools.exceptions import MigrationError, QdbToolsError, SchemaNotReadyError
from qdbtools.schema._layout import (
    ADOPT_ROWS,
    ADOPT_VARIANTS,
    AGGREGATED_OHLCV_DDL,
    CURRENT_VALUES_TEMPLATE,
    CURRENT_VIEW_DDL,
    CURRENT_VIEW_SQL,
    GENERATION_KEYS,
    GENERATIONS_DDL,
    INDICATOR_COLUMNS,
    INDICATOR_KEYS,
    INDICATORS_DDL,
    MARKER_SESSION_COLUMN,
    MARKER_SESSIONS,
    OHLCV_KEYS,
    STATE_FIGURES_DDL,
    STATE_FIGURES_TABLE,
    TICK_KEYS,
    TICK_PRICES_DDL,
    marker_session_key,
    relayout_indicators,
)
from qdbtools.schema._steps import (
    Migration,
    MigrationReport,
    add_columns,
    enable_dedup,
    rebuild_table,
    repartition,
    require_dedup,
    restore_interrupted_rebuild,
    run_sql,
    sequencer_txn,
)

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = [
    "CURRENT_VALUES_TEMPLATE",
    "CURRENT_VIEW_SQL",
    "GENERATION_KEYS",
    "INDICATOR_COLUMNS",
    "INDICATOR_KEYS",
    "LEDGER_TABLE",
    "MARKER_SESSION_COLUMN",
    "MIGRATIONS",
    "OHLCV_KEYS",
    "STATE_FIGURES_TABLE",
    "TICK_KEYS",
    "Migration",
    "MigrationReport",
    "applied_versions",
    "marker_session_key",
    "migrate",
    "rebuild_table",
    "require_current_schema",
    "restore_interrupted_rebuild",
    "run_sql",
    "sequencer_txn",
]

log = logging.getLogger(__name__)

LEDGER_TABLE = "qdbtools_schema_migrations"

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
    Migration(
        12,
        "tables created outside migrations get their DEDUP keys",
        (
            require_dedup("tick_prices", TICK_KEYS),
            require_dedup("aggregated_ohlcv", OHLCV_KEYS),
            require_dedup("indicators", INDICATOR_KEYS),
        ),
    ),
    Migration(
        13,
        "indicator_state_figures: counted states, for every process",
        (run_sql(STATE_FIGURES_TABLE, STATE_FIGURES_DDL),),
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


def require_current_schema(db: Database) -> None:
    """Raise :class:`SchemaNotReadyError` unless every migration is applied on ``db``'s server.

    A writer must not let the server create a qdbtools table by itself (ILP creates missing
    tables, without DEDUP keys), and readers need the columns of the latest layout.
    """
    done = set(applied_versions(db))
    missing = [m.version for m in MIGRATIONS if m.version not in done]
    if missing:
        settings = db.settings
        raise SchemaNotReadyError(
            f"the QuestDB at {settings.host}:{settings.pg_port} lacks {len(missing)} of qdbtools' "
            f"{len(MIGRATIONS)} schema migrations (from {missing[0]:03d} on); run `qdbtools migrate` "
            "(or db.migrate()) first. Nothing was read or written"
        )


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
        log.info(
            "applying migration %s (%s)",
            migration.version,
            migration.name,
            extra={"version": migration.version, "migration": migration.name},
        )
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
