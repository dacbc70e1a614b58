"""Plain psycopg (3) connections for small metadata queries: one per thread, no pool, no DataFrame.

A commit-marker lookup answers in a few tenths of a millisecond this way on loopback, where a
pooled SQLAlchemy round trip that builds a DataFrame costs over one. Values are bound on the
server (:func:`qdbtools.io.literals.bind_params`), not written into the text: the server
caches what it compiled by query text, so the lookup of a session it has not been asked
about yet reuses the compiled query (1.1 ms against 3.3 ms with the values as literals,
which psycopg2 always makes them), and strings reach it exactly as given (psycopg2 doubles
backslashes). Statements are not prepared by name: the server's cache by text does that
work, and the driver's ``DEALLOCATE`` of old statements is not needed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from qdbtools.config import Settings
from qdbtools.exceptions import DatabaseTimeoutError, DatabaseUnavailableError
from qdbtools.io.errors import sql_errors
from qdbtools.io.literals import bind_params
from qdbtools.io.pgwire import answer_within

__all__ = ["PlainQueries"]


class PlainQueries:
    """Run read queries on one autocommit psycopg connection per thread."""

    def __init__(self, settings: Settings, connect: Callable[[], Any]) -> None:
        self._settings = settings
        self._connect = connect
        self._local = threading.local()
        self._open: set[Any] = set()
        self._lock = threading.Lock()

    def run(
        self, query: str, params: Mapping[str, Any] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of ``query`` (``:name`` placeholders filled from ``params``).

        A kept connection that fails to reach the server (it restarted since) is replaced and
        the query sent once more on a new one: queries here only read.
        """
        sql, values = bind_params(query, params or {})
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                return self._execute(conn, query, sql, values)
            except DatabaseTimeoutError:
                self._discard(conn)
                raise  # a server that does not answer gets no second query
            except DatabaseUnavailableError:
                self._discard(conn)
        with sql_errors(self._settings, query):
            conn = self._connect()
        self._local.conn = conn
        with self._lock:
            self._open.add(conn)
        try:
            return self._execute(conn, query, sql, values)
        except DatabaseUnavailableError:
            self._discard(conn)
            raise

    def _execute(
        self, conn: Any, query: str, sql: str, values: dict[str, Any] | None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        settings = self._settings
        bound = answer_within(conn, settings.query_timeout, settings)
        with bound, sql_errors(settings, query), conn.cursor() as cursor:
            cursor.execute(sql, values)
            return [d[0] for d in cursor.description or ()], cursor.fetchall()

    def _discard(self, conn: Any) -> None:
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock:
            self._open.discard(conn)
        with contextlib.suppress(Exception):  # already broken: nothing to close cleanly
            conn.close()

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            conns, self._open = self._open, set()
        self._local = threading.local()
        for conn in conns:
            # psycopg's close() does not wait for a query running in another thread: the
            # connection's lock does (bounded by query_timeout, the watchdog's deadline).
            with conn.lock, contextlib.suppress(Exception):
                conn.close()
