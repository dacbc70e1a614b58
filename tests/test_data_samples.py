"""The committed sample data in data_samples/ (pure: no database)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from qdbtools.indicators import compute

SAMPLES = Path(__file__).resolve().parents[1] / "data_samples"
TICKS = SAMPLES / "ticks.parquet"
LEGACY = SAMPLES / "legacy"
SESSIONS = {"sess_2024_03_01": "2024-03-01", "sess_2024_03_02": "2024-03-02"}
SYMBOLS = {"BTC_USDT": 1e-5, "ETH_USDT": 1e-4}  # symbol -> quantity step
TICK = 0.01
LEGACY_HEADER = [
    "timestamp",
    "value",
    "confidence",
    "indicator_id",
    "indicator_type",
    "indicator_name",
    "metadata",
    "scope",
    "user_id",
    "created_by",
]
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture(scope="module")
def ticks() -> pd.DataFrame:
    return pd.read_parquet(TICKS)


def _on_grid(x: pd.Series | np.ndarray, step: float) -> bool:
    q = np.asarray(x, dtype=float) / step
    return bool(np.all(np.abs(q - np.round(q)) < 1e-6))


def _bars(ticks: pd.DataFrame, session_id: str, symbol: str) -> pd.DataFrame:
    g = ticks[(ticks["session_id"] == session_id) & (ticks["symbol"] == symbol)]
    by = g.groupby(g["timestamp"].dt.floor("min"), sort=True)
    return pd.DataFrame(
        {
            "open": by["price"].first(),
            "high": by["price"].max(),
            "low": by["price"].min(),
            "close": by["price"].last(),
            "volume": by["volume"].sum(),
        }
    )


def _indicator_files() -> list[Path]:
    return sorted(LEGACY.glob("*/*/indicators/*.csv"))


def _read_indicator(path: Path) -> pd.DataFrame:
    str_cols = {c: str for c in LEGACY_HEADER if c not in ("timestamp", "value", "confidence")}
    return pd.read_csv(
        path,
        dtype={"timestamp": float, "value": float, "confidence": float, **str_cols},
        keep_default_na=False,
    )


# -- ticks.parquet ---------------------------------------------------------------------------


def test_parquet_schema() -> None:
    schema = pq.read_schema(TICKS)
    assert schema.names == ["timestamp", "session_id", "symbol", "trade_id", "price", "volume"]
    assert schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert schema.field("session_id").type == pa.string()
    assert schema.field("symbol").type == pa.string()
    assert schema.field("trade_id").type == pa.int64()
    assert schema.field("price").type == pa.float64()
    assert schema.field("volume").type == pa.float64()
    meta = pq.read_metadata(TICKS)
    assert meta.num_rows > 0
    assert all(
        meta.row_group(i).column(j).compression == "ZSTD"
        for i in range(meta.num_row_groups)
        for j in range(meta.num_columns)
    )


def test_pandas_dtypes(ticks: pd.DataFrame) -> None:
    assert str(ticks["timestamp"].dtype) == "datetime64[us, UTC]"
    assert ticks["trade_id"].dtype == np.int64
    assert ticks["price"].dtype == np.float64
    assert ticks["volume"].dtype == np.float64
    assert pd.api.types.is_string_dtype(ticks["session_id"])
    assert pd.api.types.is_string_dtype(ticks["symbol"])
    assert not ticks.isna().any().any()


def test_file_size() -> None:
    assert TICKS.stat().st_size < 4_000_000


def test_sessions_and_symbols(ticks: pd.DataFrame) -> None:
    assert set(ticks["session_id"]) == set(SESSIONS)
    assert set(ticks["symbol"]) == set(SYMBOLS)
    counts = ticks.groupby(["session_id", "symbol"]).size()
    assert len(counts) == 4
    assert counts.min() > 20_000
    for sid, day in SESSIONS.items():
        ts = ticks.loc[ticks["session_id"] == sid, "timestamp"]
        start = pd.Timestamp(day, tz="UTC")
        assert ts.min() >= start
        assert ts.max() < start + pd.Timedelta(days=1)
        # covers the whole day
        assert ts.min() < start + pd.Timedelta(minutes=1)
        assert ts.max() > start + pd.Timedelta(hours=23, minutes=59)


def test_sorted_per_group_and_unique_ids(ticks: pd.DataFrame) -> None:
    assert not ticks.duplicated(["session_id", "symbol", "trade_id"]).any()
    for _key, g in ticks.groupby(["session_id", "symbol"], sort=False):
        assert g["timestamp"].is_monotonic_increasing
        assert g.index.is_monotonic_increasing  # each group is one contiguous, ordered block
        assert g.index[-1] - g.index[0] + 1 == len(g)
    for _symbol, g in ticks.groupby("symbol"):
        ids = g.sort_values(["session_id", "timestamp", "trade_id"])["trade_id"].to_numpy()
        assert np.all(np.diff(ids) > 0)  # strictly increasing per symbol across the file


def test_prices_and_volumes(ticks: pd.DataFrame) -> None:
    assert (ticks["price"] > 0).all()
    assert _on_grid(ticks["price"], TICK)
    assert (ticks["volume"] > 0).all()
    for symbol, step in SYMBOLS.items():
        g = ticks[ticks["symbol"] == symbol]
        assert _on_grid(g["volume"], step)
    median = ticks.groupby("symbol")["price"].median()
    assert 50_000 < median["BTC_USDT"] < 75_000
    assert 2_800 < median["ETH_USDT"] < 4_000


def test_same_timestamp_trades(ticks: pd.DataFrame) -> None:
    dup = ticks[ticks.duplicated(["session_id", "symbol", "timestamp"], keep=False)]
    assert len(dup) >= 2
    per_ts = dup.groupby(["session_id", "symbol", "timestamp"])["trade_id"].nunique()
    assert (per_ts >= 2).all()


def test_quiet_gaps_leave_empty_minutes(ticks: pd.DataFrame) -> None:
    for (sid, symbol), g in ticks.groupby(["session_id", "symbol"]):
        gaps = g["timestamp"].diff().dropna()
        assert (gaps > pd.Timedelta(minutes=3)).any(), (sid, symbol)
        assert len(_bars(ticks, sid, symbol)) < 1440


def test_btc_eth_correlated(ticks: pd.DataFrame) -> None:
    closes = {s: _bars(ticks, "sess_2024_03_01", s)["close"] for s in SYMBOLS}
    r = pd.DataFrame(closes).dropna().pipe(np.log).diff().dropna()
    assert r.corr().iloc[0, 1] > 0.5


# -- legacy tree -------------------------------------------------------------------------------


def test_legacy_tree_size() -> None:
    total = sum(p.stat().st_size for p in LEGACY.rglob("*") if p.is_file())
    assert total < 3_000_000


def test_legacy_prices(ticks: pd.DataFrame) -> None:
    assert sorted(p.name for p in LEGACY.iterdir()) == sorted(SESSIONS)
    for sid, day in SESSIONS.items():
        path = LEGACY / sid / "prices.csv"
        with path.open(newline="") as fh:
            assert next(csv.reader(fh)) == ["timestamp", "symbol", "price", "volume"]
        df = pd.read_csv(path, dtype={"timestamp": str, "symbol": str})
        assert df["timestamp"].map(lambda s: bool(ISO_Z.match(s))).all()
        ts = pd.to_datetime(df["timestamp"], format="%Y-%m-%dT%H:%M:%S.%fZ", utc=True)
        start = pd.Timestamp(day, tz="UTC")
        assert ts.min() >= start
        assert ts.max() < start + pd.Timedelta(hours=2)
        assert ts.is_monotonic_increasing
        assert set(df["symbol"]) == set(SYMBOLS)
        # exactly the Parquet ticks of that window
        src = ticks[(ticks["session_id"] == sid) & (ticks["timestamp"] < start + pd.Timedelta(hours=2))]
        key = ["timestamp", "symbol", "price", "volume"]
        got = df.assign(timestamp=ts.dt.as_unit("us"))[key].sort_values(key, ignore_index=True)
        want = src[key].sort_values(key, ignore_index=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_legacy_indicator_layout() -> None:
    files = _indicator_files()
    assert len(files) >= 8
    for path in files:
        sid, symbol, folder = path.parts[-4:-1]
        assert sid in SESSIONS and symbol in SYMBOLS and folder == "indicators"
        with path.open(newline="") as fh:
            assert next(csv.reader(fh)) == LEGACY_HEADER, path
        df = _read_indicator(path)
        assert len(df) > 1000, path
        variant_type, variant_id = path.stem.split("_", 1)
        assert "_" not in variant_type
        assert (df["indicator_type"] == variant_type).all(), path
        assert (df["indicator_id"] == variant_id).all(), path
        assert (df["indicator_type"] + "_" + df["indicator_id"] == path.stem).all()
        assert (df["indicator_name"] != "").all()
        # epoch seconds (UTC) of 1-minute bar open times inside the session's day
        start = pd.Timestamp(SESSIONS[sid], tz="UTC").timestamp()
        t = df["timestamp"].to_numpy()
        assert np.all((t >= start) & (t < start + 86_400)), path
        assert np.all(np.diff(t) > 0)
        assert np.all(t % 60 == 0)
        assert np.isfinite(df["value"]).all()
        assert df["confidence"].between(0.0, 1.0).all()
        for text in df["metadata"].unique():
            assert isinstance(json.loads(text), dict)


def test_legacy_traps_present() -> None:
    d = LEGACY / "sess_2024_03_01" / "BTC_USDT" / "indicators"
    momentum, general = _read_indicator(d / "momentum_RSI_14.csv"), _read_indicator(d / "general_RSI_14.csv")
    assert not np.allclose(momentum["value"].to_numpy()[:500], general["value"].to_numpy()[:500])
    assert set(momentum["metadata"]) != set(general["metadata"])
    assert (d / "momentum_RSI_140.csv").exists()
    frames = [_read_indicator(p) for p in _indicator_files()]
    allrows = pd.concat(frames, ignore_index=True)
    assert (allrows["confidence"] == 0.0).any()
    for col in ("scope", "user_id", "created_by"):
        assert (allrows[col] == "").any() and (allrows[col] != "").any()
    assert {"RSI_14", "RSI_140", "MACD_12_26_9"} <= set(allrows["indicator_id"])


def test_legacy_values_match_compute(ticks: pd.DataFrame) -> None:
    for path in _indicator_files():
        sid, symbol = path.parts[-4:-2]
        variant_id = path.stem.split("_", 1)[1]
        df = _read_indicator(path)
        bars = _bars(ticks, sid, symbol)
        if "hlc3" in df["metadata"].iloc[0]:
            bars = bars.assign(close=(bars["high"] + bars["low"] + bars["close"]) / 3.0)
        out = compute(bars, [variant_id])
        col = f"{variant_id}.macd" if variant_id.startswith("MACD") else variant_id
        want = out[col].dropna()
        assert len(want) == len(df), path
        want_t = want.index.as_unit("us").asi8 / 1e6
        np.testing.assert_array_equal(df["timestamp"].to_numpy(), want_t)
        # 1e-9 of the series' scale: the compiled (numba) and numpy-only recursions differ in
        # the last bits, which shows as a larger relative error where MACD crosses zero.
        scale = float(np.nanmax(np.abs(want.to_numpy())))
        np.testing.assert_allclose(df["value"].to_numpy(), want.to_numpy(), rtol=1e-9, atol=1e-9 * scale)


# -- determinism -----------------------------------------------------------------------------


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".parquet", ".csv", ".md")
    }


def _generate(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SAMPLES / "generate.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )


def test_regeneration_is_deterministic_and_matches_the_committed_data(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert len(_generate(first).stdout.strip().splitlines()) <= 3
    _generate(second)
    assert _digests(first) == _digests(second)
    assert set(_digests(first)) == set(_digests(SAMPLES))
    # Same data as committed; bytes may differ under other Parquet writer versions.
    pd.testing.assert_frame_equal(
        pd.read_parquet(first / "ticks.parquet"), pd.read_parquet(SAMPLES / "ticks.parquet"), check_exact=True
    )
    for legacy_csv in sorted((SAMPLES / "legacy").rglob("*.csv")):
        fresh = pd.read_csv(first / legacy_csv.relative_to(SAMPLES), keep_default_na=False)
        committed = pd.read_csv(legacy_csv, keep_default_na=False)
        pd.testing.assert_frame_equal(fresh, committed, check_exact=False, rtol=1e-9, atol=1e-9)
