"""Momentum oscillators: RSI, MACD, Stochastics, Williams %R, CCI, ROC, MOM."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _core as k
from . import _jit
from . import _recursions as rec
from ._averages import ema_k
from ._core import Ctx, FloatArray
from ._inputs import check_int, fmt, series_ctx, to_frame, to_series

HLC = ("high", "low", "close")
_CHUNK = 16384  # rows per cache-resident block (3 x 128 KiB)

# ----------------------------------------------------------------- kernels (Ctx level)


def _gains_losses(ctx: Ctx, src: str) -> tuple[FloatArray, FloatArray]:
    def build() -> tuple[FloatArray, FloatArray]:
        d = k.diff(ctx[src])
        return np.maximum(d, 0.0), np.maximum(-d, 0.0)

    return ctx.memo(("gains_losses", src), build)


def rsi_k(ctx: Ctx, n: int, src: str = "close") -> FloatArray:
    def build() -> FloatArray:
        if _jit.ENABLED:
            out = np.empty(ctx[src].size)
            _jit.kernels().rsi_kernel(ctx[src], n, out)
            return out
        gains, losses = _gains_losses(ctx, src)
        avg_gain = rec.wilder(gains, n)
        total = avg_gain + rec.wilder(losses, n)
        out = k.safe_divide(avg_gain, total, 0.0)
        out *= 100.0
        return out

    return ctx.memo(("rsi", src, n), build)


def macd_k(
    ctx: Ctx, fast: int, slow: int, signal: int, src: str = "close"
) -> tuple[FloatArray, FloatArray, FloatArray]:
    # TA-Lib seeds the fast EMA at the slow EMA's first row (with the SMA of
    # the `fast` values ending there), not at row fast-1.
    x = ctx[src]
    if _jit.ENABLED:
        line, sig, hist = np.empty(x.size), np.empty(x.size), np.empty(x.size)
        _jit.kernels().macd_kernel(x, ema_k(ctx, slow, src), fast, slow, signal, line, sig, hist)
        return line, sig, hist
    fast_ema = ctx.memo(
        ("ema_from", src, fast, slow), lambda: rec.ema(rec.mask_run_heads(x, slow - fast), fast)
    )
    line = fast_ema - ema_k(ctx, slow, src)
    sig = rec.ema(line, signal)
    line[np.isnan(sig)] = np.nan
    return line, sig, line - sig


def _extremes(ctx: Ctx, cols: tuple[str, ...], n: int) -> tuple[FloatArray, FloatArray]:
    def build() -> tuple[FloatArray, FloatArray]:
        high, low = ctx.inputs(*cols)[:2]
        return k.rolling_max(high, n), k.rolling_min(low, n)

    return ctx.memo(("extremes", cols, n), build)


def _fastk(close: FloatArray, highest: FloatArray, lowest: FloatArray) -> FloatArray:
    if _jit.ENABLED:
        res = np.empty(close.size)
        _jit.kernels().fastk_kernel(close, highest, lowest, res)
        return res
    span = highest - lowest
    flat = k.near_zero(span, highest, lowest)
    span /= 100.0
    out = np.subtract(close, lowest)
    k.safe_divide(out, span, 0.0, out=out)
    out[flat] = 0.0
    return out


def stoch_fastk_k(ctx: Ctx, n: int) -> FloatArray:
    def build() -> FloatArray:
        highest, lowest = _extremes(ctx, HLC, n)
        return _fastk(ctx.inputs(*HLC)[2], highest, lowest)

    return ctx.memo(("fastk", n), build)


def stoch_k(ctx: Ctx, fastk: int, slowk: int, slowd: int) -> tuple[FloatArray, FloatArray]:
    slow_k = k.rolling_mean(stoch_fastk_k(ctx, fastk), slowk)
    slow_d = k.rolling_mean(slow_k, slowd)
    slow_k[np.isnan(slow_d)] = np.nan
    return slow_k, slow_d


def _stochf_from(fast_k: FloatArray, fastd: int) -> tuple[FloatArray, FloatArray]:
    fast_d = k.rolling_mean(fast_k, fastd)
    fast_k = fast_k.copy()
    fast_k[np.isnan(fast_d)] = np.nan
    return fast_k, fast_d


def stochf_k(ctx: Ctx, fastk: int, fastd: int) -> tuple[FloatArray, FloatArray]:
    return _stochf_from(stoch_fastk_k(ctx, fastk), fastd)


def stochrsi_k(ctx: Ctx, n: int, fastk: int, fastd: int, src: str = "close") -> tuple[FloatArray, FloatArray]:
    r = rsi_k(ctx, n, src)
    fast_k = _fastk(r, k.rolling_max(r, fastk), k.rolling_min(r, fastk))
    return _stochf_from(fast_k, fastd)


def willr_k(ctx: Ctx, n: int) -> FloatArray:
    highest, lowest = _extremes(ctx, HLC, n)
    if _jit.ENABLED:
        res = np.empty(highest.size)
        _jit.kernels().willr_kernel(ctx.inputs(*HLC)[2], highest, lowest, res)
        return res
    span = highest - lowest
    flat = k.near_zero(span, highest, lowest)
    span /= -100.0
    out = np.subtract(highest, ctx.inputs(*HLC)[2])
    k.safe_divide(out, span, 0.0, out=out)
    out[flat] = 0.0
    return out


def typical_price_k(ctx: Ctx, cols: tuple[str, ...] = HLC) -> FloatArray:
    def build() -> FloatArray:
        high, low, close = ctx.inputs(*cols)[:3]
        return (high + low + close) / 3.0

    return ctx.memo(("typical", cols), build)


def cci_k(ctx: Ctx, n: int) -> FloatArray:
    tp = typical_price_k(ctx)
    mean = k.pairwise_mean(tp, n)
    if _jit.ENABLED:
        res = np.empty(tp.size)
        _jit.kernels().cci_kernel(tp, mean, n, res)
        return res
    size = tp.size
    dev = np.zeros(size)
    tmp = np.empty(min(size, _CHUNK))
    # |tp[t - lag] - mean[t]| summed over the window, lag by lag; done in
    # cache-sized chunks of rows so the n passes run from cache, not memory.
    for c0 in range(0, size, _CHUNK):
        c1 = min(c0 + _CHUNK, size)
        for lag in range(min(n, c1)):
            lo = max(c0, lag)
            t = tmp[: c1 - lo]
            np.subtract(tp[lo - lag : c1 - lag], mean[lo:c1], out=t)
            np.abs(t, out=t)
            dev[lo:c1] += t
    dev[np.isnan(mean)] = np.nan
    dev *= 0.015 / n
    num = tp - mean
    # TA-Lib: a deviation from the mean within ~90 ulp of the price is 0.
    flat = k.near_zero(num, tp, mean)
    out = k.safe_divide(num, dev, 0.0, out=num)
    out[flat] = 0.0
    return out


def roc_k(ctx: Ctx, n: int, src: str = "close") -> FloatArray:
    x = ctx[src]
    if _jit.ENABLED:
        res = np.empty(x.size)
        _jit.kernels().roc_kernel(x, n, res)
        return res
    prev = k.shift(x, n)
    out = k.safe_divide(x, prev, 1.0)
    out -= 1.0
    out *= 100.0
    return out


def mom_k(ctx: Ctx, n: int, src: str = "close") -> FloatArray:
    return k.diff(ctx[src], n)


# ----------------------------------------------------------------- public functions


def rsi(close: pd.Series, period: int = 14) -> pd.Series:
    """Relative Strength Index with Wilder smoothing (TA-Lib ``RSI``).

    Average gain and loss are seeded with the mean of the first ``period``
    changes, then ``avg = (avg * (period - 1) + change) / period``;
    ``RSI = 100 * gain / (gain + loss)``, 0 when both are 0 (as TA-Lib).

    Parameters
    ----------
    close : pandas.Series
    period : int, default 14
        ``>= 2``.

    Returns
    -------
    pandas.Series
        Named ``RSI_<period>``; first value at row ``period``.
    """
    index, ctx = series_ctx(close=close)
    n = check_int("period", period, 2)
    return to_series(rsi_k(ctx, n), index, "RSI" + fmt(n))


def macd(close: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """MACD line, signal and histogram (TA-Lib ``MACD``).

    ``macd = EMA(fast) - EMA(slow)``, ``signal = EMA(signal) of macd``,
    ``hist = macd - signal``.  As in TA-Lib the fast EMA is seeded at the slow
    EMA's first row, and all three columns start at row
    ``slow - 1 + signal - 1``.

    Parameters
    ----------
    close : pandas.Series
    fast : int, default 12
        ``>= 2`` and ``< slow``.
    slow : int, default 26
    signal : int, default 9
        ``>= 1``.

    Returns
    -------
    pandas.DataFrame
        Columns ``macd``, ``signal``, ``hist``.
    """
    from qdbtools.exceptions import InvalidInputError

    index, ctx = series_ctx(close=close)
    f = check_int("fast", fast, 2)
    s = check_int("slow", slow, 2)
    g = check_int("signal", signal, 1)
    if f >= s:
        raise InvalidInputError(f"fast ({f}) must be smaller than slow ({s})")
    line, sig, hist = macd_k(ctx, f, s, g)
    return to_frame({"macd": line, "signal": sig, "hist": hist}, index)


def stoch(
    high: pd.Series,
    low: pd.Series,
    close: pd.Series,
    fastk_period: int = 5,
    slowk_period: int = 3,
    slowd_period: int = 3,
) -> pd.DataFrame:
    """Slow stochastic %K/%D (TA-Lib ``STOCH`` with SMA smoothing).

    ``fastk = 100 * (close - lowest low) / (highest high - lowest low)`` over
    ``fastk_period`` rows (0 for a zero range), ``k = SMA(fastk, slowk)``,
    ``d = SMA(k, slowd)``.

    Returns
    -------
    pandas.DataFrame
        Columns ``k``, ``d``, both starting at row
        ``fastk_period + slowk_period + slowd_period - 3``.
    """
    index, ctx = series_ctx(high=high, low=low, close=close)
    fk = check_int("fastk_period", fastk_period, 1)
    sk = check_int("slowk_period", slowk_period, 1)
    sd = check_int("slowd_period", slowd_period, 1)
    slow_k, slow_d = stoch_k(ctx, fk, sk, sd)
    return to_frame({"k": slow_k, "d": slow_d}, index)


def stochf(
    high: pd.Series,
    low: pd.Series,
    close: pd.Series,
    fastk_period: int = 5,
    fastd_period: int = 3,
) -> pd.DataFrame:
    """Fast stochastic (TA-Lib ``STOCHF``): ``k = fastk``, ``d = SMA(k, fastd_period)``.

    Returns
    -------
    pandas.DataFrame
        Columns ``k``, ``d``.
    """
    index, ctx = series_ctx(high=high, low=low, close=close)
    fk = check_int("fastk_period", fastk_period, 1)
    fd = check_int("fastd_period", fastd_period, 1)
    fast_k, fast_d = stochf_k(ctx, fk, fd)
    return to_frame({"k": fast_k, "d": fast_d}, index)


def stochrsi(
    close: pd.Series, period: int = 14, fastk_period: int = 5, fastd_period: int = 3
) -> pd.DataFrame:
    """Stochastic RSI (TA-Lib ``STOCHRSI``): ``STOCHF`` applied to ``RSI(period)``.

    Returns
    -------
    pandas.DataFrame
        Columns ``k``, ``d``, starting at row
        ``period + fastk_period + fastd_period - 2``.
    """
    index, ctx = series_ctx(close=close)
    n = check_int("period", period, 2)
    fk = check_int("fastk_period", fastk_period, 1)
    fd = check_int("fastd_period", fastd_period, 1)
    fast_k, fast_d = stochrsi_k(ctx, n, fk, fd)
    return to_frame({"k": fast_k, "d": fast_d}, index)


def willr(high: pd.Series, low: pd.Series, close: pd.Series, period: int = 14) -> pd.Series:
    """Williams %R (TA-Lib ``WILLR``): ``-100 * (HH - close) / (HH - LL)``, 0 for a zero range.

    Returns
    -------
    pandas.Series
        Named ``WILLR_<period>``, in ``[-100, 0]``.
    """
    index, ctx = series_ctx(high=high, low=low, close=close)
    n = check_int("period", period, 2)
    return to_series(willr_k(ctx, n), index, "WILLR" + fmt(n))


def cci(high: pd.Series, low: pd.Series, close: pd.Series, period: int = 14) -> pd.Series:
    """Commodity Channel Index (TA-Lib ``CCI``).

    ``tp = (high + low + close) / 3``;
    ``CCI = (tp - SMA(tp)) / (0.015 * mean(|tp - SMA(tp)|))`` where the mean
    deviation is taken over the window around the *current* SMA; 0 when the
    numerator or the deviation is 0.

    Returns
    -------
    pandas.Series
        Named ``CCI_<period>``.
    """
    index, ctx = series_ctx(high=high, low=low, close=close)
    n = check_int("period", period, 2)
    return to_series(cci_k(ctx, n), index, "CCI" + fmt(n))


def roc(close: pd.Series, period: int = 10) -> pd.Series:
    """Rate of change in percent (TA-Lib ``ROC``): ``100 * (close / close[-period] - 1)``.

    0 where the earlier value is 0, as TA-Lib.

    Returns
    -------
    pandas.Series
        Named ``ROC_<period>``.
    """
    index, ctx = series_ctx(close=close)
    n = check_int("period", period, 1)
    return to_series(roc_k(ctx, n), index, "ROC" + fmt(n))


def mom(close: pd.Series, period: int = 10) -> pd.Series:
    """Momentum (TA-Lib ``MOM``): ``close - close[-period]``.

    Returns
    -------
    pandas.Series
        Named ``MOM_<period>``.
    """
    index, ctx = series_ctx(close=close)
    n = check_int("period", period, 1)
    return to_series(mom_k(ctx, n), index, "MOM" + fmt(n))
