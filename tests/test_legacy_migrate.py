"""CSV tree -> QuestDB migration on the sample tree and broken trees (real QuestDB)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from qdbtools.exceptions import InvalidInputError
from qdbtools.legacy import read_indicator_csv, scan_tree
from qdbtools.legacy.migrate import migrate_csv

SAMPLE = Path(__file__).resolve().parent.parent / "data_samples" / "legacy"


@pytest.fixture
def tree(tmp_path, unique_id) -> Path:
    """The sample tree with its sessions renamed after the test, so tests never share rows."""
    root = tmp_path / "data"
    for session in sorted(p for p in SAMPLE.iterdir() if p.is_dir()):
        shutil.copytree(session, root / f"{unique_id}_{session.name}")
    return root


def test_sample_tree_migrates_verifies_and_a_rerun_skips(qdb, tree, tmp_path):
    files, skipped = scan_tree(tree)
    assert not skipped
    report_path = tmp_path / "report.json"
    run = migrate_csv(qdb, tree, report=report_path, progress=False)
    assert run.ok, [f for f in run.files if f.status != "verified"]
    assert run.count("verified") == len(files)
    expected_rows = sum(len(read_indicator_csv(f)) for f in files if f.kind == "indicators")
    assert run.summary["rows"] > expected_rows  # indicator rows plus the prices
    report = json.loads(report_path.read_text())
    assert report["summary"]["verified"] == len(files) and report["ok"] is True
    again = migrate_csv(qdb, tree, progress=False)
    assert again.count("already migrated") == len(files) and again.count("verified") == 0


def test_migrated_values_equal_the_csv_and_types_stay_apart(qdb, tree):
    migrate_csv(qdb, tree, progress=False)
    session = next(p.name for p in tree.iterdir() if p.name.endswith("sess_2024_03_01"))
    base = tree / session / "BTC_USDT" / "indicators"
    for variant_type, variant_id in (("momentum", "RSI_14"), ("general", "RSI_14"), ("momentum", "RSI_140")):
        csv = read_indicator_csv(base / f"{variant_type}_{variant_id}.csv")
        back = qdb.load_indicators(session, "BTC_USDT", variant_id, variant_type=variant_type, shape="long")
        assert back["value"].tolist() == csv["value"].tolist()
        assert back["confidence"].fillna(-1).tolist() == csv["confidence"].fillna(-1).tolist()
        assert (back.index == pd.DatetimeIndex(csv["timestamp"])).all()


def test_dry_run_writes_nothing(qdb, tree, unique_id):
    run = migrate_csv(None, tree, dry_run=True, progress=False)
    assert run.count("would import") == len(scan_tree(tree)[0])
    assert qdb.list_indicators(f"{unique_id}_sess_2024_03_01").empty


def test_backup_copies_the_tree_first(qdb, tree, tmp_path):
    backup = tmp_path / "backup"
    migrate_csv(None, tree, dry_run=True, backup=backup, progress=False)
    copied = sorted(p.relative_to(backup) for p in backup.rglob("*.csv"))
    assert copied == sorted(p.relative_to(tree) for p in tree.rglob("*.csv"))
    with pytest.raises(InvalidInputError, match="not empty"):
        migrate_csv(None, tree, dry_run=True, backup=backup, progress=False)


def test_broken_files_are_skipped_with_reasons_and_the_rest_migrates(qdb, tree):
    session = next(p for p in tree.iterdir() if p.name.endswith("sess_2024_03_02"))
    indicators = next(session.glob("*/indicators"))
    (indicators / "momentum_BROKEN_1.csv").write_text("timestamp,value\nnot-a-number,1.0\n")
    (indicators / "noprefix.csv").write_text("x")
    run = migrate_csv(qdb, tree, progress=False)
    reasons = {Path(f.path).name: f.reason for f in run.files if f.status == "skipped"}
    assert "momentum_BROKEN_1.csv" in reasons and "noprefix.csv" in reasons
    assert run.count("verified") == len(scan_tree(tree)[0]) - 1
    assert run.ok


def test_conflicting_ticks_are_reported_not_duplicated(qdb, tree):
    session = next(p for p in tree.iterdir() if p.name.endswith("sess_2024_03_01"))
    prices = pd.read_csv(session / "prices.csv")
    first = prices.iloc[:10].copy()
    first["timestamp"] = pd.to_datetime(first["timestamp"], utc=True)
    first["price"] = first["price"] + 1.0  # different ticks in the same time range
    qdb.write_ticks(first, session_id=session.name)
    run = migrate_csv(qdb, tree, progress=False)
    result = next(f for f in run.files if f.kind == "prices" and session.name in f.path)
    assert result.status == "mismatched" and "nothing was imported" in result.reason
    assert not run.ok
    count = qdb.sql("SELECT count() FROM tick_prices WHERE session_id = :s", {"s": session.name}).iat[0, 0]
    assert count == 10


def test_cli_migrate_csv(qdb, tree, tmp_path):
    env = {
        **os.environ,
        "QDBTOOLS_HOST": qdb.settings.host,
        "QDBTOOLS_HTTP_PORT": str(qdb.settings.http_port),
        "QDBTOOLS_PG_PORT": str(qdb.settings.pg_port),
    }
    report = tmp_path / "cli-report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qdbtools.cli",
            "migrate-csv",
            str(tree),
            "--report",
            str(report),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified" in done.stdout and json.loads(report.read_text())["ok"] is True


def _indicator_file(root: Path, session: str, symbol: str, name: str, lines: list[str]) -> Path:
    """A legacy indicator CSV; each line gives ``timestamp,value,confidence``."""
    target = root / session / symbol / "indicators" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    variant_type, variant_id = Path(name).stem.split("_", 1)
    header = "timestamp,value,confidence,indicator_id,indicator_type,indicator_name,metadata,"
    header += "scope,user_id,created_by"
    rows = [f"{line},{variant_id},{variant_type},{variant_id},{{}},,," for line in lines]
    target.write_text(header + "\n" + "".join(f"{row}\n" for row in rows))
    return target


def test_nan_values_and_quoted_ids_migrate_once_and_reruns_import_nothing(qdb, tmp_path, unique_id):
    root = tmp_path / "data"
    session = f"{unique_id}_it's"
    _indicator_file(
        root, session, "BTC_USDT", "general_RSI_14.csv", ["1709251200,50.0,0.5", "1709251260,nan,"]
    )
    _indicator_file(root, session, "O'NEIL", "momentum_RSI_7.csv", ["1709251200,1.0,", "1709251260,2.0,"])
    first = migrate_csv(qdb, root, progress=False)
    assert [f.status for f in first.files] == ["verified", "verified"], first.files
    with_nan = next(f for f in first.files if f.symbol == "BTC_USDT")
    assert with_nan.rows == 1 and "1 rows without a value (NaN) are not stored" in with_nan.reason
    for _ in range(2):
        again = migrate_csv(qdb, root, progress=False)
        assert [f.status for f in again.files] == ["already migrated", "already migrated"], again.files
    history = qdb.indicator_history(session, "BTC_USDT", "RSI_14")
    assert len(history) == 1  # no generation added by the reruns
    dry = migrate_csv(qdb, root, dry_run=True, progress=False)
    assert dry.count("already migrated") == 2 and dry.count("would import") == 0
    assert dry.summary["rows"] == 3


def test_cli_exit_status_says_whether_every_file_made_it(qdb, tmp_path, unique_id):
    root = tmp_path / "data"
    _indicator_file(root, unique_id, "BTC_USDT", "general_RSI_14.csv", ["1709251200,50.0,0.5"])
    env = {
        **os.environ,
        "QDBTOOLS_HOST": qdb.settings.host,
        "QDBTOOLS_HTTP_PORT": str(qdb.settings.http_port),
        "QDBTOOLS_PG_PORT": str(qdb.settings.pg_port),
    }

    def cli(*extra):
        command = [sys.executable, "-m", "qdbtools.cli", "migrate-csv", str(root), "--no-progress"]
        command += ["--report", str(tmp_path / "r.json"), *extra]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

    done = cli()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].split()[2] == "1"  # the counts last: 1 verified
    (root / unique_id / "notes.txt").write_text("not a legacy file")
    assert cli().returncode == 3  # nothing failed, one file skipped


def test_special_files_are_skipped_with_reasons_and_the_rest_migrates(qdb, tmp_path, unique_id, monkeypatch):
    root = tmp_path / "data"
    good = _indicator_file(root, unique_id, "BTC_USDT", "general_RSI_14.csv", ["1709251200,50.0,0.5"])
    indicators = good.parent
    (indicators / "general_DANGLING.csv").symlink_to(indicators / "nowhere.csv")
    (indicators / "general_LOOP.csv").symlink_to(indicators / "general_LOOP.csv")
    (indicators / "general_ZERO.csv").symlink_to("/dev/zero")
    os.mkfifo(indicators / "general_FIFO.csv")
    (indicators / "general_DIR.csv").mkdir()
    listener = socket.socket(socket.AF_UNIX)
    monkeypatch.chdir(indicators)  # a socket's path must be short: bind it relative
    listener.bind("general_SOCK.csv")
    report = tmp_path / "special.json"
    try:
        run = migrate_csv(qdb, root, report=report, progress=False)
    finally:
        listener.close()
    reasons = {Path(f.path).name: (f.status, f.reason) for f in run.files}
    assert reasons["general_RSI_14.csv"][0] == "verified"
    expected = {
        "general_DANGLING.csv": "dangling or looping symlink",
        "general_LOOP.csv": "dangling or looping symlink",
        "general_ZERO.csv": "a character device",
        "general_FIFO.csv": "a FIFO",
        "general_SOCK.csv": "a socket",
        "general_DIR.csv": "an empty directory",
    }
    for name, fragment in expected.items():
        status, reason = reasons[name]
        assert status == "skipped" and fragment in reason, (name, reason)
    assert json.loads(report.read_text())["summary"]["skipped"] == len(expected)


def test_files_over_the_size_limit_are_refused_unread(qdb, tmp_path, unique_id, monkeypatch):
    root = tmp_path / "data"
    big = _indicator_file(root, unique_id, "BTC_USDT", "general_RSI_14.csv", ["1709251200,50.0,0.5"])
    monkeypatch.setattr("qdbtools.legacy.scan.MAX_FILE_BYTES", big.stat().st_size - 1)
    run = migrate_csv(qdb, root, progress=False)
    assert run.files[0].status == "skipped" and "too large" in run.files[0].reason


def test_a_rerun_never_puts_legacy_values_back_over_a_later_save(qdb, tmp_path, unique_id):
    root = tmp_path / "data"
    session = f"{unique_id}_rerun"
    lines = ["1709251200,50.0,0.5", "1709251260,51.0,"]
    _indicator_file(root, session, "BTC_USDT", "general_RSI_14.csv", lines)
    _indicator_file(root, session, "ETH_USDT", "general_RSI_14.csv", lines)
    assert [f.status for f in migrate_csv(qdb, root, progress=False).files] == ["verified", "verified"]

    def rsi(symbol: str) -> list[float]:
        return qdb.load_indicators(session, symbol, ["RSI_14"], variant_type="general")["RSI_14"].tolist()

    # The user's own values under the same key: an overwrite of one pair, an append to the other.
    stamps = pd.to_datetime([1709251200, 1709251260], unit="s", utc=True)
    mine = pd.DataFrame({"RSI_14": [70.0, 71.0]}, index=stamps)
    qdb.save_indicators(mine, session, "BTC_USDT", "overwrite", variant_type="general", created_by="notebook")
    later = pd.DataFrame({"RSI_14": [52.0]}, index=pd.to_datetime([1709251320], unit="s", utc=True))
    qdb.save_indicators(later, session, "ETH_USDT", "append", variant_type="general")
    again = migrate_csv(qdb, root, progress=False)
    assert [f.status for f in again.files] == ["kept", "kept"] and again.ok
    by_symbol = {f.symbol: f.reason for f in again.files}
    assert "1 later save(s)" in by_symbol["BTC_USDT"] and "by 'notebook'" in by_symbol["BTC_USDT"]
    assert "--replace-newer" in by_symbol["ETH_USDT"]
    assert rsi("BTC_USDT") == [70.0, 71.0] and rsi("ETH_USDT") == [50.0, 51.0, 52.0]
    forced = migrate_csv(qdb, root, progress=False, replace_newer=True)
    assert [f.status for f in forced.files] == ["verified", "verified"]
    assert rsi("BTC_USDT") == [50.0, 51.0] and rsi("ETH_USDT") == [50.0, 51.0]
    assert [f.status for f in migrate_csv(qdb, root, progress=False).files] == ["already migrated"] * 2
