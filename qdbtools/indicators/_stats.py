"""Statistics: rolling z-score, simple and log returns (not in TA-Lib)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _core as k
from ._averages import mean_std_k
from ._core import Ctx, FloatArray
from ._inputs import check_int, fmt, series_ctx, to_series


def zscore_k(ctx: Ctx, n: int, src: str = "close") -> FloatArray:
    mean, std = mean_std_k(ctx, n, src)
    out = ctx[src] - mean
    with np.errstate(divide="ignore", invalid="ignore"):
        out /= std
    out[std == 0.0] = np.nan
    return out


def _ratio(ctx: Ctx, n: int, src: str) -> FloatArray:
    x = ctx[src]
    prev = k.shift(x, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x / prev
    out[prev == 0.0] = np.nan
    return out


def simple_returns_k(ctx: Ctx, n: int, src: str = "close") -> FloatArray:
    out = _ratio(ctx, n, src)
    out -= 1.0
    return out


def log_returns_k(ctx: Ctx, n: int, src: str = "close") -> FloatArray:
    ratio = _ratio(ctx, n, src)
    ratio[ratio <= 0.0] = np.nan
    return np.log(ratio)


def zscore(close: pd.Series, period: int = 20) -> pd.Series:
    """Rolling z-score ``(x - rolling mean) / rolling std`` over ``period`` rows.

    The standard deviation is the population one (``ddof=0``), so this equals
    ``(x - x.rolling(n).mean()) / x.rolling(n).std(ddof=0)``.  NaN where the
    window is constant (std 0) and for the first ``period - 1`` rows.

    Returns
    -------
    pandas.Series
        Named ``ZSCORE_<period>``.
    """
    index, ctx = series_ctx(close=close)
    n = check_int("period", period, 2)
    return to_series(zscore_k(ctx, n), index, "ZSCORE" + fmt(n))


def simple_returns(close: pd.Series, periods: int = 1) -> pd.Series:
    """Simple returns ``x[t] / x[t - periods] - 1`` (``pct_change(periods)``).

    NaN where the earlier value is 0 (``pct_change`` would give inf).

    Returns
    -------
    pandas.Series
        Named ``RET_<periods>``.
    """
    index, ctx = series_ctx(close=close)
    n = check_int("periods", periods, 1)
    return to_series(simple_returns_k(ctx, n), index, "RET" + fmt(n))


def log_returns(close: pd.Series, periods: int = 1) -> pd.Series:
    """Log returns ``log(x[t] / x[t - periods])``; NaN where the ratio is not positive.

    Returns
    -------
    pandas.Series
        Named ``LOGRET_<periods>``.
    """
    index, ctx = series_ctx(close=close)
    n = check_int("periods", periods, 1)
    return to_series(log_returns_k(ctx, n), index, "LOGRET" + fmt(n))
