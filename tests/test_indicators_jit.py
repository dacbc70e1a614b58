"""The numba kernels against the numpy path, indicator by indicator, on the same random walks.

Both paths are run in this process: ``_jit.ENABLED`` is the switch every
kernel consults at call time.  Each output must match TA-Lib (1e-9 relative),
and the two paths must agree with each other to 1e-12 of the output's scale
with identical NaN positions.  The scale is needed because the numba path
keeps TA-Lib's running sums (SMA and what uses it, MFI) where numpy sums each window
pairwise: on values that cancel to ~0 (a stochastic %D of 0, an MFI of an
all-down window) the two differ by rounding residue, not relatively.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_indicators_talib import CASES, arrays, make_ohlcv, outputs

import qdbtools.indicators as ind
from qdbtools.indicators import _jit

talib = pytest.importorskip("talib")
pytestmark = pytest.mark.skipif(not _jit.ENABLED, reason="numba not available or disabled")

WALKS = {
    "ticks_100": lambda: make_ohlcv(4000, 21, 100.0, tick=0.01),
    "walk_1e-4": lambda: make_ohlcv(3000, 22, 1e-4, sigma=3e-3),
    "walk_1e5": lambda: make_ohlcv(3000, 23, 1e5, sigma=5e-4),
}
GAPS = [0, 1, 40, 41, 300, 301, 302, 1500, 2999]


@pytest.fixture(scope="module", params=[*sorted(WALKS), "gaps"])
def walk(request: pytest.FixtureRequest) -> pd.DataFrame:
    if request.param == "gaps":
        df = make_ohlcv(3000, 24, 50.0, tick=0.01)
        df.iloc[GAPS, df.columns.get_loc("close")] = np.nan
        df.iloc[[700, 701], df.columns.get_loc("volume")] = np.nan
        return df
    return WALKS[request.param]()


def both_paths(fn, data, monkeypatch) -> tuple[list[np.ndarray], list[np.ndarray]]:
    jitted = outputs(fn(data))
    monkeypatch.setattr(_jit, "ENABLED", False)
    plain = outputs(fn(data))
    monkeypatch.setattr(_jit, "ENABLED", True)
    return jitted, plain


def assert_paths_agree(jitted: np.ndarray, plain: np.ndarray, what: str) -> None:
    np.testing.assert_array_equal(np.isnan(jitted), np.isnan(plain), err_msg=f"{what}: NaN positions")
    finite = plain[np.isfinite(plain)]
    scale = float(np.max(np.abs(finite))) if finite.size else 0.0
    np.testing.assert_allclose(jitted, plain, rtol=1e-12, atol=1e-12 * scale, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_numba_and_numpy_paths_agree(case, walk: pd.DataFrame, monkeypatch) -> None:
    jitted, plain = both_paths(case.ours, walk, monkeypatch)
    assert len(jitted) == len(plain)
    for i, (j, p) in enumerate(zip(jitted, plain, strict=True)):
        assert j.dtype == np.float64
        assert_paths_agree(j, p, f"{case.id} output {i}")
    if walk.isna().any().any():
        return  # TA-Lib does not follow the NaN-gap policy; test_indicators_bad_input covers gaps
    want = outputs(case.ref(arrays(walk)))
    atol = case.atol * float(walk.close.iloc[0]) if case.price_atol else case.atol
    for i, (j, w) in enumerate(zip(jitted, want, strict=True)):
        np.testing.assert_array_equal(np.isnan(j), np.isnan(w), err_msg=f"{case.id} output {i}")
        np.testing.assert_allclose(j, w, rtol=1e-9, atol=atol, equal_nan=True, err_msg=case.id)


STANDARD = [
    "SMA_20", "SMA_50", "EMA_12", "EMA_26", "WMA_20", "DEMA_20", "TEMA_20", "RSI_14",
    "MACD_12_26_9", "BBANDS_20_2", "ATR_14", "NATR_14", "TRANGE", "STOCH_14_3_3",
    "STOCHF_5_3", "STOCHRSI_14_5_3", "WILLR_14", "CCI_20", "ROC_10", "MOM_10", "OBV", "MFI_14",
    "ADX_14", "DX_14", "PLUS_DI_14", "MINUS_DI_14", "ZSCORE_20", "VWAP", "RET_1", "LOGRET_1",
]  # fmt: skip


def test_compute_paths_agree(walk: pd.DataFrame, monkeypatch) -> None:
    jitted = ind.compute(walk, STANDARD)
    monkeypatch.setattr(_jit, "ENABLED", False)
    plain = ind.compute(walk, STANDARD)
    assert list(jitted.columns) == list(plain.columns)
    for col in plain.columns:
        assert_paths_agree(jitted[col].to_numpy(), plain[col].to_numpy(), col)


BIT_IDENTICAL = {
    # pure selections, the same recursion code, kernels ported operation by operation,
    # or indicators that stay numpy on both paths (WMA, BBANDS, ZSCORE)
    "EMA_20": lambda d: ind.ema(d.close, 20),
    "RSI_14": lambda d: ind.rsi(d.close, 14),
    "TRANGE": lambda d: ind.trange(d.high, d.low, d.close),
    "ATR_14": lambda d: ind.atr(d.high, d.low, d.close, 14),
    "NATR_14": lambda d: ind.natr(d.high, d.low, d.close, 14),
    "WILLR_14": lambda d: ind.willr(d.high, d.low, d.close, 14),
    "WMA_20": lambda d: ind.wma(d.close, 20),
    "WMA_2": lambda d: ind.wma(d.close, 2),
    "STOCHF_14_1": lambda d: ind.stochf(d.high, d.low, d.close, 14, 1),
    "CCI_20": lambda d: ind.cci(d.high, d.low, d.close, 20),
    "BBANDS_20_2": lambda d: ind.bbands(d.close, 20),
    "ZSCORE_20": lambda d: ind.zscore(d.close, 20),
    "ROC_10": lambda d: ind.roc(d.close, 10),
    "MOM_10": lambda d: ind.mom(d.close, 10),
    "OBV": lambda d: ind.obv(d.close, d.volume),
}


@pytest.mark.parametrize("name", sorted(BIT_IDENTICAL))
def test_bit_identical_kernels(name: str, walk: pd.DataFrame, monkeypatch) -> None:
    """EMA/RSI/ATR use the same recursion on both paths, so they stay ~1e-15; the rest are exact."""
    jitted, plain = both_paths(BIT_IDENTICAL[name], walk, monkeypatch)
    for j, p in zip(jitted, plain, strict=True):
        np.testing.assert_array_equal(np.isnan(j), np.isnan(p))
        if name in ("EMA_20", "RSI_14", "ATR_14", "NATR_14"):
            np.testing.assert_allclose(j, p, rtol=1e-13, equal_nan=True)
        else:
            np.testing.assert_array_equal(j, p)


@pytest.mark.parametrize(
    ("name", "ours", "ref"),
    [
        ("SMA_20", lambda c: ind.sma(c, 20), lambda a: talib.SMA(a, 20)),
        ("SMA_1", lambda c: ind.sma(c, 1), lambda a: talib.SMA(a, 1)),
        ("SMA_2", lambda c: ind.sma(c, 2), lambda a: talib.SMA(a, 2)),
    ],
)
def test_running_sums_are_talib_exact(name, ours, ref) -> None:
    """With numba, SMA uses TA-Lib's running-sum arithmetic: equal bit for bit, on long series."""
    close = make_ohlcv(200_000, 25, 100.0).close
    np.testing.assert_array_equal(ours(close).to_numpy(), ref(close.to_numpy()), err_msg=name)


def test_flat_stretch_stays_flat() -> None:
    """A long flat stretch after a long trending series: CCI and STOCH see a zero range/deviation."""
    df = make_ohlcv(100_000, 26, 1e4, sigma=2e-3, tick=0.01)
    df.iloc[-500:, :4] = 12345.67
    a = arrays(df)
    cci = ind.cci(df.high, df.low, df.close, 20).to_numpy()
    np.testing.assert_array_equal(cci[-450:], 0.0)
    np.testing.assert_allclose(cci, talib.CCI(a["h"], a["l"], a["c"], 20), rtol=1e-9, atol=1e-8)
    fastk = ind.stochf(df.high, df.low, df.close, 14, 1)["k"].to_numpy()
    np.testing.assert_array_equal(fastk[-450:], 0.0)


def test_the_kernels_run_as_plain_python_and_give_the_compiled_results(monkeypatch) -> None:
    """The kernels are ordinary functions: uncompiled, they compute what numba compiles."""
    from types import SimpleNamespace

    from qdbtools.indicators import _kernels, _kernels_window

    data = make_ohlcv(400, 25, 50.0, tick=0.01)
    data.iloc[[0, 41, 42, 200], data.columns.get_loc("close")] = np.nan
    compiled = {case.id: outputs(case.ours(data)) for case in CASES}
    plain = {n: getattr(m, n) for m in (_kernels, _kernels_window) for n in m.__all__}
    assert set(plain) == set(vars(_jit.KERNELS))
    monkeypatch.setattr(_jit, "KERNELS", SimpleNamespace(**plain))
    for case in CASES:
        for got, want in zip(outputs(case.ours(data)), compiled[case.id], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-14, atol=0, equal_nan=True, err_msg=case.id)
