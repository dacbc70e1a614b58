"""Vectorized technical indicators on pandas Series, equal to TA-Lib where it has them.

Pure functions: no I/O, numpy inside, no Python loop over rows.  Each takes
plain Series (``close``, ``high``, ``low``, ``volume``; any numeric dtype)
plus keyword parameters with TA-Lib's defaults, and returns float64 Series or
DataFrames on the input's index.  :func:`compute` evaluates a list of
variant names (``"RSI_14"``, ``"MACD_12_26_9"``) on an OHLCV frame in one pass,
sharing intermediates; :func:`indicator_table` lists every indicator (variant
pattern, parameters and defaults, inputs, outputs, TA-Lib name); the naming scheme is documented in
:mod:`qdbtools.indicators._variants` and summarised here:

* ``<INDICATOR>_<p1>_<p2>...`` with all parameters (``BBANDS_20_2.5`` takes
  a decimal width), or the bare name for TA-Lib's defaults (``RSI`` ==
  ``RSI_14``, ``OBV``, ``VWAP``); columns use the canonical name.
* multi-output indicators give ``<variant>.<output>`` columns:
  ``MACD_12_26_9.macd/.signal/.hist``, ``BBANDS_20_2.upper/.middle/.lower``,
  ``STOCH_14_3_3.k/.d``, ``STOCHF_5_3.k/.d``, ``STOCHRSI_14_5_3.k/.d``;
  ``ADX_14``, ``DX_14``, ``PLUS_DI_14`` and ``MINUS_DI_14`` are separate
  single columns.

TA-Lib equivalence
------------------
Wherever TA-Lib has the indicator (SMA EMA WMA DEMA TEMA RSI MACD BBANDS
TRANGE ATR NATR STOCH STOCHF STOCHRSI WILLR CCI ROC MOM OBV MFI ADX DX
PLUS_DI MINUS_DI) the output equals TA-Lib's (tested against the C library 0.8.1
bundled with the ta-lib 0.8.2 wheel) to ~1e-12 relative,
warm-up included (NaN exactly where TA-Lib has no value), with its seeds:
EMAs start from the SMA of the first ``n`` values, MACD seeds its fast EMA at
the slow EMA's first row, Wilder averages (RSI, ATR, ADX) start from a plain
mean, the DI/DX sums from the sum of the first ``n - 1`` moves, OBV from the
first volume, and a zero denominator yields 0 as in TA-Lib (RSI, STOCH, WILLR,
CCI, ROC, NATR, MFI, DX).  TA-Lib 0.8's relative dead-zone
(``|d| <= 1e-14 * (|a| + |b|)``, about 90 ulp) is reproduced where it decides
a branch: the STOCH/STOCHF/STOCHRSI/WILLR range, the CCI deviation and MFI's
up/down classification, so rounding residue on flat prices matches too.
BBANDS defaults to ``period=20`` as TA-Lib 0.8 does.  Deliberate differences: ``PLUS_DI``/``MINUS_DI``
need ``period >= 2`` (TA-Lib's period 1 returns an unscaled ratio), MACD
needs ``fast < slow`` (TA-Lib silently swaps them), and NaN inside the data
follows the policy below rather than TA-Lib's (inconsistent) behaviour.

Not in TA-Lib: :func:`vwap` (typical price ``(h + l + c) / 3`` weighted by
volume, cumulative, reset at each session, default the UTC day; ``anchor=``
takes another pandas frequency or per-row session labels), :func:`zscore`
(``(x - rolling mean) / rolling std`` with ``ddof=0``), :func:`simple_returns`
and :func:`log_returns`.

NaN policy
----------
A row with NaN in any input an indicator uses is a *gap*: its output is NaN,
and the rows after it are computed as if the series started there - every
window containing a NaN yields NaN, recursive indicators (EMA, RSI, ATR, ADX,
MACD ...) re-seed with a fresh warm-up, cumulative ones (OBV, VWAP) restart.
So the result on a series with gaps equals the TA-Lib result computed
separately on each NaN-free stretch.  Leading NaNs are simply a gap at the
start (TA-Lib skips them the same way).  TA-Lib itself lets a NaN poison every
later SMA/EMA value while ``MAX``/``MIN`` ignore it, which is why it is not
followed.

Performance
-----------
When the optional ``numba`` package is importable, the recursions (EMA,
Wilder averages, RSI) and most windowed indicators run as compiled one-pass
kernels (:mod:`qdbtools.indicators._jit`); otherwise windows are numpy
(log2(n) vector passes over cache-sized blocks) and recursions a blocked
numpy scan (set ``QDBTOOLS_NO_NUMBA=1`` to force it).  Both paths give the
same values to ~1e-15 relative (SMA with numba is TA-Lib's running sum; values
that cancel to ~0 agree to rounding residue).  See ``docs/benchmarks.md``.

Other input rules: a series shorter than the warm-up gives all-NaN of the
same length; an unsorted, duplicated or NaT-containing index raises
:class:`~qdbtools.exceptions.InvalidInputError` naming the first offending
label; Series passed together must share one index.
"""

from ._averages import bbands, dema, ema, sma, tema, wma
from ._catalog import indicator_table
from ._momentum import cci, macd, mom, roc, rsi, stoch, stochf, stochrsi, willr
from ._stats import log_returns, simple_returns, zscore
from ._trend import adx, dx, minus_di, plus_di
from ._variants import IndicatorSpec, Param, Variant, available_indicators, compute, parse_variant
from ._volatility import atr, natr, trange
from ._volume import mfi, obv, vwap

__all__ = [
    "IndicatorSpec",
    "Param",
    "Variant",
    "adx",
    "atr",
    "available_indicators",
    "bbands",
    "cci",
    "compute",
    "dema",
    "dx",
    "ema",
    "indicator_table",
    "log_returns",
    "macd",
    "mfi",
    "minus_di",
    "mom",
    "natr",
    "obv",
    "parse_variant",
    "plus_di",
    "roc",
    "rsi",
    "simple_returns",
    "sma",
    "stoch",
    "stochf",
    "stochrsi",
    "tema",
    "trange",
    "vwap",
    "willr",
    "wma",
    "zscore",
]
