"""The indicator store: append / overwrite / history on QuestDB, without row DELETE.

A save sends its values and one *commit marker* per variant in one request, which the
server commits as one WAL transaction; it returns on the acknowledgement (durable), not
when the rows are applied. A table's transactions are applied in order, so a reader that
sees a marker sees all of its values: readers resolve each variant's state from the
visible markers and see the old state or the new one, never a mix, also while applies lag.

- ``indicators`` is keyed by commit time (``written_at``, the designated timestamp): every
  save appends at the end of the table, so history does not slow saves down;
- **overwrite** starts a new state; **append** layers values on the current one (a value at
  a timestamp already stored replaces it); commit order is ``written_at``, then generation;
- **history**: older states stay readable with ``as_of=`` until :func:`prune`;
- ``indicators_current`` (a view) shows only current values to plain SQL users.

Modules: ``_rows`` (frames in), ``_saves`` (the write path), ``_columns`` (saves of
columns, small ones without a DataFrame), ``_commits`` (markers and
state), ``_read`` (loads, history), ``_listing`` (info, listings), ``_prune`` (maintenance). The full
argument is in ``docs/design/persistence.md``.
"""

from qdbtools.store._columns import save_columns
from qdbtools.store._commits import Commit, committed, live
from qdbtools.store._current_sql import current_values_sql
from qdbtools.store._listing import LISTING_COLUMNS, indicator_info, list_indicators
from qdbtools.store._prune import PruneResult, prune
from qdbtools.store._read import LONG_COLUMNS, history, load_across_sessions, load_indicators
from qdbtools.store._rows import (
    DEFAULT_VARIANT_TYPE,
    ROW_COLUMNS,
    SYMBOL_COLUMNS,
    VariantColumns,
    rows_from_columns,
    to_rows,
)
from qdbtools.store._saves import SAVE_REQUEST_ROWS, SaveResult, new_generation, save_indicators, save_rows

__all__ = [
    "DEFAULT_VARIANT_TYPE",
    "LISTING_COLUMNS",
    "LONG_COLUMNS",
    "ROW_COLUMNS",
    "SAVE_REQUEST_ROWS",
    "SYMBOL_COLUMNS",
    "Commit",
    "PruneResult",
    "SaveResult",
    "VariantColumns",
    "committed",
    "current_values_sql",
    "history",
    "indicator_info",
    "list_indicators",
    "live",
    "load_across_sessions",
    "load_indicators",
    "new_generation",
    "prune",
    "rows_from_columns",
    "save_columns",
    "save_indicators",
    "save_rows",
    "to_rows",
]
