"""The full demo: ticks -> bars -> indicators -> QuestDB -> verified -> chart, idempotently.

Run with ``qdbtools demo`` (the README's main command). Every step can be repeated: ticks
carry exchange trade ids (DEDUP), bars are upserted, indicator values are appended at the
same timestamps (DEDUP), and migrated CSV files are skipped once verified. A second run
therefore stores nothing new and reports the same figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qdbtools.exceptions import InvalidInputError, QdbToolsError

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = ["STANDARD_VARIANTS", "DemoReport", "find_samples", "run_demo"]


STANDARD_VARIANTS = [
    "SMA_20",
    "EMA_12",
    "EMA_26",
    "BBANDS_20_2",
    "VWAP",
    "RSI_14",
    "MACD_12_26_9",
    "STOCH_14_3_3",
    "ATR_14",
    "ADX_14",
    "CCI_20",
    "OBV",
]


@dataclass
class DemoReport:
    """Figures of one demo run: one row per step, and the files written."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    charts: list[Path] = field(default_factory=list)

    def step(self, name: str, rows: int, seconds: float, note: str = "") -> None:
        self.steps.append({"step": name, "rows": rows, "seconds": round(seconds, 3), "note": note})

    def table(self) -> str:
        lines = [f"{'step':<34} {'rows':>10} {'seconds':>8}  note"]
        lines += [f"{s['step']:<34} {s['rows']:>10} {s['seconds']:>8.3f}  {s['note']}" for s in self.steps]
        return "\n".join(lines)


def find_samples(start: Path | None = None) -> Path:
    """The repository's ``data_samples``: from ``start`` (or cwd) upwards, then beside the package."""
    here = (start or Path.cwd()).resolve()
    for candidate in [here, *here.parents, Path(__file__).resolve().parent.parent]:
        if (candidate / "data_samples" / "ticks.parquet").is_file():
            return candidate / "data_samples"
    raise InvalidInputError(
        "data_samples/ticks.parquet not found from the current directory upwards; run the demo from a "
        "clone of the qdbtools repository or pass --data DIR"
    )


def _timed(report: DemoReport, name: str, action: Callable[[], tuple[int, str]]) -> None:
    started = time.perf_counter()
    rows, note = action()
    report.step(name, rows, time.perf_counter() - started, note)


def run_demo(db: Database, data: Path, out: Path, *, variants: list[str] | None = None) -> DemoReport:
    """Run every step of the demo against ``db``; raises when a verification fails."""
    from qdbtools.legacy.migrate import migrate_csv
    from qdbtools.offline import OfflineIndicatorEngine
    from qdbtools.plotting import plot_indicators

    variants = variants or STANDARD_VARIANTS
    report = DemoReport()
    ticks = pd.read_parquet(data / "ticks.parquet")
    pairs = sorted({(s, y) for s, y in zip(ticks["session_id"], ticks["symbol"], strict=True)})

    def schema() -> tuple[int, str]:
        result = db.migrate()
        return len(
            result.applied
        ), f"QuestDB {db.server_version()}, {len(result.already_applied)} already applied"

    def load_ticks() -> tuple[int, str]:
        written = db.write_ticks(ticks).rows
        stored = sum(len(db.read_ticks(s, y, columns=["price"])) for s, y in pairs)
        if stored != len(ticks):
            raise QdbToolsError(f"tick_prices holds {stored} sample ticks, the sample has {len(ticks)}")
        return written, f"{len(pairs)} session/symbol pairs, {stored} stored (no duplicates)"

    def aggregate() -> tuple[int, str]:
        bars = sum(db.aggregate_ohlcv(s, y, "1m") for s, y in pairs)
        return bars, "1m bars built with SAMPLE BY"

    def legacy() -> tuple[int, str]:
        run = migrate_csv(db, data / "legacy", report=out / "csv-migration-report.json", progress=False)
        if not run.ok:
            raise QdbToolsError(f"CSV migration did not verify: {run.summary}")
        summary = run.summary
        return summary[
            "rows"
        ], f"{summary['verified']} verified, {summary['already migrated']} already migrated"

    computed: dict[tuple[str, str], pd.DataFrame] = {}

    def engine() -> tuple[int, str]:
        runner = OfflineIndicatorEngine(db, variant_type="demo", created_by="qdbtools demo")
        rows = 0
        for s, y in pairs:
            summary = runner.run(s, y, variants, mode="append")
            rows += sum(summary.rows.values())
        return rows, f"{len(variants)} variants x {len(pairs)} pairs"

    def verify() -> tuple[int, str]:
        from qdbtools.indicators import compute

        checked = 0
        for s, y in pairs:
            bars = db.read_ohlcv(s, y, "1m")
            expected = compute(bars[["open", "high", "low", "close", "volume"]], variants)
            stored = db.load_indicators(s, y, list(expected.columns), variant_type="demo")
            expected = expected.dropna(how="all")
            if not stored.index.equals(expected.index) or not np.array_equal(
                stored[expected.columns].to_numpy(), expected.to_numpy(), equal_nan=True
            ):
                raise QdbToolsError(f"stored indicators of {s}/{y} differ from a fresh computation")
            computed[(s, y)] = stored
            checked += int(expected.notna().to_numpy().sum())
        return checked, "loaded back; equal to a fresh computation"

    def chart() -> tuple[int, str]:
        s, y = pairs[0]
        bars = db.read_ohlcv(s, y, "1m")
        bars = bars[bars.index < bars.index[0] + pd.Timedelta(hours=6)]
        indicators = computed[(s, y)].reindex(bars.index)
        path = out / f"demo_{s}_{y}.png"
        figure = plot_indicators(
            bars,
            indicators[[c for c in indicators.columns if not c.startswith(("ADX", "CCI", "OBV", "ATR"))]],
            title=f"{y} · {s} · first 6 hours, 1m bars",
            path=path,
        )
        figure.clear()
        report.charts.append(path)
        return len(bars), str(path)

    out.mkdir(parents=True, exist_ok=True)
    _timed(report, "schema migrations", schema)
    _timed(report, "write sample ticks", load_ticks)
    _timed(report, "aggregate 1m bars in QuestDB", aggregate)
    _timed(report, "migrate legacy CSV tree", legacy)
    _timed(report, "compute + save indicators", engine)
    _timed(report, "load back + verify", verify)
    _timed(report, "chart", chart)
    return report
