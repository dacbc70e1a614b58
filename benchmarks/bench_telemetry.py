"""Benchmark: what the operational metrics cost a 10k-value save and a 10k-value load.

Against one managed QuestDB, interleaved in one run (the machine is noisy: read the ratios):

* **bare**: the store's method without its measuring wrapper (``__wrapped__``);
* **API only**: the method as shipped, with ``opentelemetry-api`` and no SDK (a notebook);
* **SDK**: the method with an SDK meter provider (in-memory reader) and tracer provider
  (in-memory span exporter) installed: an operator's setup;
* **wrapper alone**: the measuring wrapper around a method that does nothing, in microseconds,
  with and without the SDK: the overhead itself, free of the save's noise.

Run from the repository root::

    python benchmarks/bench_telemetry.py --repeat 40

Prints a table and writes JSON (``--json``, default ``benchmarks/results/telemetry.json``).
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import write_results
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import qdbtools
from qdbtools import Database
from qdbtools.telemetry import Telemetry, instrumented


def sdk_telemetry() -> Telemetry:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    return Telemetry(
        meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]), tracer_provider=tracer_provider
    )


class Idle:
    """A method that does nothing, measured like a Database method."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    @instrumented("save", table="indicators")
    def save(self, session_id: str, symbol: str, mode: str = "overwrite") -> None:
        return None


def wrapper_micros(telemetry: Telemetry) -> float:
    idle = Idle(telemetry)
    best = min(timeit.repeat(lambda: idle.save("s", "y", mode="overwrite"), number=2000, repeat=7))
    return best / 2000 * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=40, help="runs per case (default 40)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/telemetry.json"))
    args = parser.parse_args()
    index = pd.date_range("2024-03-01", periods=10_000, freq="1min", tz="UTC")
    frame = pd.DataFrame({"RSI_14": np.random.default_rng(0).uniform(0, 100, 10_000)}, index=index)
    with qdbtools.local_server(heap="1g") as db:
        plain = Database(db.settings, telemetry=Telemetry())
        sdk = Database(db.settings, telemetry=sdk_telemetry())
        bare_save = Database.save_indicators.__wrapped__  # type: ignore[attr-defined]
        bare_load = Database.load_indicators.__wrapped__  # type: ignore[attr-defined]
        cases: dict[str, Any] = {
            ("save", "bare"): lambda: bare_save(plain, frame, "bench", "B", "overwrite"),
            ("save", "API only"): lambda: plain.save_indicators(frame, "bench", "B", "overwrite"),
            ("save", "SDK"): lambda: sdk.save_indicators(frame, "bench", "B", "overwrite"),
            ("load", "bare"): lambda: bare_load(plain, "bench", "B"),
            ("load", "API only"): lambda: plain.load_indicators("bench", "B"),
            ("load", "SDK"): lambda: sdk.load_indicators("bench", "B"),
        }
        for action in cases.values():  # warm the server's JIT and the connections
            for _ in range(5):
                action()
        times: dict[Any, list[float]] = {key: [] for key in cases}
        # Saves first, then loads (each setup interleaved): a load right after its database's
        # own save would also time the wait for that save's apply (read-your-writes).
        for op in ("save", "load"):
            db.wait_until_visible("indicators")
            for database in (plain, sdk):
                database.wait_for_own_writes(["indicators"])
            for _ in range(args.repeat):
                for key, action in cases.items():
                    if key[0] == op:
                        started = time.perf_counter()
                        action()
                        times[key].append(time.perf_counter() - started)
    micros = {"API only": wrapper_micros(Telemetry()), "SDK": wrapper_micros(sdk_telemetry())}
    results = []
    header = ("op", "setup", "p50 ms", "vs bare", "wrapper alone us", "wrapper / bare p50")
    print("{:5} {:9} {:>9} {:>8} {:>17} {:>19}".format(*header))
    for (op, setup), found in times.items():
        p50 = statistics.median(found) * 1e3
        bare = statistics.median(times[(op, "bare")]) * 1e3
        alone = micros.get(setup)
        share = f"{alone / 1e3 / bare:.3%}" if alone is not None else ""
        shown_alone = f"{alone:.1f}" if alone is not None else ""
        print(f"{op:5} {setup:9} {p50:9.2f} {p50 / bare:8.3f} {shown_alone:>17} {share:>19}")
        results.append(
            {"operation": op, "setup": setup, "p50_ms": p50, "bare_p50_ms": bare, "wrapper_us": alone}
        )
    write_results(args.json, f"python benchmarks/bench_telemetry.py --repeat {args.repeat}", results=results)


if __name__ == "__main__":
    main()
