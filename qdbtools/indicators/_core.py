"""Array kernels shared by the indicators: the context of one computation, windows, helpers.

Every kernel takes and returns 1-D float64 numpy arrays of the input's length
and follows the package's NaN policy (see :mod:`qdbtools.indicators`): a NaN
never leaks into a window that does not contain it, and a window that contains one
yields NaN. The seeded recursions (EMA, Wilder) live in :mod:`._recursions`.

Nothing here loops over rows in Python.  Windowed reductions combine
power-of-two windows (``log2(n)`` vector passes, pairwise-exact sums), or run the
compiled kernels of :mod:`qdbtools.indicators._jit` when numba is installed.
Windowed kernels run in cache-sized row blocks (:func:`chunked`), which returns the
same values as one whole-series call.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import TypeVar

import numpy as np
import numpy.typing as npt

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
        _jit.kernels().window_sum_kernel(x, n, 1.0, out)
        return out
    return chunked(lambda a: _doubling((a,), n, _sum_combine), (x,), n)[0]


def rolling_mean(x: FloatArray, n: int) -> FloatArray:
    """Mean of the last ``n`` values; with numba bit-identical to ``talib.SMA`` on NaN-free input."""
    if _jit.ENABLED:
        out = np.empty(x.size)
        _jit.kernels().window_sum_kernel(x, n, float(n), out)
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
        _jit.kernels().tree_kernel(x, n, out)
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
        _jit.kernels().rolling_extreme_kernel(x, n, 1.0, out)
        return out
    return chunked(lambda a: (_rolling_idempotent(a, n, np.maximum),), (x,), n)[0]


def rolling_min(x: FloatArray, n: int) -> FloatArray:
    """Lowest of the last ``n`` values (NaN if any of them is NaN)."""
    if _jit.ENABLED:
        out = np.empty(x.size)
        _jit.kernels().rolling_extreme_kernel(x, n, -1.0, out)
        return out
    return chunked(lambda a: (_rolling_idempotent(a, n, np.minimum),), (x,), n)[0]
