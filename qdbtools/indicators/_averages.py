"""Moving averages (SMA, EMA, WMA, DEMA, TEMA) and Bollinger Bands."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _core as k
from . import _recursions as rec
from ._core import Ctx, FloatArray
from ._inputs import check_int, check_number, fmt, series_ctx, to_frame, to_series

# ----------------------------------------------------------------- kernels (Ctx level)


def sma_k(ctx: Ctx, n: int, src: str = "close") -> FloatArray:
    return ctx.memo(("sma", src, n), lambda: k.rolling_mean(ctx[src], n))


def ema_k(ctx: Ctx, n: int, src: str = "close") -> FloatArray:
    return ctx.memo(("ema", src, n), lambda: rec.ema(ctx[src], n))


def _ema2(ctx: Ctx, n: int, src: str) -> FloatArray:
    return ctx.memo(("ema2", src, n), lambda: rec.ema(ema_k(ctx, n, src), n))


def wma_k(ctx: Ctx, n: int, src: str = "close") -> FloatArray:
    return ctx.memo(("wma", src, n), lambda: k.rolling_wma(ctx[src], n))


def dema_k(ctx: Ctx, n: int, src: str = "close") -> FloatArray:
    e1 = ema_k(ctx, n, src)
    e2 = _ema2(ctx, n, src)
    return 2.0 * e1 - e2


def tema_k(ctx: Ctx, n: int, src: str = "close") -> FloatArray:
    e1 = ema_k(ctx, n, src)
    e2 = _ema2(ctx, n, src)
    e3 = rec.ema(e2, n)
    out = 3.0 * e1
    out -= 3.0 * e2
    out += e3
    return out


def mean_std_k(ctx: Ctx, n: int, src: str = "close") -> tuple[FloatArray, FloatArray]:
    return ctx.memo(("meanstd", src, n), lambda: k.rolling_mean_std(ctx[src], n))


def bbands_k(
    ctx: Ctx, n: int, up: float, dn: float, src: str = "close"
) -> tuple[FloatArray, FloatArray, FloatArray]:
    mid, std = mean_std_k(ctx, n, src)
    upper = up * std
    upper += mid
    lower = dn * std
    np.subtract(mid, lower, out=lower)
    return upper, mid, lower


# ----------------------------------------------------------------- public functions


def sma(close: pd.Series, period: int = 30) -> pd.Series:
    """Simple moving average (TA-Lib ``SMA``).

    Parameters
    ----------
    close : pandas.Series
        Input values (any numeric dtype).
    period : int, default 30
        Window length, ``>= 1``.

    Returns
    -------
    pandas.Series
        float64, same index, named ``SMA_<period>``; NaN for the first
        ``period - 1`` rows.

    Examples
    --------
    >>> sma(pd.Series([1, 2, 3, 4]), period=2).tolist()
    [nan, 1.5, 2.5, 3.5]
    """
    index, ctx = series_ctx(close=close)
    n = check_int("period", period, 1)
    return to_series(sma_k(ctx, n), index, "SMA" + fmt(n))


def ema(close: pd.Series, period: int = 30) -> pd.Series:
    """Exponential moving average (TA-Lib ``EMA``).

    ``k = 2 / (period + 1)``; seeded with the SMA of the first ``period``
    values, so the first value appears at row ``period - 1``.

    Parameters
    ----------
    close : pandas.Series
    period : int, default 30
        ``>= 1``.

    Returns
    -------
    pandas.Series
        Named ``EMA_<period>``.
    """
    index, ctx = series_ctx(close=close)
    n = check_int("period", period, 1)
    return to_series(ema_k(ctx, n), index, "EMA" + fmt(n))


def wma(close: pd.Series, period: int = 30) -> pd.Series:
    """Linearly weighted moving average, weights ``1..period`` (TA-Lib ``WMA``).

    Returns
    -------
    pandas.Series
        Named ``WMA_<period>``; first value at row ``period - 1``.
    """
    index, ctx = series_ctx(close=close)
    n = check_int("period", period, 1)
    return to_series(wma_k(ctx, n), index, "WMA" + fmt(n))


def dema(close: pd.Series, period: int = 30) -> pd.Series:
    """Double EMA ``2*EMA - EMA(EMA)`` (TA-Lib ``DEMA``), first value at ``2*(period-1)``.

    Returns
    -------
    pandas.Series
        Named ``DEMA_<period>``.
    """
    index, ctx = series_ctx(close=close)
    n = check_int("period", period, 1)
    return to_series(dema_k(ctx, n), index, "DEMA" + fmt(n))


def tema(close: pd.Series, period: int = 30) -> pd.Series:
    """Triple EMA ``3*e1 - 3*e2 + e3`` (TA-Lib ``TEMA``), first value at ``3*(period-1)``.

    Returns
    -------
    pandas.Series
        Named ``TEMA_<period>``.
    """
    index, ctx = series_ctx(close=close)
    n = check_int("period", period, 1)
    return to_series(tema_k(ctx, n), index, "TEMA" + fmt(n))


def bbands(close: pd.Series, period: int = 20, nbdev_up: float = 2.0, nbdev_dn: float = 2.0) -> pd.DataFrame:
    """Bollinger Bands (TA-Lib ``BBANDS`` with ``matype=0``).

    ``middle = SMA(period)``; ``upper/lower = middle +/- nbdev * stdev`` where
    stdev is the *population* standard deviation (``ddof=0``) of the window.

    Parameters
    ----------
    close : pandas.Series
    period : int, default 20
        ``>= 2`` (TA-Lib 0.6.x defaulted to 5; 0.8 uses 20).
    nbdev_up, nbdev_dn : float, default 2.0
        Band widths in standard deviations, ``>= 0``.

    Returns
    -------
    pandas.DataFrame
        Columns ``upper``, ``middle``, ``lower``.

    Examples
    --------
    >>> bbands(pd.Series([1.0, 2, 3]), period=3).round(3).iloc[-1].tolist()
    [3.633, 2.0, 0.367]
    """
    index, ctx = series_ctx(close=close)
    n = check_int("period", period, 2)
    up = check_number("nbdev_up", nbdev_up, 0.0)
    dn = check_number("nbdev_dn", nbdev_dn, 0.0)
    upper, middle, lower = bbands_k(ctx, n, up, dn)
    return to_frame({"upper": upper, "middle": middle, "lower": lower}, index)
