"""OfflineIndicatorEngine end to end on the sample data against the real QuestDB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

import qdbtools
from qdbtools.config import Settings
from qdbtools.database import Database
from qdbtools.exceptions import DatabaseUnavailableError, NoDataError
from qdbtools.server import free_ports

SAMPLE = Path(__file__).resolve().parent.parent / "data_samples" / "ticks.parquet"
VARIANTS = ["RSI_14", "EMA_12", "MACD_12_26_9", "BBANDS_20_2", "ATR_14", "VWAP"]


@pytest.fixture(scope="module")
def sample_ticks() -> pd.DataFrame:
    ticks = pd.read_parquet(SAMPLE)
    return ticks[(ticks["session_id"] == "sess_2024_03_01") & (ticks["symbol"] == "BTC_USDT")]


def test_engine_runs_from_aggregated_bars_and_matches_talib(qdb, unique_id, sample_ticks):
    qdb.write_ticks(sample_ticks.drop(columns="session_id"), session_id=unique_id)
    bars_stored = qdb.aggregate_ohlcv(unique_id, "BTC_USDT", "1m")
    engine = qdbtools.OfflineIndicatorEngine(qdb)
    summary = engine.run(unique_id, "BTC_USDT", VARIANTS, mode="overwrite")
    assert summary.source == "aggregated_ohlcv" and summary.bars == bars_stored
    assert set(summary.seconds) == {"load", "compute", "save"}
    assert summary.rows["RSI_14"] == bars_stored - 14
    stored = qdb.load_indicators(unique_id, "BTC_USDT", ["RSI_14", "MACD_12_26_9.macd"])
    bars = qdb.read_ohlcv(unique_id, "BTC_USDT")
    expected_rsi = talib.RSI(bars["close"].to_numpy(), 14)
    np.testing.assert_allclose(stored["RSI_14"].to_numpy(), expected_rsi[~np.isnan(expected_rsi)], rtol=1e-9)
    macd = talib.MACD(bars["close"].to_numpy(), 12, 26, 9)[0]
    np.testing.assert_allclose(
        stored["MACD_12_26_9.macd"].dropna().to_numpy(), macd[~np.isnan(macd)], rtol=1e-9
    )
    long = qdb.load_indicators(unique_id, "BTC_USDT", "RSI_14", shape="long")
    assert long["confidence"].isna().all() and set(long["created_by"]) == {"OfflineIndicatorEngine"}


def test_engine_falls_back_to_ticks(qdb, unique_id, sample_ticks):
    qdb.write_ticks(sample_ticks.drop(columns="session_id").iloc[:5000], session_id=unique_id)
    engine = qdbtools.OfflineIndicatorEngine(qdb)
    bars = engine.load_symbol_data(unique_id, "BTC_USDT")
    assert bars.attrs["source"] == "tick_prices"
    qdb.aggregate_ohlcv(unique_id, "BTC_USDT", "1m")
    from_table = engine.load_symbol_data(unique_id, "BTC_USDT")
    pd.testing.assert_frame_equal(bars, from_table, check_freq=False, check_like=True)


def test_one_variant_name_is_one_variant(qdb, unique_id, sample_ticks):
    qdb.write_ticks(sample_ticks.drop(columns="session_id").iloc[:3000], session_id=unique_id)
    engine = qdbtools.OfflineIndicatorEngine(qdb)
    assert set(engine.run(unique_id, "BTC_USDT", "MACD_12_26_9").rows) == {
        "MACD_12_26_9.macd",
        "MACD_12_26_9.signal",
        "MACD_12_26_9.hist",
    }
    assert list(qdb.load_indicators(unique_id, "BTC_USDT", "MACD_12_26_9").columns) == [
        "MACD_12_26_9.macd",
        "MACD_12_26_9.signal",
        "MACD_12_26_9.hist",
    ]


def test_no_data_and_database_failure_are_different_errors(qdb, unique_id):
    engine = qdbtools.OfflineIndicatorEngine(qdb)
    with pytest.raises(NoDataError, match=f"session_id='{unique_id}', symbol='NOPE'"):
        engine.load_symbol_data(unique_id, "NOPE")
    (port,) = free_ports(1)
    down = Database(Settings(http_port=port, pg_port=port, connect_timeout=2))
    with pytest.raises(DatabaseUnavailableError):
        qdbtools.OfflineIndicatorEngine(down).load_symbol_data(unique_id, "NOPE")


def test_run_many_uses_processes_and_reports_each_pair(qdb, unique_id, sample_ticks):
    for symbol in ("A", "B"):
        qdb.write_ticks(
            sample_ticks.drop(columns=["session_id", "symbol"]).iloc[:3000],
            session_id=unique_id,
            symbol=symbol,
        )
    engine = qdbtools.OfflineIndicatorEngine(qdb)
    runs = engine.run_many(
        [(unique_id, "A"), (unique_id, "B"), (unique_id, "MISSING")], ["RSI_14"], processes=2, progress=False
    )
    assert [r.symbol for r in runs] == ["A", "B", "MISSING"]
    assert runs[0].ok and runs[1].ok and runs[0].rows == runs[1].rows
    assert not runs[2].ok and "NoDataError" in runs[2].error
    assert len(qdb.load_indicators(unique_id, "B", "RSI_14")) == runs[1].rows["RSI_14"]


def test_cli_compute(qdb, unique_id, sample_ticks):
    import os
    import subprocess
    import sys

    qdb.write_ticks(sample_ticks.drop(columns="session_id").iloc[:3000], session_id=unique_id)
    env = {
        **os.environ,
        "QDBTOOLS_HOST": qdb.settings.host,
        "QDBTOOLS_HTTP_PORT": str(qdb.settings.http_port),
        "QDBTOOLS_PG_PORT": str(qdb.settings.pg_port),
    }
    done = subprocess.run(
        [sys.executable, "-m", "qdbtools.cli", "compute", unique_id, "BTC_USDT", "RSI_14", "EMA_12"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "bars from tick_prices" in done.stdout and "RSI_14" in done.stdout
    assert not qdb.load_indicators(unique_id, "BTC_USDT", "EMA_12").empty
