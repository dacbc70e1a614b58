"""Schema migrations, checked through the server's own metadata on real, empty servers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qdbtools.database import Database
from qdbtools.exceptions import MigrationError, WriteError
from qdbtools.schema import (
    LEDGER_TABLE,
    MIGRATIONS,
    OHLCV_KEYS,
    Migration,
    applied_versions,
    migrate,
    rebuild_table,
    restore_interrupted_rebuild,
    run_sql,
)

EXPECTED = {
    "tick_prices": {
        "columns": {
            "timestamp": "TIMESTAMP",
            "session_id": "SYMBOL",
            "symbol": "SYMBOL",
            "trade_id": "LONG",
            "price": "DOUBLE",
            "volume": "DOUBLE",
        },
        "keys": {"timestamp", "session_id", "symbol", "trade_id"},
        "partition": "DAY",
    },
    "aggregated_ohlcv": {
        "columns": {
            "timestamp": "TIMESTAMP",
            "session_id": "SYMBOL",
            "symbol": "SYMBOL",
            "interval": "SYMBOL",
            "open": "DOUBLE",
            "high": "DOUBLE",
            "low": "DOUBLE",
            "close": "DOUBLE",
            "volume": "DOUBLE",
            "trades": "LONG",
        },
        "keys": {"timestamp", "session_id", "symbol", "interval"},
        "partition": "MONTH",
    },
    "indicators": {
        "columns": {
            "timestamp": "TIMESTAMP",
            "session_id": "SYMBOL",
            "symbol": "SYMBOL",
            "indicator_id": "SYMBOL",
            "indicator_name": "VARCHAR",
            "value": "DOUBLE",
            "confidence": "DOUBLE",
            "metadata": "VARCHAR",
            "indicator_type": "SYMBOL",
            "scope": "SYMBOL",
            "user_id": "SYMBOL",
            "created_by": "SYMBOL",
            "generation": "LONG",
        },
        "keys": {"timestamp", "session_id", "symbol", "indicator_type", "indicator_id", "generation"},
        "partition": "DAY",
    },
    "indicator_generations": {
        "columns": {
            "committed_at": "TIMESTAMP",
            "session_id": "SYMBOL",
            "symbol": "SYMBOL",
            "indicator_type": "SYMBOL",
            "indicator_id": "SYMBOL",
            "generation": "LONG",
            "mode": "SYMBOL",
            "rows": "LONG",
            "first_ts": "TIMESTAMP",
            "last_ts": "TIMESTAMP",
            "checksum": "VARCHAR",
            "created_by": "SYMBOL",
        },
        "keys": {"committed_at", "session_id", "symbol", "indicator_type", "indicator_id", "generation"},
        "partition": "MONTH",
    },
}


def snapshot(db: Database) -> dict[str, object]:
    """Everything the server says about the schema, for before/after comparisons."""
    tables = db.sql(
        "SELECT table_name, designatedTimestamp, partitionBy, walEnabled, dedup FROM tables() "
        "ORDER BY table_name"
    )
    result: dict[str, object] = {"tables": tables.to_dict("records")}
    for name in tables["table_name"]:
        columns = db.sql('SELECT "column", type, upsertKey FROM table_columns(:t)', {"t": name})
        result[name] = columns.to_dict("records")
    result["ledger"] = db.sql(f"SELECT version, name, applied_at FROM {LEDGER_TABLE}").to_dict("records")
    return result


@pytest.fixture
def empty_db(qdb_server_factory):
    server = qdb_server_factory()
    with Database(server.settings, server=server) as db:
        assert db.tables() == []
        yield db


def test_migrate_creates_every_table_on_an_empty_database(empty_db):
    report = empty_db.migrate()
    assert report.applied == [m.version for m in MIGRATIONS]
    tables = empty_db.sql(
        "SELECT table_name, walEnabled, dedup, partitionBy, designatedTimestamp FROM tables()"
    ).set_index("table_name")
    for name, expected in EXPECTED.items():
        columns = empty_db.sql('SELECT "column", type, upsertKey FROM table_columns(:t)', {"t": name})
        assert dict(zip(columns["column"], columns["type"], strict=True)) == expected["columns"], name
        assert set(columns.loc[columns["upsertKey"], "column"]) == expected["keys"], name
        assert bool(tables.loc[name, "walEnabled"]), name
        assert bool(tables.loc[name, "dedup"]), name
        assert tables.loc[name, "partitionBy"] == expected["partition"], name
        assert tables.loc[name, "designatedTimestamp"] == next(iter(expected["columns"])), name
    assert applied_versions(empty_db) == [m.version for m in MIGRATIONS]


def test_second_migrate_changes_nothing(empty_db):
    empty_db.migrate()
    before = snapshot(empty_db)
    report = empty_db.migrate()
    assert report.applied == []
    assert report.already_applied == [m.version for m in MIGRATIONS]
    assert snapshot(empty_db) == before


def test_pre_005_indicators_table_is_upgraded_in_place(empty_db):
    # The table as the original application created it, before its migration 005.
    empty_db.execute(
        "CREATE TABLE indicators (timestamp TIMESTAMP, session_id SYMBOL, symbol SYMBOL, "
        "indicator_id SYMBOL, indicator_name STRING, value DOUBLE, confidence DOUBLE, metadata STRING) "
        "TIMESTAMP(timestamp) PARTITION BY DAY WAL"
    )
    rows = [
        ("2024-03-01T00:00:00.000000Z", "s1", "BTC_USDT", "RSI_14", "RSI", 55.5, 0.0, '{"a": 1}'),
        ("2024-03-01T00:01:00.000000Z", "s1", "BTC_USDT", "RSI_14", "RSI", 56.25, 0.9, "{}"),
        ("2024-03-02T00:00:00.000000Z", "s2", "ETH_USDT", "EMA_12", "EMA", 3012.5, None, None),
    ]
    for ts, session_id, symbol, indicator_id, name, value, confidence, metadata in rows:
        empty_db.execute(
            "INSERT INTO indicators VALUES (:ts, :sid, :sym, :iid, :name, :value, :conf, :meta)",
            {
                "ts": ts,
                "sid": session_id,
                "sym": symbol,
                "iid": indicator_id,
                "name": name,
                "value": value,
                "conf": confidence,
                "meta": metadata,
            },
        )
    empty_db.wait_until_visible("indicators")
    before = empty_db.sql(
        "SELECT timestamp, session_id, symbol, indicator_id, indicator_name, value, confidence, metadata "
        "FROM indicators ORDER BY timestamp"
    )
    assert len(before) == 3

    report = empty_db.migrate()
    assert 5 in report.applied

    columns = empty_db.sql('SELECT "column", type FROM table_columns(:t)', {"t": "indicators"})
    types = dict(zip(columns["column"], columns["type"], strict=True))
    for added in ("indicator_type", "scope", "user_id", "created_by", "generation"):
        assert added in types
    after = empty_db.sql("SELECT * FROM indicators ORDER BY timestamp")
    assert after[before.columns].astype(str).equals(before.astype(str))
    assert after[["indicator_type", "scope", "user_id", "created_by"]].isna().all().all()
    assert (after["generation"] == 0).all()  # adopted as the committed generation 0
    ledger = empty_db.sql(
        "SELECT session_id, symbol, indicator_id, generation, rows FROM indicator_generations "
        "ORDER BY session_id"
    )
    assert ledger.to_dict("records") == [
        {"session_id": "s1", "symbol": "BTC_USDT", "indicator_id": "RSI_14", "generation": 0, "rows": 2},
        {"session_id": "s2", "symbol": "ETH_USDT", "indicator_id": "EMA_12", "generation": 0, "rows": 1},
    ]


def test_failing_migration_stops_names_its_version_and_is_not_recorded(empty_db):
    good = Migration(
        901,
        "good table",
        (run_sql("good_t", "CREATE TABLE good_t (ts TIMESTAMP) TIMESTAMP(ts) PARTITION BY DAY WAL"),),
    )
    bad = Migration(
        902,
        "broken ddl",
        (run_sql("bad_t", "CREATE TABLE bad_t (ts TIMESTAMP, x NOSUCHTYPE) TIMESTAMP(ts)"),),
    )
    later = Migration(
        903,
        "never reached",
        (run_sql("later_t", "CREATE TABLE later_t (ts TIMESTAMP) TIMESTAMP(ts) PARTITION BY DAY WAL"),),
    )
    with pytest.raises(MigrationError) as info:
        migrate(empty_db, [good, bad, later])
    assert info.value.version == 902
    assert "migration 902 (broken ddl) failed" in str(info.value)
    assert "nosuchtype" in str(info.value).lower()
    assert applied_versions(empty_db) == [901]
    assert "later_t" not in empty_db.tables()


def _bars(days: int, offset: float = 0.0) -> pd.DataFrame:
    stamps = pd.date_range("2024-02-27", periods=days * 24, freq="1h", tz="UTC")
    close = 100.0 + np.arange(len(stamps)) + offset
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "session_id": "s",
            "symbol": "BTC_USDT",
            "interval": "1h",
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": 1.5,
            "trades": 3,
        }
    )


def _write_bars(db: Database, bars: pd.DataFrame) -> None:
    db.write_frame(bars, "aggregated_ohlcv", at="timestamp", symbols=("session_id", "symbol", "interval"))


def _partitioning(db: Database) -> dict[str, str]:
    frame = db.sql("SELECT table_name, partitionBy FROM tables()")
    return dict(zip(frame["table_name"], frame["partitionBy"], strict=True))


def test_migration_008_repartitions_bars_by_month_and_keeps_every_row(empty_db):
    migrate(empty_db, [m for m in MIGRATIONS if m.version < 8])
    _write_bars(empty_db, _bars(5))  # across a month boundary: Feb 27 .. Mar 2
    values = pd.DataFrame(
        {"RSI_14": np.linspace(10, 90, 5 * 24)},
        index=pd.date_range("2024-02-27", periods=5 * 24, freq="1h", tz="UTC"),
    )
    empty_db.save_indicators(values, session_id="s", symbol="BTC_USDT", mode="overwrite")
    assert _partitioning(empty_db)["aggregated_ohlcv"] == "DAY"
    tables = ("aggregated_ohlcv", "indicators")
    before = {t: empty_db.sql(f"SELECT * FROM {t} ORDER BY timestamp") for t in tables}
    schema_before = {t: snapshot(empty_db)[t] for t in tables}

    assert empty_db.migrate().applied == [8]

    assert {t: _partitioning(empty_db)[t] for t in tables} == {
        "aggregated_ohlcv": "MONTH",
        "indicators": "DAY",
    }
    for table in tables:
        after = empty_db.sql(f"SELECT * FROM {table} ORDER BY timestamp")
        pd.testing.assert_frame_equal(after, before[table])
        assert snapshot(empty_db)[table] == schema_before[table]  # columns, types, DEDUP keys
    assert not [t for t in empty_db.tables() if "__" in t]
    bars = empty_db.read_ohlcv("s", "BTC_USDT", "1h")
    assert len(bars) == 120 and bars.index.is_monotonic_increasing


def test_a_rebuild_interrupted_between_its_renames_is_restored(empty_db):
    empty_db.migrate()
    _write_bars(empty_db, _bars(2))
    # The state a crash after the first RENAME leaves: the table under its retired name.
    empty_db.execute('RENAME TABLE aggregated_ohlcv TO "aggregated_ohlcv__retired"')
    empty_db.execute(
        'CREATE TABLE "aggregated_ohlcv__rebuild" (timestamp TIMESTAMP) '
        "TIMESTAMP(timestamp) PARTITION BY MONTH WAL"
    )
    restore_interrupted_rebuild(empty_db, "aggregated_ohlcv")
    assert "aggregated_ohlcv" in empty_db.tables()
    assert not [t for t in empty_db.tables() if "__" in t]
    assert int(empty_db.sql("SELECT count() FROM aggregated_ohlcv").iat[0, 0]) == 48


def test_a_rebuild_that_races_a_write_changes_nothing(empty_db, monkeypatch):
    empty_db.migrate()
    _write_bars(empty_db, _bars(2))
    real_wait = empty_db.wait_until_visible

    def wait_after_a_write(tables, **kwargs):
        if tables == "aggregated_ohlcv__rebuild":  # the copy is made: a writer lands now
            _write_bars(empty_db, _bars(3).iloc[-1:])
        return real_wait(tables, **kwargs)

    monkeypatch.setattr(empty_db, "wait_until_visible", wait_after_a_write)
    with pytest.raises(WriteError, match="aggregated_ohlcv changed while it was being copied"):
        rebuild_table(empty_db, "aggregated_ohlcv", dedup_keys=OHLCV_KEYS)
    assert int(empty_db.sql("SELECT count() FROM aggregated_ohlcv").iat[0, 0]) == 49
    assert not [t for t in empty_db.tables() if "__" in t]
