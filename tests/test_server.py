"""The managed QuestDB: jar, Java, start/stop, faults. Every server here is a real one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import qdbtools
from qdbtools import session
from qdbtools.config import Settings
from qdbtools.database import Database
from qdbtools.exceptions import (
    DatabaseUnavailableError,
    JarNotFoundError,
    JavaNotFoundError,
    ServerStartError,
)
from qdbtools.server import LocalServer, ServerPorts, free_ports, jar, java, read_state
from tests.market_data import make_ticks


def _java_processes_with(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if "io.questdb.ServerMain" in cmdline and marker in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


# -- jar and Java -------------------------------------------------------------------------


def test_pinned_jar_is_fetched_verified_and_inspected():
    path = jar.ensure_jar()
    assert path.name == f"questdb-{jar.QUESTDB_VERSION}.jar"
    assert jar.sha256_of(path) == jar.QUESTDB_JAR_SHA256
    info = jar.inspect_jar(path)
    assert info.version_text == jar.QUESTDB_VERSION
    assert info.min_java >= 17


def test_maven_missing_says_how_to_fix(tmp_path):
    with pytest.raises(JarNotFoundError) as info:
        jar.ensure_jar({"QDBTOOLS_CACHE_DIR": str(tmp_path), "PATH": str(tmp_path)})
    message = str(info.value)
    assert "Maven (mvn)" in message and "QDBTOOLS_QUESTDB_JAR" in message


def test_failing_download_reports_maven_output(tmp_path, monkeypatch):
    monkeypatch.setattr(jar, "QUESTDB_VERSION", "0.0.0-does-not-exist")
    monkeypatch.setattr(jar, "QUESTDB_ARTIFACT", "org.questdb:questdb:0.0.0-does-not-exist:jar")
    with pytest.raises(JarNotFoundError) as info:
        jar.ensure_jar({**os.environ, "QDBTOOLS_CACHE_DIR": str(tmp_path)})
    assert "Maven could not download org.questdb:questdb:0.0.0-does-not-exist" in str(info.value)
    assert "mvn output" in str(info.value)


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(jar, "QUESTDB_JAR_SHA256", "0" * 64)
    with pytest.raises(JarNotFoundError, match="checksum mismatch"):
        jar.ensure_jar({**os.environ, "QDBTOOLS_CACHE_DIR": str(tmp_path)})
    assert not list(tmp_path.glob("*.jar")), "an unverified jar must not stay in the cache"


def test_jar_override_must_exist_and_be_questdb(tmp_path):
    with pytest.raises(JarNotFoundError, match=r"QDBTOOLS_QUESTDB_JAR=.*does not exist"):
        jar.ensure_jar({"QDBTOOLS_QUESTDB_JAR": str(tmp_path / "nope.jar")})
    not_a_jar = tmp_path / "fake.jar"
    not_a_jar.write_text("hello")
    assert jar.ensure_jar({"QDBTOOLS_QUESTDB_JAR": str(not_a_jar)}) == not_a_jar
    with pytest.raises(JarNotFoundError, match="not a QuestDB server jar"):
        jar.inspect_jar(not_a_jar)


def test_java_search_lists_what_it_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(java, "JVM_DIR", tmp_path / "no-jvms")
    with pytest.raises(JavaNotFoundError) as info:
        java.find_java(17, {"JAVA_HOME": str(tmp_path / "jdk"), "PATH": str(tmp_path)})
    message = str(info.value)
    assert f"JAVA_HOME: {tmp_path / 'jdk' / 'bin' / 'java'} does not exist" in message
    assert "set JAVA_HOME" in message


def test_java_too_old_is_named_with_its_version():
    newest = java.find_java(17)  # the newest one on this machine comes first
    with pytest.raises(JavaNotFoundError) as info:
        java.find_java(newest.major + 1, {"PATH": ""})
    assert f"{newest.executable} is Java {newest.major}" in str(info.value)
    assert f"needs Java {newest.major + 1} or newer" in str(info.value)


def test_questdb_runs_on_java_25_where_the_machine_has_it():
    if not (java.JVM_DIR / "temurin-25-jdk-amd64").exists():
        pytest.fail("this project's machines carry Temurin 25 under /usr/lib/jvm")
    assert java.find_java(17, {"PATH": ""}).major >= 25


def test_java_home_comes_first():
    found = java.find_java(17)
    again = java.find_java(17, {"JAVA_HOME": str(found.executable.parent.parent), "PATH": ""})
    assert again == found


# -- start and stop -------------------------------------------------------------------------


def test_local_server_runs_real_questdb_and_leaves_no_java(tmp_path):
    root = tmp_path / "root"
    with qdbtools.local_server(root) as db:
        assert db.server_version() == jar.QUESTDB_VERSION
        assert {"tick_prices", "aggregated_ohlcv", "indicators"} <= set(db.tables())
        assert qdbtools.get_default_database() is db
        pid = db.server.pid
        conf = (root / "conf" / "server.conf").read_text()
        assert "telemetry.enabled=false" in conf
        assert f"http.bind.to=127.0.0.1:{db.settings.http_port}" in conf
    assert not _java_processes_with(str(root)), f"java {pid} outlived local_server()"


def test_two_local_servers_do_not_interfere():
    with qdbtools.local_server() as first, qdbtools.local_server() as second:
        assert first.settings.http_port != second.settings.http_port
        assert first.server.root != second.server.root
        assert qdbtools.get_default_database() is second
        first.execute(
            "CREATE TABLE only_in_first (timestamp TIMESTAMP) TIMESTAMP(timestamp) PARTITION BY DAY"
        )
        assert "only_in_first" in first.tables()
        assert "only_in_first" not in second.tables()
        second_root = second.server.root
    assert not _java_processes_with(str(second_root))


def test_port_already_taken_is_reported_and_nothing_starts(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    http, ilp, health = free_ports(3)
    try:
        server = LocalServer(tmp_path / "root", ports=ServerPorts(http, taken, ilp, health))
        with pytest.raises(ServerStartError, match=f"pg port 127.0.0.1:{taken} is already in use"):
            server.start()
    finally:
        holder.close()
    assert not server.is_running
    assert not _java_processes_with(str(tmp_path / "root"))


def test_root_not_writable_is_reported(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ServerStartError, match="is not writable"):
        LocalServer(blocker / "root").start()


def test_java_exiting_at_start_fails_fast_with_the_log_tail(tmp_path):
    server = LocalServer(tmp_path / "root", heap="not-a-size", startup_timeout=60)
    started = time.monotonic()
    with pytest.raises(ServerStartError) as info:
        server.start()
    assert time.monotonic() - started < 30, "a java that exits must not wait for the timeout"
    message = str(info.value)
    assert "exited with code" in message
    assert "Invalid maximum heap size" in message
    assert not server.is_running


def test_server_down_gives_one_clear_error_quickly():
    (port,) = free_ports(1)
    db = Database(Settings(pg_port=port, http_port=port, connect_timeout=2))
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError) as info:
        db.tables()
    assert time.monotonic() - started < 20
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "qdbtools server start" in str(info.value)


def test_a_managed_server_that_died_is_named_in_the_error_and_starts_again(tmp_path):
    server = LocalServer(tmp_path / "root", heap="384m").start()
    try:
        with Database(server.settings, server=server) as db:
            db.migrate()
            ticks = make_ticks(3)
            db.write_ticks(ticks, session_id="s", symbol="X")
            pid = server.pid
            assert pid is not None and server.exit_note() is None  # running: nothing to say
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while server.is_running and time.monotonic() < deadline:
                time.sleep(0.05)
            for call in (lambda: db.fetch_rows("SELECT 1"), lambda: db.write_ticks(ticks, "s", "X")):
                with pytest.raises(DatabaseUnavailableError) as info:
                    call()
                message = str(info.value)
                assert f"the managed QuestDB server (pid {pid}) was killed by SIGKILL" in message
                assert str(server.log_path) in message and "Start it again on the same root" in message
                assert "qdbtools server start" not in message  # not the generic advice
            server.start()  # as the error says: same root, same ports
            assert db.fetch_rows("SELECT count() FROM tick_prices") == [(3,)]  # acknowledged rows kept
        server.stop()
        assert server.exit_note() is None  # stopped on purpose: nothing to explain
    finally:
        server.stop()


def test_silent_port_times_out_within_connect_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts TCP, never answers: the worst case for a client
    port = listener.getsockname()[1]
    try:
        db = Database(Settings(pg_port=port, connect_timeout=2))
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailableError, match=f"127.0.0.1:{port}"):
            db.ping()
        assert time.monotonic() - started < 20
    finally:
        listener.close()


# -- the background server and the embedded default -----------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qdbtools.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def test_cli_server_start_status_stop(tmp_path):
    root = tmp_path / "bg"
    ports = free_ports(4)
    flags = ["--root", str(root), "--http-port", str(ports[0]), "--pg-port", str(ports[1])]
    flags += ["--ilp-port", str(ports[2]), "--health-port", str(ports[3]), "--heap", "384m"]
    started = _cli("server", "start", *flags)
    try:
        assert started.returncode == 0, started.stderr
        assert f"http://127.0.0.1:{ports[0]}" in started.stdout
        assert str(root / "log" / "server.log") in started.stdout
        state = read_state(root)
        assert state is not None
        with Database(state.settings) as db:
            assert db.server_version() == jar.QUESTDB_VERSION
        status = _cli("server", "status", "--root", str(root))
        assert status.returncode == 0 and f"pid {state.pid}" in status.stdout
    finally:
        stopped = _cli("server", "stop", "--root", str(root))
    assert stopped.returncode == 0 and "stopped pid" in stopped.stdout
    assert not _java_processes_with(str(root))
    assert _cli("server", "status", "--root", str(root)).returncode == 3


def test_connect_without_configuration_uses_the_embedded_default(tmp_path, monkeypatch):
    for name in qdbtools.config.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QDBTOOLS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(session, "EMBEDDED_PORTS", ServerPorts(*free_ports(4)))
    root = tmp_path / "home" / "questdb"
    try:
        db = qdbtools.connect()
        assert qdbtools.get_default_database() is db or session._scoped
        assert {"tick_prices", "indicators"} <= set(db.tables())
        state = read_state(root)
        assert state is not None and state.ports.http == db.settings.http_port
        again = qdbtools.connect()  # reuses the running server
        assert again.settings == db.settings
        assert read_state(root).pid == state.pid
    finally:
        qdbtools.server.stop_background(root)
        session._connected = None
    assert not _java_processes_with(str(root))
