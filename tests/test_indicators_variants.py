"""Variant names, the registry and compute() (pure, no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import qdbtools.indicators as ind
from qdbtools.exceptions import InvalidVariantError
from qdbtools.indicators import _core, _jit, _recursions


@pytest.fixture(scope="module")
def ohlcv() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 1500
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    spread = np.abs(rng.normal(0, 0.05, n))
    return pd.DataFrame(
        {
            "open": close,
            "high": close + spread,
            "low": close - spread,
            "close": close,
            "volume": rng.integers(1, 1000, n).astype(float),
        },
        index=pd.date_range("2024-01-01", periods=n, freq="min", tz="UTC"),
    )


@pytest.mark.parametrize(
    ("name", "indicator", "params", "canonical", "outputs"),
    [
        ("RSI_14", "RSI", (14,), "RSI_14", ("RSI_14",)),
        ("rsi_7", "RSI", (7,), "RSI_7", ("RSI_7",)),
        ("RSI", "RSI", (14,), "RSI_14", ("RSI_14",)),
        ("EMA_12", "EMA", (12,), "EMA_12", ("EMA_12",)),
        (
            "MACD_12_26_9",
            "MACD",
            (12, 26, 9),
            "MACD_12_26_9",
            ("MACD_12_26_9.macd", "MACD_12_26_9.signal", "MACD_12_26_9.hist"),
        ),
        (
            "BBANDS_20_2",
            "BBANDS",
            (20, 2.0),
            "BBANDS_20_2",
            ("BBANDS_20_2.upper", "BBANDS_20_2.middle", "BBANDS_20_2.lower"),
        ),
        (
            "BBANDS_20_2.5",
            "BBANDS",
            (20, 2.5),
            "BBANDS_20_2.5",
            ("BBANDS_20_2.5.upper", "BBANDS_20_2.5.middle", "BBANDS_20_2.5.lower"),
        ),
        ("BBANDS_20_2.0", "BBANDS", (20, 2.0), "BBANDS_20_2", None),
        ("STOCH_14_3_3", "STOCH", (14, 3, 3), "STOCH_14_3_3", ("STOCH_14_3_3.k", "STOCH_14_3_3.d")),
        ("STOCHRSI_14_5_3", "STOCHRSI", (14, 5, 3), "STOCHRSI_14_5_3", None),
        ("PLUS_DI_14", "PLUS_DI", (14,), "PLUS_DI_14", ("PLUS_DI_14",)),
        ("minus_di_10", "MINUS_DI", (10,), "MINUS_DI_10", ("MINUS_DI_10",)),
        ("ADX_14", "ADX", (14,), "ADX_14", ("ADX_14",)),
        ("OBV", "OBV", (), "OBV", ("OBV",)),
        ("VWAP", "VWAP", (), "VWAP", ("VWAP",)),
        ("ZSCORE_50", "ZSCORE", (50,), "ZSCORE_50", ("ZSCORE_50",)),
        ("RET", "RET", (1,), "RET_1", ("RET_1",)),
        ("LOGRET_5", "LOGRET", (5,), "LOGRET_5", ("LOGRET_5",)),
    ],
)
def test_parse_variant(name, indicator, params, canonical, outputs) -> None:
    v = ind.parse_variant(name)
    assert v.indicator == indicator
    assert v.params == params
    assert v.name == canonical
    if outputs is not None:
        assert v.outputs == outputs
    assert ind.parse_variant(v.name) == v  # canonical names round-trip
    with pytest.raises(AttributeError):
        v.name = "x"  # type: ignore[misc]


def test_registry_lists_signatures() -> None:
    reg = ind.available_indicators()
    assert list(reg) == sorted(reg)
    assert reg["MACD"].signature == "MACD_<fast>_<slow>_<signal>"
    assert reg["RSI"].defaults == (14,)
    assert reg["OBV"].signature == "OBV"
    assert {
        "SMA",
        "EMA",
        "WMA",
        "DEMA",
        "TEMA",
        "RSI",
        "MACD",
        "BBANDS",
        "ATR",
        "NATR",
        "STOCH",
        "STOCHRSI",
        "WILLR",
        "CCI",
        "ROC",
        "MOM",
        "OBV",
        "MFI",
        "ADX",
        "PLUS_DI",
        "MINUS_DI",
        "VWAP",
        "ZSCORE",
        "RET",
        "LOGRET",
    } <= set(reg)


def test_compute_columns_and_values_equal_functions(ohlcv: pd.DataFrame) -> None:
    names = [
        "RSI_14",
        "MACD_12_26_9",
        "BBANDS_20_2.5",
        "STOCH_14_3_3",
        "ADX_14",
        "PLUS_DI_14",
        "MINUS_DI_14",
        "OBV",
        "VWAP",
        "ZSCORE_20",
        "RET_1",
        "ATR_14",
        "MFI_14",
        "EMA_12",
    ]
    wide = ind.compute(ohlcv, names)
    expected_cols = [c for n in names for c in ind.parse_variant(n).outputs]
    assert list(wide.columns) == expected_cols
    assert wide.index.equals(ohlcv.index)
    assert (wide.dtypes == np.float64).all()
    c, h, lo, v = ohlcv.close, ohlcv.high, ohlcv.low, ohlcv.volume
    pairs = {
        "RSI_14": ind.rsi(c, 14),
        "MACD_12_26_9.signal": ind.macd(c)["signal"],
        "BBANDS_20_2.5.upper": ind.bbands(c, 20, 2.5, 2.5)["upper"],
        "STOCH_14_3_3.k": ind.stoch(h, lo, c, 14, 3, 3)["k"],
        "ADX_14": ind.adx(h, lo, c),
        "MINUS_DI_14": ind.minus_di(h, lo, c),
        "OBV": ind.obv(c, v),
        "VWAP": ind.vwap(h, lo, c, v),
        "ZSCORE_20": ind.zscore(c, 20),
        "RET_1": ind.simple_returns(c),
        "ATR_14": ind.atr(h, lo, c),
        "MFI_14": ind.mfi(h, lo, c, v),
        "EMA_12": ind.ema(c, 12),
    }
    for col, series in pairs.items():
        np.testing.assert_array_equal(wide[col].to_numpy(), series.to_numpy(), err_msg=col)


def test_compute_defaults_and_duplicates(ohlcv: pd.DataFrame) -> None:
    wide = ind.compute(ohlcv, ["RSI", "RSI_14", "rsi_14", "BBANDS"])
    assert list(wide.columns) == ["RSI_14", "BBANDS_20_2.upper", "BBANDS_20_2.middle", "BBANDS_20_2.lower"]
    assert ind.compute(ohlcv, "SMA_5").columns.tolist() == ["SMA_5"]
    empty = ind.compute(ohlcv, [])
    assert empty.shape == (len(ohlcv), 0) and empty.index.equals(ohlcv.index)


def test_compute_accepts_variant_objects(ohlcv: pd.DataFrame) -> None:
    v = ind.parse_variant("WMA_9")
    np.testing.assert_array_equal(ind.compute(ohlcv, [v])["WMA_9"], ind.wma(ohlcv.close, 9))


def test_rsi_grid_shares_price_changes(ohlcv: pd.DataFrame, monkeypatch) -> None:
    calls = []
    real_diff = _core.diff

    def counting_diff(x, k=1):
        calls.append(k)
        return real_diff(x, k)

    monkeypatch.setattr(_core, "diff", counting_diff)
    grid = [f"RSI_{n}" for n in range(7, 51)]
    wide = ind.compute(ohlcv, grid)
    assert list(wide.columns) == grid
    # one diff for the whole grid (none with numba: its RSI kernel reads prices directly)
    assert calls == ([] if _jit.ENABLED else [1])
    for n in (7, 23, 50):
        np.testing.assert_array_equal(wide[f"RSI_{n}"], ind.rsi(ohlcv.close, n))


def test_shared_intermediates_across_families(ohlcv: pd.DataFrame, monkeypatch) -> None:
    calls = []
    real = _recursions.wilder

    def counting(x, n):
        calls.append(n)
        return real(x, n)

    monkeypatch.setattr(_recursions, "wilder", counting)
    ind.compute(ohlcv, ["ADX_14", "DX_14", "PLUS_DI_14", "MINUS_DI_14", "ATR_14", "NATR_14"])
    # ATR once (shared with NATR) and ADX's smoothing of DX once; the DI sums use smooth().
    # With numba, DI, DX and ADX come from one fused kernel (computed once for all four).
    assert sorted(calls) == ([14] if _jit.ENABLED else [14, 14])


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("FOO_3", ["unknown indicator variant 'FOO_3'", "RSI_<period>", "MACD_<fast>_<slow>_<signal>"]),
        ("", ["unknown indicator variant"]),
        ("RSI_0", ["'RSI_0'", "period must be >= 2", "RSI_<period>"]),
        ("EMA_-3", ["'EMA_-3'", "period must be >= 1", "EMA_<period>"]),
        ("RSI_14.5", ["period must be an integer", "RSI_<period>"]),
        ("RSI_x", ["period must be an integer"]),
        ("MACD_26_12_9", ["fast (26) must be smaller than slow (12)", "MACD_<fast>_<slow>_<signal>"]),
        ("MACD_12_12_9", ["fast (12) must be smaller than slow (12)"]),
        ("MACD_12_26", ["takes 3 parameter(s), got 2", "MACD_<fast>_<slow>_<signal>"]),
        ("RSI_14_3", ["takes 1 parameter(s), got 2"]),
        ("OBV_3", ["OBV takes no parameters"]),
        ("BBANDS_20_-1", ["nbdev must be >= 0.0"]),
        ("BBANDS_1_2", ["period must be >= 2"]),
        ("STOCH_0_3_3", ["fastk must be >= 1"]),
    ],
)
def test_invalid_variants(name: str, fragments: list[str]) -> None:
    with pytest.raises(InvalidVariantError) as info:
        ind.parse_variant(name)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_compute_validates_all_names_first(ohlcv: pd.DataFrame) -> None:
    with pytest.raises(InvalidVariantError, match="FOO_3"):
        ind.compute(ohlcv, ["RSI_14", "FOO_3"])
    with pytest.raises(InvalidVariantError):
        ind.parse_variant(14)  # type: ignore[arg-type]


def test_indicator_table_has_one_row_per_registry_entry_with_the_documented_columns(ohlcv) -> None:
    from qdbtools.indicators._catalog import TABLE_COLUMNS

    table = ind.indicator_table()
    registry = ind.available_indicators()
    assert list(table.index) == list(registry) and table.index.name == "name"
    assert (
        tuple(table.columns)
        == TABLE_COLUMNS
        == (
            "pattern",
            "default",
            "parameters",
            "inputs",
            "outputs",
            "talib",
            "summary",
        )
    )
    for column in TABLE_COLUMNS:  # each one documented in the docstring
        assert f"``{column}``" in (ind.indicator_table.__doc__ or "")
    macd = table.loc["MACD"]
    assert macd["pattern"] == "MACD_<fast>_<slow>_<signal>" and macd["default"] == "MACD_12_26_9"
    assert macd["outputs"] == "macd, signal, hist" and macd["parameters"] == "fast=12, slow=26, signal=9"
    assert macd["inputs"] == "close" and macd["talib"] == "MACD"
    assert table.loc["ATR", "inputs"] == "high, low, close" and table.loc["ATR", "outputs"] == ""
    assert table.loc["BBANDS", "parameters"] == "period=20, nbdev=2.0"
    assert table.loc["OBV", "parameters"] == "" and table.loc["OBV", "default"] == "OBV"
    assert table.loc["VWAP", "talib"] is None and table.loc["ZSCORE", "talib"] is None
    for name, row in table.iterrows():  # every default names a variant, computed from the listed inputs
        variant = ind.parse_variant(row["default"])
        assert variant.indicator == name and variant.name == row["default"]
        computed = ind.compute(ohlcv[row["inputs"].split(", ")], [row["default"]])
        outputs = row["outputs"].split(", ") if row["outputs"] else []
        assert list(computed.columns) == ([f"{variant.name}.{o}" for o in outputs] or [variant.name])
    pd.testing.assert_frame_equal(ohlcv.qdb.available_indicators(), table)


def test_indicator_specs_print_short_without_their_kernel() -> None:
    text = repr(ind.available_indicators()["MACD"])
    assert text == (
        "IndicatorSpec(MACD_<fast>_<slow>_<signal> -> macd, signal, hist: moving average "
        "convergence/divergence; inputs close, default MACD_12_26_9)"
    )
    registry = repr(dict(ind.available_indicators()))
    assert "function" not in registry and "lambda" not in registry and "kernel" not in registry
