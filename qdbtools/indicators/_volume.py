"""Volume indicators: OBV, MFI and session-anchored VWAP."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qdbtools.exceptions import InvalidInputError

from . import _core as k
from . import _jit
from . import _recursions as rec
from ._core import Ctx, FloatArray
from ._inputs import check_int, fmt, series_ctx, to_series

HLCV = ("high", "low", "close", "volume")


def obv_k(ctx: Ctx) -> FloatArray:
    close, volume = ctx.inputs("close", "volume")
    if _jit.ENABLED:
        res = np.empty(close.size)
        _jit.kernels().obv_kernel(close, volume, res)
        return res
    change = k.diff(close)
    step = np.sign(change) * volume
    # TA-Lib starts the running total at the first bar's volume.
    heads = np.isnan(change) & ~np.isnan(close)
    step[heads] = volume[heads]
    return rec.segment_cumsum(step)


def typical_volume_k(ctx: Ctx) -> tuple[FloatArray, FloatArray]:
    def build() -> tuple[FloatArray, FloatArray]:
        high, low, close, volume = ctx.inputs(*HLCV)
        return (high + low + close) / 3.0, volume

    return ctx.memo(("typical", HLCV), build)


def mfi_k(ctx: Ctx, n: int) -> FloatArray:
    if _jit.ENABLED:
        high, low, close, volume = ctx.inputs(*HLCV)
        res = np.empty(close.size)
        _jit.kernels().mfi_kernel(high, low, close, volume, n, res)
        return res
    tp, volume = typical_volume_k(ctx)
    flow = tp * volume
    change = k.diff(tp)
    # TA-Lib counts a typical-price move within ~90 ulp as "no movement".
    moved = ~k.near_zero(change, tp, k.shift(tp, 1))
    pos = np.where(moved & (change > 0.0), flow, 0.0)
    neg = np.where(moved & (change < 0.0), flow, 0.0)
    undefined = np.isnan(change)
    pos[undefined] = np.nan
    neg[undefined] = np.nan
    pos_sum = k.rolling_sum(pos, n)
    total = pos_sum + k.rolling_sum(neg, n)
    out = k.safe_divide(pos_sum, total, 0.0, out=pos_sum)
    out *= 100.0
    return np.clip(out, 0.0, 100.0, out=out)


def session_starts(index: pd.Index, anchor: Any, tz: str | None) -> np.ndarray:
    """Boolean array, True on the first row of every session."""
    if isinstance(anchor, str):
        if not isinstance(index, pd.DatetimeIndex):
            raise InvalidInputError(
                f"VWAP with anchor={anchor!r} needs a DatetimeIndex, got {type(index).__name__}"
            )
        wall = index
        if wall.tz is not None:
            wall = wall.tz_convert(tz or "UTC").tz_localize(None)
        try:
            keys = np.asarray(wall.to_period(anchor).asi8)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"VWAP anchor {anchor!r} is not a pandas frequency") from exc
    else:
        labels = np.asarray(anchor)
        if labels.shape != (len(index),):
            raise InvalidInputError(
                f"VWAP anchor labels must have one entry per row ({len(index)}), got shape {labels.shape}"
            )
        keys = pd.factorize(labels)[0]
    starts = np.empty(len(index), dtype=bool)
    starts[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=starts[1:])
    return starts


def vwap_k(ctx: Ctx, anchor: Any = "D", tz: str | None = "UTC") -> FloatArray:
    tp, volume = typical_volume_k(ctx)
    starts = session_starts(ctx.index, anchor, tz)  # type: ignore[arg-type]
    pv = rec.segment_cumsum(tp * volume, starts)
    vol = rec.segment_cumsum(volume, starts)
    with np.errstate(divide="ignore", invalid="ignore"):
        return pv / vol


def obv(close: pd.Series, volume: pd.Series) -> pd.Series:
    """On-balance volume (TA-Lib ``OBV``).

    Starts at the first bar's volume (as TA-Lib), then adds the volume on an
    up-close, subtracts it on a down-close, keeps it on an unchanged close.

    Returns
    -------
    pandas.Series
        Named ``OBV``; defined from the first row.
    """
    index, ctx = series_ctx(close=close, volume=volume)
    return to_series(obv_k(ctx), index, "OBV")


def mfi(high: pd.Series, low: pd.Series, close: pd.Series, volume: pd.Series, period: int = 14) -> pd.Series:
    """Money flow index (TA-Lib ``MFI``).

    ``tp = (high + low + close) / 3``, flow ``tp * volume`` counted positive
    when ``tp`` rose and negative when it fell; ``MFI = 100 * pos / (pos + neg)``
    over ``period`` flows, 0 when both sums are 0.

    Returns
    -------
    pandas.Series
        Named ``MFI_<period>``; first value at row ``period``.
    """
    index, ctx = series_ctx(high=high, low=low, close=close, volume=volume)
    n = check_int("period", period, 2)
    return to_series(mfi_k(ctx, n), index, "MFI" + fmt(n))


def vwap(
    high: pd.Series,
    low: pd.Series,
    close: pd.Series,
    volume: pd.Series,
    anchor: str | Any = "D",
    tz: str | None = "UTC",
) -> pd.Series:
    """Session-anchored volume-weighted average price (not in TA-Lib).

    ``VWAP = cumsum(tp * volume) / cumsum(volume)`` with the typical price
    ``tp = (high + low + close) / 3``, both sums restarting at every session.

    Parameters
    ----------
    high, low, close, volume : pandas.Series
        Sharing a sorted :class:`~pandas.DatetimeIndex` (when *anchor* is a
        frequency).
    anchor : str or array-like, default "D"
        A pandas period frequency (``"D"`` day, ``"W"`` week, ``"h"`` hour,
        ...) evaluated in *tz*; or one session label per row (a new session
        starts wherever the label changes).
    tz : str or None, default "UTC"
        Time zone whose wall clock defines the sessions of a tz-aware index
        (e.g. ``"America/New_York"``); ignored for a naive index.

    Returns
    -------
    pandas.Series
        Named ``VWAP``; NaN where the session's volume so far is 0.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01 23:59", periods=2, freq="min", tz="UTC")
    >>> one = pd.Series([1.0, 1.0], idx)
    >>> vwap(one * 2, one, one * 3, one).tolist()  # the 2nd bar opens a new day
    [2.0, 2.0]
    """
    index, ctx = series_ctx(high=high, low=low, close=close, volume=volume)
    return to_series(vwap_k(ctx, anchor, tz), index, "VWAP")
