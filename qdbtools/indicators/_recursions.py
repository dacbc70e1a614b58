"""Seeded first-order recursions of the indicators (EMA, Wilder smoothing) and run segments.

A recursion ``y[t] = b * y[t-1] + u[t]`` is solved per block with a rescaled cumulative sum
and stitched together with the carries between blocks - unless numba is installed, in which
case :func:`smooth` runs the compiled one-pass kernel (:mod:`qdbtools.indicators._jit`).
A recursion restarts (fresh warm-up, new seed) after each gap (NaN).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _jit
from ._core import FloatArray, nan_like, rolling_sum

__all__ = [
    "ema",
    "mask_run_heads",
    "segment_cumsum",
    "single_run_start",
    "smooth",
    "wilder",
]

_NAN = np.nan


def _iir(u: FloatArray, b: float) -> FloatArray:
    """Solve ``y[t] = b * y[t-1] + u[t]`` with ``y[-1] = 0`` (``u`` has no NaN)."""
    y = u.copy()
    _iir_inplace(y, b)
    return y


def _scan_rows(rows: FloatArray, b: float) -> None:
    # y[i] = b**i * cumsum(u[j] * b**-j)[i] within each row
    steps = np.arange(rows.shape[-1], dtype=np.float64)
    rows *= b**-steps
    np.cumsum(rows, axis=-1, out=rows)
    rows *= b**steps


def _iir_inplace(y: FloatArray, b: float) -> None:
    """In place: ``y[t] = b * y[t-1] + y[t]``.

    Rows are cut into blocks short enough that ``b**-block`` stays far from
    overflow.  The local block ends (a matrix-vector product) are carried
    forward by the same recursion with coefficient ``b**block``; each block's
    first value receives its carry, and one rescaled cumulative sum per block
    then gives the exact values.
    """
    size = y.size
    if size == 0 or b == 0.0:
        return
    block = int(min(size, 2048, 300.0 / -math.log(b))) if b < 1.0 else min(size, 2048)
    if block < 16:
        y[:] = _iir_doubling(y, b)
        return
    rows = size // block
    main = y[: rows * block].reshape(rows, block)
    if rows > 1:
        ends = main @ (b ** np.arange(block - 1, -1, -1, dtype=np.float64))
        _iir_inplace(ends, b**block)
        main[1:, 0] += b * ends[:-1]
    _scan_rows(main, b)
    tail = y[rows * block :]
    if tail.size:
        tail[0] += b * main[-1, -1]
        _scan_rows(tail, b)


def _iir_doubling(u: FloatArray, b: float) -> FloatArray:
    """Hillis-Steele scan, for tiny ``b`` whose powers underflow after a few steps."""
    y = u.copy()
    power = b
    step = 1
    with np.errstate(under="ignore"):
        while power != 0.0 and step < y.size:
            y[step:] += power * y[: y.size - step]
            power *= power
            step *= 2
    return y


def _runs(valid: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Positions of valid rows and each one's position inside its run of valid rows."""
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return idx, idx
    new_run = np.empty(idx.size, dtype=bool)
    new_run[0] = True
    np.not_equal(np.diff(idx), 1, out=new_run[1:])
    starts = np.flatnonzero(new_run)
    run_id = np.cumsum(new_run) - 1
    pos = np.arange(idx.size) - starts[run_id]
    return idx, pos


def single_run_start(x: FloatArray) -> int | None:
    """Start of the only run of valid values (all NaN leading), else ``None``.

    Returns ``x.size`` when every value is NaN.
    """
    valid = ~np.isnan(x)
    first = int(valid.argmax()) if valid.size else 0
    if valid.size == 0 or not valid[first]:
        return x.size
    if valid[first:].all():
        return first
    return None


def smooth(
    x: FloatArray,
    alpha: float,
    seed_len: int,
    *,
    seed_div: float | None = None,
    emit_from: int | None = None,
) -> FloatArray:
    """Seeded exponential smoothing ``y = y_prev + alpha * (x - y_prev)``, per run.

    In each run of valid values the recursion is seeded at run position
    ``seed_len - 1`` with ``sum(first seed_len values) / seed_div`` and output
    starts at run position ``emit_from``.  ``seed_len=n, seed_div=n,
    emit_from=n-1`` is TA-Lib's EMA / Wilder average (seeded with the SMA);
    ``seed_len=n-1, seed_div=n, emit_from=n-1`` is its Wilder *sum* seeding
    used by the directional indicators (expressed as an average).

    With numba installed this is one compiled pass
    (:func:`qdbtools.indicators._kernels.smooth_kernel`, compiled); otherwise the blocked
    scan below, equal to ~1e-15 relative.
    """
    div = float(seed_len if seed_div is None else seed_div)
    emit = seed_len - 1 if emit_from is None else emit_from
    if _jit.ENABLED:
        out = np.empty(x.size)
        _jit.kernels().smooth_kernel(x, alpha, seed_len, div, emit, out)
        return out
    b = 1.0 - alpha
    start = single_run_start(x)
    out = nan_like(x)
    if start is not None:
        v = x[start:]
        if v.size <= emit or v.size < seed_len:
            return out
        first = start + max(seed_len - 1, 0)
        region = out[first:]
        np.multiply(x[first:], alpha, out=region)
        if seed_len > 0:
            region[0] = v[:seed_len].sum() / div
        _iir_inplace(region, b)
        out[start : start + emit] = _NAN
        return out

    idx, pos = _runs(~np.isnan(x))
    v = x[idx]
    u = v * alpha
    if seed_len > 0:
        u[pos < seed_len - 1] = 0.0
        at_seed = pos == seed_len - 1
        u[at_seed] = rolling_sum(v, seed_len)[at_seed] / div
    y = _iir(u, b)
    # Remove what the previous runs carried into this one: b**k * y[run_start - 1].
    run_start = np.arange(idx.size) - pos
    prev = np.where(run_start > 0, y[np.maximum(run_start - 1, 0)], 0.0)
    with np.errstate(under="ignore"):
        carried = prev * np.power(b, pos + 1.0)
    y -= carried
    y[pos < emit] = _NAN
    out[idx] = y
    return out


def ema(x: FloatArray, n: int) -> FloatArray:
    """TA-Lib EMA: ``k = 2 / (n + 1)``, seeded with the SMA of the first ``n`` values."""
    return smooth(x, 2.0 / (n + 1), n)


def wilder(x: FloatArray, n: int) -> FloatArray:
    """Wilder's average (``alpha = 1 / n``) seeded with the SMA of the first ``n`` values."""
    return smooth(x, 1.0 / n, n)


def mask_run_heads(x: FloatArray, k: int) -> FloatArray:
    """``x`` with the first ``k`` values of every run of valid values set to NaN."""
    if k <= 0:
        return x
    start = single_run_start(x)
    out = x.copy()
    if start is not None:
        out[start : start + k] = _NAN
        return out
    idx, pos = _runs(~np.isnan(x))
    out[idx[pos < k]] = _NAN
    return out


def segment_cumsum(x: FloatArray, restart: npt.NDArray[np.bool_] | None = None) -> FloatArray:
    """Cumulative sum that restarts after every NaN gap and where *restart* is True.

    NaN rows stay NaN.  Each segment is summed from its own start (no
    subtraction of a running total), so precision does not decay with length.
    """
    valid = ~np.isnan(x)
    if restart is None and valid.all():
        return np.cumsum(x)
    idx = np.flatnonzero(valid)
    out = nan_like(x)
    if idx.size == 0:
        return out
    new_seg = np.empty(idx.size, dtype=bool)
    new_seg[0] = True
    np.not_equal(np.diff(idx), 1, out=new_seg[1:])
    if restart is not None:
        new_seg |= restart[idx]
    seg_id = np.cumsum(new_seg)
    out[idx] = pd.Series(x[idx]).groupby(seg_id, sort=False).cumsum().to_numpy()
    return out
