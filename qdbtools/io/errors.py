"""The one place where errors of the libraries underneath become qdbtools errors."""

from __future__ import annotations

import contextlib
import http.client
import sys
import urllib.error
from collections.abc import Callable, Iterator

import psycopg
import psycopg2

from qdbtools.config import Settings
from qdbtools.exceptions import DatabaseUnavailableError, QueryError, WriteError

__all__ = [
    "driver_errors",
    "explain_unreachable",
    "http_errors",
    "http_status_error",
    "ingestion_errors",
    "sql_errors",
    "unavailable",
]

_FIX = (
    "start it (`qdbtools server start`), or point qdbtools at the right server with "
    "QDBTOOLS_HOST/QDBTOOLS_PG_PORT/QDBTOOLS_HTTP_PORT or qdbtools.connect(...)"
)
_LOST_CONNECTION = (
    "could not connect",
    "connection refused",
    "server closed the connection",
    "timeout expired",
    "connection timed out",
    "no route to host",
    "could not translate host name",
    "connection not open",
    "terminating connection",
    "ssl syscall error",
    "eof detected",
)


#: What to say instead of the generic fix when a server cannot be reached, by its (host, HTTP
#: port): the ``Database`` of a managed server registers why that server is gone.
_EXPLAINERS: dict[tuple[str, int], Callable[[], str | None]] = {}


def explain_unreachable(settings: Settings, explain: Callable[[], str | None]) -> None:
    """Let ``explain()`` (cheap; None when it knows nothing) name why this server is unreachable."""
    _EXPLAINERS[(settings.host, settings.http_port)] = explain


def driver_errors() -> tuple[type[Exception], ...]:
    """The database drivers' error classes: psycopg2's and psycopg's, and SQLAlchemy's once imported.

    SQLAlchemy is imported only when a pooled connection is first used; before that none of
    its errors can be raised, so it is not imported for them.
    """
    sa_exc = sys.modules.get("sqlalchemy.exc")
    drivers = (psycopg2.Error, psycopg.Error)
    return drivers if sa_exc is None else (sa_exc.DBAPIError, *drivers)


def unavailable(settings: Settings, protocol: str, reason: object) -> DatabaseUnavailableError:
    port = settings.pg_port if protocol == "PG wire" else settings.http_port
    explain = _EXPLAINERS.get((settings.host, settings.http_port))
    why = explain() if explain is not None else None
    return DatabaseUnavailableError(
        f"cannot reach QuestDB {protocol} at {settings.host}:{port} ({_first_line(reason)}); {why or _FIX}"
    )


@contextlib.contextmanager
def sql_errors(settings: Settings, statement: str = "") -> Iterator[None]:
    """Translate SQLAlchemy, psycopg2 and psycopg errors raised inside the block."""
    # questdb-connect's cursor lets psycopg2 errors through without SQLAlchemy's wrapper.
    try:
        yield
    except driver_errors() as exc:
        orig = getattr(exc, "orig", None)
        message = str(orig) if orig is not None else str(exc)
        invalidated = getattr(exc, "connection_invalidated", False)
        if (
            invalidated
            or isinstance(exc, psycopg2.OperationalError | psycopg.OperationalError)
            or _lost(message)
        ):
            raise unavailable(settings, "PG wire", message) from exc
        shown = f" in {_shorten(statement)!r}" if statement else ""
        raise QueryError(f"QuestDB rejected the statement{shown}: {_first_line(message)}") from exc


def http_status_error(status: int, body: bytes, what: str) -> QueryError:
    """The error of an HTTP answer with an error status."""
    return QueryError(f"QuestDB HTTP {status} for {what}: {_first_line(body.decode('utf-8', 'replace'))}")


@contextlib.contextmanager
def http_errors(settings: Settings, what: str) -> Iterator[None]:
    """Translate urllib and http.client errors of an HTTP request to the server."""
    try:
        yield
    except urllib.error.HTTPError as exc:
        raise http_status_error(exc.code, exc.read(), what) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise unavailable(settings, "HTTP", getattr(exc, "reason", exc)) from exc


@contextlib.contextmanager
def ingestion_errors(settings: Settings, table: str) -> Iterator[None]:
    """Translate errors of the official client's ``Sender``."""
    import questdb

    unreachable = {
        questdb.QuestDBErrorCode.SocketError,
        questdb.QuestDBErrorCode.ConnectTimeout,
        questdb.QuestDBErrorCode.CouldNotResolveAddr,
    }
    try:
        yield
    except questdb.QuestDBError as exc:
        if exc.code in unreachable or _lost(str(exc)):
            raise unavailable(settings, "HTTP", exc) from exc
        raise WriteError(f"QuestDB did not accept the rows for table {table!r}: {exc}") from exc


def _lost(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in _LOST_CONNECTION)


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


def _shorten(statement: str, limit: int = 160) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
