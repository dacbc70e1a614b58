"""The pytest plugin against an existing server (``--qdb-conf`` / ``--qdb-url``).

Each test runs an inner pytest session in a subprocess, pointed at the outer session's real
QuestDB (or at a port nobody listens on).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from qdbtools.config import Settings


def _inner_pytest(tmp_path: Path, body: str, *args: str, env: dict[str, str] | None = None):
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(body))
    command = [sys.executable, "-m", "pytest", "test_inner.py", "-q", "-rs", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)


def _options(settings: Settings) -> list[str]:
    url = f"questdb://{settings.username}:{settings.password}@{settings.host}:{settings.pg_port}/{settings.database}"
    return ["--qdb-conf", f"http::addr={settings.host}:{settings.http_port};", "--qdb-url", url]


def test_the_fixtures_use_an_existing_server_and_skip_process_control(qdb, unique_id, tmp_path):
    table = f"{unique_id}_outer"
    qdb.execute(f"CREATE TABLE {table} (x LONG)")
    qdb.execute(f"INSERT INTO {table} VALUES (42)")
    body = f"""
        def test_reads_the_outer_server(qdb):
            assert qdb.server is None
            assert qdb.fetch_rows("SELECT x FROM {table}") == [(42,)]

        def test_process_control(qdb_server):
            raise AssertionError("a test that kills or restarts the server must not run here")
    """
    result = _inner_pytest(tmp_path, body, *_options(qdb.settings))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout, result.stdout
    assert "controls its own QuestDB process" in result.stdout


def test_the_environment_names_the_server_and_an_unreachable_one_fails_clearly(qdb, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    settings = qdb.settings
    env = {
        "PATH": "/usr/bin:/bin",
        "QDBTOOLS_TEST_CONF": f"http::addr=127.0.0.1:{free_port};",
        "QDBTOOLS_TEST_URL": f"questdb://admin:{settings.password}@127.0.0.1:{free_port}/qdb",
    }
    result = _inner_pytest(tmp_path, "def test_needs_it(qdb):\n    pass\n", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the existing QuestDB named by --qdb-conf/--qdb-url does not answer" in result.stdout
    assert "1 error" in result.stdout or "1 failed" in result.stdout, result.stdout
