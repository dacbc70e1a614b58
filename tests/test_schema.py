"""Schema migrations, checked through the server's own metadata on real, empty servers."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from market_data import make_ticks

from qdbtools.database import Database
from qdbtools.exceptions import MigrationError, SchemaNotReadyError, WriteError
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
            "written_at": "TIMESTAMP",
            "timestamp": "TIMESTAMP",
            "session_id": "SYMBOL",
            "symbol": "SYMBOL",
            "indicator_type": "SYMBOL",
            "indicator_id": "SYMBOL",
            "generation": "LONG",
            "commit_mode": "SYMBOL",
            "indicator_name": "VARCHAR",
            "value": "DOUBLE",
            "confidence": "DOUBLE",
            "metadata": "VARCHAR",
            "scope": "SYMBOL",
            "user_id": "SYMBOL",
            "created_by": "SYMBOL",
            "commit_session_md5": "SYMBOL",
        },
        "keys": {
            "written_at",
            "timestamp",
            "session_id",
            "symbol",
            "indicator_type",
            "indicator_id",
            "generation",
            "commit_mode",
        },
        "partition": "DAY",
    },
    "indicator_state_figures": {
        "columns": {
            "counted_at": "TIMESTAMP",
            "session_id": "SYMBOL",
            "symbol": "SYMBOL",
            "indicator_type": "SYMBOL",
            "indicator_id": "SYMBOL",
            "first_written_at": "LONG",
            "first_generation": "LONG",
            "last_written_at": "LONG",
            "last_generation": "LONG",
            "saves": "LONG",
            "rows": "LONG",
            "first_timestamp": "TIMESTAMP",
            "last_timestamp": "TIMESTAMP",
        },
        "keys": {"counted_at", "session_id", "symbol", "indicator_type", "indicator_id"},
        "partition": "DAY",
    },
}

#: The seed's columns of ``indicators``, as the ``indicators_current`` view shows them.
CURRENT_VIEW_COLUMNS = [
    "timestamp",
    "session_id",
    "symbol",
    "indicator_type",
    "indicator_id",
    "indicator_name",
    "value",
    "confidence",
    "metadata",
    "scope",
    "user_id",
    "created_by",
]


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
    ttl = empty_db.fetch_rows(
        "SELECT ttlValue, ttlUnit FROM tables() WHERE table_name = 'indicator_state_figures'"
    )
    assert ttl == [(30, "DAY")]  # counted figures expire; a state still current is counted again
    assert "indicator_generations" not in empty_db.tables()  # folded into commit markers (009)
    indexed = empty_db.sql("SELECT \"column\" FROM table_columns('indicators') WHERE indexed")
    assert sorted(indexed["column"]) == ["commit_mode", "commit_session_md5"]
    view = empty_db.sql("SELECT * FROM indicators_current")
    assert view.empty and view.columns.tolist() == CURRENT_VIEW_COLUMNS


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
    after = empty_db.sql("SELECT * FROM indicators WHERE commit_mode IS NULL ORDER BY timestamp")
    assert after[before.columns].astype(str).equals(before.astype(str))
    assert after[["indicator_type", "scope", "user_id", "created_by"]].isna().all().all()
    assert (after["generation"] == 0).all()  # adopted as the committed generation 0
    assert (after["written_at"] == pd.Timestamp(0)).all()  # committed at the epoch: any save supersedes it
    markers = empty_db.sql(
        "SELECT session_id, symbol, indicator_id, generation, commit_mode, commit_session_md5 "
        "FROM indicators "
        "WHERE commit_mode IS NOT NULL ORDER BY session_id"
    )
    assert markers.to_dict("records") == [
        {
            "session_id": "s1",
            "symbol": "BTC_USDT",
            "indicator_id": "RSI_14",
            "generation": 0,
            "commit_mode": "overwrite",
            "commit_session_md5": hashlib.md5(b"s1").hexdigest(),
        },
        {
            "session_id": "s2",
            "symbol": "ETH_USDT",
            "indicator_id": "EMA_12",
            "generation": 0,
            "commit_mode": "overwrite",
            "commit_session_md5": hashlib.md5(b"s2").hexdigest(),
        },
    ]
    current = empty_db.sql("SELECT timestamp, session_id, value FROM indicators_current ORDER BY timestamp")
    assert current["value"].tolist() == before["value"].tolist()
    loaded = empty_db.load_indicators("s1", "BTC_USDT", "RSI_14", shape="long")
    assert loaded["value"].tolist() == before.loc[before["session_id"] == "s1", "value"].tolist()


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
    assert _partitioning(empty_db)["aggregated_ohlcv"] == "DAY"
    before = empty_db.sql("SELECT * FROM aggregated_ohlcv ORDER BY timestamp")
    schema_before = snapshot(empty_db)["aggregated_ohlcv"]

    assert migrate(empty_db, [m for m in MIGRATIONS if m.version <= 8]).applied == [8]

    assert _partitioning(empty_db)["aggregated_ohlcv"] == "MONTH"
    after = empty_db.sql("SELECT * FROM aggregated_ohlcv ORDER BY timestamp")
    pd.testing.assert_frame_equal(after, before)
    assert snapshot(empty_db)["aggregated_ohlcv"] == schema_before  # columns, types, DEDUP keys
    assert not [t for t in empty_db.tables() if "__" in t]
    bars = empty_db.read_ohlcv("s", "BTC_USDT", "1h")
    assert len(bars) == 120 and bars.index.is_monotonic_increasing


def _old_layout_rows(generation: int, values: list[float]) -> pd.DataFrame:
    stamps = pd.date_range("2024-03-01", periods=len(values), freq="1min", tz="UTC")
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "session_id": "s",
            "symbol": "BTC_USDT",
            "indicator_type": "general",
            "indicator_id": "RSI_14",
            "generation": generation,
            "indicator_name": "RSI_14",
            "value": values,
            "metadata": '{"period": 14}',
        }
    )


def test_migration_009_keeps_committed_history_and_hides_orphans(empty_db):
    migrate(empty_db, [m for m in MIGRATIONS if m.version <= 8])
    old, new, orphan = 1_709_251_200_000_000_001, 1_709_337_600_000_000_002, 1_709_424_000_000_000_003
    symbols = ("session_id", "symbol", "indicator_type", "indicator_id")
    for generation, values in ((old, [1.0, 2.0, 3.0]), (new, [4.0, 5.0]), (orphan, [-999.0])):
        empty_db.write_frame(_old_layout_rows(generation, values), "indicators", symbols=symbols)
    for committed_at, generation, checksum in (("2024-03-01", old, "aa"), ("2024-03-02", new, None)):
        empty_db.execute(
            "INSERT INTO indicator_generations (committed_at, session_id, symbol, indicator_type, "
            "indicator_id, generation, mode, rows, checksum) VALUES "
            "(:c, 's', 'BTC_USDT', 'general', 'RSI_14', :g, 'overwrite', 1, :k)",
            {"c": f"{committed_at}T00:00:00.000000Z", "g": generation, "k": checksum},
        )
    empty_db.wait_until_visible(["indicators", "indicator_generations"])

    assert migrate(empty_db).applied == [9, 10, 11, 12, 13]

    current = empty_db.load_indicators("s", "BTC_USDT", "RSI_14")
    assert current["RSI_14"].tolist() == [4.0, 5.0]
    history = empty_db.indicator_history("s", "BTC_USDT", "RSI_14")
    assert history["generation"].tolist() == [old, new]
    assert history["checksum"].iloc[0] == "aa" and pd.isna(history["checksum"].iloc[1])
    earlier = empty_db.load_indicators("s", "BTC_USDT", "RSI_14", as_of=history["committed_at"].iloc[0])
    assert earlier["RSI_14"].tolist() == [1.0, 2.0, 3.0]
    view = empty_db.sql("SELECT value FROM indicators_current ORDER BY timestamp")
    assert view["value"].tolist() == [4.0, 5.0]  # no superseded rows, no orphan
    assert int(empty_db.sql("SELECT count() FROM indicators WHERE commit_mode IS NULL").iat[0, 0]) == 6
    assert "indicator_generations" not in empty_db.tables()
    assert migrate(empty_db).applied == []


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


def test_writers_and_store_readers_refuse_a_server_that_was_never_migrated(empty_db):
    ticks = make_ticks(50)
    with pytest.raises(SchemaNotReadyError, match="run `qdbtools migrate`"):
        empty_db.write_ticks(ticks, session_id="s", symbol="BTC_USDT")
    frame = pd.DataFrame({"RSI_14": [1.0]}, index=pd.DatetimeIndex(["2024-03-01"], tz="UTC"))
    with pytest.raises(SchemaNotReadyError):
        empty_db.save_indicators(frame, "s", "BTC_USDT")
    with pytest.raises(SchemaNotReadyError):
        empty_db.load_indicators("s", "BTC_USDT")
    assert empty_db.tables() == []  # nothing was auto-created without its DEDUP keys
    empty_db.migrate()
    assert empty_db.write_ticks(ticks, session_id="s", symbol="BTC_USDT").rows == 50


def _ticks_table_without_keys(db):
    db.execute(
        "CREATE TABLE tick_prices (timestamp TIMESTAMP, session_id SYMBOL, symbol SYMBOL, trade_id LONG, "
        "price DOUBLE, volume DOUBLE) TIMESTAMP(timestamp) PARTITION BY DAY WAL"
    )
    db.execute(
        "INSERT INTO tick_prices VALUES ('2024-03-01T00:00:00Z', 's', 'B', 0, 10.0, 1.0), "
        "('2024-03-01T00:00:01Z', 's', 'B', 0, 11.0, 1.0)"
    )
    db.wait_until_visible("tick_prices")


def test_migrate_gives_a_table_created_without_its_keys_its_dedup_keys(empty_db):
    _ticks_table_without_keys(empty_db)
    empty_db.migrate()
    keys = empty_db.sql("SELECT \"column\" FROM table_columns('tick_prices') WHERE upsertKey")
    assert set(keys["column"]) == {"timestamp", "session_id", "symbol", "trade_id"}
    ticks = empty_db.read_ticks("s", "B").reset_index()
    empty_db.write_ticks(ticks, session_id="s", symbol="B")  # the same ticks again: nothing added
    assert len(empty_db.read_ticks("s", "B")) == 2


def test_migrate_refuses_a_table_without_keys_that_holds_duplicates(empty_db):
    _ticks_table_without_keys(empty_db)
    empty_db.execute("INSERT INTO tick_prices VALUES ('2024-03-01T00:00:00Z', 's', 'B', 0, 10.0, 1.0)")
    empty_db.wait_until_visible("tick_prices")
    with pytest.raises(MigrationError, match="1 of its rows repeat the key of another") as info:
        empty_db.migrate()
    assert info.value.version == 12
    with pytest.raises(SchemaNotReadyError):
        empty_db.write_ticks(make_ticks(5), session_id="s", symbol="B")
