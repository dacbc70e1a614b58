"""Soak test: N processes save and load for T seconds against one managed QuestDB (loopback).

Each process overwrites its own variant again and again with 1,000 values that encode the
round (value = round + position / 10^6), loads it right after (read-your-writes: it must get
exactly that round), and loads a neighbour's variant, which must be one complete round of the
neighbour (never a mix, never empty once the neighbour has saved). Prints errors by class,
save/load p50/p99 and the count of wrong results; writes JSON.

    python benchmarks/soak.py --processes 8 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import percentile

import qdbtools
from qdbtools import Database, Settings

VALUES = 1_000


def _frame(round_no: int) -> pd.DataFrame:
    index = pd.date_range("2024-03-01", periods=VALUES, freq="1min", tz="UTC", name="timestamp")
    return pd.DataFrame({"RSI_14": round_no + np.arange(VALUES) / 1e6}, index=index.as_unit("us"))


def _rounds_in(frame: pd.DataFrame) -> set[int]:
    return set(np.floor(frame["RSI_14"].to_numpy() + 1e-9).astype(int).tolist())


def _worker(settings: Settings, worker: int, processes: int, seconds: float, out: Any) -> None:
    db = Database(settings)
    mine, neighbour = f"soak_{worker}", f"soak_{(worker + 1) % processes}"
    saves: list[float] = []
    loads: list[float] = []
    errors: Counter[str] = Counter()
    wrong = 0
    deadline = time.monotonic() + seconds
    round_no = 0
    while time.monotonic() < deadline:
        round_no += 1
        try:
            started = time.perf_counter()
            db.save_indicators(_frame(round_no), mine, "SYM", mode="overwrite")
            saves.append(time.perf_counter() - started)
            started = time.perf_counter()
            back = db.load_indicators(mine, "SYM", "RSI_14")
            loads.append(time.perf_counter() - started)
            if len(back) != VALUES or _rounds_in(back) != {round_no}:
                wrong += 1
            other = db.load_indicators(neighbour, "SYM", "RSI_14", missing_ok=True)  # before its first save
            if len(other) not in (0, VALUES) or len(_rounds_in(other)) > 1:
                wrong += 1
        except qdbtools.QdbToolsError as exc:
            errors[type(exc).__name__] += 1
    db.close()
    out.put({"worker": worker, "saves": saves, "loads": loads, "errors": dict(errors), "wrong": wrong})


def _ms(times: list[float], q: float) -> float:
    return 1000 * percentile(times, q)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/soak.json"))
    args = parser.parse_args()
    context = mp.get_context("spawn")
    with qdbtools.local_server(heap="1g") as db:
        queue = context.Queue()
        workers = [
            context.Process(target=_worker, args=(db.settings, i, args.processes, args.seconds, queue))
            for i in range(args.processes)
        ]
        for process in workers:
            process.start()
        results = [queue.get(timeout=args.seconds + 300) for _ in workers]
        for process in workers:
            process.join(timeout=60)
    saves = [t for r in results for t in r["saves"]]
    loads = [t for r in results for t in r["loads"]]
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
    summary = {
        "processes": args.processes,
        "seconds": args.seconds,
        "saves": len(saves),
        "loads": len(loads),
        "errors": dict(errors),
        "error_count": sum(errors.values()),
        "wrong": sum(r["wrong"] for r in results),
        "save_p50_ms": _ms(saves, 0.5),
        "save_p99_ms": _ms(saves, 0.99),
        "load_p50_ms": _ms(loads, 0.5),
        "load_p99_ms": _ms(loads, 0.99),
        "python": platform.python_version(),
        "questdb_server": qdbtools.QUESTDB_VERSION,
        "command": f"python benchmarks/soak.py --processes {args.processes} --seconds {args.seconds:g}",
    }
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        shown = f"{value:.2f}" if isinstance(value, float) else value
        print(f"{key:<{width}}  {shown}")
    print(f"median saves per process: {statistics.median(len(r['saves']) for r in results):.0f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
