"""A managed server whose disk fills up: the error says so, and no acknowledged row is lost."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qdbtools.database import Database
from qdbtools.exceptions import DatabaseUnavailableError, TableSuspendedError, WriteError
from qdbtools.io.visibility import low_disk_note
from qdbtools.server import LocalServer

ROWS = 200_000


def _ticks(day: int) -> pd.DataFrame:
    stamps = pd.date_range("2024-01-01", periods=ROWS, freq="s", tz="UTC") + pd.Timedelta(days=day)
    rng = np.random.default_rng(day)
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "trade_id": np.arange(ROWS) + day * ROWS,
            "price": rng.random(ROWS),
            "volume": rng.random(ROWS),
        }
    )


def _fill(db: Database) -> tuple[Exception, int]:
    """Write ticks until the disk is full: the error, and how many calls returned before it."""
    for day in range(100):  # ~1.5 GB at most; the disk fills well before
        try:
            db.write_ticks(_ticks(day), session_id="s", symbol="X")
        except (WriteError, TableSuspendedError, DatabaseUnavailableError) as exc:
            return exc, day
    raise AssertionError("the disk never filled")


def _acknowledged_rows_are_kept(root: Path, returned: int) -> None:
    """Every row of a write that returned is in the table once the server runs again."""
    with LocalServer(root, heap="384m") as server, Database(server.settings, server=server) as db:
        try:
            db.wait_until_visible("tick_prices", timeout=120)
        except TableSuspendedError:  # as the error said: free space, then resume
            db.execute('ALTER TABLE "tick_prices" RESUME WAL')
            db.wait_until_visible("tick_prices", timeout=120)
        query = "SELECT count() FROM tick_prices WHERE trade_id < :end"
        assert db.fetch_rows(query, {"end": returned * ROWS}) == [(returned * ROWS,)]


def test_a_full_disk_is_named_in_the_error_and_loses_no_acknowledged_row(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1500m", "tmpfs", str(small)], check=True)
    root = small / "root"
    try:
        server = LocalServer(root, heap="384m").start()
        try:
            with Database(server.settings, server=server) as db:
                db.migrate()
                error, returned = _fill(db)
                message = str(error)
                # Three outcomes, each seen here: the server refuses the request (errno 28);
                # it acknowledges the request and suspends the table when its apply finds no
                # space; or (QuestDB 9.3.4, when the disk fills mid-request) java dies.
                if isinstance(error, DatabaseUnavailableError):
                    server.stop()
                    assert "A fatal error has been detected" in server.log_tail(200), message
                    assert "cannot reach QuestDB" in message
                else:
                    if isinstance(error, WriteError):
                        assert "tick_prices" in message and "No space left" in message
                    else:
                        assert "'tick_prices' is suspended" in message and "RESUME WAL" in message
                        assert f"The server's disk at {root} is nearly full" in message
                    assert db.fetch_rows("SELECT 1") == [(1,)]  # the server still answers queries
                assert "nearly full" in low_disk_note(small)  # what a suspension error appends
            assert low_disk_note(tmp_path) is None  # a roomy disk adds nothing
        finally:
            server.stop()
        # With room again, a restarted server applies its WAL and has every acknowledged row.
        subprocess.run(["mount", "-o", "remount,size=4000m", str(small)], check=True)
        _acknowledged_rows_are_kept(root, returned)
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)
