"""The daily commands of ``qdbtools`` against the real QuestDB of the plugin (``main`` in process).

Each command's table and ``--json`` output are checked against the Database API's answer
for the same data; errors exit 1 with one line on stderr.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qdbtools.cli import main
from qdbtools.cli._output import json_value, records, text_table
from qdbtools.cli._parser import EXIT_STATUS, build_parser
from qdbtools.indicators import indicator_table
from tests.market_data import make_ticks

README = Path(__file__).resolve().parent.parent / "README.md"
NEW_COMMANDS = ("list", "history", "prune", "write-ticks", "aggregate", "indicators")
ODD = " q\"uote 'apos' \\back %pct_ ü€ 日本"


@pytest.fixture
def conn(qdb) -> list[str]:
    s = qdb.settings
    return [
        "--conf",
        f"http::addr={s.host}:{s.http_port};username={s.username};password={s.password};",
        "--url",
        s.sqlalchemy_url.render_as_string(hide_password=False),
    ]


@pytest.fixture
def cli(capsys, conn):
    """Run ``qdbtools ARGS... --conf ... --url ...``; returns (exit code, stdout, stderr)."""

    def run(*args: str, connect: bool = True) -> tuple[int, str, str]:
        code = main([*args, *(conn if connect else [])])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="module")
def ticks() -> pd.DataFrame:
    return make_ticks(1200, span_s=3600)


def _same(got: list[dict], frame: pd.DataFrame) -> None:
    """JSON rows equal the API's frame exactly: same columns, and each value equal (times parsed)."""
    expected = frame.reset_index() if frame.index.name is not None else frame
    assert len(got) == len(expected)
    for row, (_, want) in zip(got, expected.iterrows(), strict=True):
        assert list(row) == [str(c) for c in expected.columns]
        for column, value in want.items():
            if isinstance(value, pd.Timestamp):
                assert row[column].endswith("Z") and pd.Timestamp(row[column]) == value, column
            elif pd.isna(value):
                assert row[column] is None, column
            else:
                assert row[column] == value, column


def _save(qdb, session_id: str, symbol: str, ticks: pd.DataFrame, *, mode: str = "overwrite") -> None:
    qdb.write_ticks(ticks, session_id=session_id, symbol=symbol)
    qdb.aggregate_ohlcv(session_id, symbol, "1m")
    bars = qdb.read_ohlcv(session_id, symbol, "1m")
    values = bars.qdb.indicators(["RSI_14", "MACD_12_26_9"])
    # wait=True: the CLI reads through a connection of its own, which does not wait for this
    # database's unapplied saves (read-your-writes is per Database).
    qdb.save_indicators(values, session_id, symbol, mode, variant_type="cli", wait=True)


# -- help and exit codes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("list", "List what is stored"),
        ("history", "every committed save of one variant"),
        ("prune", "Without --yes nothing is removed"),
        ("current-sql", "this query filters inside, through the commit markers' session index"),
        ("write-ticks", "Write the trade ticks of a Parquet (.parquet, .pq) or CSV (.csv) file"),
        ("aggregate", "Build the OHLCV bars of one session and symbol"),
        ("indicators", "List the indicators"),
        ("server", "qdbtools server status"),
    ],
)
def test_help_of_each_command_says_what_it_does(capsys, command, says):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert says in text
    if command == "server":
        for action in ("start", "stop", "status", "install"):
            assert f"qdbtools server {action}" in text
    elif command not in ("indicators", "current-sql"):  # these two send nothing to a server
        assert "--conf" in text and "--url" in text and "--json" in text


def test_top_level_help_and_readme_document_every_command_and_the_exit_codes():
    done = subprocess.run([sys.executable, "-m", "qdbtools.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert EXIT_STATUS.strip() in done.stdout
    readme = README.read_text()
    section = readme.split("## The command line", 1)[1].split("\n## ", 1)[0]
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command in commands:
        assert f"`qdbtools {command}" in section, command
    for code in ("0", "1", "2", "3", "4"):
        assert re.search(rf"^\| {code} \|", section, re.M), code


def test_a_usage_error_exits_2_and_the_console_script_is_main():
    assert main.__module__ == "qdbtools.cli"
    assert 'qdbtools = "qdbtools.cli:main"' in (README.parent / "pyproject.toml").read_text()
    with pytest.raises(SystemExit) as done:
        main(["history", "only-a-session"])
    assert done.value.code == 2


# -- output ---------------------------------------------------------------------------------


def test_json_values_are_utc_iso_times_and_null_for_missing():
    assert json_value(pd.Timestamp("2024-03-01 01:00:00.5+01:00")) == "2024-03-01T00:00:00.500000Z"
    assert json_value(pd.Timestamp("2024-03-01 00:00:00")) == "2024-03-01T00:00:00Z"
    assert [json_value(v) for v in (np.nan, pd.NaT, None, pd.NA, np.inf)] == [None] * 5
    assert json_value(np.int64(2**62)) == 2**62 and type(json_value(np.float64(0.5))) is float
    frame = pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="key"))
    assert records(frame) == [{"key": "x", "a": 1}, {"key": "y", "a": 2}]
    assert text_table([{"name": "RSI", "rows": 5}, {"name": "MACD_x", "rows": 12}]).splitlines() == [
        "name    rows",
        "RSI        5",
        "MACD_x    12",
    ]


# -- write-ticks and aggregate ---------------------------------------------------------------


def test_write_ticks_from_parquet_and_csv_stores_the_file_exactly(qdb, unique_id, ticks, tmp_path, cli):
    parquet, csv = tmp_path / "ticks.parquet", tmp_path / "ticks.csv"
    ticks.to_parquet(parquet)
    ticks.to_csv(csv, index=False)
    code, out, err = cli("write-ticks", str(parquet), "--session", unique_id, "--symbol", "PQ")
    assert code == 0, err
    header, row = out.splitlines()[:2]
    assert header.split() == ["file", "table", "rows", "seconds"]
    assert row.split()[:3] == [str(parquet), "tick_prices", str(len(ticks))]
    code, out, err = cli("write-ticks", str(csv), "--session", unique_id, "--symbol", "CSV", "--json")
    assert code == 0, err
    reported = json.loads(out)
    assert reported["file"] == str(csv) and reported["table"] == "tick_prices"
    assert reported["rows"] == len(ticks)
    from_parquet = qdb.read_ticks(unique_id, "PQ", columns=["price", "volume"])
    from_csv = qdb.read_ticks(unique_id, "CSV", columns=["price", "volume"])
    assert len(from_parquet) == len(ticks)
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    np.testing.assert_array_equal(from_csv["price"].to_numpy(), ticks["price"].to_numpy())


def test_aggregate_reports_the_bars_stored_for_each_interval(qdb, unique_id, ticks, cli):
    qdb.write_ticks(ticks, session_id=unique_id, symbol="BTC")
    code, out, err = cli("aggregate", unique_id, "BTC", "-i", "1m", "-i", "5m", "--json")
    assert code == 0, err
    got = json.loads(out)
    bars = {interval: len(qdb.read_ohlcv(unique_id, "BTC", interval)) for interval in ("1m", "5m")}
    assert got == [
        {"session_id": unique_id, "symbol": "BTC", "interval": i, "bars": n} for i, n in bars.items()
    ]
    assert bars["1m"] == 60 and bars["5m"] == 12
    code, out, err = cli("aggregate", unique_id, "BTC")
    assert code == 0, err
    assert out.splitlines()[0].split() == ["session_id", "symbol", "interval", "bars"]
    assert out.splitlines()[1].split() == [unique_id, "BTC", "1m", "60"]


def test_aggregate_of_a_pair_without_ticks_is_an_error(unique_id, cli):
    code, out, err = cli("aggregate", unique_id, "NOTHING")
    assert code == 1 and out == ""
    assert err.startswith("error: no ticks for session") and unique_id in err and err.count("\n") == 1
    code, _, err = cli("aggregate", unique_id, "NOTHING", "-i", "7m")
    assert code == 1 and "unknown interval '7m'" in err


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("naive.csv", "timestamp,price,volume\n2024-03-01 00:00:00,1.0,1.0\n", "line 2: timestamp"),
        ("noprice.csv", "timestamp,volume\n2024-03-01T00:00:00Z,1.0\n", "price"),
        ("notatime.csv", "timestamp,price,volume\nyesterday Z,1.0,1.0\n", "not ISO-8601"),
        ("zero.csv", "timestamp,price,volume\n2024-03-01T00:00:00Z,0,1.0\n", "price"),
        ("broken.parquet", "PAR1 not really", "not a readable Parquet file"),
        ("ticks.txt", "x", "unknown file type '.txt'"),
        ("missing.csv", None, "no such file"),
    ],
)
def test_write_ticks_of_a_bad_file_names_the_file(unique_id, tmp_path, cli, name, content, says):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    code, out, err = cli("write-ticks", str(path), "--session", unique_id, "--symbol", "X")
    assert code == 1 and out == ""
    assert err.startswith(f"error: {path}") and says in err, err
    assert err.count("\n") == 1


# -- list, history, prune ---------------------------------------------------------------------


def test_list_shows_what_is_stored_as_a_table_and_as_json(qdb, unique_id, ticks, cli):
    _save(qdb, unique_id, "BTC", ticks)
    _save(qdb, unique_id, "ETH", ticks)
    code, out, err = cli("list", "--session", unique_id, "--json")
    assert code == 0, err
    _same(json.loads(out), qdb.list_indicators(unique_id))
    code, out, err = cli("list", "--session", unique_id, "--symbol", "ETH")
    assert code == 0, err
    lines = out.splitlines()
    expected = qdb.list_indicators(unique_id, "ETH")
    assert lines[0].split() == list(expected.columns) and len(lines) == 1 + len(expected) == 5
    for line, (_, row) in zip(lines[1:], expected.iterrows(), strict=True):
        assert line.split()[:4] == [unique_id, "ETH", "cli", row.iloc[3]]
        assert str(row["rows"]) in line.split()


def test_list_of_nothing_is_empty_not_an_error(unique_id, cli):
    assert cli("list", "--session", unique_id) == (0, f"no indicators stored for session {unique_id!r}\n", "")
    assert cli("list", "--session", unique_id, "--json") == (0, "[]\n", "")


def test_history_lists_every_save_and_an_unknown_session_is_an_error(qdb, unique_id, ticks, cli):
    _save(qdb, unique_id, "BTC", ticks)
    _save(qdb, unique_id, "BTC", ticks.iloc[:300])
    code, out, err = cli("history", unique_id, "BTC", "RSI_14", "--json")
    assert code == 0, err
    expected = qdb.indicator_history(unique_id, "BTC", "RSI_14")
    assert len(expected) == 2
    _same(json.loads(out), expected)
    code, out, err = cli("history", unique_id, "BTC", "RSI_14", "--variant-type", "cli")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == list(expected.columns) and len(lines) == 3
    for line, checksum in zip(lines[1:], expected["checksum"], strict=True):
        assert " overwrite " in line and checksum[:12] in line and checksum not in line
    code, out, err = cli("history", unique_id + "_nope", "BTC", "RSI_14")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("error: no saves of 'RSI_14'") and f"{unique_id}_nope" in err


def _value_rows(qdb, session_id: str) -> int:
    query = "SELECT count() FROM indicators WHERE session_id = :s AND commit_mode IS NULL"
    return int(qdb.sql(query, {"s": session_id}).iat[0, 0])


def test_prune_without_yes_deletes_nothing_and_with_yes_removes_what_it_showed(qdb, unique_id, ticks, cli):
    _save(qdb, unique_id, "BTC", ticks)
    _save(qdb, unique_id, "BTC", ticks)  # supersedes the first save of both variants
    current = qdb.load_indicators(unique_id, "BTC", variant_type="cli")
    before = _value_rows(qdb, unique_id)
    code, out, err = cli("prune", "--session", unique_id, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown == {
        "rows_removed": before // 2,
        "superseded_generations": 4,  # RSI_14 and MACD's three outputs
        "orphan_generations": 0,
        "dry_run": True,
    }
    code, out, err = cli("prune", "--session", unique_id)
    assert code == 0, err
    assert out.splitlines()[0].split() == list(shown)
    assert "dry run: nothing was removed" in out and "--yes" in out
    assert _value_rows(qdb, unique_id) == before
    code, out, err = cli("prune", "--session", unique_id, "--yes", "--json")
    assert code == 0, err
    assert json.loads(out) == {**shown, "dry_run": False}
    assert _value_rows(qdb, unique_id) == before - shown["rows_removed"]
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "BTC", variant_type="cli"), current)
    code, out, _ = cli("prune", "--session", unique_id)
    assert code == 0 and f"nothing to remove for session {unique_id!r}" in out


def test_odd_ids_survive_write_ticks_compute_and_list(qdb, unique_id, ticks, tmp_path, cli):
    session_id, symbol = unique_id + ODD, 'BTC/"USDT" \\ % ü'
    path = tmp_path / "odd.csv"
    ticks.assign(session_id=session_id, symbol=symbol).to_csv(path, index=False)
    code, _, err = cli("write-ticks", str(path))
    assert code == 0, err
    assert len(qdb.read_ticks(session_id, symbol)) == len(ticks)
    assert cli("aggregate", session_id, symbol)[0] == 0
    code, _, err = cli("compute", session_id, symbol, "RSI_14", "--variant-type", "odd")
    assert code == 0, err
    code, out, err = cli("list", "--session", session_id, "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert [(r["session_id"], r["symbol"]) for r in listed] == [(session_id, symbol)]
    _same(listed, qdb.list_indicators(session_id))
    code, out, err = cli("history", session_id, symbol, "RSI_14", "--json")
    assert code == 0 and len(json.loads(out)) == 1, err
    code, out, _ = cli("list", "--session", session_id)
    assert session_id in out and symbol in out


# -- indicators -----------------------------------------------------------------------------


def test_indicators_lists_the_registry_as_a_table_and_as_json(cli):
    code, out, err = cli("indicators", "--json", connect=False)
    assert code == 0, err
    table = indicator_table()
    got = json.loads(out)
    _same(got, table)
    macd = next(row for row in got if row["name"] == "MACD")
    assert macd["outputs"] == "macd, signal, hist" and macd["parameters"] == "fast=12, slow=26, signal=9"
    code, out, err = cli("indicators", connect=False)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["name", *table.columns]
    assert [line.split()[0] for line in lines[1:]] == list(table.index)


def test_status_shows_the_tables_and_their_wal_lag(cli, qdb):
    code, out, _ = cli("status", "--json")
    assert code == 0
    got = json.loads(out)
    status = qdb.status()
    assert got["version"] == status.version == qdb.server_version()
    tables = {row["table"]: row for row in got["tables"]}
    assert {"tick_prices", "aggregated_ohlcv", "indicators"} <= set(tables)
    assert tables["indicators"]["wal"] is True and tables["indicators"]["suspended"] is False
    assert got["suspended"] == [] and all(row["wal_lag_txns"] >= 0 for row in got["tables"])
    code, out, _ = cli("status")
    assert code == 0 and out.startswith(f"QuestDB {status.version} at ") and "wal_lag_txns" in out


def test_check_exits_0_within_the_limits_and_4_over_them(cli):
    code, out, _ = cli("check", "--latency", "60000", "--loads", "3", "--json")
    assert code == 0, out
    got = json.loads(out)
    assert got["ok"] is True and got["problems"] == [] and got["error_rate"] == 0.0
    assert {row["operation"]: row["calls"] for row in got["stats"]} == {"save": 1, "load": 3}
    code, out, _ = cli("check", "--latency", "0.0001", "--loads", "2")
    assert code == 4
    assert "over the limits" in out and "problem: p99 load latency" in out
