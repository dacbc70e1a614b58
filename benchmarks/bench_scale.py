"""Benchmark the offline engine on many pairs: serial vs local processes vs a Dask LocalCluster.

Usage::

    python benchmarks/bench_scale.py --pairs 200 --days 30 --workers 2

Writes ``--days`` of synthetic 1-minute bars for each of ``--pairs`` (session, symbol) pairs
into ``aggregated_ohlcv`` of a managed QuestDB, then runs ``OfflineIndicatorEngine`` on all
pairs with the demo's standard variant set three times, each on a fresh server (no run pays
for the history another left): serially in this process, on ``--workers`` local processes
(``run_many``'s default pool, forked from this process), and on a Dask ``LocalCluster`` of
``--workers`` single-threaded worker processes (spawned: they import qdbtools when they start,
``preload``, and compile the indicator kernels before the clock starts, as the forked workers
inherit both). Prints seconds, pairs/s, values saved/s and the time
spent in load, compute and save (summed over pairs, so on parallel runs they add up to more
than the wall time), and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import cpu_seconds
from distributed import Client, LocalCluster

import qdbtools
from qdbtools.demo import STANDARD_VARIANTS
from qdbtools.offline import EngineRun

PHASES = ("load", "compute", "save")


def make_bars(days: int, seed: int) -> pd.DataFrame:
    rows = days * 24 * 60
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, rows)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 5e-4, rows)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 5e-4, rows)))
    index = pd.date_range("2024-01-01", periods=rows, freq="min", tz="UTC", unit="us")
    return pd.DataFrame(
        {
            "timestamp": index,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": np.round(rng.lognormal(7.0, 1.0, rows)) + 1.0,
            "trades": rng.integers(1, 500, rows),
        }
    )


def write_bars(db: qdbtools.Database, pairs: list[tuple[str, str]], days: int) -> float:
    started = time.perf_counter()
    for i, (session_id, symbol) in enumerate(pairs):
        bars = make_bars(days, seed=i).assign(session_id=session_id, symbol=symbol, interval="1m")
        db.write_frame(bars, "aggregated_ohlcv", symbols=("session_id", "symbol", "interval"), wait=False)
    db.wait_until_visible("aggregated_ohlcv", timeout=1800)
    return time.perf_counter() - started


def summarize(name: str, runs: list[EngineRun], seconds: float, workers: int) -> dict[str, Any]:
    values = sum(sum(run.rows.values()) for run in runs)
    phases = {
        phase: sum(run.seconds.get(phase, 0.0) for run in runs) for phase in ("load", "compute", "save")
    }
    return {
        "run": name,
        "workers": workers,
        "pairs": len(runs),
        "failed": sum(not run.ok for run in runs),
        "seconds": seconds,
        "pairs_per_second": len(runs) / seconds,
        "values_saved_per_second": values / seconds,
        "values_saved": values,
        **{f"{phase}_seconds": total for phase, total in phases.items()},
    }


MODES = {
    "serial": "serial (this process)",
    "processes": "local processes (run_many)",
    "dask": "Dask LocalCluster (run_many)",
}


def client_cpu() -> float:
    """CPU seconds of this process and of its finished children (pool workers, Dask workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def server_cpu(db: qdbtools.Database) -> float:
    """CPU seconds the managed QuestDB process has used so far."""
    assert db.server is not None and db.server.pid is not None
    return cpu_seconds(db.server.pid)


def warm_up() -> None:
    """Compute the standard variants once on a few bars (numba compiles its kernels on first use)."""
    from qdbtools.indicators import compute

    compute(make_bars(1, seed=0).set_index("timestamp").iloc[:300], list(STANDARD_VARIANTS))


def run_mode(
    mode: str, db: qdbtools.Database, pairs: list[tuple[str, str]], variants: list[str], workers: int
) -> list[EngineRun]:
    engine = qdbtools.OfflineIndicatorEngine(db, variant_type=f"bench_{mode}")
    if mode == "serial":
        return [engine.run(session_id, symbol, variants, "overwrite") for session_id, symbol in pairs]
    if mode == "processes":
        return engine.run_many(pairs, variants, "overwrite", processes=workers, progress=False)
    local = {
        "threads_per_worker": 1,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        # Workers import qdbtools when they start (as the process pool's forked workers have it).
        "preload": ["qdbtools.offline"],
    }
    with LocalCluster(n_workers=workers, **local) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers, timeout=120)
        client.run(warm_up)  # compile the kernels, as the pool's workers inherit them compiled
        return engine.run_many(pairs, variants, "overwrite", executor=client, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=200, help="(session, symbol) pairs (default 200)")
    parser.add_argument("--days", type=int, default=30, help="days of 1-minute bars per pair (default 30)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="parallel workers (CPUs)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/scale.json"))
    args = parser.parse_args()
    pairs = [(f"scale_{i // 10:03d}", f"SYM{i % 10}") for i in range(args.pairs)]
    variants = list(STANDARD_VARIANTS)
    warm_up()  # in this process: the serial run and the forked pool's workers start compiled
    results, builds = [], []
    for mode in MODES:  # each on a fresh server: no run pays for the history of another
        with qdbtools.local_server(heap="4g") as db:
            builds.append(write_bars(db, pairs, args.days))
            cpu_before, server_before = client_cpu(), server_cpu(db)
            started = time.perf_counter()
            runs = run_mode(mode, db, pairs, variants, args.workers)
            seconds = time.perf_counter() - started
            cpu = {"client_cpu_seconds": client_cpu() - cpu_before, "server_cpu_seconds": server_cpu(db)}
            cpu["server_cpu_seconds"] -= server_before
            db.wait_until_visible("indicators", timeout=1800)
        result = summarize(MODES[mode], runs, seconds, 1 if mode == "serial" else args.workers)
        results.append({**result, **cpu})
        print(f"{MODES[mode]}: {seconds:.1f} s (bars written in {builds[-1]:.1f} s)")
    build = max(builds)
    serial = results[0]["seconds"]
    print(
        f"{'run':30} {'workers':>7} {'seconds':>8} {'pairs/s':>8} {'values/s':>11} "
        f"{'load s':>7} {'compute s':>9} {'save s':>7} {'vs serial':>9} {'failed':>6}"
    )
    for r in results:
        print(
            f"{r['run']:30} {r['workers']:>7} {r['seconds']:8.1f} {r['pairs_per_second']:8.2f} "
            f"{r['values_saved_per_second']:11,.0f} {r['load_seconds']:7.1f} {r['compute_seconds']:9.1f} "
            f"{r['save_seconds']:7.1f} {serial / r['seconds']:8.2f}x {r['failed']:>6}"
        )
    dask_over_processes = results[2]["seconds"] / results[1]["seconds"]
    print(f"Dask / local processes: {dask_over_processes:.2f}x (target <= 1.2)")
    # The serial run's CPU (client + server) spread over every core is the best any parallel
    # run of the same work can do on this machine.
    first = results[0]
    busy = first["client_cpu_seconds"] + first["server_cpu_seconds"]
    bound = first["seconds"] / (busy / (os.cpu_count() or 1))
    for r in results:
        print(
            f"  {r['run']:30} client CPU {r['client_cpu_seconds']:7.1f} s, "
            f"server CPU {r['server_cpu_seconds']:7.1f} s"
        )
    print(f"best speedup {os.cpu_count()} cores allow for the serial run's CPU ({busy:.1f} s): {bound:.2f}x")
    meta = {
        "command": f"python benchmarks/bench_scale.py --pairs {args.pairs} --days {args.days} "
        f"--workers {args.workers}",
        "python": platform.python_version(),
        "questdb_server": qdbtools.QUESTDB_VERSION,
        "cpus": os.cpu_count(),
        "variants": variants,
        "bars_per_pair": args.days * 1440,
        "build_seconds": build,
        "speedup_bound": bound,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
