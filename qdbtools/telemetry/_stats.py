"""The in-process summary behind ``Database.stats()``: calls, errors and latency per operation."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np
import pandas as pd

__all__ = ["STATS_COLUMNS", "OperationStats"]

#: The columns of :meth:`OperationStats.frame`, in order.
STATS_COLUMNS = ("operation", "calls", "errors", "no_data", "error_rate", "p50_ms", "p95_ms", "p99_ms")

#: Durations kept per operation for the percentiles (the latest ones); counts are exact.
KEPT_DURATIONS = 100_000


class OperationStats:
    """Thread-safe counts and recent durations per operation, since creation or :meth:`reset`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._errors: dict[str, int] = {}
        self._no_data: dict[str, int] = {}
        self._durations: dict[str, deque[float]] = {}

    def record(self, operation: str, seconds: float, outcome: str) -> None:
        """Count one call of ``operation`` (``outcome``: ``ok``, ``no_data`` or ``error``)."""
        with self._lock:
            self._calls[operation] = self._calls.get(operation, 0) + 1
            if outcome == "error":
                self._errors[operation] = self._errors.get(operation, 0) + 1
            elif outcome == "no_data":
                self._no_data[operation] = self._no_data.get(operation, 0) + 1
            kept = self._durations.get(operation)
            if kept is None:
                kept = self._durations[operation] = deque(maxlen=KEPT_DURATIONS)
            kept.append(seconds)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._errors.clear()
            self._no_data.clear()
            self._durations.clear()

    def frame(self) -> pd.DataFrame:
        """One row per operation called, sorted by name (see :data:`STATS_COLUMNS`)."""
        with self._lock:
            rows = []
            for operation in sorted(self._calls):
                calls = self._calls[operation]
                errors = self._errors.get(operation, 0)
                durations = np.fromiter(self._durations[operation], float)
                p50, p95, p99 = np.percentile(durations, [50, 95, 99]) * 1e3
                no_data = self._no_data.get(operation, 0)
                rows.append((operation, calls, errors, no_data, errors / calls, p50, p95, p99))
        frame = pd.DataFrame(rows, columns=list(STATS_COLUMNS))
        return frame.astype({"calls": "int64", "errors": "int64", "no_data": "int64"})
