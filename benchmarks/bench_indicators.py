"""Benchmark qdbtools.indicators against TA-Lib and pandas-ta on synthetic OHLCV bars.

Usage::

    python benchmarks/bench_indicators.py --rows 1000000 --repeat 3

Times a standard set of TA-Lib-comparable variants (ours through ``compute``,
which includes validation, column extraction and building the wide frame;
TA-Lib as raw calls on pre-extracted float64 arrays; pandas-ta as its Series
functions with ``talib=False``) and a 44-variant RSI grid (``RSI_7..RSI_50``).
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import best_of

from qdbtools.indicators import compute

STANDARD = [
    "SMA_20", "SMA_50", "EMA_12", "EMA_26", "WMA_20", "DEMA_20", "TEMA_20", "RSI_14",
    "MACD_12_26_9", "BBANDS_20_2", "ATR_14", "NATR_14", "TRANGE", "STOCH_14_3_3",
    "STOCHRSI_14_5_3", "WILLR_14", "CCI_20", "ROC_10", "MOM_10", "OBV", "MFI_14", "ADX_14",
    "PLUS_DI_14", "MINUS_DI_14",
]  # fmt: skip
RSI_GRID = [f"RSI_{n}" for n in range(7, 51)]


def make_bars(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, rows)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 5e-4, rows)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 5e-4, rows)))
    volume = np.round(rng.lognormal(7.0, 1.0, rows)) + 1.0
    index = pd.date_range("2020-01-01", periods=rows, freq="min", tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def talib_calls(a: dict[str, np.ndarray]) -> dict[str, Callable[[], Any]]:
    import talib

    h, lo, c, v = a["high"], a["low"], a["close"], a["volume"]
    return {
        "SMA_20": lambda: talib.SMA(c, 20),
        "SMA_50": lambda: talib.SMA(c, 50),
        "EMA_12": lambda: talib.EMA(c, 12),
        "EMA_26": lambda: talib.EMA(c, 26),
        "WMA_20": lambda: talib.WMA(c, 20),
        "DEMA_20": lambda: talib.DEMA(c, 20),
        "TEMA_20": lambda: talib.TEMA(c, 20),
        "RSI_14": lambda: talib.RSI(c, 14),
        "MACD_12_26_9": lambda: talib.MACD(c, 12, 26, 9),
        "BBANDS_20_2": lambda: talib.BBANDS(c, 20, 2.0, 2.0, 0),
        "ATR_14": lambda: talib.ATR(h, lo, c, 14),
        "NATR_14": lambda: talib.NATR(h, lo, c, 14),
        "TRANGE": lambda: talib.TRANGE(h, lo, c),
        "STOCH_14_3_3": lambda: talib.STOCH(h, lo, c, 14, 3, 0, 3, 0),
        "STOCHRSI_14_5_3": lambda: talib.STOCHRSI(c, 14, 5, 3, 0),
        "WILLR_14": lambda: talib.WILLR(h, lo, c, 14),
        "CCI_20": lambda: talib.CCI(h, lo, c, 20),
        "ROC_10": lambda: talib.ROC(c, 10),
        "MOM_10": lambda: talib.MOM(c, 10),
        "OBV": lambda: talib.OBV(c, v),
        "MFI_14": lambda: talib.MFI(h, lo, c, v, 14),
        "ADX_14": lambda: talib.ADX(h, lo, c, 14),
        "PLUS_DI_14": lambda: talib.PLUS_DI(h, lo, c, 14),
        "MINUS_DI_14": lambda: talib.MINUS_DI(h, lo, c, 14),
    }


def import_pandas_ta() -> tuple[Any, str] | None:
    for module in ("pandas_ta", "pandas_ta_classic"):
        try:
            mod = __import__(module)
        except Exception:
            continue
        return mod, f"{module} {getattr(mod, 'version', getattr(mod, '__version__', '?'))}"
    return None


def pandas_ta_calls(ta: Any, df: pd.DataFrame) -> dict[str, Callable[[], Any]]:
    h, lo, c, v = df.high, df.low, df.close, df.volume
    off = {"talib": False}
    return {
        "SMA_20": lambda: ta.sma(c, 20, **off),
        "SMA_50": lambda: ta.sma(c, 50, **off),
        "EMA_12": lambda: ta.ema(c, 12, **off),
        "EMA_26": lambda: ta.ema(c, 26, **off),
        "WMA_20": lambda: ta.wma(c, 20, **off),
        "DEMA_20": lambda: ta.dema(c, 20, **off),
        "TEMA_20": lambda: ta.tema(c, 20, **off),
        "RSI_14": lambda: ta.rsi(c, 14, **off),
        "MACD_12_26_9": lambda: ta.macd(c, 12, 26, 9, **off),
        "BBANDS_20_2": lambda: ta.bbands(c, 20, 2.0, ddof=0, **off),
        "ATR_14": lambda: ta.atr(h, lo, c, 14, **off),
        "NATR_14": lambda: ta.natr(h, lo, c, 14, **off),
        "TRANGE": lambda: ta.true_range(h, lo, c, **off),
        "STOCH_14_3_3": lambda: ta.stoch(h, lo, c, 14, 3, 3, **off),
        "STOCHRSI_14_5_3": lambda: ta.stochrsi(c, 14, 14, 5, 3, **off),
        "WILLR_14": lambda: ta.willr(h, lo, c, 14, **off),
        "CCI_20": lambda: ta.cci(h, lo, c, 20, **off),
        "ROC_10": lambda: ta.roc(c, 10, **off),
        "MOM_10": lambda: ta.mom(c, 10, **off),
        "OBV": lambda: ta.obv(c, v, **off),
        "MFI_14": lambda: ta.mfi(h, lo, c, v, 14, **off),
        # one call yields ADX, +DI (DMP) and -DI (DMN)
        "ADX_14": lambda: ta.adx(h, lo, c, 14, **off),
    }


def accelerator() -> str:
    from qdbtools.indicators import _jit

    if not _jit.ENABLED:
        return "numpy only (numba not installed or QDBTOOLS_NO_NUMBA=1)"
    import numba

    return f"numba {numba.__version__} (recursion kernels)"


def first_call_seconds() -> dict[str, float] | None:
    """Import + first ``compute`` on 1,000 bars in fresh processes: cold numba cache, then warm."""
    from qdbtools.indicators import _jit

    if not _jit.ENABLED:
        return None
    import os
    import subprocess
    import sys
    import tempfile

    code = (
        "import time; t = time.perf_counter(); "
        "import sys; sys.path.insert(0, 'benchmarks'); from bench_indicators import make_bars, STANDARD; "
        "from qdbtools.indicators import compute; "
        "compute(make_bars(1000), STANDARD); print(time.perf_counter() - t)"
    )
    out: dict[str, float] = {}
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold_cache", "warm_cache"):
            run = subprocess.run(
                [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True
            )
            out[label] = float(run.stdout.strip().splitlines()[-1])
    return out


def run_all(calls: dict[str, Callable[[], Any]]) -> Callable[[], list[Any]]:
    return lambda: [fn() for fn in calls.values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; best kept")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/indicators.json"))
    parser.add_argument("--skip-pandas-ta", action="store_true")
    args = parser.parse_args(argv)

    import talib

    df = make_bars(args.rows)
    arrays = {c: df[c].to_numpy(np.float64) for c in ("high", "low", "close", "volume")}
    tl = talib_calls(arrays)
    results: list[dict[str, Any]] = []
    per_variant: dict[str, dict[str, float]] = {}

    def record(vset: str, engine: str, seconds: float | None, note: str = "") -> None:
        results.append({"set": vset, "engine": engine, "seconds": seconds, "note": note})

    std_label = f"standard ({len(STANDARD)} variants)"
    record(std_label, "qdbtools", best_of(lambda: compute(df, STANDARD), args.repeat)[0])
    record(std_label, "TA-Lib", best_of(run_all(tl), args.repeat)[0])
    pta = None if args.skip_pandas_ta else import_pandas_ta()
    if pta is None:
        record(std_label, "pandas-ta", None, "not installed" if not args.skip_pandas_ta else "skipped")
    else:
        ta, label = pta
        calls = pandas_ta_calls(ta, df)
        record(std_label, "pandas-ta", best_of(run_all(calls), 1)[0], f"{label}, 1 run")
    grid_label = f"RSI grid ({len(RSI_GRID)} variants)"
    record(grid_label, "qdbtools", best_of(lambda: compute(df, RSI_GRID), args.repeat)[0])
    grid_calls = {n: (lambda p=int(n[4:]): talib.RSI(arrays["close"], p)) for n in RSI_GRID}
    record(grid_label, "TA-Lib", best_of(run_all(grid_calls), args.repeat)[0])

    for name in STANDARD:
        per_variant[name] = {
            "qdbtools": best_of(lambda name=name: compute(df, [name]), args.repeat)[0],
            "TA-Lib": best_of(tl[name], args.repeat)[0],
        }

    talib_time = {r["set"]: r["seconds"] for r in results if r["engine"] == "TA-Lib"}
    for r in results:
        base = talib_time.get(r["set"])
        r["ratio_to_talib"] = None if r["seconds"] is None or not base else r["seconds"] / base

    accel = accelerator()
    first_call = first_call_seconds()
    print(f"{args.rows:,} rows, best of {args.repeat}; qdbtools recursions: {accel}")
    if first_call:
        print(
            "first compute() in a fresh process (import + JIT/cache load, 1,000 bars): "
            + ", ".join(f"{k} {v:.2f}s" for k, v in first_call.items())
        )
    print(f"{'variant set':<26} {'engine':<10} {'seconds':>9} {'x TA-Lib':>9}  note")
    for r in results:
        secs = "-" if r["seconds"] is None else f"{r['seconds']:.3f}"
        ratio = "-" if r["ratio_to_talib"] is None else f"{r['ratio_to_talib']:.2f}"
        print(f"{r['set']:<26} {r['engine']:<10} {secs:>9} {ratio:>9}  {r['note']}")
    print("\nper variant (seconds): qdbtools compute([v]) vs TA-Lib")
    for name, t in per_variant.items():
        print(f"  {name:<16} {t['qdbtools']:.4f} {t['TA-Lib']:.4f} {t['qdbtools'] / t['TA-Lib']:6.2f}x")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "rows": args.rows,
        "repeat": args.repeat,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "talib": talib.__version__,
        "pandas_ta": None if pta is None else pta[1],
        "accelerator": accel,
        "first_call_seconds": first_call,
        "standard_variants": STANDARD,
        "results": results,
        "per_variant": per_variant,
    }
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
