"""Helpers the benchmark scripts share: timing, percentiles, CPU time, the JSON results file."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["best_of", "cpu_seconds", "percentile", "write_results"]


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs of ``fn`` in seconds, and the last run's result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def percentile(times: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``times`` by rank (the nearest observed value); NaN if empty."""
    if not times:
        return float("nan")
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_results(path: Path, command: str, **payload: Any) -> None:
    """Write ``payload`` with a ``meta`` entry (the reproducing command, Python, CPUs) as JSON."""
    meta = {"command": command, "python": platform.python_version(), "cpus": os.cpu_count()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, **payload}, indent=2) + "\n")
