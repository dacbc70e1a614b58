"""Benchmark: the persistence service on QuestDB vs the legacy CSV files (the seed's Task 1 targets).

Against a managed QuestDB, in one run: ``IndicatorPersistenceService.save_values`` of 10,000
values (append and overwrite) and ``load_values`` of the same variant, once with
``storage="questdb"`` and once with ``storage="csv"`` (the legacy per-variant CSV files), plus
saves of 1,000 values to compare with the seed's "< 10 ms per 1000 records" goal and
single-variant loads for its "< 50 ms query latency" goal (median, p50 and p99 over the runs).
``df.qdb.save_indicators`` / ``db.load_indicators`` (no IndicatorValue objects) and a Parquet
file of the same frame are measured beside them, and so is the database's floor: one visible
ILP write of the same rows (no ledger, no atomic commit) into an empty copy of
``indicators``. Times include read-your-writes: a QuestDB save returns when loads see the
values. ArcticDB (LMDB, local) is the second outside reference; its release 6.28 requires
pandas < 3, so it runs in its own environment (``make bench-env`` creates ``.venv-arcticdb``)
through ``arcticdb_reference.py``.

Run from the repository root::

    python benchmarks/bench_persistence.py --repeat 20

Prints a table and writes JSON (``--json``, default ``benchmarks/results/persistence.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import platform
import statistics
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

import qdbtools
from qdbtools.io.writer import write_frame
from qdbtools.service import IndicatorPersistenceService, IndicatorValue
from qdbtools.store import SYMBOL_COLUMNS, to_rows

DEFAULT_ARCTICDB_PYTHON = Path(".venv-arcticdb/bin/python")


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


def timings(action: Any, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        outcome = action()
        if asyncio.iscoroutine(outcome):
            asyncio.run(outcome)
        times.append(time.perf_counter() - started)
    return times


def percentile(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(storage: str, case: str, action: Any, repeat: int) -> dict[str, Any]:
    times = timings(action, repeat)
    return {
        "storage": storage,
        "case": case,
        "median_seconds": statistics.median(times),
        "p99_seconds": percentile(times, 0.99),
    }


def arcticdb_reference(python: Path, frame: pd.DataFrame, tmp: Path, repeat: int) -> list[dict[str, Any]]:
    """ArcticDB write/read of ``frame``, measured by ``arcticdb_reference.py`` under ``python``."""
    source = tmp / "arcticdb_frame.parquet"
    frame.to_parquet(source)
    script = Path(__file__).with_name("arcticdb_reference.py")
    command = [str(python), str(script), str(source), str(tmp / "lmdb"), "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    measured = json.loads(done.stdout)
    return [
        {
            "storage": "arcticdb",
            "case": f"{case} 10k (LMDB, {measured['versions']['arcticdb']})",
            "median_seconds": statistics.median(measured[key]),
            "p99_seconds": percentile(measured[key], 0.99),
        }
        for case, key in (("write", "write_seconds"), ("read", "read_seconds"))
    ]


def run(repeat: int, arcticdb_python: Path | None) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    big, small = make_values(10_000), make_values(1_000)
    with tempfile.TemporaryDirectory() as tmp, qdbtools.local_server(heap="1g") as db:
        services = {
            "questdb": IndicatorPersistenceService(questdb_provider=db),
            "csv": IndicatorPersistenceService(base_data_dir=tmp, storage="csv"),
        }
        frame = pd.DataFrame(
            {"RSI_14": [v.value for v in big]},
            index=pd.to_datetime([v.timestamp for v in big], unit="s", utc=True),
        )
        parquet = Path(tmp) / "rsi.parquet"
        # The database's floor for a save that returns when loads see it: one ILP request of the
        # same rows into an empty copy of `indicators`, and the wait for the WAL apply; no ledger.
        db.execute("CREATE TABLE indicators_floor (LIKE indicators)")
        generations = itertools.count(1)

        def floor_write(rows: pd.DataFrame) -> None:
            part = rows.assign(generation=next(generations))
            write_frame(db, part, "indicators_floor", at="timestamp", symbols=SYMBOL_COLUMNS)

        rows_10k = to_rows(frame, session_id="bench", symbol="F")
        extra = {
            ("floor", "one visible write of 10k rows"): partial(floor_write, rows_10k),
            ("floor", "one visible write of 1k rows"): partial(floor_write, rows_10k.iloc[:1000]),
            ("questdb", "df.qdb.save_indicators 10k (overwrite)"): lambda: frame.qdb.save_indicators(
                session_id="bench", symbol="Z", mode="overwrite", db=db
            ),
            ("questdb", "db.load_indicators 10k"): lambda: db.load_indicators("bench", "Z", "RSI_14"),
            ("parquet", "to_parquet 10k"): lambda: frame.to_parquet(parquet),
            ("parquet", "read_parquet 10k"): lambda: pd.read_parquet(parquet),
        }
        for (storage, case), action in extra.items():
            results.append(measure(storage, case, action, repeat))
        if arcticdb_python is not None:
            results += arcticdb_reference(arcticdb_python, frame, Path(tmp), repeat)
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
                results.append(measure(storage, case, action, repeat))
    return results


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"{'case':40} {'questdb p50':>11} {'p99':>7} {'csv p50':>8} {'p99':>7} {'csv/questdb':>11}")
    for case in dict.fromkeys(r["case"] for r in results if r["storage"] == "csv"):
        q = next(r for r in results if r["case"] == case and r["storage"] == "questdb")
        c = next(r for r in results if r["case"] == case and r["storage"] == "csv")
        print(
            f"{case:40} {q['median_seconds'] * 1e3:11.1f} {q['p99_seconds'] * 1e3:7.1f} "
            f"{c['median_seconds'] * 1e3:8.1f} {c['p99_seconds'] * 1e3:7.1f} "
            f"{c['median_seconds'] / q['median_seconds']:10.2f}x"
        )
    print("\nwithout IndicatorValue objects (ms, p50 / p99):")
    for r in results:
        if r["storage"] in ("parquet", "floor", "arcticdb") or r["case"].startswith(("df.qdb", "db.load")):
            print(
                f"  {r['storage']:8} {r['case']:40} "
                f"{r['median_seconds'] * 1e3:8.1f} {r['p99_seconds'] * 1e3:8.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20, help="runs per case (default 20)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/persistence.json"))
    parser.add_argument(
        "--arcticdb-python",
        type=Path,
        default=DEFAULT_ARCTICDB_PYTHON,
        help="Python with arcticdb and pandas<3 (default: %(default)s, made by `make bench-env`)",
    )
    args = parser.parse_args()
    arcticdb_python = args.arcticdb_python if args.arcticdb_python.exists() else None
    if arcticdb_python is None:
        print(f"ArcticDB is not measured: {args.arcticdb_python} does not exist (run `make bench-env`)")
    results = run(args.repeat, arcticdb_python)
    print_table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": f"python benchmarks/bench_persistence.py --repeat {args.repeat}",
        "python": platform.python_version(),
        "questdb_server": qdbtools.QUESTDB_VERSION,
        "arcticdb_measured": arcticdb_python is not None,
    }
    args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
