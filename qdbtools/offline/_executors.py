"""Pairs on an executor: local processes, any ``concurrent.futures`` executor, or a Dask
distributed ``Client``; results collected in order, with a progress bar.

A task is a module-level function called with a picklable job and one (session_id, symbol)
pair. A task that fails as a whole (its worker died, the pool broke) gives an
:class:`EngineRun` with ``error`` set; the other pairs go on.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from typing import Any

from qdbtools.exceptions import InvalidInputError
from qdbtools.offline._runs import EngineRun

__all__ = ["Task", "is_dask_client", "run_pairs"]

#: A task: ``task(job, session_id, symbol)`` returns that pair's run.
Task = Callable[[Any, str, str], EngineRun]


def is_dask_client(executor: Any) -> bool:
    """Whether ``executor`` is a ``dask.distributed.Client`` (without importing Dask otherwise)."""
    return type(executor).__module__.startswith("distributed") and hasattr(executor, "gather")


def run_pairs(
    task: Task,
    job: Any,
    pairs: Sequence[tuple[str, str]],
    executor: Executor | Any | None = None,
    *,
    processes: int | None = None,
    progress: bool = True,
) -> list[EngineRun]:
    """``task`` for every pair on ``executor``; one :class:`EngineRun` per pair, in order.

    ``executor`` None runs them in ``processes`` local worker processes (default: one per CPU).
    """
    if not pairs:
        return []
    if executor is not None and processes is not None:
        raise InvalidInputError("pass executor= or processes=, not both: processes= sizes the local pool")
    if executor is None:
        workers = max(1, min(processes or os.cpu_count() or 1, len(pairs)))
        with ProcessPoolExecutor(workers) as pool:
            return _collect(pairs, _submitted(pool, task, job, pairs), progress)
    if is_dask_client(executor):
        return _collect(pairs, _submitted_to_dask(executor, task, job, pairs), progress)
    if not isinstance(executor, Executor):
        raise InvalidInputError(
            f"executor must be a concurrent.futures.Executor or a dask.distributed.Client, "
            f"got {type(executor).__name__}"
        )
    return _collect(pairs, _submitted(executor, task, job, pairs), progress)


def _submitted(
    pool: Executor, task: Task, job: Any, pairs: Sequence[tuple[str, str]]
) -> Iterator[tuple[int, Any]]:
    futures: dict[Future[EngineRun], int] = {
        pool.submit(task, job, session_id, symbol): position
        for position, (session_id, symbol) in enumerate(pairs)
    }
    for future in as_completed(futures):
        yield futures[future], future


def _submitted_to_dask(
    client: Any, task: Task, job: Any, pairs: Sequence[tuple[str, str]]
) -> Iterator[tuple[int, Any]]:
    from distributed import as_completed as dask_completed

    run = uuid.uuid4().hex[:12]
    # One key per pair (never a hash of the arguments): a rerun of the same pairs runs again.
    futures = [
        client.submit(task, job, session_id, symbol, key=f"qdbtools-run-{run}-{position}", pure=False)
        for position, (session_id, symbol) in enumerate(pairs)
    ]
    position_of = {future.key: position for position, future in enumerate(futures)}
    try:
        for future in dask_completed(futures):
            yield position_of[future.key], future
    finally:
        client.cancel(futures)


def _outcome(pair: tuple[str, str], future: Any) -> EngineRun:
    try:
        run: EngineRun = future.result()
    except Exception as exc:  # the task itself failed: its worker died, or the pool broke
        return EngineRun.failed(pair[0], pair[1], exc)
    return run


def _collect(
    pairs: Sequence[tuple[str, str]], finished: Iterable[tuple[int, Any]], progress: bool
) -> list[EngineRun]:
    results: dict[int, EngineRun] = {}
    bar = _progress_bar(len(pairs)) if progress else None
    rows = errors = 0
    try:
        for position, future in finished:
            run = results[position] = _outcome(pairs[position], future)
            rows += sum(run.rows.values())
            errors += not run.ok
            if bar is not None:
                bar.set_postfix(rows=f"{rows:,}", errors=errors, refresh=False)
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return [results[position] for position in range(len(pairs))]


def _progress_bar(total: int) -> Any:
    from tqdm.auto import tqdm  # imported only when a bar is shown (no widget warning otherwise)

    return tqdm(total=total, desc="indicators", unit="pair")
