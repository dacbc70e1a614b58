"""The engine on executors and a real Dask LocalCluster; many pairs' bars at once (real QuestDB)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cloudpickle
import pandas as pd
import pytest
from distributed import Client, LocalCluster

import qdbtools
from qdbtools.cluster import read_ohlcv_dask
from qdbtools.exceptions import DatabaseUnavailableError, InvalidInputError, NoDataError
from qdbtools.offline import worker_databases
from qdbtools.offline.pairs import read_pairs_file

SAMPLE = Path(__file__).resolve().parent.parent / "data_samples" / "ticks.parquet"
VARIANTS = ["RSI_14", "EMA_12", "MACD_12_26_9"]
#: Worker processes with one thread each, every listener on loopback.
LOOPBACK = {
    "threads_per_worker": 1,
    "processes": True,
    "host": "127.0.0.1",
    "dashboard_address": "127.0.0.1:0",
}
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/


@pytest.fixture(scope="module")
def ticks() -> pd.DataFrame:
    frame = pd.read_parquet(SAMPLE)
    frame = frame[(frame["session_id"] == "sess_2024_03_01") & (frame["symbol"] == "BTC_USDT")]
    return frame.drop(columns=["session_id", "symbol"]).iloc[:6000]


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(n_workers=2, **LOOPBACK) as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


def _with_bars(qdb, session_id: str, symbols: list[str], ticks: pd.DataFrame) -> list[tuple[str, str]]:
    for i, symbol in enumerate(symbols):
        shifted = ticks.assign(price=ticks["price"] * (1 + i / 100))
        qdb.write_ticks(shifted, session_id=session_id, symbol=symbol)
        qdb.aggregate_ohlcv(session_id, symbol, "1m")
    return [(session_id, symbol) for symbol in symbols]


def _stored(qdb, pairs, variant_type: str) -> dict[tuple[str, str], pd.DataFrame]:
    return {pair: qdb.load_indicators(*pair, variant_type=variant_type) for pair in pairs}


def test_run_many_on_a_dask_cluster_stores_what_a_serial_run_stores(qdb, unique_id, ticks, client):
    pairs = _with_bars(qdb, unique_id, ["A", "B", "C", "D", "it's \\ ü %"], ticks)
    serial = qdbtools.OfflineIndicatorEngine(qdb, variant_type="serial")
    for pair in pairs:
        assert serial.run(*pair, VARIANTS).ok
    engine = qdbtools.OfflineIndicatorEngine(qdb, variant_type="cluster")
    runs = engine.run_many(pairs, VARIANTS, executor=client, progress=False)
    assert [(r.session_id, r.symbol) for r in runs] == pairs and all(r.ok for r in runs), runs
    expected, got = _stored(qdb, pairs, "serial"), _stored(qdb, pairs, "cluster")
    for pair in pairs:
        assert len(got[pair]) > 100
        pd.testing.assert_frame_equal(got[pair], expected[pair])
    # Each worker process built one Database for all of its tasks.
    assert set(client.run(worker_databases).values()) <= {0, 1}
    assert sum(client.run(worker_databases).values()) >= 1


def _fail_saves_of(symbol: str) -> None:
    """Installed in the workers: saves of ``symbol`` fail as a lost connection would."""
    from qdbtools.database import Database

    real = Database.save_indicators

    def failing(self, frame, session_id, symbol_, *args, **kwargs):
        if symbol_ == symbol:
            raise DatabaseUnavailableError(f"injected: the server went away while saving {symbol_}")
        return real(self, frame, session_id, symbol_, *args, **kwargs)

    Database.save_indicators = failing


def test_a_pair_without_data_and_a_failing_save_are_reported_and_the_others_run(qdb, unique_id, ticks):
    pairs = _with_bars(qdb, unique_id, ["A", "FAILS", "B"], ticks)
    # A cluster of its own: the injected failure must not outlive this test.
    with (
        LocalCluster(n_workers=2, **LOOPBACK) as cluster,
        Client(cluster) as own,
    ):
        own.run(_fail_saves_of, "FAILS")
        engine = qdbtools.OfflineIndicatorEngine(qdb)
        runs = engine.run_many([*pairs, (unique_id, "MISSING")], ["RSI_14"], executor=own, progress=False)
    by_symbol = {r.symbol: r for r in runs}
    assert by_symbol["A"].ok and by_symbol["B"].ok and by_symbol["A"].rows["RSI_14"] > 100
    assert by_symbol["FAILS"].error.startswith("DatabaseUnavailableError: injected")
    assert by_symbol["MISSING"].error.startswith("NoDataError") and "MISSING" in by_symbol["MISSING"].error
    with pytest.raises(NoDataError, match=r"stores no indicators for symbol='FAILS' .*'A', 'B'"):
        qdb.load_indicators(unique_id, "FAILS")  # nothing of the failed pair was committed
    assert len(qdb.load_indicators(unique_id, "B")) == by_symbol["B"].rows["RSI_14"]


def _committed_transactions(db: qdbtools.Database) -> int:
    """How many WAL transactions the server has committed to ``indicators`` (acknowledged saves)."""
    ((count,),) = db.fetch_rows("SELECT sequencerTxn FROM wal_tables() WHERE name = 'indicators'")
    return int(count)


def test_a_worker_killed_mid_run_leaves_each_pair_saved_or_failed_and_a_rerun_completes(
    qdb, unique_id, ticks, client
):
    symbols = [f"K{i}" for i in range(8)]
    pairs = _with_bars(qdb, unique_id, symbols, ticks)
    serial = qdbtools.OfflineIndicatorEngine(qdb, variant_type="serial")
    for pair in pairs:
        serial.run(*pair, VARIANTS)
    engine = qdbtools.OfflineIndicatorEngine(qdb, variant_type="killed")
    outcome: list = []
    running = threading.Thread(
        target=lambda: outcome.extend(engine.run_many(pairs, VARIANTS, executor=client, progress=False))
    )
    committed = _committed_transactions(qdb)
    running.start()
    deadline = time.monotonic() + 120
    # The first save acknowledged, not yet applied: waiting until a listing shows it could
    # let the whole run finish first.
    while _committed_transactions(qdb) == committed:
        assert time.monotonic() < deadline and running.is_alive(), "no pair was saved before the kill"
        time.sleep(0.01)
    victim = next(iter(client.run(os.getpid).values()))
    assert running.is_alive(), "the run ended before the kill: give it more pairs"
    os.kill(victim, signal.SIGKILL)
    running.join(timeout=300)
    assert not running.is_alive() and len(outcome) == len(pairs)
    expected = _stored(qdb, pairs, "serial")
    for run in outcome:
        stored = qdb.load_indicators(run.session_id, run.symbol, variant_type="killed")
        if run.ok:  # saved, and completely
            pd.testing.assert_frame_equal(stored, expected[(run.session_id, run.symbol)])
        else:
            assert run.error  # reported: its worker died with it, or the task was lost
    assert victim not in client.run(os.getpid).values()  # the nanny replaced the killed worker
    failed = [(r.session_id, r.symbol) for r in outcome if not r.ok]
    rerun = engine.run_many(failed or pairs[:1], VARIANTS, executor=client, progress=False)
    assert all(r.ok for r in rerun), rerun
    for pair in pairs:
        pd.testing.assert_frame_equal(qdb.load_indicators(*pair, variant_type="killed"), expected[pair])


def test_any_concurrent_futures_executor_runs_the_pairs(qdb, unique_id, ticks, capsys):
    pairs = _with_bars(qdb, unique_id, ["A", "B"], ticks)
    engine = qdbtools.OfflineIndicatorEngine(qdb)
    with ThreadPoolExecutor(2) as pool:
        runs = engine.run_many([*pairs, (unique_id, "NONE")], ["RSI_14"], executor=pool)
    assert [r.ok for r in runs] == [True, True, False]
    bar = capsys.readouterr().err  # pairs done, values saved, errors
    assert "3/3" in bar and f"rows={sum(runs[0].rows.values()) * 2:,}" in bar and "errors=1" in bar
    assert len(qdb.load_indicators(unique_id, "A")) == runs[0].rows["RSI_14"]
    with pytest.raises(InvalidInputError, match=r"a concurrent\.futures\.Executor or a dask"):
        engine.run_many(pairs, ["RSI_14"], executor="tcp://127.0.0.1:8786", progress=False)
    with pytest.raises(InvalidInputError, match="not both"):
        engine.run_many(pairs, ["RSI_14"], executor=pool, processes=2, progress=False)
    assert engine.run_many([], ["RSI_14"]) == []


def test_read_ohlcv_many_holds_each_pairs_bars_and_nothing_else(qdb, unique_id, ticks):
    odd = "q'uote \\ % ü"
    pairs = _with_bars(qdb, unique_id, ["A", odd], ticks) + _with_bars(qdb, unique_id + "_2", ["A"], ticks)
    _with_bars(qdb, unique_id, ["NOT_ASKED"], ticks)
    many = qdb.read_ohlcv_many([*pairs, (unique_id, "MISSING"), pairs[0]])
    assert many.index.names == ["session_id", "symbol", "timestamp"] and many.index.is_monotonic_increasing
    assert sorted(set(many.index.droplevel("timestamp"))) == sorted(pairs)
    for session_id, symbol in pairs:
        one = qdb.read_ohlcv(session_id, symbol)
        pd.testing.assert_frame_equal(many.loc[(session_id, symbol)], one[list(many.columns)])
    empty = qdb.read_ohlcv_many([(unique_id, "MISSING")])
    assert empty.empty and list(empty.columns) == list(many.columns)
    with pytest.raises(InvalidInputError, match=r"pairs\[0\]"):
        qdb.read_ohlcv_many(["A"])


def test_many_sessions_are_read_in_several_queries(qdb, unique_id, ticks, monkeypatch):
    monkeypatch.setattr(qdbtools.io.market, "SESSIONS_PER_QUERY", 2)
    pairs = [pair for i in range(5) for pair in _with_bars(qdb, f"{unique_id}_{i}", ["A"], ticks.iloc[:500])]
    many = qdb.read_ohlcv_many(pairs)
    assert sorted(set(many.index.droplevel("timestamp"))) == sorted(pairs)
    assert len(many) == sum(len(qdb.read_ohlcv(*pair)) for pair in pairs)


def test_a_dask_dataframe_of_many_pairs_computes_on_the_cluster(qdb, unique_id, ticks, client):
    pairs = _with_bars(qdb, unique_id, ["A", "B", "ü'\\"], ticks)
    bars = read_ohlcv_dask(qdb, [*pairs, (unique_id, "MISSING")])
    assert bars.npartitions == 4 and list(bars.columns) == list(qdb.read_ohlcv(*pairs[0]).columns)
    closes = client.compute(bars.groupby("symbol")["close"].count()).result()
    for session_id, symbol in pairs:
        assert closes[symbol] == len(qdb.read_ohlcv(session_id, symbol))
    # Text columns come in Dask's string dtype (its dataframe.convert-string setting).
    whole = client.compute(bars).result().astype({"session_id": "str", "symbol": "str", "interval": "str"})
    pd.testing.assert_frame_equal(
        whole.sort_values(["symbol", "timestamp"]),
        pd.concat([qdb.read_ohlcv(*pair) for pair in pairs]).sort_values(["symbol", "timestamp"]),
    )
    with pytest.raises(InvalidInputError, match="at least one"):
        read_ohlcv_dask(qdb, [])


def _cli(db, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "QDBTOOLS_HOST": db.settings.host,
        "QDBTOOLS_HTTP_PORT": str(db.settings.http_port),
        "QDBTOOLS_PG_PORT": str(db.settings.pg_port),
    }
    command = [sys.executable, "-m", "qdbtools.cli", "compute", *args, "--no-progress"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def test_cli_compute_pairs_file_on_a_local_cluster_reports_failed_pairs(qdb, unique_id, ticks, tmp_path):
    pairs = _with_bars(qdb, unique_id, ["A", 'q"uote, \\'], ticks)
    listing = tmp_path / "pairs.csv"
    with listing.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["session_id", "symbol"])
        writer.writerows([*pairs, (unique_id, "MISSING"), pairs[0]])
    done = _cli(qdb, "--pairs", str(listing), "RSI_14", "EMA_12", "--local-cluster", "2")
    assert done.returncode == 2, done.stderr
    assert "2 of 3 pairs saved" in done.stdout and "'MISSING': NoDataError" in done.stdout
    # The command returned once the workers' saves were visible to any reader, which a
    # listing (unlike a load of a missing key) does not wait for.
    listed = qdb.list_indicators(unique_id)
    assert sorted(zip(listed["symbol"], listed["indicator_id"], strict=True)) == sorted(
        (symbol, variant) for _, symbol in pairs for variant in ("EMA_12", "RSI_14")
    )
    for pair in pairs:
        assert sorted(qdb.load_indicators(*pair).columns) == ["EMA_12", "RSI_14"]


def test_cli_compute_all_runs_every_pair_with_bars_or_ticks(qdb_server_factory, ticks):
    server = qdb_server_factory()
    with qdbtools.Database(server.settings, server=server) as db:
        db.migrate()
        db.write_ticks(ticks, session_id="s1", symbol="TICKS_ONLY")
        pairs = [*_with_bars(db, "s2", ["BARS"], ticks), ("s1", "TICKS_ONLY")]
        assert db.list_pairs() == sorted(pairs)
        done = _cli(db, "--all", "RSI_14", "--processes", "2")
        assert done.returncode == 0, done.stderr
        assert "2 of 2 pairs saved" in done.stdout
        assert all(not db.load_indicators(*pair, "RSI_14").empty for pair in pairs)


def test_pairs_files_are_read_exactly_and_bad_lines_are_named(tmp_path):
    listing = tmp_path / "pairs.csv"
    listing.write_text('s1,BTC\n\n"s,2"," ETH"\ns1,BTC\n')
    assert read_pairs_file(listing) == [("s1", "BTC"), ("s,2", " ETH")]
    listing.write_text("session_id,symbol\ns1,BTC\ns2\n")
    with pytest.raises(InvalidInputError, match=r"pairs.csv:3: expected 'session_id,symbol', got 's2'"):
        read_pairs_file(listing)
    with pytest.raises(InvalidInputError, match="cannot read the pairs file"):
        read_pairs_file(tmp_path / "absent.csv")
    listing.write_text("session_id,symbol\n")
    with pytest.raises(InvalidInputError, match="lists no pairs"):
        read_pairs_file(listing)
