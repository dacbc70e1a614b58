"""The tables qdbtools owns: their DDL, keys and columns, and the statements that reshape them."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from qdbtools.exceptions import WriteError
from qdbtools.schema._steps import (
    TABLE_COPY_SECONDS,
    designated_timestamp,
    query_int,
    restore_interrupted_rebuild,
    staging_names,
)

if TYPE_CHECKING:
    from qdbtools.database import Database

log = logging.getLogger(__name__)

_WAL_DAY = "TIMESTAMP(timestamp) PARTITION BY DAY WAL"

TICK_KEYS = ("timestamp", "session_id", "symbol", "trade_id")
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
    if designated_timestamp(db, "indicators") == "written_at":
        return
    staging, retired = staging_names("indicators")
    values = query_int(db, "SELECT count() FROM indicators")
    markers = query_int(db, LEDGER_KEYS_COUNT)
    db.execute(INDICATORS_BY_COMMIT_DDL.format(name=staging))
    db.execute(COPY_VALUES.format(name=staging), timeout=TABLE_COPY_SECONDS)
    db.execute(COPY_LEDGER.format(name=staging), timeout=TABLE_COPY_SECONDS)
    db.wait_until_visible(staging)
    copied = query_int(db, f'SELECT count() FROM "{staging}"')
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
#: ``{markers}`` selects the commit markers and ``{values}`` the value rows (``v``) it reads.
CURRENT_VALUES_TEMPLATE = """
WITH marks AS (
    SELECT written_at, session_id, symbol, indicator_type, indicator_id, generation, commit_mode
    FROM indicators WHERE {markers}
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
    WHERE {values}
)
SELECT timestamp, session_id, symbol, indicator_type, indicator_id, indicator_name, value, confidence,
       metadata, scope, user_id, created_by
FROM saved
LATEST ON written_at PARTITION BY session_id, symbol, indicator_type, indicator_id, timestamp"""

CURRENT_VIEW_SQL = CURRENT_VALUES_TEMPLATE.format(
    markers="commit_mode IN ('overwrite', 'append')", values="v.commit_mode IS NULL"
)

CURRENT_VIEW_DDL = f"CREATE OR REPLACE VIEW indicators_current AS ({CURRENT_VIEW_SQL})"

#: What readers counted of states of several overlapping saves (``qdbtools.store._counted``):
#: a state is pinned by its first and last save and their count. Rows expire after 30 days
#: (then a state still current is counted once more).
STATE_FIGURES_TABLE = "indicator_state_figures"
STATE_FIGURES_DDL = f"""
CREATE TABLE IF NOT EXISTS {STATE_FIGURES_TABLE} (
    counted_at TIMESTAMP, session_id SYMBOL, symbol SYMBOL, indicator_type SYMBOL, indicator_id SYMBOL,
    first_written_at LONG, first_generation LONG, last_written_at LONG, last_generation LONG, saves LONG,
    rows LONG, first_timestamp TIMESTAMP, last_timestamp TIMESTAMP
) TIMESTAMP(counted_at) PARTITION BY DAY TTL 30 DAYS WAL
DEDUP UPSERT KEYS(counted_at, session_id, symbol, indicator_type, indicator_id)"""

OHLCV_KEYS = ("timestamp", "session_id", "symbol", "interval")
