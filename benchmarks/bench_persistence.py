"""Benchmark: the indicator store against the old CSV service and against the server's floor.

Against one managed QuestDB, in one run (the machine is noisy: read the ratios):

1. **10k and 1k values**: the old CSV service (``legacy_csv_service.py``: one dict per value,
   ``csv.DictWriter``, JSON metadata), ``IndicatorPersistenceService`` and
   ``df.qdb.save_indicators`` / ``db.load_indicators``: saves (overwrite, append), loads, and
   "save, then load" (what read-your-writes costs when a load follows at once). The **floor**
   is one bare ``Sender.dataframe`` request of the very rows each save sends, into a copy of
   ``indicators``, acknowledged by the server and not awaited (what any design must pay).
   Cases run in rounds (one run of each per round), each run on a settled server: earlier
   writes applied and earlier garbage collected, untimed.
2. **100 back-to-back overwrites** of one 10k-value variant: saves/s, the last saves against
   the first, and the time until all are visible.
3. **The plan's scale**: 1,000 sessions x 10 symbols x 5 indicators x 200 values (50,000
   variants) in QuestDB and as a legacy CSV tree of 50,000 files: list everything, info for
   every variant of one session, one variant of one symbol across all sessions, append 100
   values to a variant holding 100k, bytes on disk. The append is taken apart: the client's
   steps alone, the request alone (official client, and raw HTTP with no client), and a
   store-and-forward prototype that writes the request to a local file instead of sending it.
   These cases run in rounds too, without the settle.

Inputs (values, frames) are made before the timing.

ArcticDB (LMDB) is an optional outside reference (``make bench-env``).

Run from the repository root::

    python benchmarks/bench_persistence.py --repeat 20

Prints tables and writes JSON (``--json``, default ``benchmarks/results/persistence.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import percentile
from _floor import TABLE as FLOOR_TABLE
from _floor import AppendSteps, Floor
from legacy_csv_service import LegacyCsvService

import qdbtools
from qdbtools.database import Database
from qdbtools.service import IndicatorPersistenceService, IndicatorValue, values_to_columns, values_to_rows
from qdbtools.store import to_rows
from qdbtools.store._commits import marker_query
from qdbtools.store._figures import MARKERS

DEFAULT_ARCTICDB_PYTHON = Path(".venv-arcticdb/bin/python")
START = 1_709_251_200.0  # 2024-03-01T00:00:00Z


def make_values(n: int, offset: float = 0.0, start: float = START) -> list[IndicatorValue]:
    return [
        IndicatorValue(
            timestamp=start + 60 * i,
            value=50.0 + (i % 97) / 7 + offset,
            confidence=0.9,
            metadata={"period": 14},
        )
        for i in range(n)
    ]


def wide(n: int, columns: tuple[str, ...] = ("RSI_14",), start: float = START, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.to_datetime(start + 60 * np.arange(n), unit="s", utc=True).as_unit("us")
    return pd.DataFrame({c: 50 + 10 * rng.standard_normal(n) for c in columns}, index=index)


#: The service's API is async: an application calls it from its one running event loop.
LOOP = asyncio.new_event_loop()


def measure_rounds(
    section: str,
    cases: list[tuple[str, str, Any]],
    repeat: int,
    settle: Any = None,
    warmup: bool = False,
) -> list[dict[str, Any]]:
    """Time each case ``repeat`` times, in rounds of one run of every case.

    Rounds put the floor and the saves side by side, so the machine's drift hits them alike.
    ``settle`` (untimed) runs before each run: see :func:`settled`. ``warmup``: one untimed
    round first (for cases measured a few times, whose first run compiles a new query shape).
    """
    times: list[list[float]] = [[] for _ in cases]
    if warmup:
        for _, _, action in cases:
            outcome = action(0)
            if asyncio.iscoroutine(outcome):
                LOOP.run_until_complete(outcome)
    for i in range(repeat):
        for (_, _, action), measured in zip(cases, times, strict=True):
            if settle is not None:
                settle()
            started = time.perf_counter()
            outcome = action(i)
            if asyncio.iscoroutine(outcome):
                LOOP.run_until_complete(outcome)
            measured.append(time.perf_counter() - started)
    return [
        {
            "section": section,
            "storage": storage,
            "case": case,
            "median_seconds": statistics.median(measured),
            "p99_seconds": percentile(measured, 0.99),
            "runs": repeat,
        }
        for (storage, case, _), measured in zip(cases, times, strict=True)
    ]


def settled(db: Database) -> Any:
    """Before each run of section 1: every earlier write applied and the garbage of earlier
    cases collected, so no case pays for the one before it (a 10k save's apply or the CSV
    service's 10k objects)."""

    def settle() -> None:
        db.wait_until_visible(["indicators", FLOOR_TABLE])
        gc.collect()

    return settle


def run_sizes(db: Database, tmp: Path, repeat: int) -> list[dict[str, Any]]:
    """Section 1: saves and loads of 10k and 1k values."""
    floor = Floor(db)
    legacy = LegacyCsvService(tmp / "legacy-small")
    service = IndicatorPersistenceService(questdb_provider=db)
    results = []
    for n in (10_000, 1_000):
        label = f"{n // 1000}k"
        values = make_values(n)
        frame = wide(n)
        service_rows = values_to_rows(values, "bench", "S", "RSI_14", "general")
        df_rows = to_rows(frame, session_id="bench", symbol="D")

        # Appends at new timestamps each run, their inputs made before the timing.
        append_values = [make_values(n, start=START + 60 * n * (i + 1)) for i in range(repeat)]
        append_frames = [wide(n, start=START + 60 * n * (i + 1)) for i in range(repeat)]
        # A variant saved once, before the rounds: its load's query text repeats (the server
        # compiles it once); "re-saved" loads a variant saved again in each round (a new
        # save's query is compiled anew, ~2 ms of server time here).
        frame.qdb.save_indicators(session_id="bench", symbol="U", mode="overwrite", db=db, wait=True)

        cases = [
            ("floor", f"request of the service's {label} rows", lambda i, r=service_rows: floor.request(r)),
            ("floor", f"request of the df's {label} rows", lambda i, r=df_rows: floor.request(r)),
            (
                "legacy csv",
                f"save {label} (overwrite)",
                lambda i, v=values: legacy.save_values("bench", "S", "RSI_14", v, mode="overwrite"),
            ),
            (
                "service",
                f"save {label} (overwrite)",
                lambda i, v=values: service.save_values("bench", "S", "RSI_14", v, mode="overwrite"),
            ),
            (
                "df",
                f"save {label} (overwrite)",
                lambda i, f=frame: f.qdb.save_indicators(
                    session_id="bench", symbol="D", mode="overwrite", db=db
                ),
            ),
            ("legacy csv", f"load {label}", lambda i: legacy.load_values("bench", "S", "RSI_14")),
            ("service", f"load {label}", lambda i: service.load_values("bench", "S", "RSI_14")),
            (
                "df",
                f"load {label} (re-saved in this round)",
                lambda i: db.load_indicators("bench", "D", "RSI_14"),
            ),
            (
                "df",
                f"load {label} (unchanged since the last round)",
                lambda i: db.load_indicators("bench", "U", "RSI_14"),
            ),
            (
                "legacy csv",
                f"save {label} (append, new timestamps)",
                lambda i, a=append_values: legacy.save_values("bench", "SA", "RSI_14", a[i]),
            ),
            (
                "service",
                f"save {label} (append, new timestamps)",
                lambda i, a=append_values: service.save_values("bench", "SA", "RSI_14", a[i]),
            ),
            (
                "df",
                f"save {label} (append, new timestamps)",
                lambda i, a=append_frames: a[i].qdb.save_indicators(session_id="bench", symbol="DA", db=db),
            ),
            (
                "legacy csv",
                f"save {label}, then load",
                lambda i, v=values: (
                    legacy.save_values("bench", "S", "RSI_14", v, mode="overwrite"),
                    legacy.load_values("bench", "S", "RSI_14"),
                ),
            ),
            ("service", f"save {label}, then load", lambda i, v=values: _save_then_load(service, v)),
            (
                "df",
                f"save {label}, then load",
                lambda i, f=frame: (
                    f.qdb.save_indicators(session_id="bench", symbol="D", mode="overwrite", db=db),
                    db.load_indicators("bench", "D", "RSI_14"),
                ),
            ),
        ]
        results += measure_rounds("sizes", cases, repeat, settled(db))
    floor.close()
    return results


async def _save_then_load(service: IndicatorPersistenceService, values: list[IndicatorValue]) -> None:
    await service.save_values("bench", "S", "RSI_14", values, mode="overwrite")
    await service.load_values("bench", "S", "RSI_14")


def run_overwrites(db: Database, count: int = 100) -> dict[str, Any]:
    """Section 2: ``count`` back-to-back overwrites of one 10k-value variant."""
    frames = [wide(10_000, seed=i) for i in range(count)]
    times = []
    started = time.perf_counter()
    for frame in frames:
        t0 = time.perf_counter()
        frame.qdb.save_indicators(session_id="bench", symbol="OVERWRITES", mode="overwrite", db=db)
        times.append(time.perf_counter() - t0)
    returned = time.perf_counter() - started
    db.wait_until_visible("indicators", timeout=600)
    visible = time.perf_counter() - started
    with Database(db.settings) as other:  # a reader that did not write: sees the last one
        last = other.load_indicators("bench", "OVERWRITES", "RSI_14")
    assert np.array_equal(last["RSI_14"].to_numpy(), frames[-1]["RSI_14"].to_numpy())
    tenth = max(1, count // 10)
    return {
        "overwrites": count,
        "saves_per_second": count / returned,
        "first_p50_seconds": statistics.median(times[:tenth]),
        "last_p50_seconds": statistics.median(times[-tenth:]),
        "last_over_first": statistics.median(times[-tenth:]) / statistics.median(times[:tenth]),
        "all_returned_seconds": returned,
        "all_visible_seconds": visible,
    }


def _disk_bytes(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def run_scale(
    db: Database, tmp: Path, sessions: int, repeat: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Section 3: the plan's scale, QuestDB against a legacy CSV tree of the same values."""
    symbols = [f"SYM{j}" for j in range(10)]
    indicators = ("RSI_14", "EMA_12", "SMA_20", "ATR_14", "MACD_12_26_9.macd")
    session_ids = [f"scale_{i:04d}" for i in range(sessions)]
    legacy = LegacyCsvService(tmp / "legacy-scale")
    service = IndicatorPersistenceService(questdb_provider=db)
    build: dict[str, Any] = {"variants": sessions * len(symbols) * len(indicators), "values_per_variant": 200}
    started = time.perf_counter()
    for i, session in enumerate(session_ids):
        for j, symbol in enumerate(symbols):
            wide(200, indicators, seed=i * 10 + j).qdb.save_indicators(
                session_id=session, symbol=symbol, mode="overwrite", db=db
            )
    db.wait_until_visible("indicators", timeout=1200)
    build["questdb_build_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    for i, session in enumerate(session_ids):
        for j, symbol in enumerate(symbols):
            frame = wide(200, indicators, seed=i * 10 + j)
            for name in indicators:
                values = [
                    IndicatorValue(t.timestamp(), v) for t, v in zip(frame.index, frame[name], strict=True)
                ]
                legacy.save_values(session, symbol, name, values, mode="overwrite")
    build["csv_build_seconds"] = time.perf_counter() - started
    big = make_values(100_000)
    legacy.save_values(session_ids[0], "BIG", "RSI_14", big, mode="overwrite")
    LOOP.run_until_complete(service.save_values(session_ids[0], "BIG", "RSI_14", big, mode="overwrite"))
    db.wait_until_visible("indicators")

    key = (session_ids[0], "BIG", "RSI_14")
    runs = max(repeat, 100)  # the cheap cases: a p50 of 5 runs would be noise there
    appends = [make_values(100, start=START + 60 * (100_000 + 100 * i)) for i in range(runs)]
    journaled = [make_values(100, start=START - 60 * (100 + 100 * i)) for i in range(runs)]

    def append_100(store: Any, i: int) -> Any:
        return store.save_values(*key, appends[i])

    floor = Floor(db)
    steps = AppendSteps(db, tmp)
    hundred = values_to_rows(make_values(100), *key, "general")
    one_row = hundred.iloc[:1].reset_index(drop=True)
    built_100, built_1 = floor.prebuilt(hundred), floor.prebuilt(one_row)
    raw_100, raw_1 = floor.http_request(built_100), floor.http_request(built_1)
    columns_100 = values_to_columns(appends[0], *key, "general")
    steps.prepare(columns_100)
    one = session_ids[len(session_ids) // 2]
    others = [session_ids[(len(session_ids) // 2 + 1 + i) % len(session_ids)] for i in range(runs + 1)]
    marker_sql, marker_params = marker_query(one, details=True)

    # The reads go through a Database that wrote nothing: in rounds, the one that appends
    # would make the next round's first read wait for that append's apply (read-your-writes).
    reader = Database(db.settings)
    heavy = [
        ("legacy csv", "list everything stored (with row counts)", lambda i: legacy.list_variants()),
        ("df", "list everything stored (with row counts)", lambda i: reader.list_indicators()),
        (
            "df",
            "list everything stored, as a new process (nothing in memory)",
            lambda i: (MARKERS.clear(), reader.list_indicators()),
        ),
        (
            "legacy csv",
            "one variant of one symbol across all sessions",
            lambda i: [legacy.load_values(s, "SYM3", "RSI_14") for s in session_ids],
        ),
        (
            "df",
            "one variant of one symbol across all sessions (load_across_sessions)",
            lambda i: reader.load_across_sessions("SYM3", "RSI_14"),
        ),
    ]
    # The order within a round matters: a query right after the CSV tree's 5 ms of file reads
    # finds the server's workers napping; "another session" is measured there, as an
    # application's occasional call would be, and the bare round trips show what that costs.
    cheap = [
        (
            "legacy csv",
            "info for every variant of one session (50 get_file_info)",
            lambda i: [legacy.get_file_info(one, y, n) for y in symbols for n in indicators],
        ),
        (
            "records",
            "info of one session, another session each run (nothing decoded before)",
            lambda i: reader.list_indicators(session_id=others[i], as_frame=False),
        ),
        (
            "df",
            "info for every variant of one session (one list_indicators)",
            lambda i: reader.list_indicators(session_id=one),
        ),
        (
            "records",
            "info for every variant of one session (list_indicators as_frame=False)",
            lambda i: reader.list_indicators(session_id=one, as_frame=False),
        ),
        (
            "legacy csv",
            "info of one session, another session each run (50 get_file_info)",
            lambda i: [legacy.get_file_info(others[i], y, n) for y in symbols for n in indicators],
        ),
        (
            "floor",
            "info: a bare round trip (SELECT 1) right after the CSV's 50 file infos",
            lambda i: reader.fetch_rows("SELECT 1"),
        ),
        (
            "floor",
            "info of one session: its marker lookup alone (one query, no frame)",
            lambda i: reader.fetch_rows(marker_sql, marker_params),
        ),
        (
            "floor",
            "info: a bare round trip (SELECT 1) right after another query",
            lambda i: reader.fetch_rows("SELECT 1"),
        ),
        ("legacy csv", "append 100 values to a variant holding 100k", lambda i: append_100(legacy, i)),
        ("service", "append 100 values to a variant holding 100k", lambda i: append_100(service, i)),
        (
            "step",
            "append 100: IndicatorValue objects to columns",
            lambda i: values_to_columns(appends[i], *key, "general"),
        ),
        (
            "step",
            "append 100: checks, checksum, rows and marker (no request)",
            lambda i: steps.prepare(columns_100),
        ),
        ("step", "append 100: Buffer.row of its 101 rows (official client)", lambda i: steps.serialize()),
        ("floor", "request of the append's 100 rows", lambda i: floor.request(hundred)),
        ("floor", "request of 1 row (any durable save pays it)", lambda i: floor.request(one_row)),
        ("floor", "100 rows serialized before: request + ack alone", lambda i: floor.resend(built_100)),
        ("floor", "1 row serialized before: request + ack alone", lambda i: floor.resend(built_1)),
        ("floor", "100 rows, raw HTTP on a kept-alive socket + ack", lambda i: floor.raw_http(raw_100)),
        ("floor", "1 row, raw HTTP on a kept-alive socket + ack", lambda i: floor.raw_http(raw_1)),
        (
            "journal",
            "append 100, its request's bytes written to a local file instead (no ack)",
            lambda i: steps.journal(journaled[i], key),
        ),
        ("pg-wire", "INSERT of the append's 100 rows, committed", lambda i: floor.pg_insert(hundred)),
    ]
    # Rounds without a settle: a sub-millisecond request after a wal_tables() query pays the
    # server's wake-up (0.3-0.5 ms here), which the CSV file does not.
    reads = [case for case in cheap if case[1].startswith("info")]
    append_cases = [case for case in cheap if case[1].startswith("append 100 values")]
    # The steps and floors run in rounds of their own: their requests (the PG INSERT above
    # all) leave the server applying WAL transactions, which an append measured in the same
    # round would wait behind and the CSV file would not.
    parts = [case for case in cheap if case not in reads and case not in append_cases]
    # The first read of a table after a write pays the server's refresh of its table reader
    # (~1 ms here): "right after an append" measures it; the other reads run in rounds of
    # their own, between which nothing writes.
    append_cases.append(
        (
            "records",
            "info of one session, right after an append to the table",
            lambda i: reader.list_indicators(session_id=one, as_frame=False),
        ),
    )
    results = measure_rounds("scale", heavy, repeat, warmup=True)
    results += measure_rounds("scale", reads, runs) + measure_rounds("scale", append_cases, runs)
    # A store in use holds appended variants: list everything again once one holds 1 + runs saves.
    after = f"after the appends (one variant of {1 + runs} saves)"
    listings = [
        (storage, case.replace(" (with row counts)", "") + f", {after}", run)
        for storage, case, run in heavy
        if case.startswith("list everything")
    ]
    results += measure_rounds("scale", listings, repeat, warmup=True)
    results += measure_rounds("scale", parts, runs)
    across = db.load_across_sessions("SYM3", "RSI_14")
    assert len(across) == 200 * sessions, len(across)
    db.wait_until_visible("indicators")
    ((disk,),) = db.fetch_rows("SELECT sum(diskSize) FROM table_partitions('indicators')")
    build["questdb_indicators_bytes"] = int(disk)
    build["csv_tree_bytes"] = _disk_bytes(tmp / "legacy-scale")
    floor.close()
    steps.close()
    reader.close()
    return results, build


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
            "section": "sizes",
            "storage": "arcticdb",
            "case": f"{case} 10k (LMDB, {measured['versions']['arcticdb']})",
            "median_seconds": statistics.median(measured[key]),
            "p99_seconds": percentile(measured[key], 0.99),
            "runs": repeat,
        }
        for case, key in (("write", "write_seconds"), ("read", "read_seconds"))
    ]


def print_results(results: list[dict[str, Any]], overwrites: dict[str, Any], build: dict[str, Any]) -> None:
    print(f"{'section':7} {'storage':10} {'case':66} {'p50 ms':>9} {'p99 ms':>9}")
    for r in results:
        print(
            f"{r['section']:7} {r['storage']:10} {r['case']:66} "
            f"{r['median_seconds'] * 1e3:9.2f} {r['p99_seconds'] * 1e3:9.2f}"
        )
    print("\n100 back-to-back overwrites of 10k values:")
    for key, value in overwrites.items():
        print(f"  {key:24} {value:.4g}")
    print("\nthe plan's scale:")
    for key, value in build.items():
        print(f"  {key:28} {value:,.6g}" if isinstance(value, float) else f"  {key:28} {value:,}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20, help="runs per case in section 1 (default 20)")
    parser.add_argument("--scale-repeat", type=int, default=5, help="runs per case in section 3 (default 5)")
    parser.add_argument("--sessions", type=int, default=1000, help="sessions in section 3 (default 1000)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/persistence.json"))
    parser.add_argument(
        "--arcticdb-python",
        type=Path,
        default=DEFAULT_ARCTICDB_PYTHON,
        help="Python with arcticdb and pandas<3 (default: %(default)s, made by `make bench-env`)",
    )
    args = parser.parse_args()
    arcticdb_python = args.arcticdb_python if args.arcticdb_python.exists() else None
    with tempfile.TemporaryDirectory() as name, qdbtools.local_server(heap="2g") as db:
        tmp = Path(name)
        # Warm the server's JIT up with the shapes measured below.
        for i in range(30):
            wide(10_000, seed=i).qdb.save_indicators(session_id="warmup", symbol="W", mode="overwrite", db=db)
            db.load_indicators("warmup", "W")
        results = run_sizes(db, tmp, args.repeat)
        if arcticdb_python is not None:
            results += arcticdb_reference(arcticdb_python, wide(10_000), tmp, args.repeat)
        overwrites = run_overwrites(db)
        scale, build = run_scale(db, tmp, args.sessions, args.scale_repeat)
        results += scale
    print_results(results, overwrites, build)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": (
            f"python benchmarks/bench_persistence.py --repeat {args.repeat} --sessions {args.sessions}"
        ),
        "python": platform.python_version(),
        "questdb_server": qdbtools.QUESTDB_VERSION,
        "cpus": os.cpu_count(),
        "arcticdb_measured": arcticdb_python is not None,
    }
    payload = {"meta": meta, "results": results, "overwrites": overwrites, "scale": build}
    args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
