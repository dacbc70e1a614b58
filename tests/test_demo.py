"""The demo: the whole workflow on the sample data, twice, against the real QuestDB."""

from __future__ import annotations

import subprocess
import sys

from PIL import Image

from qdbtools.demo import find_samples, run_demo

TABLES = ("tick_prices", "aggregated_ohlcv", "indicators")


def counts(db) -> dict[str, int]:
    return {table: int(db.sql(f"SELECT count() FROM {table}").iat[0, 0]) for table in TABLES}


def test_demo_runs_twice_with_the_same_result_and_no_new_rows(qdb, tmp_path):
    data = find_samples()
    first = run_demo(qdb, data, tmp_path / "one")
    after_first = counts(qdb)
    second = run_demo(qdb, data, tmp_path / "two")
    assert counts(qdb) == after_first
    rows = [(s["step"], s["rows"]) for s in first.steps if s["step"] != "schema migrations"]
    assert rows == [(s["step"], s["rows"]) for s in second.steps if s["step"] != "schema migrations"]
    migrated = next(s for s in second.steps if s["step"] == "migrate legacy CSV tree")
    assert migrated["note"].startswith("0 verified")  # everything already migrated
    chart = second.charts[0]
    with Image.open(chart) as image:
        assert image.format == "PNG" and image.size[0] >= 1200
        assert max(image.convert("L").getextrema()) > min(image.convert("L").getextrema())
    assert "load back + verify" in second.table()


def test_cli_help_reads_well():
    done = subprocess.run([sys.executable, "-m", "qdbtools.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for command in ("server", "migrate", "migrate-csv", "compute", "demo"):
        assert command in done.stdout
    demo = subprocess.run(
        [sys.executable, "-m", "qdbtools.cli", "demo", "--help"], capture_output=True, text=True
    )
    assert "Running it again stores nothing new" in demo.stdout
