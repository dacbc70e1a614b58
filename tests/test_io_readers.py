"""Readers: both engines against the real QuestDB give identical frames; aggregation = pandas."""

from __future__ import annotations

import dataclasses
import http.client
import logging
import threading
import time
import urllib.parse

import numpy as np
import pandas as pd
import pytest
from market_data import make_ticks

from qdbtools import Database
from qdbtools.exceptions import InvalidInputError, NoDataError, QueryError
from qdbtools.io.market import INTERVALS, OHLCV_DTYPES, TICK_DTYPES

ENGINES = ["fast", "sqlalchemy"]


@pytest.fixture
def stored_ticks(qdb, unique_id):
    ticks = make_ticks(3000, seed=21, span_s=3 * 86400)
    qdb.write_ticks(ticks, session_id=unique_id, symbol="BTC_USDT")
    return unique_id, ticks


def test_engines_return_identical_frames(qdb, stored_ticks):
    session_id, _ = stored_ticks
    frames = [qdb.read_ticks(session_id, "BTC_USDT", engine=e) for e in ENGINES]
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)
    assert len(frames[0]) == 3000
    assert dict(frames[0].dtypes.astype(str)) == dict(TICK_DTYPES)
    assert str(frames[0].index.dtype) == "datetime64[us, UTC]"


def test_engines_agree_on_nulls(qdb, unique_id):
    qdb.execute(
        "INSERT INTO tick_prices (timestamp, session_id, symbol, trade_id, price, volume) VALUES "
        "('2024-05-01T00:00:00.000000Z', :s, 'N', NULL, NULL, 2.5), "
        "('2024-05-01T00:00:01.000000Z', :s, NULL, 7, 10.0, NULL)",
        {"s": unique_id},
    )
    qdb.wait_until_visible("tick_prices")
    frames = [qdb.read_ticks(unique_id, "N", engine=e) for e in ENGINES]
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)
    assert frames[0]["trade_id"].isna().all() and frames[0]["price"].isna().all()
    assert dict(frames[0].dtypes.astype(str)) == dict(TICK_DTYPES)


def test_engines_agree_on_empty_results(qdb, unique_id):
    frames = [qdb.read_ticks(unique_id, "nothing-here", engine=e) for e in ENGINES]
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)
    assert frames[0].empty and list(frames[0].columns) == list(TICK_DTYPES)
    assert dict(frames[0].dtypes.astype(str)) == dict(TICK_DTYPES)
    with pytest.raises(NoDataError, match="no bars for"):
        qdb.read_ohlcv(unique_id, "nothing-here")
    ohlcv = [qdb.read_ohlcv(unique_id, "nothing-here", engine=e, missing_ok=True) for e in ENGINES]
    pd.testing.assert_frame_equal(ohlcv[0], ohlcv[1], check_exact=True)
    assert dict(ohlcv[0].dtypes.astype(str)) == dict(OHLCV_DTYPES)


@pytest.mark.parametrize("engine", ENGINES)
def test_time_window_and_columns(qdb, stored_ticks, engine):
    session_id, ticks = stored_ticks
    start, end = "2024-03-02T00:00:00Z", pd.Timestamp("2024-03-03", tz="UTC")
    window = qdb.read_ticks(session_id, "BTC_USDT", start, end, columns=["price"], engine=engine)
    expected = ticks[(ticks["timestamp"] >= start) & (ticks["timestamp"] < end)]
    assert list(window.columns) == ["price"]
    np.testing.assert_array_equal(window["price"].to_numpy(), expected["price"].to_numpy())


def test_reader_arguments_are_checked(qdb):
    with pytest.raises(InvalidInputError, match="unrecognized engine 'turbo', must be one of"):
        qdb.read_ticks("s", "X", engine="turbo")
    with pytest.raises(InvalidInputError, match="has no time zone"):
        qdb.read_ticks("s", "X", start="2024-03-01 00:00")
    with pytest.raises(InvalidInputError, match="no columns \\['bid'\\]"):
        qdb.read_ticks("s", "X", columns=["bid"])
    with pytest.raises(InvalidInputError, match="session_id must be a string"):
        qdb.read_ticks(42, "X")
    with pytest.raises(InvalidInputError, match="unknown interval '7m'"):
        qdb.read_ohlcv("s", "X", interval="7m")


def test_auto_engine_uses_the_parquet_export_on_this_server(qdb, stored_ticks):
    assert qdb.transport.supports_parquet_export()
    session_id, _ = stored_ticks
    pd.testing.assert_frame_equal(
        qdb.read_ticks(session_id, "BTC_USDT"), qdb.read_ticks(session_id, "BTC_USDT", engine="fast")
    )


def pandas_bars(ticks: pd.DataFrame, interval: str) -> pd.DataFrame:
    grouped = ticks.set_index("timestamp").resample(INTERVALS[interval], label="left", closed="left")
    bars = grouped["price"].ohlc()
    bars["volume"] = grouped["volume"].sum()
    bars["trades"] = grouped["price"].count()
    return bars[bars["trades"] > 0]


@pytest.mark.parametrize("interval", ["1s", "1m", "5m", "15m", "1h", "1d"])
def test_aggregation_in_questdb_equals_pandas_resample(qdb, stored_ticks, interval):
    session_id, ticks = stored_ticks
    stored = qdb.aggregate_ohlcv(session_id, "BTC_USDT", interval)
    again = qdb.aggregate_ohlcv(session_id, "BTC_USDT", interval)  # idempotent
    expected = pandas_bars(ticks, interval)
    assert stored == again == len(expected)
    for engine in ENGINES:
        bars = qdb.read_ohlcv(session_id, "BTC_USDT", interval, engine=engine)
        assert (bars.index == expected.index).all()
        for column in ("open", "high", "low", "close"):
            np.testing.assert_array_equal(bars[column].to_numpy(), expected[column].to_numpy(), column)
        np.testing.assert_allclose(bars["volume"].to_numpy(), expected["volume"].to_numpy(), rtol=1e-12)
        np.testing.assert_array_equal(bars["trades"].to_numpy(), expected["trades"].to_numpy())
        assert set(bars["interval"]) == {interval}


def _hold_export_slots(settings) -> list[http.client.HTTPConnection]:
    """Idle keep-alive connections that each used ``/exp``, until the server answers 429."""
    held = []
    path = "/exp?" + urllib.parse.urlencode({"query": "SELECT 1 AS x", "fmt": "parquet"})
    for _ in range(64):
        conn = http.client.HTTPConnection(settings.host, settings.http_port, timeout=10)
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        if response.status == 429:
            conn.close()
            return held
        assert response.status == 200
        held.append(conn)
    raise AssertionError("the server never limited its export connections")


def test_fast_reads_wait_for_a_free_export_connection(qdb, stored_ticks, caplog):
    session_id, _ = stored_ticks
    held = _hold_export_slots(qdb.settings)
    release = threading.Timer(0.5, lambda: [conn.close() for conn in held])
    release.start()
    try:
        with caplog.at_level(logging.INFO, logger="qdbtools.io.exports"):
            frame = qdb.read_ticks(session_id, "BTC_USDT", engine="fast")
    finally:
        release.join()
    assert len(frame) == 3000
    assert any("busy" in record.getMessage() for record in caplog.records)


def test_fast_reads_give_up_on_busy_export_connections_within_the_request_timeout(qdb, stored_ticks):
    session_id, _ = stored_ticks
    impatient = Database(dataclasses.replace(qdb.settings, request_timeout=1.0))
    held = _hold_export_slots(qdb.settings)
    try:
        started = time.monotonic()
        with pytest.raises(QueryError, match=r"HTTP 429.*connection limit"):
            impatient.read_ticks(session_id, "BTC_USDT", engine="fast")
        assert time.monotonic() - started < 10
    finally:
        for conn in held:
            conn.close()
        impatient.close()


HOSTILE_IDS = ["C:\\path\\x", "it's", 'q"uote', "100%", "a_b", "tab\tnew\nline", "zażółć 🚀", "end\\"]


@pytest.mark.parametrize("hostile", HOSTILE_IDS, ids=range(len(HOSTILE_IDS)))
def test_hostile_ids_round_trip_through_ticks_and_bars_on_both_engines(qdb, unique_id, hostile):
    session_id, symbol = unique_id + hostile, "S" + hostile
    ticks = make_ticks(300, seed=5, span_s=3600)
    qdb.write_ticks(ticks, session_id=session_id, symbol=symbol)
    frames = [qdb.read_ticks(session_id, symbol, engine=e) for e in ENGINES]
    assert len(frames[0]) == 300
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)
    bars = qdb.aggregate_ohlcv(session_id, symbol, "1m")
    assert bars > 0
    read = [qdb.read_ohlcv(session_id, symbol, "1m", engine=e) for e in ENGINES]
    assert len(read[0]) == bars
    pd.testing.assert_frame_equal(read[0], read[1], check_exact=True)
    matched = qdb.sql("SELECT count() AS n FROM tick_prices WHERE session_id = :s", {"s": session_id})
    assert int(matched["n"].iat[0]) == 300
