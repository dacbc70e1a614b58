"""Benchmark: loads of a variant whose current state is an overwrite and appends (layers).

An append layers its values on the current state; at each timestamp the latest save counts.
Two patterns, 10k values each, against one managed QuestDB, in one run:

* **re-saved**: the whole series appended again and again (every layer holds every timestamp:
  a load must drop most rows);
* **grown**: 400 appends of 10 new values each (the trading system's bar-by-bar pattern).

For each, after 0..N appends: ``db.load_indicators`` (wide and long), against

* the **client-side** way the store used before (every layer's rows fetched, the latest per
  timestamp kept by the client; the store keeps it for saves of one key that share a
  microsecond), and
* the **floor**: a load of a variant saved once with the same number of values.

Run from the repository root::

    python benchmarks/bench_layered_loads.py --repeat 15

Prints a table and writes JSON (``--json``, default ``benchmarks/results/layered_loads.json``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import write_results

import qdbtools
from qdbtools.database import Database
from qdbtools.io.engines import read_frame, resolve_engine
from qdbtools.store._commits import saves_filter
from qdbtools.store._read import _latest_per_timestamp, _utc_index, current_state

START = pd.Timestamp("2024-03-01", tz="UTC")


def series(n: int, offset: int = 0, value: float = 0.0) -> pd.DataFrame:
    index = pd.date_range(START + pd.Timedelta(minutes=offset), periods=n, freq="1min", name="timestamp")
    return pd.DataFrame({"RSI_14": value + np.arange(n, dtype="float64")}, index=index.as_unit("us"))


def p50_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def client_side(db: Database, session_id: str) -> pd.DataFrame:
    """Every layer's rows, the latest per timestamp kept here (the store's way before)."""
    state = current_state(db, session_id, "X", ["RSI_14"])
    params: dict[str, Any] = {"s": session_id, "y": "X"}
    where = "session_id = :s AND symbol = :y AND " + saves_filter(state, params)
    query = f"SELECT timestamp, indicator_type, indicator_id, value, generation FROM indicators WHERE {where}"
    raw = _utc_index(read_frame(db.transport, query, params, resolve_engine(db.transport, "auto")))
    latest = _latest_per_timestamp(raw.astype({"generation": "int64"}))
    return pd.DataFrame({"RSI_14": latest["value"].to_numpy()}, index=latest.index)


def measure(db: Database, session_id: str, appends: int, rows: int, repeat: int) -> dict[str, Any]:
    db.wait_until_visible("indicators")
    loaded = db.load_indicators(session_id, "X")
    assert len(loaded) == rows, (len(loaded), rows)
    np.testing.assert_array_equal(
        client_side(db, session_id)["RSI_14"].to_numpy(), loaded["RSI_14"].to_numpy()
    )
    floor_id = f"{session_id}_floor_{appends}"
    db.save_indicators(loaded, floor_id, "X", mode="overwrite", wait=True)
    return {
        "appends": appends,
        "rows": rows,
        "load wide": p50_ms(lambda: db.load_indicators(session_id, "X"), repeat),
        "load long": p50_ms(lambda: db.load_indicators(session_id, "X", shape="long"), repeat),
        "client-side layers": p50_ms(lambda: client_side(db, session_id), repeat),
        "floor: one save": p50_ms(lambda: db.load_indicators(floor_id, "X"), repeat),
    }


def layered(
    db: Database,
    pattern: str,
    append: Callable[[int], pd.DataFrame],
    repeat: int,
    checkpoints: tuple[int, ...],
) -> list[dict[str, Any]]:
    """An overwrite of 10k values, then ``append(k)`` for k = 1.., measured at ``checkpoints``."""
    session_id = f"layers_{pattern}"
    db.save_indicators(series(10_000), session_id, "X", mode="overwrite")
    rows, stored = [], series(10_000)
    for appends in range(max(checkpoints) + 1):
        if appends:
            frame = append(appends)
            db.save_indicators(frame, session_id, "X")
            stored = frame.combine_first(stored)
        if appends in checkpoints:
            rows.append({"pattern": pattern} | measure(db, session_id, appends, len(stored), repeat))
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = [
        "pattern",
        "appends",
        "rows",
        "load wide",
        "load long",
        "client-side layers",
        "floor: one save",
    ]
    print(" | ".join(f"{c:>18}" for c in columns))
    for row in rows:
        cells = [f"{row[c]:>18.2f}" if isinstance(row[c], float) else f"{row[c]!s:>18}" for c in columns]
        print(" | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=15, help="loads per case (default 15)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/layered_loads.json"))
    args = parser.parse_args()
    with qdbtools.local_server(heap="2g") as db:
        for _ in range(20):  # warm the server's JIT up with the shapes measured below
            db.save_indicators(series(10_000), "warmup", "W", mode="overwrite")
            db.load_indicators("warmup", "W")
        rows = layered(db, "re-saved", lambda k: series(10_000, value=k), args.repeat, (0, 1, 5, 20))
        rows += layered(
            db, "grown", lambda k: series(10, offset=10_000 + 10 * (k - 1)), args.repeat, (0, 10, 100, 400)
        )
    print_table(rows)
    write_results(args.json, f"python benchmarks/bench_layered_loads.py --repeat {args.repeat}", results=rows)


if __name__ == "__main__":
    main()
