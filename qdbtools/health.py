"""A short synthetic save/load probe against limits an operator sets (``qdbtools check``).

The probe overwrites one small variant under its own key (session :data:`PROBE_SESSION`,
symbol :data:`PROBE_SYMBOL`, variant type :data:`PROBE_VARIANT_TYPE`) and loads it back a
number of times through a fresh :class:`~qdbtools.Database` whose figures are only the
probe's. QuestDB has no row DELETE, so each run leaves one superseded save of ``values``
rows under that key; ``Database.prune`` removes them with the rest of the history.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from qdbtools.exceptions import InvalidInputError, QdbToolsError
from qdbtools.telemetry import Telemetry

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = ["PROBE_SESSION", "PROBE_SYMBOL", "PROBE_VARIANT_TYPE", "HealthReport", "check_health"]

log = logging.getLogger(__name__)

PROBE_SESSION = "qdbtools-check"
PROBE_SYMBOL = "PROBE"
PROBE_VARIANT_TYPE = "check"


@dataclass
class HealthReport:
    """What :func:`check_health` measured and whether it is within the limits."""

    latency_ms: float
    error_rate: float
    stats: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def _probe_frame(values: int) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=values, freq="1min", tz="UTC", unit="us")
    return pd.DataFrame({"PROBE_1": np.full(values, time.time())}, index=index)


def check_health(
    db: Database, *, latency_ms: float = 50.0, error_rate: float = 0.001, loads: int = 20, values: int = 100
) -> HealthReport:
    """Save one probe variant, load it ``loads`` times, and compare with the limits.

    Parameters
    ----------
    db : Database
        The server to probe (its settings; the probe's calls go through a fresh Database).
    latency_ms : float
        The highest acceptable p99 of the probe's loads, in milliseconds.
    error_rate : float
        The highest acceptable share of the probe's calls that raised (0.001: 0.1%).
    loads, values : int
        Loads to time, and values in the probe's variant.

    Returns
    -------
    HealthReport
        ``ok`` when within both limits; ``problems`` says what was over. The probe stops at
        its first failed call (one failure is over any useful error-rate limit).
    """
    if loads < 1 or values < 1:
        raise InvalidInputError(f"loads and values must be at least 1, got loads={loads}, values={values}")
    from qdbtools.database import Database

    started = time.perf_counter()
    probe = Database(db.settings, server=db.server, telemetry=Telemetry())
    failure = None
    try:
        probe.save_indicators(
            _probe_frame(values), PROBE_SESSION, PROBE_SYMBOL, "overwrite", variant_type=PROBE_VARIANT_TYPE
        )
        for _ in range(loads):
            probe.load_indicators(PROBE_SESSION, PROBE_SYMBOL, ["PROBE_1"], variant_type=PROBE_VARIANT_TYPE)
    except QdbToolsError as exc:
        failure = f"{type(exc).__name__}: {exc}"
        log.error("the health probe failed: %s", failure)
    finally:
        probe.close()
    stats = probe.stats()
    calls, errors = int(stats["calls"].sum()), int(stats["errors"].sum())
    rate = errors / calls if calls else 1.0
    load_rows = stats[stats["operation"] == "load"]
    p99 = float(load_rows["p99_ms"].iloc[0]) if len(load_rows) else float("nan")
    report = HealthReport(p99, rate, stats, seconds=time.perf_counter() - started)
    if failure is not None:
        report.problems.append(f"a probe call failed: {failure}")
    if rate > error_rate:
        report.problems.append(f"error rate {rate:.2%} of {calls} calls is over the limit {error_rate:.2%}")
    if not p99 <= latency_ms:  # NaN (no load ran) is over too
        report.problems.append(f"p99 load latency {p99:.1f} ms is over the limit {latency_ms:g} ms")
    return report
