"""True range, ATR and NATR."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _core as k
from . import _jit
from . import _recursions as rec
from ._core import Ctx, FloatArray
from ._inputs import check_int, fmt, series_ctx, to_series

HLC = ("high", "low", "close")


def trange_k(ctx: Ctx) -> FloatArray:
    def build() -> FloatArray:
        high, low, close = ctx.inputs(*HLC)
        if _jit.ENABLED:
            res = np.empty(close.size)
            _jit.kernels().trange_kernel(high, low, close, res)
            return res
        prev = k.shift(close, 1)
        out = high - low
        np.subtract(prev, high, out=prev)
        np.abs(prev, out=prev)
        np.maximum(out, prev, out=out)
        k.shift(close, 1, out=prev)
        np.subtract(low, prev, out=prev)
        np.abs(prev, out=prev)
        np.maximum(out, prev, out=out)
        return out

    return ctx.memo(("trange",), build)


def atr_k(ctx: Ctx, n: int) -> FloatArray:
    return ctx.memo(("atr", n), lambda: rec.wilder(trange_k(ctx), n))


def natr_k(ctx: Ctx, n: int) -> FloatArray:
    if _jit.ENABLED:
        atr = atr_k(ctx, n)
        res = np.empty(atr.size)
        _jit.kernels().ratio_kernel(atr, ctx.inputs(*HLC)[2], 0.0, 100.0, res)
        return res
    out = k.safe_divide(atr_k(ctx, n), ctx.inputs(*HLC)[2], 0.0)
    out *= 100.0
    return out


def trange(high: pd.Series, low: pd.Series, close: pd.Series) -> pd.Series:
    """True range (TA-Lib ``TRANGE``): ``max(high - low, |high - prev close|, |low - prev close|)``.

    Returns
    -------
    pandas.Series
        Named ``TRANGE``; NaN on the first row.
    """
    index, ctx = series_ctx(high=high, low=low, close=close)
    return to_series(trange_k(ctx), index, "TRANGE")


def atr(high: pd.Series, low: pd.Series, close: pd.Series, period: int = 14) -> pd.Series:
    """Average true range with Wilder smoothing (TA-Lib ``ATR``).

    Seeded with the mean of the first ``period`` true ranges (rows
    ``1..period``), so the first value is at row ``period``.

    Returns
    -------
    pandas.Series
        Named ``ATR_<period>``.
    """
    index, ctx = series_ctx(high=high, low=low, close=close)
    n = check_int("period", period, 1)
    return to_series(atr_k(ctx, n), index, "ATR" + fmt(n))


def natr(high: pd.Series, low: pd.Series, close: pd.Series, period: int = 14) -> pd.Series:
    """Normalized ATR in percent of close (TA-Lib ``NATR``); 0 where close is 0.

    Returns
    -------
    pandas.Series
        Named ``NATR_<period>``.
    """
    index, ctx = series_ctx(high=high, low=low, close=close)
    n = check_int("period", period, 1)
    return to_series(natr_k(ctx, n), index, "NATR" + fmt(n))
