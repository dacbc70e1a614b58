"""The store under faults and concurrency, against real QuestDB servers and real processes.

Killed clients and servers at every step of a save, readers in other processes while the
server's applies lag, appends racing overwrites, two processes overwriting one key.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pandas as pd
import pytest

from qdbtools.config import Settings
from qdbtools.database import Database
from qdbtools.exceptions import QdbToolsError
from qdbtools.server import LocalServer
from qdbtools.store import SYMBOL_COLUMNS

N = 300  # values per set in the consistency checks


def constant(value: float, n: int = N, *, start: str = "2024-03-01", column: str = "RSI_14") -> pd.DataFrame:
    index = pd.date_range(start, periods=n, freq="1min", tz="UTC", name="timestamp")
    return pd.DataFrame({column: np.full(n, float(value))}, index=index)


def set_label(frame: pd.DataFrame, n: int = N) -> str:
    """'v<value>' for a complete constant set of ``n`` values, 'empty', else a description of the mix."""
    values = frame["RSI_14"].to_numpy() if "RSI_14" in frame else np.array([])
    if len(values) == 0:
        return "empty"
    distinct = np.unique(values)
    if len(values) == n and len(distinct) == 1:
        return f"v{distinct[0]:g}"
    return f"MIXED({len(values)} values: {distinct[:5].tolist()})"


def backlog(db: Database, txns: int = 1, rows: int = 30_000, days: int = 300) -> None:
    """Queue writes that keep the server's applies of ``indicators`` busy for seconds.

    Rows whose ``written_at`` falls into hundreds of old partitions make every apply merge
    into each of them. They carry no commit marker: no reader ever sees them (orphans).
    """
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2023-01-01", periods=rows, freq="1s", tz="UTC"),
            "written_at": pd.Timestamp("2020-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, days * 86400, rows), unit="s"),
            "session_id": "backlog",
            "symbol": "LOAD",
            "indicator_type": "general",
            "indicator_id": "LOAD",
            "scope": None,
            "user_id": None,
            "created_by": None,
            "value": 1.0,
        }
    )
    for generation in range(txns):
        db.write_frame(
            frame.assign(generation=generation + 1),
            "indicators",
            at="written_at",
            symbols=SYMBOL_COLUMNS,
            wait=False,
        )


def lag(db: Database) -> int:
    ((writer, sequencer),) = db.fetch_rows(
        "SELECT writerTxn, sequencerTxn FROM wal_tables() WHERE name = 'indicators'"
    )
    return int(sequencer) - int(writer)


READER = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from qdbtools.config import Settings
    from qdbtools.database import Database

    http, pg, session_id, seconds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    seen = []
    with Database(Settings(http_port=http, pg_port=pg)) as db:
        print("ready", flush=True)
        sys.stdin.readline()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            values = db.load_indicators(session_id, "X", "RSI_14")["RSI_14"].to_numpy()
            distinct = np.unique(values)
            seen.append(f"v{distinct[0]:g}" if len(values) == 300 and len(distinct) == 1
                        else "empty" if len(values) == 0 else f"MIXED{len(values)}")
    print(json.dumps(seen), flush=True)
    """
)


def test_a_reader_in_another_process_sees_the_old_set_while_applies_lag(qdb_server_factory):
    server = qdb_server_factory()
    db = Database(server.settings)
    db.migrate()
    db.save_indicators(constant(1), "s", "X", mode="overwrite", wait=True)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(server.ports.http), str(server.ports.pg), "s", "4"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "ready"
        backlog(db)
        db.save_indicators(constant(2), "s", "X", mode="overwrite")  # acknowledged, queued behind it
        lagging = lag(db)
        reader.stdin.write("go\n")
        reader.stdin.flush()
        out, _ = reader.communicate(timeout=120)
    finally:
        reader.kill()
    seen = json.loads(out.strip().splitlines()[-1])
    assert lagging > 0, "the server applied everything at once: no lag was tested"
    assert set(seen) <= {"v1", "v2"}, seen  # never a mix, never nothing
    assert seen[0] == "v1", "the reader should have seen the old set while the overwrite was queued"
    assert set_label(db.load_indicators("s", "X")) == "v2"  # read-your-writes: waits for its own save
    db.close()


def test_a_save_that_returned_survives_kill_9_of_the_server(qdb_server_factory):
    server = qdb_server_factory()
    with Database(server.settings) as db:
        db.migrate()
        db.save_indicators(constant(1), "s", "X", mode="overwrite", wait=True)
        backlog(db)
        frame = constant(2)
        db.save_indicators(frame, "s", "X", mode="overwrite")  # returns on the acknowledgement
        pending = lag(db)
        os.kill(server.pid, signal.SIGKILL)
    assert pending > 0, "everything was applied before the kill: durability of the WAL was not tested"
    server.stop()
    restarted = LocalServer(server.root, ports=server.ports, heap="384m").start()
    try:
        with Database(restarted.settings) as again:
            again.wait_until_visible("indicators", timeout=120)
            pd.testing.assert_frame_equal(again.load_indicators("s", "X", "RSI_14"), frame, check_freq=False)
    finally:
        restarted.stop()


CLIENT = textwrap.dedent(
    """
    import sys, time
    import numpy as np, pandas as pd
    from qdbtools.config import Settings
    from qdbtools.database import Database

    http, pg, session_id = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rows, value = int(sys.argv[4]), float(sys.argv[5])
    index = pd.date_range("2024-03-01", periods=rows, freq="1s", tz="UTC", name="timestamp")
    frame = pd.DataFrame({"RSI_14": np.full(rows, value)}, index=index)
    with Database(Settings(http_port=http, pg_port=pg)) as db:
        db.ping()
        print("sending", flush=True)
        db.save_indicators(frame, session_id, "X", mode="overwrite")
        print("acknowledged", flush=True)
        time.sleep(60)
    """
)


def _client(qdb: Database, session_id: str, rows: int, value: float) -> subprocess.Popen:
    settings = qdb.settings
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            CLIENT,
            str(settings.http_port),
            str(settings.pg_port),
            session_id,
            str(rows),
            str(value),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def _current_count(db: Database, session_id: str) -> int:
    db.wait_until_visible("indicators")
    query = "SELECT count() FROM indicators_current WHERE session_id = :s"
    return int(db.sql(query, {"s": session_id}).iat[0, 0])


@pytest.mark.parametrize("when", ["before the request", "mid-request", "after the acknowledgement"])
def test_a_client_killed_at_any_step_leaves_the_old_or_the_new_set(qdb, unique_id, when):
    old = constant(1, 1000)
    qdb.save_indicators(old, unique_id, "X", mode="overwrite", wait=True)
    rows = 2_000_000 if when == "mid-request" else 1000
    client = _client(qdb, unique_id, rows, 2.0)
    try:
        assert client.stdout.readline().strip() == "sending"
        if when == "mid-request":
            time.sleep(0.3)  # serializing and sending 2M rows takes longer than this
        elif when == "after the acknowledgement":
            assert client.stdout.readline().strip() == "acknowledged"
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=30)
    finally:
        client.kill()
    qdb.wait_until_visible("indicators")
    back = qdb.load_indicators(unique_id, "X")
    if when == "after the acknowledgement":
        assert len(back) == rows and (back["RSI_14"] == 2.0).all()
    else:
        pd.testing.assert_frame_equal(back, old, check_freq=False)
    assert _current_count(qdb, unique_id) == len(back)  # orphans never reach indicators_current
    retried = _client(qdb, unique_id, 1000, 3.0)
    assert retried.stdout.readline().strip() == "sending"
    assert retried.stdout.readline().strip() == "acknowledged"
    retried.kill()
    qdb.wait_until_visible("indicators")  # saved by another process: visible once applied
    assert set_label(qdb.load_indicators(unique_id, "X"), 1000) == "v3"


def test_a_server_killed_mid_request_leaves_the_old_set(qdb_server_factory):
    server = qdb_server_factory()
    old = constant(1, 1000)
    with Database(server.settings) as db:
        db.migrate()
        db.save_indicators(old, "s", "X", mode="overwrite", wait=True)
        big = constant(2, 2_000_000)
        failure: list[BaseException] = []

        def save() -> None:
            try:
                db.save_indicators(big, "s", "X", mode="overwrite")
            except QdbToolsError as exc:
                failure.append(exc)

        thread = threading.Thread(target=save)
        thread.start()
        time.sleep(0.4)
        os.kill(server.pid, signal.SIGKILL)
        thread.join(timeout=120)
    assert failure, "the save finished before the server was killed"
    server.stop()
    restarted = LocalServer(server.root, ports=server.ports, heap="384m").start()
    try:
        with Database(restarted.settings) as again:
            again.wait_until_visible("indicators", timeout=120)
            back = again.load_indicators("s", "X")
            pd.testing.assert_frame_equal(back, old, check_freq=False)
            assert _current_count(again, "s") == 1000
            again.save_indicators(constant(3, 1000), "s", "X", mode="overwrite")
            assert set_label(again.load_indicators("s", "X"), 1000) == "v3"
    finally:
        restarted.stop()


def test_a_server_stopped_before_the_request_fails_the_save_and_keeps_the_old_set(qdb_server_factory):
    from qdbtools.exceptions import DatabaseUnavailableError

    server = qdb_server_factory()
    old = constant(1, 100)
    with Database(server.settings) as db:
        db.migrate()
        db.save_indicators(old, "s", "X", mode="overwrite", wait=True)
        os.kill(server.pid, signal.SIGKILL)
        server.stop()
        with pytest.raises(DatabaseUnavailableError, match="cannot reach QuestDB"):
            db.save_indicators(constant(2, 100), "s", "X", mode="overwrite")
    restarted = LocalServer(server.root, ports=server.ports, heap="384m").start()
    try:
        with Database(restarted.settings) as again:
            pd.testing.assert_frame_equal(again.load_indicators("s", "X"), old, check_freq=False)
    finally:
        restarted.stop()


def test_a_save_split_into_requests_that_fails_midway_leaves_an_invisible_orphan(qdb, unique_id, monkeypatch):
    import qdbtools.io.writer as writer
    import qdbtools.store._saves as saves
    from qdbtools.exceptions import DatabaseUnavailableError

    old = constant(1, 100)
    qdb.save_indicators(old, unique_id, "X", mode="overwrite", wait=True)
    monkeypatch.setattr(saves, "SAVE_REQUEST_ROWS", 40)  # 100 values: requests of 40, 40, 20
    real_chunks = writer._serialized_chunks

    def first_request_then_connection_lost(*args, **kwargs):
        chunks = real_chunks(*args, **kwargs)
        yield next(chunks)  # sent and committed
        raise DatabaseUnavailableError("injected: the connection dropped before the second request")

    monkeypatch.setattr(writer, "_serialized_chunks", first_request_then_connection_lost)
    with pytest.raises(DatabaseUnavailableError, match="40 of 100 rows were written before the failure"):
        qdb.save_indicators(constant(2, 100), unique_id, "X", mode="overwrite")
    monkeypatch.undo()
    qdb.wait_until_visible("indicators")
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X"), old, check_freq=False)
    assert _current_count(qdb, unique_id) == 100
    plan = qdb.prune(unique_id, orphan_grace=0, dry_run=True)
    assert (plan.orphan_generations, plan.rows_removed) == (1, 40)
    qdb.prune(unique_id, orphan_grace=0)
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X"), old, check_freq=False)


# -- two processes ----------------------------------------------------------------------------------


def _overwriter(
    settings: Settings, session_id: str, base: int, rounds: int, done: list | None = None
) -> None:
    with Database(settings) as db:
        for r in range(rounds):
            db.save_indicators(constant(base + r), session_id, "X", mode="overwrite")


def _appender(settings: Settings, session_id: str, stop) -> None:
    with Database(settings) as db:
        j = 0
        while not stop.is_set():
            # after the overwritten range: appends never touch the overwrite's timestamps
            db.save_indicators(constant(-1, 5, start=f"2024-03-02 {j % 24:02d}:00"), session_id, "X")
            j += 1


def test_an_append_racing_overwrites_never_brings_back_a_superseded_set(qdb, unique_id):
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    appender = ctx.Process(target=_appender, args=(qdb.settings, unique_id, stop))
    appender.start()
    try:
        with Database(qdb.settings) as writer:
            for r in range(15):
                writer.save_indicators(constant(100 + r), unique_id, "X", mode="overwrite", wait=True)
                back = writer.load_indicators(unique_id, "X", end="2024-03-02T00:00:00Z")
                assert set_label(back) == f"v{100 + r}", f"round {r}: {set_label(back)}"
                with Database(qdb.settings) as other:
                    elsewhere = other.load_indicators(unique_id, "X", end="2024-03-02T00:00:00Z")
                assert set_label(elsewhere) == f"v{100 + r}", (
                    f"round {r}, other process: {set_label(elsewhere)}"
                )
    finally:
        stop.set()
        appender.join(timeout=60)
        appender.kill()
    assert appender.exitcode == 0


def test_two_processes_overwriting_one_key_20_times_always_leave_one_complete_set(qdb, unique_id):
    ctx = multiprocessing.get_context("spawn")
    writers = [
        ctx.Process(target=_overwriter, args=(qdb.settings, unique_id, base, 20)) for base in (1000, 2000)
    ]
    for process in writers:
        process.start()
    seen = []
    with Database(qdb.settings) as reader:
        while any(p.is_alive() for p in writers):
            seen.append(set_label(reader.load_indicators(unique_id, "X", missing_ok=True)))  # before any save
        for process in writers:
            process.join(timeout=120)
            assert process.exitcode == 0
        reader.wait_until_visible("indicators")
        final = set_label(reader.load_indicators(unique_id, "X"))
    assert not [label for label in seen if label.startswith("MIXED")], seen
    assert final in ("v1019", "v2019"), final
    history = qdb.indicator_history(unique_id, "X", "RSI_14")
    assert len(history) == 40 and history["generation"].is_unique
