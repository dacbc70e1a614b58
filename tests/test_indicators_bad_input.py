"""Bad and awkward input: short series, NaN gaps, bad indexes, missing columns."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

import qdbtools.indicators as ind
from qdbtools.exceptions import InvalidInputError, InvalidVariantError, MissingColumnsError

talib = pytest.importorskip("talib")


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 2e-3, n)))
    spread = np.abs(rng.normal(0, 0.05, n)) + 0.01
    return pd.DataFrame(
        {
            "open": close,
            "high": close + spread,
            "low": close - spread,
            "close": close,
            "volume": rng.integers(1, 500, n).astype(float),
        },
        index=pd.date_range("2024-05-01", periods=n, freq="min", tz="UTC"),
    )


# ------------------------------------------------------------------------ short input

LONG_WARMUP = [
    "SMA_30",
    "EMA_30",
    "WMA_30",
    "DEMA_30",
    "TEMA_30",
    "RSI_14",
    "MACD_12_26_9",
    "BBANDS_20_2",
    "ATR_14",
    "NATR_14",
    "STOCH_14_3_3",
    "STOCHF_14_3",
    "STOCHRSI_14_5_3",
    "WILLR_14",
    "CCI_14",
    "ROC_14",
    "MOM_14",
    "MFI_14",
    "ADX_14",
    "DX_14",
    "PLUS_DI_14",
    "MINUS_DI_14",
    "ZSCORE_20",
    "RET_14",
    "LOGRET_14",
]


@pytest.mark.parametrize("rows", [0, 1, 10])
def test_shorter_than_warmup_gives_all_nan(rows: int) -> None:
    df = frame(rows)
    wide = ind.compute(df, LONG_WARMUP)
    assert wide.shape[0] == rows
    assert wide.isna().all().all()


def test_short_series_plain_functions() -> None:
    df = frame(5)
    for result in (
        ind.rsi(df.close),
        ind.ema(df.close, 10),
        ind.macd(df.close),
        ind.adx(df.high, df.low, df.close),
        ind.bbands(df.close),
    ):
        assert len(result) == 5
        assert result.isna().all().all() if isinstance(result, pd.DataFrame) else result.isna().all()


# ------------------------------------------------------------------------ NaN policy

Arrays = dict[str, np.ndarray]
REF: dict[str, tuple[tuple[str, ...], Callable[[Arrays], object], Callable[[pd.DataFrame], object]]] = {
    "EMA_10": (("close",), lambda a: talib.EMA(a["close"], 10), lambda d: ind.ema(d.close, 10)),
    "SMA_7": (("close",), lambda a: talib.SMA(a["close"], 7), lambda d: ind.sma(d.close, 7)),
    "WMA_6": (("close",), lambda a: talib.WMA(a["close"], 6), lambda d: ind.wma(d.close, 6)),
    "TEMA_5": (("close",), lambda a: talib.TEMA(a["close"], 5), lambda d: ind.tema(d.close, 5)),
    "RSI_14": (("close",), lambda a: talib.RSI(a["close"], 14), lambda d: ind.rsi(d.close, 14)),
    "MACD_5_13_4": (
        ("close",),
        lambda a: talib.MACD(a["close"], 5, 13, 4),
        lambda d: ind.macd(d.close, 5, 13, 4),
    ),
    "BBANDS_9_2": (
        ("close",),
        lambda a: talib.BBANDS(a["close"], 9, 2, 2, 0),
        lambda d: ind.bbands(d.close, 9),
    ),
    "STOCHRSI_9_5_3": (
        ("close",),
        lambda a: talib.STOCHRSI(a["close"], 9, 5, 3, 0),
        lambda d: ind.stochrsi(d.close, 9, 5, 3),
    ),
    "ATR_14": (
        ("high", "low", "close"),
        lambda a: talib.ATR(a["high"], a["low"], a["close"], 14),
        lambda d: ind.atr(d.high, d.low, d.close, 14),
    ),
    "ADX_7": (
        ("high", "low", "close"),
        lambda a: talib.ADX(a["high"], a["low"], a["close"], 7),
        lambda d: ind.adx(d.high, d.low, d.close, 7),
    ),
    "PLUS_DI_7": (
        ("high", "low", "close"),
        lambda a: talib.PLUS_DI(a["high"], a["low"], a["close"], 7),
        lambda d: ind.plus_di(d.high, d.low, d.close, 7),
    ),
    "STOCH_5_3_3": (
        ("high", "low", "close"),
        lambda a: talib.STOCH(a["high"], a["low"], a["close"], 5, 3, 0, 3, 0),
        lambda d: ind.stoch(d.high, d.low, d.close, 5, 3, 3),
    ),
    "CCI_10": (
        ("high", "low", "close"),
        lambda a: talib.CCI(a["high"], a["low"], a["close"], 10),
        lambda d: ind.cci(d.high, d.low, d.close, 10),
    ),
    "OBV": (
        ("close", "volume"),
        lambda a: talib.OBV(a["close"], a["volume"]),
        lambda d: ind.obv(d.close, d.volume),
    ),
    "MFI_8": (
        ("high", "low", "close", "volume"),
        lambda a: talib.MFI(a["high"], a["low"], a["close"], a["volume"], 8),
        lambda d: ind.mfi(d.high, d.low, d.close, d.volume, 8),
    ),
}


def per_segment_reference(df: pd.DataFrame, cols: tuple[str, ...], fn) -> list[np.ndarray]:
    """TA-Lib run separately on every NaN-free stretch; NaN on the gap rows."""
    valid = df[list(cols)].notna().all(axis=1).to_numpy()
    outs: list[np.ndarray] | None = None
    edges = np.flatnonzero(np.diff(np.r_[0, valid.astype(int), 0]))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        seg = {c: df[c].to_numpy()[start:stop] for c in ("open", "high", "low", "close", "volume")}
        res = fn(seg)
        res = list(res) if isinstance(res, tuple | list) else [res]
        if outs is None:
            outs = [np.full(len(df), np.nan) for _ in res]
        for o, r in zip(outs, res, strict=True):
            o[start:stop] = r
    assert outs is not None
    return outs


@pytest.mark.parametrize("name", sorted(REF))
@pytest.mark.parametrize("gap_column", ["close", "high", "volume"])
def test_nan_gap_restarts_computation(name: str, gap_column: str) -> None:
    cols, ref_fn, ours_fn = REF[name]
    df = frame(600, seed=3)
    rows = [0, 1, 57, 58, 59, 200, 230, 231, 431, 500]  # leading NaNs, gaps, a short stretch
    df.iloc[rows, df.columns.get_loc(gap_column)] = np.nan
    got = ours_fn(df)
    got_arrays = [got[c].to_numpy() for c in got] if isinstance(got, pd.DataFrame) else [got.to_numpy()]
    want = per_segment_reference(df, cols, ref_fn)
    for g, w in zip(got_arrays, want, strict=True):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9, equal_nan=True)
    if gap_column in cols:
        assert np.isnan(got_arrays[0][rows]).all()


def test_nan_gap_in_vwap_restarts_session_sums() -> None:
    df = frame(300)
    df.iloc[100, df.columns.get_loc("volume")] = np.nan
    got = ind.vwap(df.high, df.low, df.close, df.volume)
    tp = (df.high + df.low + df.close) / 3
    assert np.isnan(got.iloc[100])
    assert got.iloc[101] == pytest.approx(tp.iloc[101])
    head = (tp * df.volume).iloc[:100].cumsum() / df.volume.iloc[:100].cumsum()
    np.testing.assert_allclose(got.iloc[:100], head, rtol=1e-12)


def test_nan_policy_ema_example() -> None:
    x = pd.Series([1.0, 2.0, 3.0, np.nan, 4.0, 5.0, 6.0, 7.0])
    got = ind.ema(x, 3).tolist()
    assert np.isnan(got[:2]).all() and got[2] == 2.0  # seed: mean(1, 2, 3)
    assert np.isnan(got[3:6]).all()  # the gap, then a fresh 3-row warm-up
    assert got[6] == 5.0 and got[7] == 6.0  # re-seeded with mean(4, 5, 6)


def test_all_nan_input() -> None:
    x = pd.Series([np.nan] * 50)
    assert ind.rsi(x).isna().all() and ind.ema(x, 5).isna().all() and ind.obv(x, x).isna().all()


# ------------------------------------------------------------------------ bad indexes


def test_unsorted_index_names_first_offender() -> None:
    df = frame(50)
    idx = df.index.to_list()
    idx[20], idx[21] = idx[21], idx[20]
    df.index = pd.DatetimeIndex(idx)
    with pytest.raises(InvalidInputError, match="not sorted") as info:
        ind.compute(df, ["RSI_14"])
    assert str(idx[21]) in str(info.value) and "position 21" in str(info.value)
    with pytest.raises(InvalidInputError, match="not sorted"):
        ind.rsi(df.close)


def test_duplicate_index_names_first_duplicate() -> None:
    df = frame(50)
    idx = df.index.to_list()
    idx[31] = idx[30]
    df.index = pd.DatetimeIndex(idx)
    with pytest.raises(InvalidInputError, match="duplicate") as info:
        ind.compute(df, ["EMA_5"])
    assert str(idx[30]) in str(info.value) and "position 31" in str(info.value)
    with pytest.raises(InvalidInputError, match="duplicate"):
        ind.atr(df.high, df.low, df.close)


def test_nat_in_index() -> None:
    df = frame(10)
    df.index = pd.DatetimeIndex([*df.index[:5], pd.NaT, *df.index[6:]])
    with pytest.raises(InvalidInputError, match="NaT"):
        ind.compute(df, ["SMA_3"])


def test_mismatched_series_indexes() -> None:
    df = frame(30)
    with pytest.raises(InvalidInputError, match="same index"):
        ind.atr(df.high, df.low.iloc[::-1].sort_index().shift(freq="1min"), df.close)


# ------------------------------------------------------------------------ variants, columns


def test_missing_columns_name_columns_and_variants() -> None:
    df = frame(40)[["close"]]
    with pytest.raises(MissingColumnsError) as info:
        ind.compute(df, ["RSI_14", "ATR_14", "OBV"])
    err = info.value
    assert err.missing == ("high", "low", "volume")
    assert "ATR_14" in str(err) and "OBV" in str(err) and "RSI_14" not in str(err)
    assert isinstance(err, InvalidInputError) and isinstance(err, ValueError)


def test_capitalised_columns_get_a_case_hint() -> None:
    df = frame(40).rename(columns=str.capitalize)
    with pytest.raises(
        MissingColumnsError,
        match=r"found 'Close': column names are lower case, rename with frame.rename\(columns=str.lower\)",
    ):
        ind.compute(df, ["RSI_14"])


def test_one_variant_name_is_one_variant_on_the_accessor() -> None:
    import qdbtools.accessor  # noqa: F401 - registers df.qdb

    df = frame(40)
    pd.testing.assert_frame_equal(df.qdb.indicators("RSI_14"), df.qdb.indicators(["RSI_14"]))


def test_unknown_variant_in_compute() -> None:
    with pytest.raises(InvalidVariantError, match="FOO_3") as info:
        ind.compute(frame(10), ["FOO_3"])
    assert "RSI_<period>" in str(info.value)


def test_non_numeric_column() -> None:
    df = frame(20)
    df["close"] = df["close"].astype(str)
    with pytest.raises(InvalidInputError, match="close must be numeric"):
        ind.compute(df, ["RSI_5"])
    with pytest.raises(InvalidInputError, match="numeric"):
        ind.rsi(df.close)


def test_not_a_dataframe() -> None:
    with pytest.raises(InvalidInputError, match="DataFrame"):
        ind.compute(frame(5).close, ["RSI_5"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: ind.rsi(s, 0), "period must be >= 2"),
        (lambda s: ind.rsi(s, 14.0), "period must be an integer"),
        (lambda s: ind.ema(s, True), "period must be an integer"),
        (lambda s: ind.macd(s, 26, 12, 9), "fast \\(26\\) must be smaller than slow \\(12\\)"),
        (lambda s: ind.bbands(s, 20, -1.0), "nbdev_up must be a finite number >= 0"),
        (lambda s: ind.vwap(s, s, s, s, anchor="nonsense"), "not a pandas frequency"),
    ],
)
def test_bad_parameters_in_functions(call, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call(frame(60).close)


def test_vwap_needs_datetime_index() -> None:
    s = pd.Series([1.0, 2.0, 3.0])
    with pytest.raises(InvalidInputError, match="DatetimeIndex"):
        ind.vwap(s, s, s, s)
    assert ind.vwap(s, s, s, s, anchor=[0, 0, 1]).tolist() == [1.0, 5 / 3, 3.0]


def test_nullable_and_int_input() -> None:
    s = pd.Series([1, 2, None, 4, 5, 6], dtype="Int64")
    got = ind.sma(s, 2)
    assert got.dtype == np.float64
    assert np.isnan(got.iloc[[0, 2, 3]]).all() and got.iloc[4] == 4.5
