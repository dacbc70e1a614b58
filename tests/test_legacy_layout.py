"""qdbtools.legacy: the old CSV store's paths, tree scan, readers, writer and checksums (pure)."""

from __future__ import annotations

import csv
import inspect
import json
import os
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import qdbtools.legacy as legacy
from qdbtools.checksum import values_checksum
from qdbtools.exceptions import InvalidInputError, MissingColumnsError
from qdbtools.legacy import (
    INDICATOR_COLUMNS,
    PRICE_COLUMNS,
    LegacyFile,
    Skipped,
    csv_checksum,
    indicator_path,
    read_indicator_csv,
    read_prices_csv,
    scan_tree,
    write_indicator_csv,
)

LEGACY = Path(__file__).resolve().parents[1] / "data_samples" / "legacy"
HEADER = ",".join(INDICATOR_COLUMNS)
SAMPLE_INDICATORS = {
    ("sess_2024_03_01", "BTC_USDT"): [
        "general_RSI_14",
        "momentum_MACD_12_26_9",
        "momentum_RSI_14",
        "momentum_RSI_140",
        "trend_EMA_12",
        "trend_SMA_20",
        "volatility_ATR_14",
    ],
    ("sess_2024_03_01", "ETH_USDT"): ["momentum_RSI_14"],
    ("sess_2024_03_02", "BTC_USDT"): ["momentum_RSI_14", "trend_EMA_12"],
    ("sess_2024_03_02", "ETH_USDT"): ["momentum_MACD_12_26_9", "momentum_RSI_14"],
}
TEXT_COLUMNS = list(INDICATOR_COLUMNS[3:])


# --------------------------------------------------------------------------- helpers


def _row(ts: str = "1709251200.0", value: str = "50.0", confidence: str = "0.5", **kw: str) -> str:
    fields = {
        "indicator_id": "RSI_14",
        "indicator_type": "momentum",
        "indicator_name": "Relative Strength Index",
        "metadata": '"{""period"": 14}"',
        "scope": "session",
        "user_id": "u_1001",
        "created_by": "offline_engine",
        **kw,
    }
    return ",".join([ts, value, confidence, *fields.values()])


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    return path


def _frame(n: int = 3, **columns: object) -> pd.DataFrame:
    base = {
        "timestamp": pd.date_range("2024-03-01", periods=n, freq="min", tz="UTC", unit="us"),
        "value": np.linspace(10.0, 20.0, n),
        "confidence": np.linspace(0.0, 1.0, n),
        "indicator_id": ["RSI_14"] * n,
        "indicator_type": ["momentum"] * n,
        "indicator_name": ["Relative Strength Index"] * n,
        "metadata": ['{"period": 14}'] * n,
        "scope": ["session"] * n,
        "user_id": ["u_1001"] * n,
        "created_by": ["offline_engine"] * n,
    }
    base.update(columns)
    for name in TEXT_COLUMNS:  # object columns keep None (the str dtype would turn it into NaN)
        base[name] = pd.Series(list(base[name]), dtype=object)  # type: ignore[call-overload]
    return pd.DataFrame(base)


def _independent_micros(text: str) -> int:
    return int((Decimal(text) * 1_000_000).to_integral_value())


def _sample_files() -> list[LegacyFile]:
    files, _ = scan_tree(LEGACY)
    return files


def _sample(session: str, symbol: str, stem: str) -> LegacyFile:
    (match,) = [
        f
        for f in _sample_files()
        if f.kind == "indicators"
        and (f.session_id, f.symbol, f"{f.variant_type}_{f.variant_id}") == (session, symbol, stem)
    ]
    return match


# --------------------------------------------------------------------------- package surface


def test_all_is_the_public_api() -> None:
    public = {
        name
        for name, value in vars(legacy).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert len(legacy.__all__) == len(set(legacy.__all__))
    assert set(legacy.__all__) == public


# --------------------------------------------------------------------------- sample tree


def test_sample_tree_scans_cleanly() -> None:
    files, skipped = scan_tree(LEGACY)
    assert skipped == []
    assert [f.path for f in files] == sorted(f.path for f in files)
    prices = [f for f in files if f.kind == "prices"]
    assert [(f.session_id, f.path) for f in prices] == [
        (s, LEGACY / s / "prices.csv") for s in ("sess_2024_03_01", "sess_2024_03_02")
    ]
    assert all(f.symbol is None and f.variant_type is None and f.variant_id is None for f in prices)
    found: dict[tuple[str, str], list[str]] = {}
    for f in files:
        if f.kind == "indicators":
            assert f.path == indicator_path(LEGACY, f.session_id, f.symbol, f.variant_type, f.variant_id)
            found.setdefault((f.session_id, f.symbol), []).append(f"{f.variant_type}_{f.variant_id}")
    assert found == SAMPLE_INDICATORS
    macd = _sample("sess_2024_03_01", "BTC_USDT", "momentum_MACD_12_26_9")
    assert (macd.variant_type, macd.variant_id) == ("momentum", "MACD_12_26_9")


@pytest.mark.parametrize(
    "legacy_file",
    [f for f in _sample_files() if f.kind == "indicators"],
    ids=lambda f: f"{f.session_id}/{f.symbol}/{f.path.stem}",
)
def test_every_sample_indicator_csv_reads(legacy_file: LegacyFile) -> None:
    frame = read_indicator_csv(legacy_file)
    with legacy_file.path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(frame.columns) == list(INDICATOR_COLUMNS)
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["value"].dtype == np.float64 and frame["confidence"].dtype == np.float64
    assert all(frame[c].dtype == object for c in TEXT_COLUMNS)
    assert len(frame) == len(rows) > 1000
    assert frame["timestamp"].is_monotonic_increasing and frame["timestamp"].is_unique
    # Independent parse: Decimal micros, Python float(), csv module text.
    micros = [_independent_micros(r["timestamp"]) for r in rows]
    assert frame["timestamp"].dt.as_unit("us").astype("int64").tolist() == micros
    assert frame["value"].tolist() == [float(r["value"]) for r in rows]
    assert frame["confidence"].tolist() == [float(r["confidence"]) for r in rows]
    assert (frame["confidence"] == 0.0).sum() >= 15  # 0.0 stays 0.0, never NaN
    assert set(frame["indicator_id"]) == {legacy_file.variant_id}
    assert set(frame["indicator_type"]) == {legacy_file.variant_type}
    for name in ("scope", "user_id", "created_by", "metadata", "indicator_name"):
        assert frame[name].tolist() == [r[name] or None for r in rows]
        assert "nan" not in set(frame[name].dropna())
    assert all(isinstance(json.loads(m), dict) for m in frame["metadata"])
    # The checksum is stable and equals one computed from the independent parse.
    checksum = csv_checksum(legacy_file, frame)
    assert checksum == csv_checksum(legacy_file, read_indicator_csv(legacy_file.path))
    assert checksum == values_checksum(
        legacy_file.session_id,
        legacy_file.symbol,
        legacy_file.variant_type,
        legacy_file.variant_id,
        pd.to_datetime(micros, unit="us", utc=True),
        [float(r["value"]) for r in rows],
        [float(r["confidence"]) for r in rows],
    )


def test_sample_rows_before_0600_have_empty_late_columns() -> None:
    frame = read_indicator_csv(_sample("sess_2024_03_01", "BTC_USDT", "momentum_RSI_14"))
    early = frame["timestamp"] < pd.Timestamp("2024-03-01T06:00:00Z")
    assert early.any() and (~early).any()
    for name in ("scope", "user_id", "created_by"):
        assert frame.loc[early, name].isna().all()
        assert frame.loc[early, name].map(lambda v: v is None).all()
    assert set(frame.loc[~early, "scope"]) == {"session"}


def test_sample_write_reproduces_the_old_files_byte_for_byte(tmp_path: Path) -> None:
    for legacy_file in _sample_files():
        if legacy_file.kind != "indicators":
            continue
        target = tmp_path / legacy_file.session_id / legacy_file.path.name
        frame = read_indicator_csv(legacy_file)
        assert write_indicator_csv(target, frame) == len(frame)
        assert target.read_bytes() == legacy_file.path.read_bytes()


def test_sample_same_id_other_type_and_prefix_ids_stay_apart() -> None:
    general = _sample("sess_2024_03_01", "BTC_USDT", "general_RSI_14")
    momentum = _sample("sess_2024_03_01", "BTC_USDT", "momentum_RSI_14")
    rsi140 = _sample("sess_2024_03_01", "BTC_USDT", "momentum_RSI_140")
    assert (general.variant_type, general.variant_id) == ("general", "RSI_14")
    assert (momentum.variant_type, momentum.variant_id) == ("momentum", "RSI_14")
    assert (rsi140.variant_type, rsi140.variant_id) == ("momentum", "RSI_140")
    frames = {f.path.stem: read_indicator_csv(f) for f in (general, momentum, rsi140)}
    assert set(frames["general_RSI_14"]["metadata"]) == {'{"period": 14, "price": "hlc3"}'}
    assert set(frames["momentum_RSI_14"]["metadata"]) == {'{"period": 14}'}
    assert set(frames["momentum_RSI_140"]["indicator_id"]) == {"RSI_140"}
    joined = frames["general_RSI_14"].merge(frames["momentum_RSI_14"], on="timestamp")
    assert len(joined) > 1000 and (joined["value_x"] != joined["value_y"]).mean() > 0.9
    checksums = {csv_checksum(f, frames[f.path.stem]) for f in (general, momentum, rsi140)}
    assert len(checksums) == 3
    # The same rows under another type give another checksum: ids come from the path.
    assert csv_checksum(general, frames["momentum_RSI_14"]) != csv_checksum(
        momentum, frames["momentum_RSI_14"]
    )


@pytest.mark.parametrize("session", ["sess_2024_03_01", "sess_2024_03_02"])
def test_sample_prices_read(session: str) -> None:
    path = LEGACY / session / "prices.csv"
    frame = read_prices_csv(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(frame.columns) == list(PRICE_COLUMNS)
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["price"].dtype == np.float64 and frame["volume"].dtype == np.float64
    assert len(frame) == len(rows)
    assert set(frame["symbol"]) == {"BTC_USDT", "ETH_USDT"}
    assert frame["timestamp"].iloc[0] == pd.Timestamp(rows[0]["timestamp"])
    assert [t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for t in frame["timestamp"]] == [r["timestamp"] for r in rows]
    assert frame["price"].tolist() == [float(r["price"]) for r in rows]
    day = pd.Timestamp(session[5:].replace("_", "-"), tz="UTC")
    assert frame["timestamp"].between(day, day + pd.Timedelta(hours=2)).all()
    assert frame["timestamp"].duplicated().any()  # multi-fill trades share a timestamp: kept


# --------------------------------------------------------------------------- scan_tree on a malformed tree


def test_scan_tree_reports_what_does_not_fit(tmp_path: Path) -> None:
    base = tmp_path / "data"
    good = _write(base / "s1" / "BTC" / "indicators" / "momentum_RSI_14.csv", HEADER + "\n")
    prices = _write(base / "s1" / "prices.csv", "timestamp,symbol,price,volume\n")
    odd = {
        base / "s1" / "BTC" / "indicators" / "RSI.csv": "no '_' between variant_type and variant_id",
        base / "s1" / "BTC" / "indicators" / "_RSI.csv": "empty variant_type",
        base / "s1" / "BTC" / "indicators" / "momentum_.csv": "empty variant_id",
        base / "s1" / "BTC" / "indicators" / "notes.txt": "not a .csv file",
        base / "s1" / "BTC" / "indicators" / "momentum_RSI_14.csv.bak": "not a .csv file",
        base / "s1" / "BTC" / "indicators" / ".momentum_RSI_14.csv.1a2b.tmp": "interrupted write",
        base / "s1" / "BTC" / "indicators" / "old" / "momentum_RSI_7.csv": "wrong depth",
        base / "s1" / "BTC" / "momentum_RSI_14.csv": "wrong depth",
        base / "s1" / "BTC" / "prices.csv": "prices.csv belongs in the session directory",
        base / "s1" / "BTC" / "extra" / "a" / "trend_EMA_12.csv": "only indicators/ is expected",
        base / "s1" / "indicators" / "momentum_RSI_14.csv": "lacks the symbol level",
        base / "s1" / "trend_EMA_12.csv": "the only CSV of a session directory is prices.csv",
        base / "s1" / "README.md": "not a legacy file",
        base / "prices.csv": "a file directly in the base directory",
        base / "s2" / "ETH" / "indicators" / "momentum" / "RSI_14.csv": "wrong depth",
    }
    for path in odd:
        _write(path, "x\n")
    (base / "s3" / ".git").mkdir(parents=True)
    (base / "s3" / "ETH" / "indicators").mkdir(parents=True)  # empty: nothing to report
    (base / "s1" / "BTC" / "indicators" / "prices.csv").mkdir()  # a directory named like a file: reported
    files, skipped = scan_tree(base)
    assert files == [
        LegacyFile(good, "indicators", "s1", "BTC", "momentum", "RSI_14"),
        LegacyFile(prices, "prices", "s1"),
    ]
    reasons = {s.path: s.reason for s in skipped}
    assert [s.path for s in skipped] == sorted(reasons)
    assert reasons.pop(base / "s3" / ".git") == "hidden directory, not scanned"
    assert "(an empty directory)" in reasons.pop(base / "s1" / "BTC" / "indicators" / "prices.csv")
    assert set(reasons) == set(odd)
    for path, fragment in odd.items():
        assert fragment in reasons[path], (path, reasons[path])
    assert all(isinstance(s, Skipped) for s in skipped)


def test_scan_tree_skips_names_that_indicator_path_refuses(tmp_path: Path) -> None:
    _write(tmp_path / "s1" / "BTC" / "indicators" / "mom\tentum_RSI_14.csv", HEADER + "\n")
    files, skipped = scan_tree(tmp_path)
    assert files == []
    assert len(skipped) == 1 and "control character" in skipped[0].reason


def test_scan_tree_refuses_a_missing_or_non_directory_base(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        scan_tree(tmp_path / "nowhere")
    with pytest.raises(InvalidInputError, match="is not a directory"):
        scan_tree(_write(tmp_path / "file", "x"))
    files, skipped = scan_tree(tmp_path)  # the file is now part of a tree: skipped, not raised
    assert files == [] and [s.path for s in skipped] == [tmp_path / "file"]


def test_scan_tree_of_an_empty_base(tmp_path: Path) -> None:
    assert scan_tree(tmp_path) == ([], [])


# --------------------------------------------------------------------------- read_indicator_csv errors


def _indicator(tmp_path: Path, body: str | bytes, name: str = "momentum_RSI_14.csv") -> Path:
    return _write(tmp_path / "s" / "BTC" / "indicators" / name, body)


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        (f"{HEADER}\n{_row()}\n{_row(ts='17092512OO.0')}\n", 3, "is not epoch seconds"),
        (f"{HEADER}\n{_row(ts='')}\n", 2, "is not epoch seconds"),
        (f"{HEADER}\n{_row(ts='nan')}\n", 2, "is not epoch seconds"),
        (f"{HEADER}\n{_row()}\n{_row(ts='1709251260.0', value='abc')}\n", 3, "value 'abc' is not a number"),
        (f"{HEADER}\n{_row(value='')}\n", 2, "value is empty"),
        (f"{HEADER}\n{_row(confidence='high')}\n", 2, "confidence 'high' is not a number"),
        (f"{HEADER}\n{_row(metadata='not json')}\n", 2, "metadata is not valid JSON"),
        (f"{HEADER}\n{_row(metadata='[1]')}\n", 2, "metadata is JSON list, not an object"),
        (
            f"{HEADER}\n{_row()}\n{_row(ts='1709251260.0', indicator_type='trend')}\n",
            3,
            "indicator_type is 'trend' but the file name momentum_RSI_14.csv says variant_type 'momentum'",
        ),
        (
            f"{HEADER}\n{_row(indicator_id='RSI_140')}\n",
            2,
            "indicator_id is 'RSI_140' but the file name momentum_RSI_14.csv says variant_id 'RSI_14'",
        ),
        (
            f"{HEADER}\n{_row()}\n{_row(ts='1709251260.0')}\n{_row(ts='1709251200.000000', value='51.0')}\n",
            4,
            "repeats line 2 with a different value",
        ),
        (
            f"{HEADER}\n{_row()}\n{_row(ts='1709251200.0', confidence='')}\n",
            3,
            "repeats line 2 with a different confidence",
        ),
        (f"{HEADER}\n{_row()}\n1709251260.0,50.1,0.5,RSI_14,mom\n", 3, "5 field(s), but the header has 10"),
        (f"{HEADER}\n{_row()},extra\n", 2, "11 field(s), but the header has 10"),
        (f"{HEADER}\n{_row()}\n   \n", 3, "1 field(s), but the header has 10"),
        (
            f"{HEADER}\n{_row()}\n{_row(ts='1709251260.0', indicator_name=chr(34) + 'open')}\n",
            3,
            "malformed CSV",
        ),
        (f"{HEADER}\n{_row(indicator_name=chr(34) + 'a' + chr(34) + 'b')}\n", 2, "malformed CSV"),
        (HEADER.encode() + b"\n" + _row(indicator_name="caf\xe9").encode("latin-1") + b"\n", 2, "not UTF-8"),
        (f"{HEADER}\n{_row()}\n{_row(ts='1709251260.0', value='x')}\n{_row(ts='bad')}\n", 3, "value 'x'"),
    ],
    ids=[
        "bad-timestamp",
        "empty-timestamp",
        "nan-timestamp",
        "bad-value",
        "empty-value",
        "bad-confidence",
        "metadata-not-json",
        "metadata-not-object",
        "type-disagrees",
        "id-disagrees",
        "duplicate-value",
        "duplicate-confidence",
        "truncated-row",
        "extra-field",
        "whitespace-line",
        "unterminated-quote",
        "junk-after-quote",
        "latin-1",
        "earliest-line-wins",
    ],
)
def test_read_indicator_csv_names_file_and_line(
    tmp_path: Path, body: str | bytes, line: int, fragment: str
) -> None:
    path = _indicator(tmp_path, body)
    with pytest.raises(InvalidInputError) as info:
        read_indicator_csv(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line {line}: "), message
    assert fragment in message, message


def test_line_numbers_count_the_lines_of_quoted_newlines(tmp_path: Path) -> None:
    multi = '"Relative\nStrength\nIndex"'
    body = f"{HEADER}\n{_row(indicator_name=multi)}\n\n{_row(ts='1709251260.0', value='x')}\n"
    with pytest.raises(InvalidInputError, match=r": line 6: value 'x' is not a number"):
        read_indicator_csv(_indicator(tmp_path, body))


def test_missing_columns(tmp_path: Path) -> None:
    header = HEADER.replace("value,", "").replace(",metadata", "")
    path = _indicator(tmp_path, header + "\n")
    with pytest.raises(MissingColumnsError) as info:
        read_indicator_csv(path)
    assert info.value.missing == ("value", "metadata")
    assert str(info.value).startswith(f"{path}: line 1: missing column(s) value, metadata")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("", "the file is empty"),
        ("\n" + HEADER + "\n", "line 1 is empty"),
        (HEADER + ",extra\n", "unexpected column(s) 'extra'"),
        (HEADER + ",value\n", "column(s) 'value' appear twice"),
    ],
)
def test_bad_headers(tmp_path: Path, body: str, fragment: str) -> None:
    path = _indicator(tmp_path, body)
    with pytest.raises(InvalidInputError) as info:
        read_indicator_csv(path)
    assert str(info.value).startswith(str(path)) and fragment in str(info.value)


def test_file_name_without_variant_split(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="has no '_' between variant_type and variant_id"):
        read_indicator_csv(_indicator(tmp_path, HEADER + "\n", name="RSI.csv"))
    with pytest.raises(InvalidInputError, match="not an indicator file"):
        read_indicator_csv(LegacyFile(tmp_path / "prices.csv", "prices", "s"))


def test_header_only_file_gives_an_empty_typed_frame(tmp_path: Path) -> None:
    frame = read_indicator_csv(_indicator(tmp_path, HEADER + "\n"))
    assert frame.empty and list(frame.columns) == list(INDICATOR_COLUMNS)
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["value"].dtype == np.float64 and frame["confidence"].dtype == np.float64
    assert all(frame[c].dtype == object for c in TEXT_COLUMNS)
    legacy_file = LegacyFile(tmp_path / "x.csv", "indicators", "s", "BTC", "momentum", "RSI_14")
    assert csv_checksum(legacy_file, frame) == values_checksum("s", "BTC", "momentum", "RSI_14", [], [], [])


def test_reading_tolerates_bom_crlf_blank_lines_and_old_files_without_late_columns(tmp_path: Path) -> None:
    old_header = ",".join(INDICATOR_COLUMNS[:7])
    old_row = ",".join(_row().split(",")[:7])
    body = "\ufeff" + old_header + "\r\n" + old_row + "\r\n\r\n"
    frame = read_indicator_csv(_indicator(tmp_path, body))
    assert len(frame) == 1 and frame["metadata"].iloc[0] == '{"period": 14}'
    assert frame[["scope", "user_id", "created_by"]].iloc[0].tolist() == [None, None, None]


def test_timestamps_are_exact_microseconds(tmp_path: Path) -> None:
    stamps = {
        "1709251200.123456": 1709251200123456,
        "1709251200.1": 1709251200100000,
        "1709251300": 1709251300000000,
        "1709251400.": 1709251400000000,
        "1709251200.000001": 1709251200000001,
        "1709251200.9999995": 1709251201000000,  # 7 decimals: nearest microsecond, ties to even
        "1709251200.0000025": 1709251200000002,
        "1709251200.00000251": 1709251200000003,
        "1.7092515e9": 1709251500000000,
        " 1709251200.5 ": 1709251200500000,
        "-0.000001": -1,
    }
    body = HEADER + "\n" + "".join(_row(ts=t) + "\n" for t in stamps)
    frame = read_indicator_csv(_indicator(tmp_path, body))
    assert frame["timestamp"].dt.as_unit("us").astype("int64").tolist() == sorted(stamps.values())
    assert pd.Timestamp("2024-03-01T00:00:01Z") in set(frame["timestamp"])


def test_exact_duplicate_rows_are_dropped_and_rows_sorted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    body = HEADER + "\n" + _row(ts="1709251260.0") + "\n" + _row() + "\n" + _row(ts="1709251260.0") + "\n"
    frame = read_indicator_csv(_indicator(tmp_path, body))
    assert frame["timestamp"].tolist() == list(pd.to_datetime([1709251200, 1709251260], unit="s", utc=True))
    assert "dropped 1 row(s) repeated exactly" in caplog.text


def test_text_that_looks_like_missing_stays_text(tmp_path: Path) -> None:
    body = HEADER + "\n" + _row(indicator_name="nan", scope="NA", user_id="None", created_by="null") + "\n"
    frame = read_indicator_csv(_indicator(tmp_path, body))
    assert frame[["indicator_name", "scope", "user_id", "created_by"]].iloc[0].tolist() == [
        "nan",
        "NA",
        "None",
        "null",
    ]


# --------------------------------------------------------------------------- write_indicator_csv


def _assert_same(read: pd.DataFrame, written: pd.DataFrame) -> None:
    expected = written.sort_values("timestamp", kind="stable").reset_index(drop=True)
    assert list(read.columns) == list(INDICATOR_COLUMNS)
    assert (
        read["timestamp"].dt.as_unit("us").astype("int64").tolist()
        == expected["timestamp"].dt.as_unit("us").astype("int64").tolist()
    )
    for name in ("value", "confidence"):
        got, want = read[name].to_numpy(), expected[name].to_numpy(dtype=np.float64)
        assert got.view(np.int64).tolist() == want.view(np.int64).tolist() or (
            np.array_equal(np.isnan(got), np.isnan(want))
            and got[~np.isnan(got)].view(np.int64).tolist() == want[~np.isnan(want)].view(np.int64).tolist()
        )
    for name in TEXT_COLUMNS:
        assert read[name].tolist() == [None if v is None or v == "" else v for v in expected[name]]


def test_round_trip_is_exact(tmp_path: Path) -> None:
    n = 12
    nasty = 'q"uote, comma\nnew line\r\ncrlf\rcr ünïcødé 指标 😀 \t tab  '
    frame = _frame(
        n,
        timestamp=pd.to_datetime(
            [1709251200123456 + 1_000_007 * i for i in range(n - 1)] + [-1], unit="us", utc=True
        ),
        value=[
            1e-300,
            1e300,
            -0.0,
            0.0,
            0.1,
            1 / 3,
            np.nan,
            np.inf,
            -np.inf,
            5e-324,
            123456789.123456789,
            2.0**70,
        ],
        confidence=[0.0, np.nan, 1.0, 0.07, 0.0, np.nan, 0.5, 1e-17, 0.99, 0.0, 1.0, 0.25],
        indicator_name=[nasty, None, "", "Relative Strength Index", *["x"] * (n - 4)],
        metadata=[
            json.dumps({"note": nasty, "period": 14}, ensure_ascii=False),
            None,
            "{}",
            '{"a": [1, 2, {"b": "c,d"}]}',
            *['{"period": 14}'] * (n - 4),
        ],
        scope=[None, "session", nasty, *[None] * (n - 3)],
        user_id=["u_1001", None, *['u,"2"'] * (n - 2)],
        created_by=[None] * n,
    )
    path = tmp_path / "out" / "s" / "BTC" / "indicators" / "momentum_RSI_14.csv"
    assert write_indicator_csv(path, frame) == n
    read = read_indicator_csv(path)
    _assert_same(read, frame)
    assert np.signbit(read["value"].to_numpy()[read["value"].to_numpy() == 0]).tolist().count(True) == 1
    assert read.loc[read["confidence"] == 0.0, "confidence"].size == 3
    assert read["confidence"].isna().sum() == 2
    assert read["timestamp"].iloc[0] == pd.Timestamp("1969-12-31T23:59:59.999999Z")
    # write → read → write is byte-stable
    again = tmp_path / "again" / "momentum_RSI_14.csv"
    write_indicator_csv(again, read)
    assert again.read_bytes() == path.read_bytes()
    legacy_file = LegacyFile(path, "indicators", "s", "BTC", "momentum", "RSI_14")
    assert csv_checksum(legacy_file, read) == csv_checksum(legacy_file, frame)


def test_written_text_is_the_legacy_format(tmp_path: Path) -> None:
    frame = _frame(
        2,
        timestamp=pd.to_datetime(
            ["2024-03-01T00:00:00Z", "2024-03-01T00:00:00.5Z"], utc=True, format="ISO8601"
        ),
        value=[35.61148602120829, 1e300],
        confidence=[0.0, np.nan],
        scope=[None, "session"],
    )
    path = tmp_path / "momentum_RSI_14.csv"
    write_indicator_csv(path, frame)
    assert path.read_bytes().decode("utf-8") == (
        HEADER + "\n"
        '1709251200.0,35.61148602120829,0.0,RSI_14,momentum,Relative Strength Index,"{""period"": 14}",,'
        "u_1001,offline_engine\n"
        '1709251200.5,1e+300,,RSI_14,momentum,Relative Strength Index,"{""period"": 14}",session,'
        "u_1001,offline_engine\n"
    )


def test_write_accepts_minimal_and_other_unit_frames(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-03-01T01:00:00+01:00"]).as_unit("ns"),
            "value": [1],
            "indicator_id": ["RSI_14"],
            "indicator_type": ["momentum"],
            "session_id": ["ignored"],
        }
    )
    path = tmp_path / "momentum_RSI_14.csv"
    assert write_indicator_csv(path, frame) == 1
    read = read_indicator_csv(path)
    assert read["timestamp"].iloc[0] == pd.Timestamp("2024-03-01T00:00:00Z")
    assert read["value"].iloc[0] == 1.0 and np.isnan(read["confidence"].iloc[0])
    assert read[["indicator_name", "metadata", "scope"]].iloc[0].tolist() == [None, None, None]
    write_indicator_csv(tmp_path / "momentum_RSI_15.csv", read.iloc[:0].assign(indicator_id=[]))
    assert (tmp_path / "momentum_RSI_15.csv").read_text() == HEADER + "\n"


@pytest.mark.parametrize(
    ("change", "error", "fragment"),
    [
        (lambda f: f.drop(columns="value"), MissingColumnsError, "lacks column(s) value"),
        (
            lambda f: f.assign(timestamp=f["timestamp"].dt.tz_localize(None)),
            InvalidInputError,
            "timezone-aware",
        ),
        (
            lambda f: f.assign(timestamp=f["timestamp"].dt.as_unit("ns") + pd.Timedelta(1, "ns")),
            InvalidInputError,
            "finer than a microsecond",
        ),
        (lambda f: f.assign(timestamp=f["timestamp"].iloc[0]), InvalidInputError, "share timestamp"),
        (lambda f: f.assign(indicator_type="trend"), InvalidInputError, "indicator_type 'trend'"),
        (lambda f: f.assign(indicator_id="RSI_140"), InvalidInputError, "indicator_id 'RSI_140'"),
        (lambda f: f.assign(metadata="[1, 2]"), InvalidInputError, "metadata is JSON list"),
        (lambda f: f.assign(metadata=[{"period": 14}] * len(f)), InvalidInputError, "must hold text"),
        (lambda f: f.assign(scope="a\x00b"), InvalidInputError, "NUL"),
        (lambda f: f.assign(indicator_name="x" * 200_000), InvalidInputError, "field_size_limit"),
        (lambda f: f.assign(value="1.5"), InvalidInputError, "must be numeric"),
    ],
)
def test_write_refuses_bad_frames_and_writes_nothing(
    tmp_path: Path, change: object, error: type[Exception], fragment: str
) -> None:
    path = tmp_path / "d" / "momentum_RSI_14.csv"
    with pytest.raises(error) as info:
        write_indicator_csv(path, change(_frame()))  # type: ignore[operator]
    assert fragment in str(info.value)
    assert not path.parent.exists() or list(path.parent.iterdir()) == []


def test_write_refuses_a_file_name_without_variant(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="has no '_'"):
        write_indicator_csv(tmp_path / "RSI.csv", _frame())
    with pytest.raises(InvalidInputError, match=r"ends in \.csv"):
        write_indicator_csv(tmp_path / "momentum_RSI_14.txt", _frame())


def test_atomic_write_leaves_no_temp_file_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "momentum_RSI_14.csv"
    write_indicator_csv(path, _frame(3))
    write_indicator_csv(path, _frame(5))
    assert os.listdir(path.parent) == [path.name]
    assert len(read_indicator_csv(path)) == 5
    mode = path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_failed_write_keeps_the_old_file_and_removes_the_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "momentum_RSI_14.csv"
    write_indicator_csv(path, _frame(3))
    before = path.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_indicator_csv(path, _frame(5))
    assert os.listdir(tmp_path) == [path.name]
    assert path.read_bytes() == before


# --------------------------------------------------------------------------- indicator_path


def test_indicator_path_builds_the_legacy_path(tmp_path: Path) -> None:
    assert indicator_path(tmp_path, "sess_1", "BTC_USDT", "momentum", "MACD_12_26_9") == (
        tmp_path / "sess_1" / "BTC_USDT" / "indicators" / "momentum_MACD_12_26_9.csv"
    )


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        (("../x", "BTC", "momentum", "RSI_14"), "session_id '../x' contains a path separator"),
        (("s", "a/b", "momentum", "RSI_14"), "symbol 'a/b' contains a path separator"),
        (("s", "BTC", "momentum", "..\\..\\x"), "variant_id '..\\\\..\\\\x' contains a path separator"),
        (
            ("s", "BTC", "momentum", "../../etc/passwd"),
            "variant_id '../../etc/passwd' contains a path separator",
        ),
        (("..", "BTC", "momentum", "RSI_14"), "session_id '..' is '..', which would leave its directory"),
        (("s", ".", "momentum", "RSI_14"), "symbol '.' is '.'"),
        (("", "BTC", "momentum", "RSI_14"), "session_id '' is empty"),
        (("s", "", "momentum", "RSI_14"), "symbol '' is empty"),
        (("s", "BTC", "", "RSI_14"), "variant_type '' is empty"),
        (("s", "BTC", "momentum", ""), "variant_id '' is empty"),
        (("s", "BTC", "my_type", "RSI_14"), "variant_type 'my_type' contains '_'"),
        (("s", "BTC", ".hidden", "RSI_14"), "starts with '.'"),
        (("s", "BTC", "momentum", "RSI\n14"), "control character"),
        (("s", "BTC", "momentum", None), "variant_id None must be a string, got NoneType"),
        (("s", "BTC", "momentum", "x" * 300), "bytes long"),
        (("s", "indicators", "momentum", "RSI_14"), "reserved"),
    ],
)
def test_indicator_path_refuses_hostile_parts(
    tmp_path: Path, parts: tuple[object, ...], fragment: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        indicator_path(tmp_path, *parts)  # type: ignore[arg-type]
    assert fragment in str(info.value)


# --------------------------------------------------------------------------- read_prices_csv errors


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("2024-03-01T00:00:01.5,BTC_USDT,1.0,1.0", "not an ISO-8601 UTC time ending in 'Z'"),
        ("2024-03-01T00:00:01+00:00,BTC_USDT,1.0,1.0", "not an ISO-8601 UTC time ending in 'Z'"),
        ("2024-02-30T00:00:01Z,BTC_USDT,1.0,1.0", "not an ISO-8601 UTC time"),
        ("1709251200.0,BTC_USDT,1.0,1.0", "not an ISO-8601 UTC time"),
        ("2024-03-01T00:00:01.123456789Z,BTC_USDT,1.0,1.0", "finer than a microsecond"),
        ("2024-03-01T00:00:01Z,,1.0,1.0", "symbol is empty"),
        ("2024-03-01T00:00:01Z,BTC_USDT,abc,1.0", "price 'abc' is not a number"),
        ("2024-03-01T00:00:01Z,BTC_USDT,nan,1.0", "price 'nan' is not a finite number"),
        ("2024-03-01T00:00:01Z,BTC_USDT,1.0,", "volume is empty"),
        ("2024-03-01T00:00:01Z,BTC_USDT,1.0", "3 field(s), but the header has 4"),
    ],
)
def test_read_prices_csv_errors(tmp_path: Path, row: str, fragment: str) -> None:
    good = "2024-03-01T00:00:00.000001Z,BTC_USDT,62000.5,0.001"
    path = _write(tmp_path / "s" / "prices.csv", f"timestamp,symbol,price,volume\n{good}\n{row}\n")
    with pytest.raises(InvalidInputError) as info:
        read_prices_csv(path)
    assert str(info.value).startswith(f"{path}: line 3: ") and fragment in str(info.value), str(info.value)


def test_read_prices_csv_missing_column_and_empty(tmp_path: Path) -> None:
    path = _write(tmp_path / "prices.csv", "timestamp,symbol,price\n")
    with pytest.raises(MissingColumnsError) as info:
        read_prices_csv(path)
    assert info.value.missing == ("volume",)
    far = "timestamp,symbol,price,volume\n2500-03-01T00:00:01.123456000Z,BTC_USDT,1.5,2\n"
    frame = read_prices_csv(_write(tmp_path / "p3" / "prices.csv", far))
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2500-03-01T00:00:01.123456Z")
    frame = read_prices_csv(_write(tmp_path / "p2" / "prices.csv", "timestamp,symbol,price,volume\n"))
    assert frame.empty and list(frame.columns) == list(PRICE_COLUMNS)
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]" and frame["price"].dtype == np.float64


# --------------------------------------------------------------------------- LegacyFile / checksum


def test_legacy_file_checks_its_kind() -> None:
    with pytest.raises(InvalidInputError, match="needs symbol"):
        LegacyFile(Path("x.csv"), "indicators", "s", "BTC")
    with pytest.raises(InvalidInputError, match="has no symbol"):
        LegacyFile(Path("prices.csv"), "prices", "s", "BTC")
    with pytest.raises(InvalidInputError, match="kind must be"):
        LegacyFile(Path("x.csv"), "ticks", "s")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="not prices"):
        csv_checksum(LegacyFile(Path("prices.csv"), "prices", "s"), _frame())


def test_csv_checksum_takes_ids_from_the_path_not_the_rows() -> None:
    frame = _frame(4)
    a = LegacyFile(Path("a"), "indicators", "s", "BTC", "momentum", "RSI_14")
    b = LegacyFile(Path("b"), "indicators", "s", "BTC", "momentum", "RSI_140")
    assert csv_checksum(a, frame) == values_checksum(
        "s", "BTC", "momentum", "RSI_14", frame["timestamp"], frame["value"], frame["confidence"]
    )
    assert csv_checksum(a, frame) != csv_checksum(b, frame)
    changed = frame.assign(confidence=[np.nan, 0.5, 0.75, 1.0])  # 0.0 → NaN must show
    assert csv_checksum(a, changed) != csv_checksum(a, frame)
