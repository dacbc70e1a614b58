"""The qdbtools error tree.

Every error qdbtools raises derives from :class:`QdbToolsError`; errors of the
libraries underneath (psycopg2, SQLAlchemy, the questdb client, urllib) are
translated at the I/O boundary and chained with ``raise ... from exc``.

::

    QdbToolsError
    ├── ConfigError                  bad or contradictory settings
    ├── ServerError                  the managed local QuestDB
    │   ├── JavaNotFoundError        no Java that can run the pinned QuestDB
    │   ├── JarNotFoundError         the QuestDB jar could not be fetched or verified
    │   └── ServerStartError         java exited, a port is taken, the root is not writable ...
    ├── DatabaseError                talking to a running QuestDB
    │   ├── DatabaseUnavailableError cannot connect (server down, wrong host/port)
    │   │   └── DatabaseTimeoutError the server did not answer in time (frozen, overloaded)
    │   ├── QueryError               the server rejected a statement
    │   ├── WriteError               the server rejected or lost an ingestion request
    │   ├── SchemaNotReadyError      the server lacks migrations this qdbtools needs
    │   └── VisibilityError          written rows did not become visible in time
    │       └── TableSuspendedError  a WAL table stopped applying commits
    ├── MigrationError               a schema migration failed (names its version)
    ├── InvalidInputError            a frame, value or argument that qdbtools will not accept
    │   ├── MissingColumnsError      required columns are absent
    │   └── InvalidVariantError      an indicator variant name or parameter is not valid
    └── NoDataError                  the database answered, and holds nothing for the request

``InvalidInputError`` also derives from :class:`ValueError` and ``NoDataError``
from :class:`LookupError`, so generic handlers keep working.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DatabaseError",
    "DatabaseTimeoutError",
    "DatabaseUnavailableError",
    "InvalidInputError",
    "InvalidVariantError",
    "JarNotFoundError",
    "JavaNotFoundError",
    "MigrationError",
    "MissingColumnsError",
    "NoDataError",
    "QdbToolsError",
    "QueryError",
    "SchemaNotReadyError",
    "ServerError",
    "ServerStartError",
    "TableSuspendedError",
    "VisibilityError",
    "WriteError",
]


class QdbToolsError(Exception):
    """Root of every error raised by qdbtools."""


class ConfigError(QdbToolsError):
    """Settings are missing, malformed or contradictory."""


class ServerError(QdbToolsError):
    """The managed local QuestDB server could not be provided."""


class JavaNotFoundError(ServerError):
    """No Java runtime able to run the pinned QuestDB version was found."""


class JarNotFoundError(ServerError):
    """The QuestDB server jar could not be downloaded or failed verification."""


class ServerStartError(ServerError):
    """The QuestDB process did not become ready (the message carries the log tail)."""


class DatabaseError(QdbToolsError):
    """A running QuestDB could not serve a request."""


class DatabaseUnavailableError(DatabaseError):
    """The server cannot be reached at the configured host and port."""


class DatabaseTimeoutError(DatabaseUnavailableError):
    """The server accepted a request and did not answer within its timeout."""


class QueryError(DatabaseError):
    """The server rejected a SQL statement."""


class WriteError(DatabaseError):
    """The server rejected, or did not acknowledge, an ingestion request."""


class SchemaNotReadyError(DatabaseError):
    """The server's schema lacks migrations this qdbtools needs: run ``qdbtools migrate``."""


class VisibilityError(DatabaseError):
    """Rows that were written did not become visible to queries in time."""


class TableSuspendedError(VisibilityError):
    """A WAL table is suspended: its commits are no longer applied."""


class MigrationError(QdbToolsError):
    """A schema migration failed; it was not recorded as applied."""

    def __init__(self, message: str, *, version: int | None = None) -> None:
        super().__init__(message)
        self.version = version


class InvalidInputError(QdbToolsError, ValueError):
    """An input (frame, value, argument) that qdbtools will not accept."""


class MissingColumnsError(InvalidInputError):
    """A frame lacks columns an operation needs."""

    def __init__(self, message: str, *, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


class InvalidVariantError(InvalidInputError):
    """An indicator variant name (``RSI_14``) is unknown or has impossible parameters."""


class NoDataError(QdbToolsError, LookupError):
    """The database answered and holds no data for the request."""
