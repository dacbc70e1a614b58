"""Optional compiled kernels (numba) for the first-order recursions.

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
the compile time.  Only recursions live here; windows stay in numpy.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

ENABLED = False
smooth_kernel: Any = None
rsi_kernel: Any = None

if not os.environ.get("QDBTOOLS_NO_NUMBA"):
    try:
        import numba
    except ImportError:  # pragma: no cover - depends on the environment
        numba = None
    if numba is not None:
        ENABLED = True
        _jit = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")

        @_jit
        def smooth_kernel(x, alpha, seed_len, seed_div, emit, out):  # type: ignore[no-untyped-def]
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

        @_jit
        def rsi_kernel(close, n, out):  # type: ignore[no-untyped-def]
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
