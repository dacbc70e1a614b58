"""Window kernels as plain Python functions (compiled by :mod:`._jit`): sums, extremes, CCI.

SMA as TA-Lib's running sum (bit-identical to ``talib.SMA`` on NaN-free input), rolling
max/min by van Herk / Gil-Werman, the pairwise window sum of ``_core`` ported as is, and
CCI's mean deviation. Each reproduces the numpy path's operations and NaN policy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "cci_kernel",
    "rolling_extreme_kernel",
    "tree_kernel",
    "window_sum_kernel",
]

_Floats = npt.NDArray[np.float64]


def window_sum_kernel(x: _Floats, n: int, div: float, out: _Floats) -> None:
    """Sum of the last ``n`` values divided by ``div`` (TA-Lib ``SMA`` arithmetic).

    As TA-Lib: the first ``n - 1`` values of a run are summed in order,
    then per row ``s += new``, output ``s / div``, ``s -= oldest``.
    On NaN-free input this is bit-identical to ``talib.SMA`` (``div=n``).
    """
    nan = np.nan
    run = 0
    s = 0.0
    for i in range(x.size):
        v = x[i]
        if v != v:
            run = 0
            s = 0.0
            out[i] = nan
            continue
        run += 1
        s += v
        if run < n:
            out[i] = nan
            continue
        out[i] = s / div
        s -= x[i - n + 1]


def rolling_extreme_kernel(x: _Floats, n: int, sign: float, out: _Floats) -> None:
    """Rolling max (``sign=1``) or min (``sign=-1``): van Herk / Gil-Werman.

    Rows are cut into blocks of ``n``; a window ending in one block is
    the suffix extreme of the previous block joined with the prefix
    extreme of its own, so each row costs three branch-free compares
    whatever the data.  NaN rows are skipped by the compares and the
    windows that contain one are set to NaN afterwards.
    """
    nan = np.nan
    size = x.size
    suf = np.empty(n + 1)  # suf[k]: extreme of the previous block from its k-th row
    suf[n] = -np.inf
    for k in range(n):
        suf[k] = -np.inf
    seen_nan = False
    for b0 in range(0, size, n):
        b1 = min(b0 + n, size)
        if b0 >= n:
            m = x[b0 - 1] * sign
            suf[n - 1] = m
            for k in range(n - 2, -1, -1):
                w = x[b0 - n + k] * sign
                m = w if w > m else m
                suf[k] = m
        pm = -np.inf
        for i in range(b0, b1):
            w = x[i] * sign
            seen_nan |= w != w
            pm = w if w > pm else pm
            q = suf[i - b0 + 1]
            out[i] = (q if q > pm else pm) * sign
    for i in range(min(n - 1, size)):
        out[i] = nan
    if seen_nan:
        last_nan = -n
        for i in range(size):
            if x[i] != x[i]:
                last_nan = i
            if i - last_nan < n:
                out[i] = nan


def tree_kernel(x: _Floats, n: int, out: _Floats) -> None:
    """Window sums by binary doubling: ``_core._doubling`` with ``_sum_combine``.

    Runs on cache-sized blocks (each with ``n - 1`` rows of history) and
    reduces every window by the same tree of additions as the numpy
    path, so the values are bit-identical to it (and, unlike a running
    sum, do not drift).  NaN for the first ``n - 1`` rows and for
    windows that contain a NaN.
    """
    nan = np.nan
    size = x.size
    if n > size:
        for i in range(size):
            out[i] = nan
        return
    block = 8192
    hist = n - 1
    cap = min(size, block + hist)
    cur = np.empty(cap)
    nxt = np.empty(cap)
    acc = np.empty(cap)
    for c0 in range(0, size, block):
        c1 = min(c0 + block, size)
        s0 = max(0, c0 - hist)
        length = c1 - s0
        for t in range(length):
            cur[t] = x[s0 + t]
        have_acc = False
        acc_size = 0
        width = 1
        bits = n
        while True:
            if bits & 1:
                if not have_acc:
                    for t in range(length):
                        acc[t] = cur[t]
                    have_acc = True
                else:
                    # newer acc_size rows (acc) + the width rows before them (cur)
                    for t in range(acc_size, length):
                        acc[t] = acc[t] + cur[t - acc_size]
                acc_size += width
            bits >>= 1
            if not bits:
                break
            for t in range(width, length):
                nxt[t] = cur[t] + cur[t - width]
            cur, nxt = nxt, cur
            width *= 2
        # rows t >= n - 1 of the series hold complete windows
        for t in range(c0 - s0, length):
            out[s0 + t] = nan if s0 + t < hist else acc[t]


def cci_kernel(tp: _Floats, mean: _Floats, n: int, out: _Floats) -> None:
    """TA-Lib CCI from the typical price and its window mean, in blocks of rows.

    The mean deviation adds ``|tp[t - lag] - mean[t]|`` lag by lag
    (the numpy kernel's order, so the values are bit-identical to it);
    the loops over rows are independent, so they vectorize.
    """
    nan = np.nan
    size = tp.size
    block = 2048
    dev = np.empty(block)
    factor = 0.015 / n
    for c0 in range(0, size, block):
        c1 = min(c0 + block, size)
        lo = max(c0, n - 1)
        for i in range(c0, min(lo, c1)):
            out[i] = nan
        if lo >= c1:
            continue
        m = c1 - lo
        for j in range(m):
            dev[j] = abs(tp[lo + j] - mean[lo + j])
        for lag in range(1, n):
            base = lo - lag
            for j in range(m):
                dev[j] += abs(tp[base + j] - mean[lo + j])
        for j in range(m):
            d = dev[j] * factor
            mu = mean[lo + j]
            t = tp[lo + j]
            num = t - mu
            flat = abs(num) <= (abs(t) + abs(mu)) * 1e-14
            r = num / d if d != 0.0 else 0.0
            out[lo + j] = 0.0 if flat else r
