"""The old trading system's CSV indicator store: its layout, files and checksums.

:mod:`~qdbtools.legacy.paths` (where files live, what names mean), :mod:`~qdbtools.legacy.scan`
(the tree walk), :mod:`~qdbtools.legacy.files` (reading and writing the files, checksums): pure
Python and pandas, no database. :mod:`~qdbtools.legacy.migrate` moves the tree into QuestDB.
"""

from __future__ import annotations

from qdbtools.legacy.files import (
    INDICATOR_COLUMNS,
    PRICE_COLUMNS,
    csv_checksum,
    read_indicator_csv,
    read_prices_csv,
    write_indicator_csv,
)
from qdbtools.legacy.paths import LegacyFile, Skipped, indicator_path
from qdbtools.legacy.scan import scan_tree

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
