"""Where many pairs come from and where they run: a pairs file, a Dask scheduler or LocalCluster."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qdbtools.exceptions import ConfigError, InvalidInputError

__all__ = ["SCHEDULER_TIMEOUT", "dask_executor", "read_pairs_file"]

#: Seconds to wait for a Dask scheduler to answer.
SCHEDULER_TIMEOUT = 30.0


def read_pairs_file(path: Path) -> list[tuple[str, str]]:
    """The (session_id, symbol) pairs of a CSV file: one pair per line, an optional header.

    Values are taken exactly as written (CSV quoting allowed); blank lines are skipped and a
    pair listed twice runs once. A line without exactly two values is an error naming it.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read the pairs file {str(path)!r}: {exc}") from exc
    pairs: dict[tuple[str, str], None] = {}
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or row == [""]:
            continue
        if len(row) != 2 or not all(row):
            raise InvalidInputError(f"{path}:{number}: expected 'session_id,symbol', got {','.join(row)!r}")
        if number == 1 and [v.strip().lower() for v in row] == ["session_id", "symbol"]:
            continue
        pairs[(row[0], row[1])] = None
    if not pairs:
        raise InvalidInputError(f"the pairs file {str(path)!r} lists no pairs")
    return list(pairs)


@contextlib.contextmanager
def dask_executor(scheduler: str | None = None, local_workers: int | None = None) -> Iterator[Any]:
    """A Dask ``Client`` of ``scheduler``, or of a new LocalCluster of ``local_workers``; else None.

    A LocalCluster listens on loopback only and stops when the block ends.
    """
    if scheduler is None and local_workers is None:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError("running on Dask needs the dask extra: pip install 'qdbtools[dask]'") from exc
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(
                f"no Dask scheduler answered at {scheduler!r} within {SCHEDULER_TIMEOUT:g} s ({exc}); "
                "check the address (tcp://HOST:PORT) and that the scheduler runs"
            ) from exc
        with client:
            yield client
        return
    if local_workers is not None and local_workers < 1:
        raise InvalidInputError(f"--local-cluster needs at least 1 worker, got {local_workers}")
    cluster = LocalCluster(
        n_workers=local_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        preload=["qdbtools.offline"],  # each worker imports qdbtools once, when it starts
    )
    with cluster, Client(cluster) as client:
        yield client
