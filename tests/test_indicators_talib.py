"""qdbtools.indicators against TA-Lib (pure, no database)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import qdbtools.indicators as ind

talib = pytest.importorskip("talib")


def make_ohlcv(
    n: int, seed: int, scale: float, sigma: float = 1e-3, tick: float | None = None
) -> pd.DataFrame:
    """Geometric random walk minute bars, high >= max(open, close), low <= min, volume > 0."""
    rng = np.random.default_rng(seed)
    close = scale * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))
    open_ = np.r_[close[0], close[:-1]] * np.exp(rng.normal(0.0, sigma / 4, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, sigma / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, sigma / 2, n)))
    if tick is not None:  # realistic ties: unchanged closes, equal highs
        open_, high, low, close = (np.round(a / tick) * tick for a in (open_, high, low, close))
        high = np.maximum.reduce([high, open_, close])
        low = np.minimum.reduce([low, open_, close])
    volume = np.round(rng.lognormal(7.0, 1.0, n) * max(1.0, 1.0 / scale)) + 1.0
    index = pd.date_range("2024-03-01 13:30", periods=n, freq="min", tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


DATASETS = {
    "realistic": lambda: make_ohlcv(5000, 0, 100.0, tick=0.01),
    "walk_1e-4": lambda: make_ohlcv(3000, 11, 1e-4, sigma=3e-3),
    "walk_1": lambda: make_ohlcv(3000, 12, 1.0, sigma=1e-2),
    "walk_1e5": lambda: make_ohlcv(3000, 13, 1e5, sigma=5e-4),
}


@pytest.fixture(scope="module", params=sorted(DATASETS))
def data(request: pytest.FixtureRequest) -> pd.DataFrame:
    return DATASETS[request.param]()


@dataclass(frozen=True)
class Case:
    id: str
    ours: Callable[[pd.DataFrame], object]
    ref: Callable[[dict[str, np.ndarray]], object]
    atol: float = 0.0  # absolute tolerance, for values that sit near 0
    price_atol: bool = False  # atol is relative to the price scale


def _cases() -> list[Case]:
    out: list[Case] = []
    for n in (30, 2, 9, 50):
        out += [
            Case(f"SMA_{n}", lambda d, n=n: ind.sma(d.close, n), lambda a, n=n: talib.SMA(a["c"], n)),
            Case(f"EMA_{n}", lambda d, n=n: ind.ema(d.close, n), lambda a, n=n: talib.EMA(a["c"], n)),
            Case(f"WMA_{n}", lambda d, n=n: ind.wma(d.close, n), lambda a, n=n: talib.WMA(a["c"], n)),
            Case(f"DEMA_{n}", lambda d, n=n: ind.dema(d.close, n), lambda a, n=n: talib.DEMA(a["c"], n)),
            Case(f"TEMA_{n}", lambda d, n=n: ind.tema(d.close, n), lambda a, n=n: talib.TEMA(a["c"], n)),
        ]
    out.append(Case("EMA_1", lambda d: ind.ema(d.close, 1), lambda a: talib.EMA(a["c"], 1)))
    for n in (14, 2, 7, 50):
        out += [
            Case(f"RSI_{n}", lambda d, n=n: ind.rsi(d.close, n), lambda a, n=n: talib.RSI(a["c"], n), 1e-9),
            Case(
                f"ATR_{n}",
                lambda d, n=n: ind.atr(d.high, d.low, d.close, n),
                lambda a, n=n: talib.ATR(a["h"], a["l"], a["c"], n),
            ),
            Case(
                f"NATR_{n}",
                lambda d, n=n: ind.natr(d.high, d.low, d.close, n),
                lambda a, n=n: talib.NATR(a["h"], a["l"], a["c"], n),
            ),
            Case(
                f"WILLR_{n}",
                lambda d, n=n: ind.willr(d.high, d.low, d.close, n),
                lambda a, n=n: talib.WILLR(a["h"], a["l"], a["c"], n),
                1e-9,
            ),
            Case(
                f"CCI_{n}",
                lambda d, n=n: ind.cci(d.high, d.low, d.close, n),
                lambda a, n=n: talib.CCI(a["h"], a["l"], a["c"], n),
                1e-8,
            ),
            Case(
                f"MFI_{n}",
                lambda d, n=n: ind.mfi(d.high, d.low, d.close, d.volume, n),
                lambda a, n=n: talib.MFI(a["h"], a["l"], a["c"], a["v"], n),
                1e-9,
            ),
            Case(
                f"ADX_{n}",
                lambda d, n=n: ind.adx(d.high, d.low, d.close, n),
                lambda a, n=n: talib.ADX(a["h"], a["l"], a["c"], n),
                1e-9,
            ),
            Case(
                f"DX_{n}",
                lambda d, n=n: ind.dx(d.high, d.low, d.close, n),
                lambda a, n=n: talib.DX(a["h"], a["l"], a["c"], n),
                1e-9,
            ),
            Case(
                f"PLUS_DI_{n}",
                lambda d, n=n: ind.plus_di(d.high, d.low, d.close, n),
                lambda a, n=n: talib.PLUS_DI(a["h"], a["l"], a["c"], n),
                1e-9,
            ),
            Case(
                f"MINUS_DI_{n}",
                lambda d, n=n: ind.minus_di(d.high, d.low, d.close, n),
                lambda a, n=n: talib.MINUS_DI(a["h"], a["l"], a["c"], n),
                1e-9,
            ),
        ]
    out.append(
        Case(
            "ATR_1",
            lambda d: ind.atr(d.high, d.low, d.close, 1),
            lambda a: talib.ATR(a["h"], a["l"], a["c"], 1),
        )
    )
    for n in (10, 1, 25):
        out += [
            Case(f"ROC_{n}", lambda d, n=n: ind.roc(d.close, n), lambda a, n=n: talib.ROC(a["c"], n), 1e-9),
            Case(
                f"MOM_{n}",
                lambda d, n=n: ind.mom(d.close, n),
                lambda a, n=n: talib.MOM(a["c"], n),
                1e-12,
                True,
            ),
        ]
    for f, s, g in ((12, 26, 9), (5, 35, 5), (3, 10, 16), (2, 3, 1)):
        out.append(
            Case(
                f"MACD_{f}_{s}_{g}",
                lambda d, f=f, s=s, g=g: ind.macd(d.close, f, s, g),
                lambda a, f=f, s=s, g=g: talib.MACD(a["c"], f, s, g),
                1e-12,
                True,
            )
        )
    for n, up, dn in ((5, 2.0, 2.0), (20, 2.0, 2.0), (20, 2.5, 1.5), (2, 1.0, 1.0), (50, 0.0, 3.0)):
        out.append(
            Case(
                f"BBANDS_{n}_{up}_{dn}",
                lambda d, n=n, up=up, dn=dn: ind.bbands(d.close, n, up, dn),
                lambda a, n=n, up=up, dn=dn: talib.BBANDS(a["c"], n, up, dn, 0),
            )
        )
    for fk, sk, sd in ((5, 3, 3), (14, 3, 3), (1, 1, 1), (21, 7, 4)):
        out.append(
            Case(
                f"STOCH_{fk}_{sk}_{sd}",
                lambda d, fk=fk, sk=sk, sd=sd: ind.stoch(d.high, d.low, d.close, fk, sk, sd),
                lambda a, fk=fk, sk=sk, sd=sd: talib.STOCH(a["h"], a["l"], a["c"], fk, sk, 0, sd, 0),
                1e-9,
            )
        )
    for fk, fd in ((5, 3), (14, 1), (3, 8)):
        out.append(
            Case(
                f"STOCHF_{fk}_{fd}",
                lambda d, fk=fk, fd=fd: ind.stochf(d.high, d.low, d.close, fk, fd),
                lambda a, fk=fk, fd=fd: talib.STOCHF(a["h"], a["l"], a["c"], fk, fd, 0),
                1e-9,
            )
        )
    for n, fk, fd in ((14, 5, 3), (14, 14, 3), (7, 3, 1), (21, 9, 5)):
        out.append(
            Case(
                f"STOCHRSI_{n}_{fk}_{fd}",
                lambda d, n=n, fk=fk, fd=fd: ind.stochrsi(d.close, n, fk, fd),
                lambda a, n=n, fk=fk, fd=fd: talib.STOCHRSI(a["c"], n, fk, fd, 0),
                1e-8,
            )
        )
    out += [
        Case(
            "TRANGE",
            lambda d: ind.trange(d.high, d.low, d.close),
            lambda a: talib.TRANGE(a["h"], a["l"], a["c"]),
        ),
        Case("OBV", lambda d: ind.obv(d.close, d.volume), lambda a: talib.OBV(a["c"], a["v"])),
    ]
    return out


CASES = _cases()


def arrays(df: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        k: df[c].to_numpy(np.float64)
        for k, c in (("o", "open"), ("h", "high"), ("l", "low"), ("c", "close"), ("v", "volume"))
    }


def outputs(result: object) -> list[np.ndarray]:
    if isinstance(result, pd.DataFrame):
        return [result[c].to_numpy() for c in result.columns]
    if isinstance(result, pd.Series):
        return [result.to_numpy()]
    if isinstance(result, tuple):
        return [np.asarray(r) for r in result]
    return [np.asarray(result)]


def assert_matches(ours: np.ndarray, ref: np.ndarray, atol: float, what: str) -> None:
    assert ours.dtype == np.float64, what
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg=f"{what}: NaN positions")
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=atol, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matches_talib(case: Case, data: pd.DataFrame) -> None:
    ours = case.ours(data)
    ref = case.ref(arrays(data))
    got, want = outputs(ours), outputs(ref)
    assert len(got) == len(want)
    if isinstance(ours, pd.Series | pd.DataFrame):
        assert ours.index.equals(data.index)
    atol = case.atol * float(data.close.iloc[0]) if case.price_atol else case.atol
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert_matches(g, w, atol, f"{case.id} output {i}")


@pytest.mark.parametrize("case", CASES[::7], ids=[c.id for c in CASES[::7]])
def test_integer_input_gives_float(case: Case) -> None:
    df = make_ohlcv(400, 5, 1000.0).round().astype("int64")
    ours, ref = case.ours(df), case.ref(arrays(df))
    for g, w in zip(outputs(ours), outputs(ref), strict=True):
        assert_matches(g, w, 1e-8, case.id)


def test_compute_matches_functions_and_talib() -> None:
    df = make_ohlcv(2000, 3, 50.0, tick=0.01)
    a = arrays(df)
    wide = ind.compute(df, ["RSI_14", "MACD_12_26_9", "BBANDS_20_2", "ADX_14", "STOCH_14_3_3"])
    assert_matches(wide["RSI_14"].to_numpy(), talib.RSI(a["c"], 14), 1e-9, "RSI_14")
    _macd_line, _signal, hist = talib.MACD(a["c"], 12, 26, 9)
    assert_matches(wide["MACD_12_26_9.hist"].to_numpy(), hist, 1e-10, "MACD hist")
    _upper, _middle, lower = talib.BBANDS(a["c"], 20, 2, 2, 0)
    assert_matches(wide["BBANDS_20_2.lower"].to_numpy(), lower, 0, "BBANDS lower")
    assert_matches(wide["ADX_14"].to_numpy(), talib.ADX(a["h"], a["l"], a["c"], 14), 1e-9, "ADX")
    _slowk, slowd = talib.STOCH(a["h"], a["l"], a["c"], 14, 3, 0, 3, 0)
    assert_matches(wide["STOCH_14_3_3.d"].to_numpy(), slowd, 1e-9, "STOCH d")


# ------------------------------------------------------------- indicators TA-Lib lacks


def test_vwap_matches_pandas_reference() -> None:
    df = make_ohlcv(5000, 7, 100.0)  # 13:30 start: spans five UTC days
    tp = (df.high + df.low + df.close) / 3
    day = df.index.floor("D")
    ref = (tp * df.volume).groupby(day).cumsum() / df.volume.groupby(day).cumsum()
    got = ind.vwap(df.high, df.low, df.close, df.volume)
    assert got.name == "VWAP"
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-12)
    assert got.iloc[0] == pytest.approx(tp.iloc[0])
    first_of_day = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    assert len(first_of_day) == 5
    np.testing.assert_allclose(got.iloc[first_of_day], tp.iloc[first_of_day], rtol=1e-15)


def test_vwap_other_anchors() -> None:
    df = make_ohlcv(3000, 8, 100.0)
    tp = (df.high + df.low + df.close) / 3
    for anchor, tz in (("h", "UTC"), ("D", "America/New_York"), ("W", "UTC")):
        keys = df.index.tz_convert(tz).tz_localize(None).to_period(anchor)
        ref = (tp * df.volume).groupby(keys).cumsum() / df.volume.groupby(keys).cumsum()
        got = ind.vwap(df.high, df.low, df.close, df.volume, anchor=anchor, tz=tz)
        np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-12, err_msg=anchor)
    labels = np.repeat(np.arange(30), 100)
    ref = (tp * df.volume).groupby(labels).cumsum() / df.volume.groupby(labels).cumsum()
    got = ind.vwap(df.high, df.low, df.close, df.volume, anchor=labels)
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("period", [2, 20, 77])
def test_zscore_matches_pandas_reference(period: int) -> None:
    x = make_ohlcv(3000, 9, 1e5).close
    # two-pass window statistics; pandas' online rolling std is only good to ~1e-6 here
    windows = np.lib.stride_tricks.sliding_window_view(x.to_numpy(), period)
    ref = np.full(len(x), np.nan)
    ref[period - 1 :] = (x.to_numpy()[period - 1 :] - windows.mean(1)) / windows.std(1)
    got = ind.zscore(x, period)
    assert got.name == f"ZSCORE_{period}"
    np.testing.assert_array_equal(got.isna().to_numpy(), np.isnan(ref))
    np.testing.assert_allclose(got.to_numpy(), ref, rtol=1e-8, atol=1e-8)
    pandas_ref = (x - x.rolling(period).mean()) / x.rolling(period).std(ddof=0)
    np.testing.assert_allclose(got.to_numpy(), pandas_ref.to_numpy(), atol=1e-3)


def test_zscore_constant_window_is_nan() -> None:
    x = pd.Series([1.0, 2.0, 3.0, 3.0, 3.0, 4.0])
    got = ind.zscore(x, 3)
    assert np.isnan(got.iloc[4])
    assert got.iloc[5] == pytest.approx((4 - 10 / 3) / np.std([3.0, 3.0, 4.0]))


@pytest.mark.parametrize("periods", [1, 5])
def test_returns_match_pandas_reference(periods: int) -> None:
    x = make_ohlcv(1000, 10, 1e-4).close
    simple = ind.simple_returns(x, periods)
    log = ind.log_returns(x, periods)
    np.testing.assert_allclose(simple.to_numpy(), x.pct_change(periods).to_numpy(), rtol=1e-12)
    ref_log = np.log(x / x.shift(periods))
    np.testing.assert_allclose(log.to_numpy(), ref_log.to_numpy(), rtol=1e-12)
    assert simple.name == f"RET_{periods}" and log.name == f"LOGRET_{periods}"
    assert simple.iloc[:periods].isna().all() and log.iloc[:periods].isna().all()


def test_returns_of_zero_price_are_nan() -> None:
    x = pd.Series([1.0, 0.0, 2.0, 4.0])
    assert np.isnan(ind.simple_returns(x).iloc[2])
    assert np.isnan(ind.log_returns(x).iloc[1])  # log(0)
    assert ind.simple_returns(x).iloc[3] == 1.0


def test_numpy_only_path_also_matches_talib():
    """The TA-Lib comparisons again, in a process where numba is switched off."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).resolve()
    env = {**os.environ, "QDBTOOLS_NO_NUMBA": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(here),
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "not numpy_only_path",
            "-x",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        cwd=here.parent.parent,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_the_indicator_table_names_the_talib_function_each_equals() -> None:
    table = ind.indicator_table()
    named = table["talib"].dropna()
    assert all(hasattr(talib, name) for name in named), list(named)
    tested = {re.sub(r"(_[\d.]+)+$", "", case.id) for case in CASES}  # the cases above
    assert set(named) == tested
    assert set(table.index[table["talib"].isna()]) == {"LOGRET", "RET", "VWAP", "ZSCORE"}
