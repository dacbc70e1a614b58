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

import contextlib
import functools
import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import psycopg2.extensions

from qdbtools.config import Settings
from qdbtools.exceptions import DatabaseTimeoutError
from qdbtools.io.literals import sendable_text

__all__ = ["answer_within", "questdb_cursor", "quote_strings"]

log = logging.getLogger(__name__)


class _Watchdog:
    """One daemon thread that runs callbacks at deadlines (arming one costs microseconds,
    where a ``threading.Timer`` starts a thread: ~0.25 ms here).

    The thread is woken only when a new deadline comes before every pending one: queries
    arm the same timeout one after another, and waking the thread for each cost a query
    ~0.05 ms (its switch for the GIL). Disarmed deadlines stay in the heap until they come
    up or until they are most of it, when it is rebuilt without them.
    """

    #: Disarmed deadlines kept at most before the heap is rebuilt without them.
    COMPACT_FROM = 1024

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._armed: set[int] = set()  # the tickets in _due that are not disarmed
        self._wake = threading.Condition()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, callback: Callable[[], None]) -> int:
        with self._wake:
            ticket = next(self._ids)
            deadline = time.monotonic() + seconds
            earliest = not self._due or deadline < self._due[0][0]
            heapq.heappush(self._due, (deadline, ticket, callback))
            self._armed.add(ticket)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="qdbtools-watchdog", daemon=True)
                self._thread.start()
            if earliest:
                self._wake.notify()
            return ticket

    def disarm(self, ticket: int) -> None:
        with self._wake:
            self._armed.discard(ticket)
            if len(self._due) - len(self._armed) >= max(self.COMPACT_FROM, len(self._due) // 2):
                self._due = [entry for entry in self._due if entry[1] in self._armed]
                heapq.heapify(self._due)

    def pending(self) -> tuple[int, int]:
        """Deadlines armed and not disarmed, and entries in the heap."""
        with self._wake:
            return len(self._armed), len(self._due)

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._due and self._due[0][1] not in self._armed:
                    heapq.heappop(self._due)
                if not self._due:
                    self._wake.wait()
                    continue
                deadline, ticket, callback = self._due[0]
                if time.monotonic() < deadline:
                    self._wake.wait(deadline - time.monotonic())
                    continue
                heapq.heappop(self._due)
                self._armed.discard(ticket)
            try:
                callback()
            except Exception:  # one failed expiry must not end the thread every other deadline needs
                log.exception("the PG wire watchdog's callback failed")


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def answer_within(dbapi_connection: Any, seconds: float, settings: Settings) -> Iterator[None]:
    """Bound a blocking call on a psycopg2 connection to ``seconds``.

    libpq waits for an answer without a timeout, so a server that accepted a query and then
    froze would hang the caller for good. When the time is up, a watchdog shuts the
    connection's socket down: the call fails at once, the connection is broken (and is
    discarded by its pool), and :class:`~qdbtools.DatabaseTimeoutError` says what happened.
    """
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        # OSError: the socket is gone; psycopg's OperationalError: the connection was closed.
        with contextlib.suppress(Exception):
            sock = socket.socket(fileno=os.dup(dbapi_connection.fileno()))
            try:
                sock.shutdown(socket.SHUT_RDWR)
            finally:
                sock.close()

    ticket = _WATCHDOG.arm(seconds, expire)
    try:
        yield
    except Exception as exc:
        if expired.is_set():
            raise DatabaseTimeoutError(
                f"QuestDB PG wire at {settings.host}:{settings.pg_port} did not answer within "
                f"{seconds:g} s (query_timeout); the server may be frozen or overloaded. The "
                "connection was closed; raise query_timeout if the query is only slow"
            ) from exc
        raise
    finally:
        _WATCHDOG.disarm(ticket)


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


@functools.cache
def questdb_cursor() -> type[Any]:
    """questdb-connect's cursor, with string parameters quoted by :func:`quote_strings`.

    Built on first use: importing questdb-connect (and SQLAlchemy with it) costs ~0.3 s,
    which ``import qdbtools`` does not pay.
    """
    import questdb_connect

    class QuestDBCursor(questdb_connect.Cursor):  # type: ignore[misc]
        def execute(self, query: Any, vars: Any = None) -> Any:
            return super().execute(query, quote_strings(vars))

        def executemany(self, query: Any, vars_list: Iterable[Any]) -> Any:
            return super().executemany(query, [quote_strings(v) for v in vars_list])

        def mogrify(self, query: Any, vars: Any = None) -> Any:
            return super().mogrify(query, quote_strings(vars))

    return QuestDBCursor
