"""The offline indicator engine: load bars, compute indicator variants, save them.

:class:`OfflineIndicatorEngine` runs one (session_id, symbol) pair, or many of them on local
processes, any ``concurrent.futures`` executor, or a Dask cluster (``run_many``). Modules:
``_engine`` (the engine and the worker side of a pair), ``_executors`` (submitting pairs and
collecting their runs), ``_runs`` (:class:`EngineRun`).
"""

from qdbtools.offline._engine import (
    OfflineIndicatorEngine,
    PairJob,
    run_pair,
    worker_database,
    worker_databases,
)
from qdbtools.offline._executors import is_dask_client
from qdbtools.offline._runs import EngineRun

__all__ = [
    "EngineRun",
    "OfflineIndicatorEngine",
    "PairJob",
    "is_dask_client",
    "run_pair",
    "worker_database",
    "worker_databases",
]
