"""Benchmark: the persistence service on QuestDB vs the legacy CSV files (the seed's Task 1 targets).

Against a managed QuestDB, in one run: ``IndicatorPersistenceService.save_values`` of 10,000
values (append and overwrite) and ``load_values`` of the same variant, once with
``storage="questdb"`` and once with ``storage="csv"`` (the legacy per-variant CSV files), plus
saves of 1,000 values to compare with the seed's "< 10 ms per 1000 records" goal and
single-variant loads for its "< 50 ms query latency" goal. Times include read-your-writes:
a QuestDB save returns when loads see the values.

Run from the repository root::

    python benchmarks/bench_persistence.py --repeat 5

Prints a table and writes JSON (``--json``, default ``benchmarks/results/persistence.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import qdbtools
from qdbtools.service import IndicatorPersistenceService, IndicatorValue


def make_values(n: int, offset: float = 0.0) -> list[IndicatorValue]:
    return [
        IndicatorValue(
            timestamp=1_709_251_200.0 + 60 * i,
            value=50.0 + (i % 97) / 7 + offset,
            confidence=0.9,
            metadata={"period": 14},
        )
        for i in range(n)
    ]


def median_seconds(action: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        asyncio.run(action())
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(repeat: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    big, small = make_values(10_000), make_values(1_000)
    with tempfile.TemporaryDirectory() as tmp, qdbtools.local_server(heap="1g") as db:
        services = {
            "questdb": IndicatorPersistenceService(questdb_provider=db),
            "csv": IndicatorPersistenceService(base_data_dir=tmp, storage="csv"),
        }
        for storage, service in services.items():
            cases = {
                "save 10k (overwrite)": lambda s=service: s.save_values(
                    "bench", "X", "RSI_14", big, mode="overwrite"
                ),
                "save 10k (append, same values)": lambda s=service: s.save_values(
                    "bench", "X", "RSI_14", big
                ),
                "load 10k": lambda s=service: s.load_values("bench", "X", "RSI_14"),
                "save 1k (overwrite)": lambda s=service: s.save_values(
                    "bench", "Y", "RSI_14", small, mode="overwrite"
                ),
                "load 1k": lambda s=service: s.load_values("bench", "Y", "RSI_14"),
                "load last 100": lambda s=service: s.load_values("bench", "X", "RSI_14", limit=-100),
            }
            for case, action in cases.items():
                seconds = median_seconds(action, repeat)
                results.append({"storage": storage, "case": case, "median_seconds": seconds})
    return results


def print_table(results: list[dict[str, Any]]) -> None:
    cases = list(dict.fromkeys(r["case"] for r in results))
    print(f"{'case':34} {'questdb ms':>11} {'csv ms':>9} {'csv/questdb':>12}")
    for case in cases:
        q = next(r for r in results if r["case"] == case and r["storage"] == "questdb")["median_seconds"]
        c = next(r for r in results if r["case"] == case and r["storage"] == "csv")["median_seconds"]
        print(f"{case:34} {q * 1000:11.1f} {c * 1000:9.1f} {c / q:11.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="median of N runs (default 5)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/persistence.json"))
    args = parser.parse_args()
    results = run(args.repeat)
    print_table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": f"python benchmarks/bench_persistence.py --repeat {args.repeat}",
        "python": platform.python_version(),
        "questdb_server": qdbtools.QUESTDB_VERSION,
    }
    args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
