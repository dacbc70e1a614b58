"""The loop kernels of the indicators, as plain Python functions (compiled by :mod:`._jit`).

The recursions (EMA, Wilder smoothing, RSI) are inherently sequential; numpy
solves them with a blocked, rescaled cumulative sum (several passes, see
:mod:`qdbtools.indicators._core`).  When `numba <https://numba.pydata.org>`_
is importable, these kernels replace that with one compiled pass: TA-Lib's seeds (the
first values summed in order), then ``y = y * (1 - alpha) + x * alpha``.
TA-Lib writes the step as ``(x - y) * k + y`` (EMA) or
``(y * (n - 1) + x) / n`` (Wilder); the form used here keeps a division and
a subtraction off the loop-carried dependency chain (about 2x faster for
Wilder averages) and differs from TA-Lib's by rounding only (~1e-15
relative, the recursion is contractive).

numba is optional: without it (or with ``QDBTOOLS_NO_NUMBA=1`` in the
environment at import) everything runs on the numpy path, which gives the
same values to ~1e-15 relative.  Kernels are compiled on first use and cached
on disk (``cache=True``), so only the first call in a fresh environment pays
the compile time.

Besides the recursions: one-pass window kernels (SMA as TA-Lib's running
sum, bit-identical to ``talib.SMA`` on NaN-free input; rolling max/min by
van Herk / Gil-Werman; the pairwise window sum of ``_core`` ported as is),
and fused per-indicator passes (TRANGE, NATR, ROC, OBV, MACD, STOCH/WILLR
%K, CCI, MFI, and +DI/-DI/DX/ADX together).  Each reproduces the numpy
path's operations and NaN policy; where the order of a sum differs (running
vs pairwise: SMA and what smooths with it, MFI) the two agree to rounding.
WMA and BBANDS/ZSCORE stay numpy on both paths.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "dmi_kernel",
    "fastk_kernel",
    "macd_kernel",
    "mfi_kernel",
    "obv_kernel",
    "ratio_kernel",
    "roc_kernel",
    "rsi_kernel",
    "smooth_kernel",
    "trange_kernel",
    "willr_kernel",
]

_Floats = npt.NDArray[np.float64]


def smooth_kernel(x: _Floats, alpha: float, seed_len: int, seed_div: float, emit: int, out: _Floats) -> None:
    """Seeded smoothing per run of valid values (see ``_core.smooth``).

    In each run the first ``seed_len`` values are summed in order and
    divided by ``seed_div`` at run position ``seed_len - 1``; after it
    ``y = y * (1 - alpha) + x * alpha``.  Output from run position
    ``emit``, NaN before it and on NaN rows; a NaN restarts the run.
    """
    nan = np.nan
    keep = 1.0 - alpha
    pos = 0
    y = 0.0
    for i in range(x.size):
        v = x[i]
        if v != v:
            pos = 0
            y = 0.0
            out[i] = nan
            continue
        if pos < seed_len - 1:
            y += v
        elif pos == seed_len - 1:
            y += v
            y /= seed_div
        else:
            y = y * keep + v * alpha
        out[i] = y if pos >= emit else nan
        pos += 1


def rsi_kernel(close: _Floats, n: int, out: _Floats) -> None:
    """TA-Lib RSI from prices, restarting after every NaN.

    Changes ``d = close[t] - close[t-1]``; the first ``n`` of each run
    seed the average gain and loss (sum / n, summed in order), then
    Wilder's ``avg = avg * (1 - 1/n) + move / n``;
    ``100 * (gain / (gain + loss))``, 0 for a zero total.
    """
    nan = np.nan
    period = float(n)
    alpha = 1.0 / period
    keep = 1.0 - alpha
    count = 0
    gain = 0.0
    loss = 0.0
    prev = nan
    for i in range(close.size):
        v = close[i]
        d = v - prev
        prev = v
        if d != d:
            count = 0
            gain = 0.0
            loss = 0.0
            out[i] = nan
            continue
        up = d if d > 0.0 else 0.0
        down = -d if d < 0.0 else 0.0
        if count < n:
            gain += up
            loss += down
            count += 1
            if count < n:
                out[i] = nan
                continue
            gain /= period
            loss /= period
        else:
            gain = gain * keep + up * alpha
            loss = loss * keep + down * alpha
        total = gain + loss
        out[i] = 100.0 * (gain / total) if total != 0.0 else 0.0


# ------------------------------------------------------------- windows
#
# Same NaN policy as the numpy kernels of ``_core``: a window that
# contains a NaN yields NaN, and sums restart after every gap.


def fastk_kernel(close: _Floats, highest: _Floats, lowest: _Floats, out: _Floats) -> None:
    """``100 * (close - LL) / (HH - LL)``; 0 for a zero or near-zero range (``_fastk``)."""
    for i in range(close.size):
        hh = highest[i]
        ll = lowest[i]
        span = hh - ll
        flat = abs(span) <= (abs(hh) + abs(ll)) * 1e-14
        span /= 100.0
        r = (close[i] - ll) / span if span != 0.0 else 0.0
        out[i] = 0.0 if flat else r


def willr_kernel(close: _Floats, highest: _Floats, lowest: _Floats, out: _Floats) -> None:
    """``-100 * (HH - close) / (HH - LL)``; 0 for a zero or near-zero range."""
    for i in range(close.size):
        hh = highest[i]
        ll = lowest[i]
        span = hh - ll
        flat = abs(span) <= (abs(hh) + abs(ll)) * 1e-14
        span /= -100.0
        r = (hh - close[i]) / span if span != 0.0 else 0.0
        out[i] = 0.0 if flat else r


# --------------------------------------------------------- row-wise


def trange_kernel(high: _Floats, low: _Floats, close: _Floats, out: _Floats) -> None:
    """``max(h - l, |prev close - h|, |l - prev close|)``; NaN on row 0 and next to gaps."""
    nan = np.nan
    if close.size:
        out[0] = nan
    for i in range(1, close.size):
        h = high[i]
        lo = low[i]
        pc = close[i - 1]
        if h != h or lo != lo or pc != pc:
            out[i] = nan
            continue
        best = h - lo
        d = abs(pc - h)
        if d > best:
            best = d
        d = abs(lo - pc)
        if d > best:
            best = d
        out[i] = best


def ratio_kernel(num: _Floats, den: _Floats, zero: float, scale: float, out: _Floats) -> None:
    """``(num / den) * scale``, ``zero * scale`` where ``den == 0`` (``safe_divide``)."""
    for i in range(num.size):
        d = den[i]
        out[i] = (num[i] / d if d != 0.0 else zero) * scale


def roc_kernel(x: _Floats, n: int, out: _Floats) -> None:
    """``(x / x[-n] - 1) * 100``; the ratio is 1 where ``x[-n] == 0``."""
    nan = np.nan
    for i in range(min(n, x.size)):
        out[i] = nan
    for i in range(n, x.size):
        prev = x[i - n]
        r = x[i] / prev if prev != 0.0 else 1.0
        out[i] = (r - 1.0) * 100.0


def obv_kernel(close: _Floats, volume: _Floats, out: _Floats) -> None:
    """On-balance volume from the first volume of each run; NaN rows restart it."""
    nan = np.nan
    prev = nan
    total = 0.0
    for i in range(close.size):
        c = close[i]
        v = volume[i]
        if c != c or v != v:
            prev = nan
            out[i] = nan
            continue
        d = c - prev
        prev = c
        if d != d:
            total = v
        else:
            total += (1.0 if d > 0.0 else (-1.0 if d < 0.0 else 0.0)) * v
        out[i] = total


# ------------------------------------------------------ fused families


def macd_kernel(
    x: _Floats,
    slow_ema: _Floats,
    fast: int,
    slow: int,
    signal: int,
    line: _Floats,
    sig: _Floats,
    hist: _Floats,
) -> None:
    """MACD from prices and the (TA-Lib seeded) slow EMA, per run of valid values.

    The fast EMA is seeded at run position ``slow - 1`` with the mean of
    the ``fast`` values ending there (TA-Lib); the signal EMA smooths the
    line from there.  All three outputs start where the signal does.
    """
    line[:] = np.nan
    sig[:] = np.nan
    hist[:] = np.nan
    fa = 2.0 / (fast + 1)
    fk = 1.0 - fa
    sa = 2.0 / (signal + 1)
    sk = 1.0 - sa
    skip = slow - fast
    pos = 0
    fy = 0.0
    sy = 0.0
    for i in range(x.size):
        v = x[i]
        if v != v:
            pos = 0
            fy = 0.0
            sy = 0.0
            continue
        p = pos - skip
        pos += 1
        if p < 0:
            continue
        if p < fast - 1:
            fy += v
            continue
        if p == fast - 1:
            fy += v
            fy /= fast
        else:
            fy = fy * fk + v * fa
        m = fy - slow_ema[i]
        q = p - (fast - 1)
        if q < signal - 1:
            sy += m
            continue
        if q == signal - 1:
            sy += m
            sy /= signal
        else:
            sy = sy * sk + m * sa
        line[i] = m
        sig[i] = sy
        hist[i] = m - sy


def dmi_kernel(
    high: _Floats,
    low: _Floats,
    close: _Floats,
    n: int,
    plus_di: _Floats,
    minus_di: _Floats,
    dx: _Floats,
    adx: _Floats,
) -> None:
    """+DI, -DI, DX and ADX in one pass (same arithmetic as ``smooth_kernel``).

    Per run of valid moves: +DM, -DM and the true range are Wilder-summed
    as averages (the first ``n - 1`` summed, divided by ``n``, then
    ``y = y * (1 - 1/n) + x / n``), ``DI = 100 * dm / tr`` (0 for a zero
    range), ``DX = 100 * |-DI - +DI| / (-DI + +DI)`` (0 for a zero sum)
    and ``ADX`` the Wilder average of DX seeded with the mean of ``n``.
    """
    nan = np.nan
    alpha = 1.0 / n
    keep = 1.0 - alpha
    div = float(n)
    seed_last = n - 2
    pos = 0
    sp = 0.0
    sm = 0.0
    st = 0.0
    apos = 0
    ay = 0.0
    for i in range(high.size):
        if i == 0:
            up = nan
            down = nan
            tr = nan
        else:
            h = high[i]
            lo = low[i]
            pc = close[i - 1]
            up = h - high[i - 1]
            down = -(lo - low[i - 1])
            tr = h - lo
            d = abs(pc - h)
            if d > tr:
                tr = d
            d = abs(lo - pc)
            if d > tr:
                tr = d
            if pc != pc or h != h or lo != lo:
                tr = nan
        if up != up or down != down or tr != tr:
            pos = 0
            sp = 0.0
            sm = 0.0
            st = 0.0
            apos = 0
            ay = 0.0
            plus_di[i] = nan
            minus_di[i] = nan
            dx[i] = nan
            adx[i] = nan
            continue
        pdm = up if (up > 0.0 and up > down) else 0.0
        mdm = down if (down > 0.0 and down > up) else 0.0
        if pos < seed_last:
            sp += pdm
            sm += mdm
            st += tr
        elif pos == seed_last:
            sp += pdm
            sm += mdm
            st += tr
            sp /= div
            sm /= div
            st /= div
        else:
            sp = sp * keep + pdm * alpha
            sm = sm * keep + mdm * alpha
            st = st * keep + tr * alpha
        pos += 1
        if pos < n:
            plus_di[i] = nan
            minus_di[i] = nan
            dx[i] = nan
            adx[i] = nan
            continue
        p = (sp / st if st != 0.0 else 0.0) * 100.0
        m = (sm / st if st != 0.0 else 0.0) * 100.0
        total = m + p
        x = (abs(m - p) / total if total != 0.0 else 0.0) * 100.0
        plus_di[i] = p
        minus_di[i] = m
        dx[i] = x
        if apos < n - 1:
            ay += x
            adx[i] = nan
        elif apos == n - 1:
            ay += x
            ay /= div
            adx[i] = ay
        else:
            ay = ay * keep + x * alpha
            adx[i] = ay
        apos += 1


def mfi_kernel(high: _Floats, low: _Floats, close: _Floats, volume: _Floats, n: int, out: _Floats) -> None:
    """TA-Lib MFI in one pass: typical price, dead-zone classification, running sums.

    The positive and negative flow sums follow TA-Lib's order (the
    first ``n - 1`` flows of a run summed, then per row add the new
    flow, output, subtract the oldest), reset to exactly 0 once ``n``
    flows in a row were 0 (as TA-Lib does); ``100 * pos / (pos + neg)``
    (0 for a zero total), clipped to ``[0, 100]``.
    """
    nan = np.nan
    ring_p = np.empty(n)
    ring_n = np.empty(n)
    prev = nan
    run = 0
    idle = 0
    ps = 0.0
    ns = 0.0
    for i in range(close.size):
        tp = (high[i] + low[i] + close[i]) / 3.0
        flow = tp * volume[i]
        change = tp - prev
        bound = (abs(tp) + abs(prev)) * 1e-14
        prev = tp
        if change != change:
            run = 0
            idle = 0
            ps = 0.0
            ns = 0.0
            out[i] = nan
            continue
        # selects, not branches: the direction is a coin flip
        moved = flow if not (abs(change) <= bound) else 0.0
        p = moved if change > 0.0 else 0.0
        m = moved if change < 0.0 else 0.0
        slot = run % n
        ring_p[slot] = p
        ring_n[slot] = m
        run += 1
        ps += p
        ns += m
        # n flows of 0 in a row: every slot is 0, so drop the rounding residue
        # (the sums are then exactly 0, as the numpy path's window sums).
        idle = idle + 1 if (p == 0.0 and m == 0.0) else 0
        if idle >= n:
            ps = 0.0
            ns = 0.0
        if run < n:
            out[i] = nan
            continue
        total = ps + ns
        r = (ps / total if total != 0.0 else 0.0) * 100.0
        if r < 0.0:
            r = 0.0
        elif r > 100.0:
            r = 100.0
        out[i] = r
        oldest = run % n
        ps -= ring_p[oldest]
        ns -= ring_n[oldest]
