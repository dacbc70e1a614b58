"""The cursor of qdbtools' PG wire connections: strings quoted the way QuestDB reads them.

QuestDB does not report ``standard_conforming_strings``, so libpq assumes it is off and
psycopg2 doubles every backslash of a string parameter (``'a\\\\b'``); QuestDB reads
backslashes literally, so ``a\\b`` arrived as ``a\\\\b`` and matched nothing. This cursor
quotes string parameters itself, standard-conforming (quotes doubled, backslashes kept),
and leaves every other type to psycopg2. It is the one boundary where bind parameters
become SQL text on PG wire; the Parquet export and plain queries use
:func:`qdbtools.io.literals.render_params`, with the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import psycopg2.extensions
import questdb_connect

from qdbtools.io.literals import sendable_text

__all__ = ["QuestDBCursor", "quote_strings"]


def _quoted(value: Any) -> Any:
    if isinstance(value, str):
        return psycopg2.extensions.AsIs("'" + sendable_text("parameter", value).replace("'", "''") + "'")
    return value


def quote_strings(params: Any) -> Any:
    """``params`` (a mapping or a sequence) with each string replaced by its SQL literal."""
    if params is None:
        return None
    if isinstance(params, Mapping):
        return {key: _quoted(value) for key, value in params.items()}
    return tuple(_quoted(value) for value in params)


class QuestDBCursor(questdb_connect.Cursor):  # type: ignore[misc]
    """questdb-connect's cursor, with string parameters quoted by :func:`quote_strings`."""

    def execute(self, query: Any, vars: Any = None) -> Any:
        return super().execute(query, quote_strings(vars))

    def executemany(self, query: Any, vars_list: Iterable[Any]) -> Any:
        return super().executemany(query, [quote_strings(v) for v in vars_list])

    def mogrify(self, query: Any, vars: Any = None) -> Any:
        return super().mogrify(query, quote_strings(vars))
