"""Database: SQL with bind parameters, error translation, visibility waits (real QuestDB)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from qdbtools.database import Database
from qdbtools.exceptions import DatabaseTimeoutError, InvalidInputError, QueryError, TableSuspendedError
from qdbtools.testing import wait_for_rows

NASTY = [
    "x'; DROP TABLE tick_prices; --",
    "quote \" and ' both",
    "semi;colon",
    "zażółć gęślą jaźń 🚀",
    "a" * 2000,
    "",
    ":not_a_param",
]


def test_values_travel_as_bind_parameters_never_as_sql(qdb, unique_id):
    table = f"{unique_id}_vals"
    qdb.execute(
        f"CREATE TABLE {table} (timestamp TIMESTAMP, s VARCHAR) TIMESTAMP(timestamp) PARTITION BY DAY WAL"
    )
    for i, value in enumerate(NASTY):
        qdb.execute(
            f"INSERT INTO {table} VALUES (:ts, :s)", {"ts": f"2024-01-01T00:00:0{i}.000000Z", "s": value}
        )
    qdb.wait_until_visible(table)
    for value in NASTY:
        found = qdb.sql(f"SELECT s FROM {table} WHERE s = :s", {"s": value})
        assert found["s"].tolist() == [value]
    assert "tick_prices" in qdb.tables()


def test_small_queries_bind_values_on_the_server_exactly_as_given(qdb, unique_id):
    """fetch_rows (markers, listings) binds values apart from the text: backslashes, quotes,
    ``%`` and placeholder look-alikes arrive as given, and the query keeps its ``%``."""
    table = f"{unique_id}_bound"
    qdb.execute(
        f"CREATE TABLE {table} (timestamp TIMESTAMP, s SYMBOL, v VARCHAR) "
        "TIMESTAMP(timestamp) PARTITION BY DAY WAL"
    )
    odd = [*NASTY, "%s", "%(s)s", "100%", "a\\b\\", "ü'%\\"]
    for i, value in enumerate(odd):
        qdb.execute(
            f"INSERT INTO {table} VALUES (:ts, :s, :s)",
            {"ts": f"2024-01-01T00:{i:02d}:00.000000Z", "s": value},
        )
    qdb.wait_until_visible(table)
    for value in odd:
        rows = qdb.fetch_rows(f"SELECT s, v, '%' AS pct FROM {table} WHERE s = :s AND v = :s", {"s": value})
        assert rows == [(value, value, "%")]
    stamp = pd.Timestamp("2024-01-01T00:01:00", tz="UTC")
    assert qdb.fetch_rows(f"SELECT count() FROM {table} WHERE timestamp <= :t", {"t": stamp}) == [(2,)]
    assert qdb.fetch_rows("SELECT 7 % 4") == [(3,)]


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE tick_prices",
        "INSERT INTO tick_prices VALUES (now(), 'a', 'b', 1, 1.0, 1.0)",
        "SELECT 1; DROP TABLE tick_prices",
        "tick_prices",
    ],
)
def test_sql_runs_only_one_read_only_statement(qdb, statement):
    with pytest.raises(InvalidInputError, match="one read-only statement"):
        qdb.sql(statement)
    assert "tick_prices" in qdb.tables()


def test_sql_accepts_semicolons_inside_literals(qdb):
    assert qdb.sql("SELECT 'a;b' AS v").iat[0, 0] == "a;b"


def test_server_rejections_carry_the_server_message(qdb):
    with pytest.raises(QueryError) as info:
        qdb.sql("SELECT no_such_column FROM tick_prices")
    assert "no_such_column" in str(info.value)
    assert "Invalid column" in str(info.value) or "invalid column" in str(info.value).lower()


def test_wait_for_rows_sees_wal_rows(qdb, unique_id):
    table = f"{unique_id}_w"
    qdb.execute(
        f"CREATE TABLE {table} (timestamp TIMESTAMP, v LONG) TIMESTAMP(timestamp) PARTITION BY DAY WAL"
    )
    qdb.execute(
        f"INSERT INTO {table} SELECT timestamp_sequence('2024-01-01', 1000000), x FROM long_sequence(500)"
    )
    assert wait_for_rows(qdb, f"SELECT count() FROM {table}", expected=500) == 500


def test_suspended_table_is_reported_not_waited_for(qdb_server_factory):
    # dev mode lets the server suspend a table on request: a real suspended WAL table.
    server = qdb_server_factory(extra_conf={"dev.mode.enabled": "true"})
    with Database(server.settings) as db:
        db.execute("CREATE TABLE s (timestamp TIMESTAMP, v DOUBLE) TIMESTAMP(timestamp) PARTITION BY DAY WAL")
        db.wait_until_visible("s")
        db.execute("ALTER TABLE s SUSPEND WAL")
        db.execute("INSERT INTO s VALUES ('2024-01-01', 1.0)")
        with pytest.raises(TableSuspendedError, match="RESUME WAL"):
            db.wait_until_visible("s", timeout=30)
        db.execute("ALTER TABLE s RESUME WAL")
        db.wait_until_visible("s", timeout=30)
        assert int(db.sql("SELECT count() FROM s").iat[0, 0]) == 1


def test_the_first_calls_after_a_server_restart_succeed(qdb_server_factory):
    server = qdb_server_factory()
    with Database(server.settings, server=server) as db:
        db.migrate()
        frame = pd.DataFrame({"RSI_14": [1.0, 2.0]}, index=pd.date_range("2024-03-01", periods=2, tz="UTC"))
        db.save_indicators(frame, "s", "B", wait=True)
        assert db.fetch_rows("SELECT count() FROM indicators") == [(3,)]  # 2 values + 1 marker
        server.stop()
        server.start()
        # Kept connections to the old process are replaced without a failed call.
        assert db.fetch_rows("SELECT count() FROM indicators") == [(3,)]
        assert len(db.sql("SELECT * FROM indicators")) == 3
        assert len(db.load_indicators("s", "B")) == 2


def test_a_frozen_server_fails_queries_within_the_query_timeout_and_they_recover(qdb_server_factory):
    server = qdb_server_factory()
    settings = dataclasses.replace(server.settings, query_timeout=2.0)
    with Database(settings, server=server) as db:
        db.migrate()
        assert db.fetch_rows("SELECT 1") == [(1,)]
        db.sql("SELECT 1")  # both kinds of connection are open and pooled
        with frozen(server.pid):
            for call in (lambda: db.fetch_rows("SELECT 2"), lambda: db.sql("SELECT 2")):
                started = time.monotonic()
                with pytest.raises(DatabaseTimeoutError, match=r"did not answer within 2 s"):
                    call()
                assert time.monotonic() - started < 30
        assert db.fetch_rows("SELECT 3") == [(3,)]
        assert int(db.sql("SELECT 4 AS n")["n"].iat[0]) == 4


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """SIGSTOP ``pid`` until the block ends, returning only once every thread has stopped.

    ``kill`` returns before the group stop reaches all threads; a worker thread still running
    could answer one more query.
    """
    os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 10
        while not all(state == "T" for state in _thread_states(pid)):
            assert time.monotonic() < deadline, f"process {pid} did not stop: {_thread_states(pid)}"
            time.sleep(0.01)
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _thread_states(pid: int) -> list[str]:
    states = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
    return states
