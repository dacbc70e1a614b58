"""Benchmark: writing and reading ticks and OHLCV bars through qdbtools vs CSV and Parquet files.

Starts a managed QuestDB (temporary root), then, on the same frames:

- write: ``Database.write_ticks`` / ``write_frame`` (``Sender.dataframe`` over ILP/HTTP,
  validation included, returning when the rows are visible), ``to_csv``, ``to_parquet``; and, as
  the ceilings qdbtools works under, the bare client (``Sender.dataframe`` + ``flush`` on the
  validated frame) and the server alone (pre-serialized buffers sent, ingested and applied);
- read: ``read_ticks`` / ``read_ohlcv`` through the ``fast`` (Parquet export) and
  ``sqlalchemy`` (``pd.read_sql``) engines, ``read_csv``, ``read_parquet``.

Run from the repository root::

    python benchmarks/bench_io.py --rows 1000000

Prints a table and writes JSON (``--json``, default ``benchmarks/results/io.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import best_of, cpu_seconds

import qdbtools
from qdbtools.io.writer import prepare_frame, prepare_ticks


def make_ticks(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stamps = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        np.cumsum(rng.integers(1, 200_000, rows)), unit="us"
    )
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "session_id": "bench",
            "symbol": "BTC_USDT",
            "trade_id": np.arange(rows, dtype="int64"),
            "price": np.round(60_000 * np.exp(np.cumsum(rng.normal(0, 1e-4, rows))), 2),
            "volume": np.round(rng.lognormal(-3, 1, rows), 5),
        }
    )


def make_bars(rows: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, rows)))
    spread = np.abs(rng.normal(0, 5, rows))
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2020-01-01", periods=rows, freq="1min", tz="UTC"),
            "session_id": "bench",
            "symbol": "BTC_USDT",
            "interval": "1m",
            "open": close + rng.normal(0, 2, rows),
            "high": close + spread,
            "low": close - spread,
            "close": close,
            "volume": rng.lognormal(1, 1, rows),
            "trades": rng.integers(1, 500, rows),
        }
    )


def bench_dataset(
    db: qdbtools.Database, data: str, frame: pd.DataFrame, files: Path, repeat: int
) -> list[dict[str, Any]]:
    """Baseline writes, then reads every way; the two engines must return equal frames."""
    rows = len(frame)
    csv, parquet = files / f"{data}.csv", files / f"{data}.parquet"
    if data == "ticks":
        read = partial(db.read_ticks, "bench", "BTC_USDT")
    else:
        read = partial(db.read_ohlcv, "bench", "BTC_USDT", "1m")
    fast_s, fast = best_of(partial(read, engine="fast"), repeat)
    sa_s, slow = best_of(partial(read, engine="sqlalchemy"), repeat)
    if len(fast) != rows:
        raise RuntimeError(f"{data}: the fast reader returned {len(fast)} rows, expected {rows}")
    pd.testing.assert_frame_equal(fast, slow)
    timings = [
        ("write", "to_csv", partial(frame.to_csv, csv, index=False)),
        ("write", "to_parquet", partial(frame.to_parquet, parquet, index=False)),
        ("read", "qdbtools engine=fast (Parquet export)", fast_s),
        ("read", "qdbtools engine=sqlalchemy (pd.read_sql)", sa_s),
        ("read", "read_csv", partial(pd.read_csv, csv)),
        ("read", "read_parquet", partial(pd.read_parquet, parquet)),
    ]
    results = []
    for op, method, how in timings:
        seconds = how if isinstance(how, float) else best_of(how, repeat)[0]
        results.append(
            {
                "data": data,
                "op": op,
                "method": method,
                "rows": rows,
                "seconds": seconds,
                "rows_per_s": rows / seconds,
            }
        )
    return results


SYMBOLS = {"ticks": ("session_id", "symbol"), "ohlcv": ("session_id", "symbol", "interval")}
TABLES = {"ticks": "tick_prices", "ohlcv": "aggregated_ohlcv"}


def raw_client_write(
    db: qdbtools.Database, frame: pd.DataFrame, table: str, symbols: tuple[str, ...]
) -> float:
    """``Sender.dataframe`` + ``flush`` alone (250k-row requests) on an already prepared frame."""
    with db.transport.sender() as sender:
        started = time.perf_counter()
        for start in range(0, len(frame), 250_000):
            sender.dataframe(
                frame.iloc[start : start + 250_000], table_name=table, symbols=symbols, at="timestamp"
            )
            sender.flush()
        db.wait_until_visible(table)
        return time.perf_counter() - started


def server_only_write(
    db: qdbtools.Database, frame: pd.DataFrame, table: str, symbols: tuple[str, ...]
) -> float:
    """The server's share: buffers serialized beforehand, then only sent, ingested and applied."""
    with db.transport.sender() as sender:
        buffers = []
        for start in range(0, len(frame), 250_000):
            buffer = sender.new_buffer()
            buffer.dataframe(
                frame.iloc[start : start + 250_000], table_name=table, symbols=symbols, at="timestamp"
            )
            buffers.append(buffer)
        started = time.perf_counter()
        for buffer in buffers:
            sender.flush(buffer)
        db.wait_until_visible(table)
        return time.perf_counter() - started


def with_cpu(db: qdbtools.Database, write: Callable[[], float]) -> tuple[float, float, float]:
    """(wall seconds, server CPU seconds, client CPU seconds) of one write."""
    assert db.server is not None and db.server.pid is not None
    server, client = cpu_seconds(db.server.pid), time.process_time()
    seconds = write()
    return seconds, cpu_seconds(db.server.pid) - server, time.process_time() - client


def bench_writes(db: qdbtools.Database, data: str, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The qdbtools writer into the real table, then the bare client and the server alone into
    empty copies of it (``CREATE TABLE ... (LIKE ...)``): the same rows, one write each."""
    table, symbols = TABLES[data], SYMBOLS[data]
    if data == "ticks":
        ours = with_cpu(db, lambda: best_of(partial(db.write_ticks, frame), 1)[0])
        prepared = prepare_ticks(frame)
    else:
        ours = with_cpu(db, lambda: best_of(partial(db.write_frame, frame, table, symbols=symbols), 1)[0])
        prepared = prepare_frame(frame, at="timestamp", symbols=symbols)
    for copy in (f"{table}_raw", f"{table}_server"):
        db.execute(f"CREATE TABLE {copy} (LIKE {table})")
    methods = [
        ("qdbtools write (validated, visible)", ours),
        (
            "bare Sender.dataframe + flush (visible)",
            with_cpu(db, partial(raw_client_write, db, prepared, f"{table}_raw", symbols)),
        ),
        (
            "server only: send, ingest, apply",
            with_cpu(db, partial(server_only_write, db, prepared, f"{table}_server", symbols)),
        ),
    ]
    return [
        {
            "data": data,
            "op": "write",
            "method": method,
            "rows": len(frame),
            "seconds": seconds,
            "rows_per_s": len(frame) / seconds,
            "server_cpu_seconds": server_cpu,
            "client_cpu_seconds": client_cpu,
        }
        for method, (seconds, server_cpu, client_cpu) in methods
    ]


def run(rows: int, repeat: int) -> list[dict[str, Any]]:
    ticks, bars = make_ticks(rows), make_bars(rows)
    with tempfile.TemporaryDirectory() as tmp, qdbtools.local_server(heap="2g") as db:
        # A fresh JVM ingests slowly until its JIT has compiled the ingestion path of each table
        # shape (200k rows were not enough: the first timed write used 1.7x the server CPU of
        # the later ones): write both frames once into scratch copies before anything is timed.
        for data, frame in (("ticks", ticks), ("ohlcv", bars)):
            db.execute(f"CREATE TABLE warm_up_{data} (LIKE {TABLES[data]})")
            db.write_frame(frame, f"warm_up_{data}", symbols=SYMBOLS[data])
        # Writes first (each needs an empty table for its key range), then reads.
        writes = {data: bench_writes(db, data, frame) for data, frame in (("ticks", ticks), ("ohlcv", bars))}
        results = []
        for data, frame in (("ticks", ticks), ("ohlcv", bars)):
            results += writes[data]
            results += bench_dataset(db, data, frame, Path(tmp), repeat)
    return results


def print_table(results: list[dict[str, Any]]) -> None:
    print(
        f"{'data':6} {'op':5} {'method':48} {'seconds':>8} {'rows/s':>12} {'vs sqlalchemy':>13} "
        f"{'cpu s: server':>13} {'client':>6}"
    )
    for r in results:
        ratio = cpu = ""
        if r["op"] == "read":
            sa = next(x for x in results if x["data"] == r["data"] and "sqlalchemy" in x["method"])
            ratio = f"{sa['seconds'] / r['seconds']:.1f}x"
        if "server_cpu_seconds" in r:
            cpu = f"{r['server_cpu_seconds']:13.2f} {r['client_cpu_seconds']:6.2f}"
        print(
            f"{r['data']:6} {r['op']:5} {r['method']:48} {r['seconds']:8.3f} "
            f"{r['rows_per_s']:12,.0f} {ratio:>13} {cpu}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="take the best of N runs (default 1)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/io.json"))
    args = parser.parse_args()
    results = run(args.rows, args.repeat)
    print_table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": f"python benchmarks/bench_io.py --rows {args.rows} --repeat {args.repeat}",
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "questdb_server": qdbtools.QUESTDB_VERSION,
        "machine": platform.machine(),
    }
    args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
