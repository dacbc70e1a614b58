"""A managed server whose disk fills up: the error says so, and the server stays usable."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pandas as pd
import pytest

from qdbtools.database import Database
from qdbtools.exceptions import TableSuspendedError, WriteError
from qdbtools.io.visibility import low_disk_note
from qdbtools.server import LocalServer


def _ticks(n: int, day: int) -> pd.DataFrame:
    stamps = pd.date_range("2024-01-01", periods=n, freq="s", tz="UTC") + pd.Timedelta(days=day)
    rng = np.random.default_rng(day)
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "trade_id": np.arange(n) + day * n,
            "price": rng.random(n),
            "volume": rng.random(n),
        }
    )


def test_a_full_disk_is_named_in_the_error_and_the_server_keeps_answering(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1500m", "tmpfs", str(small)], check=True)
    try:
        server = LocalServer(small / "root", heap="384m").start()
        try:
            with Database(server.settings, server=server) as db:
                db.migrate()
                # The server either refuses the request (errno 28) or acknowledges it and
                # suspends the table when its apply finds no space: both must say so.
                with pytest.raises((WriteError, TableSuspendedError)) as raised:
                    for day in range(100):  # ~1.5 GB at most; the disk fills well before
                        db.write_ticks(_ticks(200_000, day), session_id="s", symbol="X")
                message = str(raised.value)
                if isinstance(raised.value, WriteError):
                    assert "tick_prices" in message and "No space left" in message
                else:
                    assert "'tick_prices' is suspended" in message and "RESUME WAL" in message
                    assert f"The server's disk at {small / 'root'} is nearly full" in message
                assert db.fetch_rows("SELECT 1") == [(1,)]  # the server still answers queries
                assert "nearly full" in low_disk_note(small)  # what a suspension error appends
            assert low_disk_note(tmp_path) is None  # a roomy disk adds nothing
        finally:
            server.stop()
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)
