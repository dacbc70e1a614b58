"""Directional movement: +DI, -DI, DX and ADX (Wilder)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _core as k
from . import _jit
from . import _recursions as rec
from ._core import Ctx, FloatArray
from ._inputs import check_int, fmt, series_ctx, to_series
from ._volatility import HLC, trange_k


def _directional_moves(ctx: Ctx) -> tuple[FloatArray, FloatArray]:
    def build() -> tuple[FloatArray, FloatArray]:
        high, low, _ = ctx.inputs(*HLC)
        up = k.diff(high)
        down = -k.diff(low)
        plus = np.where((up > 0.0) & (up > down), up, 0.0)
        minus = np.where((down > 0.0) & (down > up), down, 0.0)
        undefined = np.isnan(up) | np.isnan(down)
        plus[undefined] = np.nan
        minus[undefined] = np.nan
        return plus, minus

    return ctx.memo(("dm",), build)


def _wilder_sum(x: FloatArray, n: int) -> FloatArray:
    # TA-Lib sums the first n-1 values, then S = S - S/n + x; as an average:
    # seed sum/n at run position n-2, first output at position n-1.
    return rec.smooth(x, 1.0 / n, n - 1, seed_div=n, emit_from=n - 1)


def _dmi_jit(ctx: Ctx, n: int) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(+DI, -DI, DX, ADX)`` from one compiled pass (numba only)."""

    def build() -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        high, low, close = ctx.inputs(*HLC)
        outs = tuple(np.empty(high.size) for _ in range(4))
        _jit.kernels().dmi_kernel(high, low, close, n, *outs)
        return outs  # type: ignore[return-value]

    return ctx.memo(("dmi", n), build)


def di_k(ctx: Ctx, n: int) -> tuple[FloatArray, FloatArray]:
    """``(+DI, -DI)`` for period ``n >= 2``."""
    if _jit.ENABLED:
        return _dmi_jit(ctx, n)[:2]

    def build() -> tuple[FloatArray, FloatArray]:
        plus, minus = _directional_moves(ctx)
        tr = _wilder_sum(trange_k(ctx), n)
        plus_di = _wilder_sum(plus, n)
        minus_di = _wilder_sum(minus, n)
        k.safe_divide(plus_di, tr, 0.0, out=plus_di)
        k.safe_divide(minus_di, tr, 0.0, out=minus_di)
        plus_di *= 100.0
        minus_di *= 100.0
        return plus_di, minus_di

    return ctx.memo(("di", n), build)


def dx_k(ctx: Ctx, n: int) -> FloatArray:
    if _jit.ENABLED:
        return _dmi_jit(ctx, n)[2]

    def build() -> FloatArray:
        plus_di, minus_di = di_k(ctx, n)
        out = np.subtract(minus_di, plus_di)
        np.abs(out, out=out)
        k.safe_divide(out, minus_di + plus_di, 0.0, out=out)
        out *= 100.0
        return out

    return ctx.memo(("dx", n), build)


def adx_k(ctx: Ctx, n: int) -> FloatArray:
    if _jit.ENABLED:
        return _dmi_jit(ctx, n)[3]
    return ctx.memo(("adx", n), lambda: rec.wilder(dx_k(ctx, n), n))


def plus_di(high: pd.Series, low: pd.Series, close: pd.Series, period: int = 14) -> pd.Series:
    """Plus directional indicator (TA-Lib ``PLUS_DI``), first value at row ``period``.

    ``100 * Wilder-sum(+DM) / Wilder-sum(TR)``.  ``period >= 2`` (TA-Lib's
    period 1 returns an unscaled ratio; it is not offered).

    Returns
    -------
    pandas.Series
        Named ``PLUS_DI_<period>``.
    """
    index, ctx = series_ctx(high=high, low=low, close=close)
    n = check_int("period", period, 2)
    return to_series(di_k(ctx, n)[0], index, "PLUS_DI" + fmt(n))


def minus_di(high: pd.Series, low: pd.Series, close: pd.Series, period: int = 14) -> pd.Series:
    """Minus directional indicator (TA-Lib ``MINUS_DI``), first value at row ``period``.

    Returns
    -------
    pandas.Series
        Named ``MINUS_DI_<period>``.
    """
    index, ctx = series_ctx(high=high, low=low, close=close)
    n = check_int("period", period, 2)
    return to_series(di_k(ctx, n)[1], index, "MINUS_DI" + fmt(n))


def dx(high: pd.Series, low: pd.Series, close: pd.Series, period: int = 14) -> pd.Series:
    """Directional movement index (TA-Lib ``DX``): ``100 * |+DI - -DI| / (+DI + -DI)``.

    Returns
    -------
    pandas.Series
        Named ``DX_<period>``; first value at row ``period``.
    """
    index, ctx = series_ctx(high=high, low=low, close=close)
    n = check_int("period", period, 2)
    return to_series(dx_k(ctx, n), index, "DX" + fmt(n))


def adx(high: pd.Series, low: pd.Series, close: pd.Series, period: int = 14) -> pd.Series:
    """Average directional index (TA-Lib ``ADX``): Wilder average of ``DX``.

    Seeded with the mean of the first ``period`` DX values; first value at
    row ``2 * period - 1``.  Use :func:`plus_di` / :func:`minus_di` for the
    directional lines.

    Returns
    -------
    pandas.Series
        Named ``ADX_<period>``.
    """
    index, ctx = series_ctx(high=high, low=low, close=close)
    n = check_int("period", period, 2)
    return to_series(adx_k(ctx, n), index, "ADX" + fmt(n))
