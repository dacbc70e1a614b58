"""The demo: the whole workflow on the sample data, twice, against the real QuestDB."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def _readme_taste() -> str:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## A taste", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_taste_runs_verbatim_after_the_demo(qdb, tmp_path, monkeypatch):
    data = find_samples()
    run_demo(qdb, data, tmp_path / "demo")
    for name, value in (("HOST", qdb.settings.host), ("HTTP_PORT", qdb.settings.http_port)):
        monkeypatch.setenv(f"QDBTOOLS_{name}", str(value))
    monkeypatch.setenv("QDBTOOLS_PG_PORT", str(qdb.settings.pg_port))
    (tmp_path / "data_samples").symlink_to(data)
    monkeypatch.chdir(tmp_path)
    code = _readme_taste()
    assert "qdbtools.connect()" in code and "load_indicators" in code
    namespace: dict = {}
    exec(compile(code, "README.md (A taste)", "exec"), namespace)
    assert (tmp_path / "chart.png").stat().st_size > 10_000
    loaded = namespace["db"].load_indicators("sess_2024_03_01", "BTC_USDT", ["RSI_14"], variant_type="taste")
    assert loaded["RSI_14"].notna().sum() > 1000
