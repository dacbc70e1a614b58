"""The trading system's old CSV persistence, as the seed describes it: the benchmarks' baseline.

One CSV file per variant, ``{base}/{session}/{symbol}/indicators/{variant_type}_{variant_id}.csv``,
written under a thread lock with ``csv.DictWriter`` from one dict per value (metadata as JSON
text), read back with ``csv.DictReader`` into one ``IndicatorValue`` per row, and counted with
``csv.reader`` for ``get_file_info``. ``append`` adds rows to the end of the file, ``overwrite``
rewrites it. This is the code qdbtools replaces, not qdbtools' own CSV mode.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

from qdbtools.service import IndicatorValue

FIELDS = ["timestamp", "value", "confidence", "metadata"]


class LegacyCsvService:
    """The seed's ``IndicatorPersistenceService`` on CSV files (synchronous, as it was)."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir)
        self._file_lock = threading.Lock()

    def _get_csv_file_path(self, session_id: str, symbol: str, variant_type: str, variant_id: str) -> Path:
        return self.base_dir / session_id / symbol / "indicators" / f"{variant_type}_{variant_id}.csv"

    def save_values(
        self,
        session_id: str,
        symbol: str,
        variant_id: str,
        indicator_values: list[IndicatorValue],
        variant_type: str = "general",
        mode: str = "append",
    ) -> int:
        with self._file_lock:
            path = self._get_csv_file_path(session_id, symbol, variant_type, variant_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            new_file = mode == "overwrite" or not path.exists()
            with open(path, "w" if mode == "overwrite" else "a", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=FIELDS)
                if new_file:
                    writer.writeheader()
                for value in indicator_values:
                    writer.writerow(
                        {
                            "timestamp": dt.datetime.fromtimestamp(value.timestamp, tz=dt.UTC).isoformat(),
                            "value": value.value,
                            "confidence": "" if value.confidence is None else value.confidence,
                            "metadata": json.dumps(value.metadata),
                        }
                    )
            return len(indicator_values)

    def load_values(
        self,
        session_id: str,
        symbol: str,
        variant_id: str,
        variant_type: str = "general",
        limit: int | None = None,
    ) -> list[IndicatorValue]:
        with self._file_lock:
            path = self._get_csv_file_path(session_id, symbol, variant_type, variant_id)
            if not path.exists():
                return []
            values = []
            with open(path, newline="") as handle:
                for row in csv.DictReader(handle):
                    values.append(
                        IndicatorValue(
                            timestamp=dt.datetime.fromisoformat(row["timestamp"]).timestamp(),
                            value=float(row["value"]),
                            confidence=float(row["confidence"]) if row["confidence"] != "" else None,
                            metadata=json.loads(row["metadata"]) if row["metadata"] else {},
                        )
                    )
            values.sort(key=lambda v: v.timestamp)
            return values[:limit] if limit else values

    def get_file_info(
        self, session_id: str, symbol: str, variant_id: str, variant_type: str = "general"
    ) -> dict[str, Any]:
        path = self._get_csv_file_path(session_id, symbol, variant_type, variant_id)
        if not path.exists():
            return {"exists": False}
        with open(path, newline="") as handle:
            rows = sum(1 for _ in csv.reader(handle)) - 1
        return {
            "exists": True,
            "path": str(path),
            "rows": rows,
            "size": path.stat().st_size,
            "storage": "csv",
        }

    def list_variants(self) -> list[dict[str, Any]]:
        """Every stored variant with its row count: walk the tree, count each file (what a listing costs)."""
        listing = []
        for path in sorted(self.base_dir.glob("*/*/indicators/*.csv")):
            session_id, symbol = path.parts[-4], path.parts[-3]
            variant_type, _, variant_id = path.stem.partition("_")
            listing.append(
                self.get_file_info(session_id, symbol, variant_id, variant_type)
                | {"session_id": session_id, "symbol": symbol, "variant_id": variant_id}
            )
        return listing
