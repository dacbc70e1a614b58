"""ArcticDB (LMDB, local) write and read of one frame: the outside reference of bench_persistence.

ArcticDB 6.28 requires pandas < 3, so it cannot share qdbtools' environment; this script runs
in its own (``make bench-env`` creates ``.venv-arcticdb``) and is started by
``bench_persistence.py``, which hands it the frame as a Parquet file. It prints one JSON
object: the times in seconds of each write and each read.

    .venv-arcticdb/bin/python benchmarks/arcticdb_reference.py FRAME.parquet LMDB_DIR --repeat 20
"""

from __future__ import annotations

import argparse
import json
import time

import arcticdb
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("frame", help="Parquet file holding the frame to write")
    parser.add_argument("lmdb", help="directory for the LMDB store (created)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    frame = pd.read_parquet(args.frame)
    library = arcticdb.Arctic(f"lmdb://{args.lmdb}").get_library("bench", create_if_missing=True)
    writes, reads = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        library.write("RSI_14", frame)
        writes.append(time.perf_counter() - started)
        started = time.perf_counter()
        back = library.read("RSI_14").data
        reads.append(time.perf_counter() - started)
        if len(back) != len(frame):
            raise SystemExit(f"ArcticDB returned {len(back)} rows, expected {len(frame)}")
    versions = {"arcticdb": arcticdb.__version__, "pandas": pd.__version__}
    print(json.dumps({"write_seconds": writes, "read_seconds": reads, "versions": versions}))


if __name__ == "__main__":
    main()
