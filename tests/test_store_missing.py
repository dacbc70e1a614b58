"""Loads of what is not stored (issue 12, item 4), against the real QuestDB: a NoDataError that
names the close matches which are stored, ``missing_ok=True`` for an empty frame, multi-output
base names, and bars of an interval that was never aggregated.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest
from market_data import make_ticks

from qdbtools.config import Settings
from qdbtools.database import Database
from qdbtools.exceptions import DatabaseError, DatabaseUnavailableError, NoDataError
from qdbtools.server import free_ports
from qdbtools.service import IndicatorPersistenceService


def values(n: int = 60, *, start: str = "2024-03-01", columns: tuple[str, ...] = ("RSI_14", "EMA_12")):
    index = pd.date_range(start, periods=n, freq="1min", tz="UTC", name="timestamp")
    rng = np.random.default_rng(1)
    return pd.DataFrame({c: 50 + rng.standard_normal(n) for c in columns}, index=index)


@pytest.fixture
def stored(qdb, unique_id):
    """``<id>_alpha`` stores RSI_14 and EMA_12 of BTC_USDT and ETH_USDT (variant type ``general``)."""
    session = f"{unique_id}_alpha"
    for symbol in ("BTC_USDT", "ETH_USDT"):
        qdb.save_indicators(values(), session, symbol, "overwrite")
    return session


def test_an_unknown_session_names_the_close_sessions(qdb, stored):
    with pytest.raises(NoDataError, match="no indicators are stored for session_id=") as info:
        qdb.load_indicators(stored.replace("alpha", "alpah"), "BTC_USDT", ["RSI_14"])
    assert repr(stored) in str(info.value) and "missing_ok=True" in str(info.value)
    assert isinstance(info.value, LookupError)


def test_an_unknown_symbol_names_the_symbols_of_the_session(qdb, stored):
    with pytest.raises(NoDataError, match=r"stores no indicators for symbol='BTC_USD' .*'BTC_USDT'"):
        qdb.load_indicators(stored, "BTC_USD")


def test_an_unknown_variant_names_the_close_variants(qdb, stored):
    with pytest.raises(NoDataError, match=r"variant 'RSI_41' is not stored .*close to 'RSI_41': 'RSI_14'"):
        qdb.load_indicators(stored, "BTC_USDT", ["EMA_12", "RSI_41"])
    with pytest.raises(NoDataError, match="symbol='BTC_USDT'; pass missing_ok=True"):
        qdb.load_indicators(stored, "BTC_USDT", "RSI_41", shape="long")


def test_missing_ok_gives_the_empty_frame(qdb, stored, unique_id):
    assert qdb.load_indicators(f"{unique_id}_nothing", "X", missing_ok=True).empty
    assert qdb.load_indicators(f"{unique_id}_nothing", "X", shape="long", missing_ok=True).empty
    partly = qdb.load_indicators(stored, "BTC_USDT", ["EMA_12", "RSI_41"], missing_ok=True)
    assert list(partly.columns) == ["EMA_12", "RSI_41"] and partly["RSI_41"].isna().all()
    assert partly["EMA_12"].notna().all() and len(partly) == 60


def test_a_stored_variant_with_no_rows_in_the_window_is_empty_not_an_error(qdb, stored):
    window = qdb.load_indicators(stored, "BTC_USDT", ["RSI_14"], start="2030-01-01T00:00:00Z")
    assert window.empty and list(window.columns) == ["RSI_14"]


def test_a_variant_of_another_type_or_saved_after_as_of_says_so(qdb, stored):
    with pytest.raises(NoDataError, match=r"'RSI_14' is stored under variant type\(s\) 'custom', not "):
        qdb.load_indicators(stored, "BTC_USDT", ["RSI_14"], variant_type="momentum")
    with pytest.raises(NoDataError, match=r"no variant of variant_type='momentum' is stored .*'custom'"):
        qdb.load_indicators(stored, "BTC_USDT", variant_type="momentum")
    with pytest.raises(NoDataError, match="no save committed at or before as_of"):
        qdb.load_indicators(stored, "BTC_USDT", ["RSI_14"], as_of="2001-01-01T00:00:00Z")


def test_a_multi_output_base_name_loads_all_its_outputs(qdb, unique_id):
    close = 100 + np.random.default_rng(3).standard_normal(200).cumsum()
    index = pd.date_range("2024-03-01", periods=200, freq="1min", tz="UTC", name="timestamp")
    bars = pd.DataFrame({"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0})
    computed = bars.set_index(index).qdb.indicators(["MACD_12_26_9", "RSI_14"])
    qdb.save_indicators(computed, unique_id, "X", "overwrite")
    back = qdb.load_indicators(unique_id, "X", ["MACD_12_26_9"])
    outputs = ["MACD_12_26_9.macd", "MACD_12_26_9.signal", "MACD_12_26_9.hist"]
    assert list(back.columns) == outputs
    pd.testing.assert_frame_equal(back, computed[outputs].dropna(how="all"), check_freq=False)
    both = qdb.load_indicators(unique_id, "X", ["RSI_14", "MACD_12_26_9"])
    assert list(both.columns) == ["RSI_14", *outputs]
    long = qdb.load_indicators(unique_id, "X", "MACD_12_26_9", shape="long")
    assert set(long["indicator_id"]) == set(outputs)


def test_a_save_acknowledged_through_another_database_is_not_missing(qdb, unique_id):
    for symbol in ("A", "B", "C"):
        with Database(qdb.settings) as writer:
            writer.save_indicators(values(5000), unique_id, symbol)  # returns on the acknowledgement
        assert len(qdb.load_indicators(unique_id, symbol, ["RSI_14"])) == 5000


def test_the_service_still_returns_an_empty_list(qdb, unique_id):
    service = IndicatorPersistenceService(questdb_provider=qdb)
    assert asyncio.run(service.load_values(f"{unique_id}_none", "X", "RSI_14")) == []


def test_a_database_failure_is_never_no_data(unique_id):
    (port,) = free_ports(1)
    down = Database(Settings(http_port=port, pg_port=port, connect_timeout=2, request_timeout=5))
    with pytest.raises(DatabaseUnavailableError) as info:
        down.load_indicators(unique_id, "X", ["RSI_14"])
    assert not isinstance(info.value, NoDataError)
    with pytest.raises(DatabaseError) as info:
        down.read_ohlcv(unique_id, "X", "5m")
    assert not isinstance(info.value, NoDataError)


@pytest.fixture
def bars_1m(qdb, unique_id):
    qdb.write_ticks(make_ticks(400, span_s=1800), session_id=unique_id, symbol="BTC_USDT")
    assert qdb.aggregate_ohlcv(unique_id, "BTC_USDT", "1m") > 0
    return unique_id


def test_read_ohlcv_of_an_interval_never_aggregated_lists_the_stored_ones(qdb, bars_1m):
    with pytest.raises(NoDataError, match=r"no 5m bars .*stored intervals: '1m'.*aggregate_ohlcv") as info:
        qdb.read_ohlcv(bars_1m, "BTC_USDT", "5m")
    assert "missing_ok=True" in str(info.value)
    empty = qdb.read_ohlcv(bars_1m, "BTC_USDT", "5m", missing_ok=True)
    assert empty.empty and list(empty.columns) == list(qdb.read_ohlcv(bars_1m, "BTC_USDT").columns)
    assert qdb.read_ohlcv(bars_1m, "BTC_USDT", "1m", start="2030-01-01T00:00:00Z").empty


def test_read_ohlcv_names_close_symbols_sessions_and_unaggregated_ticks(qdb, bars_1m):
    with pytest.raises(NoDataError, match=r"no bars for .*symbol='BTC_USD' .*'BTC_USDT'"):
        qdb.read_ohlcv(bars_1m, "BTC_USD")
    with pytest.raises(NoDataError, match=rf"no bars for session_id='{bars_1m}x' .*'{bars_1m}'"):
        qdb.read_ohlcv(f"{bars_1m}x", "BTC_USDT")
    qdb.write_ticks(make_ticks(50), session_id=bars_1m, symbol="ETH_USDT")
    with pytest.raises(NoDataError, match=r"but 50 ticks in tick_prices: build them with db.aggregate_ohlcv"):
        qdb.read_ohlcv(bars_1m, "ETH_USDT")
