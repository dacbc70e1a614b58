"""The old trading system's CSV indicator store: its layout, files and checksums.

:mod:`qdbtools.legacy.layout` reads and writes the per-variant CSV files (pure Python and
pandas, no database); the migration to QuestDB builds on it.
"""

from __future__ import annotations

from qdbtools.legacy.layout import (
    INDICATOR_COLUMNS,
    PRICE_COLUMNS,
    LegacyFile,
    Skipped,
    csv_checksum,
    indicator_path,
    read_indicator_csv,
    read_prices_csv,
    scan_tree,
    write_indicator_csv,
)

# migrate: see qdbtools.legacy.migrate

__all__ = [
    "INDICATOR_COLUMNS",
    "PRICE_COLUMNS",
    "LegacyFile",
    "Skipped",
    "csv_checksum",
    "indicator_path",
    "read_indicator_csv",
    "read_prices_csv",
    "scan_tree",
    "write_indicator_csv",
]
