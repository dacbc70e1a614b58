"""Array kernels shared by the indicators: windows, seeded recursions, segments.

Every kernel takes and returns 1-D float64 numpy arrays of the input's length
and follows the package's NaN policy (see :mod:`qdbtools.indicators`): a NaN
never leaks into a window that does not contain it, a window that contains one
yields NaN, and a recursion restarts (fresh warm-up, new seed) after each gap.

Nothing here loops over rows in Python.  Windowed reductions combine
power-of-two windows (``log2(n)`` vector passes, pairwise-exact sums);
first-order recursions ``y[t] = b * y[t-1] + u[t]`` are solved per block with
a rescaled cumulative sum and stitched together with the carries between
blocks - unless numba is installed, in which case :func:`smooth` runs the
compiled one-pass kernel of :mod:`qdbtools.indicators._jit`.  Windowed
kernels run in cache-sized row blocks (:func:`chunked`), which returns the
same values as one whole-series call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _jit

FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")

_NAN = np.nan


class Ctx:
    """Per-call workspace: named float64 input arrays and a memo of intermediates.

    One ``Ctx`` lives for a single ``compute()`` (or a single public function
    call), so cached intermediates can never go stale.
    """

    __slots__ = ("_arrays", "_memo", "_sources", "index")

    def __init__(
        self,
        sources: Mapping[str, Callable[[], FloatArray]],
        index: object = None,
    ) -> None:
        self._sources = dict(sources)
        self._arrays: dict[str, FloatArray] = {}
        self._memo: dict[Hashable, object] = {}
        self.index = index

    def __getitem__(self, name: str) -> FloatArray:
        arr = self._arrays.get(name)
        if arr is None:
            arr = self._sources[name]()
            self._arrays[name] = arr
        return arr

    def memo(self, key: Hashable, fn: Callable[[], T]) -> T:
        """Return the cached value for *key*, computing it with *fn* on first use."""
        try:
            return self._memo[key]  # type: ignore[return-value]
        except KeyError:
            value = fn()
            self._memo[key] = value
            return value

    def inputs(self, *names: str) -> tuple[FloatArray, ...]:
        """The named inputs, jointly masked: a NaN in one makes the row NaN in all."""
        if len(names) == 1:
            return (self[names[0]],)
        return self.memo(("joint", names), lambda: _joint_mask([self[n] for n in names]))


def _joint_mask(arrays: list[FloatArray]) -> tuple[FloatArray, ...]:
    # Fast path: a sum is a NaN-free number only if no element is NaN (an
    # allocation-free reduction; a NaN sum from +inf/-inf just takes the slow path).
    if not any(np.isnan(np.sum(a)) for a in arrays):
        return tuple(arrays)
    bad = np.zeros(arrays[0].shape, dtype=bool)
    for a in arrays:
        bad |= np.isnan(a)
    if not bad.any():
        return tuple(arrays)
    out = []
    for a in arrays:
        a = a.copy()
        a[bad] = _NAN
        out.append(a)
    return tuple(out)


def nan_like(x: FloatArray) -> FloatArray:
    return np.full(x.shape, _NAN)


def shift(x: FloatArray, k: int, out: FloatArray | None = None) -> FloatArray:
    """``x`` delayed by ``k >= 1`` rows (NaN-filled at the start)."""
    if out is None:
        out = np.empty_like(x)
    out[:k] = _NAN
    if k < x.size:
        out[k:] = x[: x.size - k]
    return out


def diff(x: FloatArray, k: int = 1) -> FloatArray:
    """``x[t] - x[t-k]``."""
    out = np.empty_like(x)
    out[:k] = _NAN
    if k < x.size:
        np.subtract(x[k:], x[: x.size - k], out=out[k:])
    return out


def safe_divide(num: FloatArray, den: FloatArray, zero: float, out: FloatArray | None = None) -> FloatArray:
    """``num / den``, with *zero* where ``den == 0`` (NaN stays NaN); *out* may alias *num*."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(num, den, out=out)
    zeros = np.flatnonzero(den == 0.0)
    if zeros.size:
        out[zeros] = zero
    return out


TA_EPSILON = 1e-14


def near_zero(diff: FloatArray, a: FloatArray, b: FloatArray) -> npt.NDArray[np.bool_]:
    """TA-Lib's ``TA_IS_ZERO_SCALED``: ``|diff| <= 1e-14 * (|a| + |b|)`` (~90 ulp)."""
    # Block by block with two small reused buffers: only the result is fresh memory.
    size = diff.size
    out = np.empty(size, dtype=bool)
    width = min(size, CHUNK)
    bound_buf, scratch_buf = np.empty(width), np.empty(width)
    for c0 in range(0, size, CHUNK):
        c1 = min(c0 + CHUNK, size)
        bound, scratch = bound_buf[: c1 - c0], scratch_buf[: c1 - c0]
        np.abs(a[c0:c1], out=bound)
        np.abs(b[c0:c1], out=scratch)
        bound += scratch
        bound *= TA_EPSILON
        np.abs(diff[c0:c1], out=scratch)
        np.less_equal(scratch, bound, out=out[c0:c1])
    return out


# --------------------------------------------------------------------------- windows

Combine = Callable[[tuple[FloatArray, ...], tuple[FloatArray, ...], int, int, tuple[FloatArray, ...]], None]


def _doubling(base: tuple[FloatArray, ...], n: int, combine: Combine) -> tuple[FloatArray, ...]:
    """Window-``n`` states from window-1 states by binary doubling.

    ``combine(new, old, a, b, out)`` merges the states of a newer window of
    ``a`` rows with those of the ``b`` rows just before it into ``out`` (which
    may alias ``new``).  All arrays passed are equally long, aligned slices.
    """
    size_total = base[0].size
    if n > size_total:
        return tuple(nan_like(b) for b in base)
    acc: tuple[FloatArray, ...] | None = None
    acc_size = 0
    cur = base
    width = 1
    bits = n
    while True:
        if bits & 1:
            if acc is None:
                acc = tuple(c.copy() for c in cur)
            else:
                s = acc_size
                new = tuple(a[s:] for a in acc)
                combine(new, tuple(c[: size_total - s] for c in cur), s, width, new)
                for a in acc:
                    a[:s] = _NAN
            acc_size += width
        bits >>= 1
        if not bits:
            assert acc is not None
            return acc
        nxt = tuple(np.empty(size_total) for _ in cur)
        for a in nxt:
            a[:width] = _NAN
        w = width
        combine(
            tuple(c[w:] for c in cur),
            tuple(c[: size_total - w] for c in cur),
            w,
            w,
            tuple(a[w:] for a in nxt),
        )
        cur = nxt
        width *= 2


def _sum_combine(new, old, a, b, out) -> None:  # type: ignore[no-untyped-def]
    np.add(new[0], old[0], out=out[0])


def _var_combine(new, old, a, b, out) -> None:  # type: ignore[no-untyped-def]
    # Chan et al.: M2 = M2a + M2b + (b*Sa - a*Sb)^2 / (a*b*(a+b))
    # one temporary: (Sa - (a/b)*Sb)^2 * b / (a*(a+b))
    delta = np.multiply(old[0], float(a) / b)
    np.subtract(new[0], delta, out=delta)
    np.square(delta, out=delta)
    delta *= float(b) / (float(a) * (a + b))
    np.add(new[0], old[0], out=out[0])
    np.add(new[1], old[1], out=out[1])
    np.add(out[1], delta, out=out[1])


def _wma_combine(new, old, a, b, out) -> None:  # type: ignore[no-untyped-def]
    # newer rows gain b extra weight each; older rows keep weights 1..b
    extra = new[0] * float(b)
    np.add(new[1], old[1], out=out[1])
    np.add(out[1], extra, out=out[1])
    np.add(new[0], old[0], out=out[0])


CHUNK = 32768  # rows per cache-resident block for the windowed kernels


def chunked(
    fn: Callable[..., tuple[FloatArray, ...]], inputs: tuple[FloatArray, ...], n: int
) -> tuple[FloatArray, ...]:
    """Apply a window-``n`` kernel block by block (each block with ``n - 1`` rows of history).

    Windowed results depend only on the last ``n`` rows, so this returns
    exactly ``fn(*inputs)``; the log2(n) passes of each block then run in
    cache instead of streaming the whole series through memory every pass.
    """
    size = inputs[0].size
    if size <= 2 * CHUNK or n > CHUNK:
        return fn(*inputs)
    outs: tuple[FloatArray, ...] | None = None
    hist = n - 1
    for c0 in range(0, size, CHUNK):
        c1 = min(c0 + CHUNK, size)
        s0 = max(0, c0 - hist)
        res = fn(*(a[s0:c1] for a in inputs))
        if outs is None:
            outs = tuple(np.empty(size) for _ in res)
        for o, r in zip(outs, res, strict=True):
            o[c0:c1] = r[c0 - s0 :]
    assert outs is not None
    return outs


def rolling_sum(x: FloatArray, n: int) -> FloatArray:
    """Sum of the last ``n`` values (NaN until ``n`` rows, NaN if any is NaN).

    With numba: TA-Lib's running sum in one compiled pass; otherwise
    pairwise power-of-two windows.  The two agree to rounding (~1e-15 relative).
    """
    if _jit.ENABLED:
        out = np.empty(x.size)
        _jit.KERNELS.window_sum_kernel(x, n, 1.0, out)
        return out
    return chunked(lambda a: _doubling((a,), n, _sum_combine), (x,), n)[0]


def rolling_mean(x: FloatArray, n: int) -> FloatArray:
    """Mean of the last ``n`` values; with numba bit-identical to ``talib.SMA`` on NaN-free input."""
    if _jit.ENABLED:
        out = np.empty(x.size)
        _jit.KERNELS.window_sum_kernel(x, n, float(n), out)
        return out
    out = rolling_sum(x, n)
    out /= n
    return out


def pairwise_mean(x: FloatArray, n: int) -> FloatArray:
    """Window mean by pairwise sums (the numpy path's tree, also with numba).

    Unlike the running sum it does not drift, so a flat window's mean stays
    within a few ulp of the price (CCI's dead zone relies on that).
    """
    if _jit.ENABLED:
        out = np.empty(x.size)
        _jit.KERNELS.tree_kernel(x, n, out)
    else:
        out = chunked(lambda a: _doubling((a,), n, _sum_combine), (x,), n)[0]
    out /= n
    return out


def rolling_mean_std(x: FloatArray, n: int) -> tuple[FloatArray, FloatArray]:
    """Rolling mean and population (``ddof=0``) standard deviation.

    Exact for constant windows (the deviation is 0, not rounding noise).
    """
    s, m2 = chunked(lambda a: _doubling((a, a * 0.0), n, _var_combine), (x,), n)
    s /= n
    m2 /= n
    np.sqrt(m2, out=m2)
    return s, m2


def rolling_wma(x: FloatArray, n: int) -> FloatArray:
    """Linearly weighted mean, weights ``1..n`` (newest heaviest).

    Stays numpy with numba too: TA-Lib's running weighted sum drifts (~1e-8
    relative after 1e6 rows at period 2 against TA-Lib 0.8's own output), and
    a compiled port of this tree measured no faster than the blocked numpy.
    """
    _, w = chunked(lambda a: _doubling((a, a), n, _wma_combine), (x,), n)
    w /= n * (n + 1) / 2.0
    return w


def _rolling_idempotent(x: FloatArray, n: int, op: np.ufunc) -> FloatArray:
    size = x.size
    if n > size:
        return nan_like(x)
    cur = x
    width = 1
    while 2 * width <= n:
        nxt = np.empty(size)
        nxt[:width] = _NAN
        op(cur[width:], cur[: size - width], out=nxt[width:])
        cur = nxt
        width *= 2
    if width == n:
        return cur.copy() if cur is x else cur
    k = n - width
    out = np.empty(size)
    out[:k] = _NAN
    op(cur[k:], cur[: size - k], out=out[k:])
    return out


def rolling_max(x: FloatArray, n: int) -> FloatArray:
    """Highest of the last ``n`` values (NaN if any of them is NaN)."""
    if _jit.ENABLED:
        out = np.empty(x.size)
        _jit.KERNELS.rolling_extreme_kernel(x, n, 1.0, out)
        return out
    return chunked(lambda a: (_rolling_idempotent(a, n, np.maximum),), (x,), n)[0]


def rolling_min(x: FloatArray, n: int) -> FloatArray:
    """Lowest of the last ``n`` values (NaN if any of them is NaN)."""
    if _jit.ENABLED:
        out = np.empty(x.size)
        _jit.KERNELS.rolling_extreme_kernel(x, n, -1.0, out)
        return out
    return chunked(lambda a: (_rolling_idempotent(a, n, np.minimum),), (x,), n)[0]


# --------------------------------------------------------------------------- recursions


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
        _jit.KERNELS.smooth_kernel(x, alpha, seed_len, div, emit, out)
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
