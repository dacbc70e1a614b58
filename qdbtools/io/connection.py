"""The transport under :class:`qdbtools.Database`: every way qdbtools talks to one server.

A :class:`Connection` holds the settings, the SQLAlchemy engine (pooled PG wire connections
on the questdb-connect dialect), plain per-thread PG connections for small metadata
queries, the ILP/HTTP sender, the probe of the Parquet export, and the record of this
process's unapplied writes (read-your-writes). The I/O functions of :mod:`qdbtools.io`, the
store and the schema take it; :class:`~qdbtools.Database` composes it and is the
documented API. Nothing here knows the tables qdbtools owns.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import psycopg2

from qdbtools.config import Settings
from qdbtools.exceptions import (
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    QueryError,
    TableSuspendedError,
)
from qdbtools.io.errors import driver_errors, sql_errors, unavailable
from qdbtools.io.exports import fetch_parquet
from qdbtools.io.pgwire import answer_within, questdb_cursor
from qdbtools.io.plain import PlainQueries
from qdbtools.io.visibility import UnappliedWrites, low_disk_note, wait_until_visible
from qdbtools.telemetry import step

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["Connection"]


def _text(query: str) -> sa.TextClause:
    import sqlalchemy as sa

    return sa.text(query)


class Connection:
    """Connections to one QuestDB server, created on first use and closed by :meth:`close`.

    Parameters
    ----------
    settings : Settings
        Where the server is.
    """

    def __init__(self, settings: Settings, *, data_root: Path | None = None) -> None:
        self.settings = settings
        self.data_root = data_root  # a managed server's root: its free space explains suspensions
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()
        self._sender_instance: Any = None
        self._sender_lock = threading.Lock()
        self._plain = PlainQueries(settings, partial(self._new_pg_connection, plain=True))
        self._unapplied = UnappliedWrites()
        self._parquet_export: bool | None = None

    # -- PG wire ------------------------------------------------------------------------

    @property
    def engine(self) -> sa.Engine:
        """SQLAlchemy engine on the questdb-connect dialect (created on first use)."""
        with self._lock:
            if self._engine is None:
                # module=psycopg2: questdb-connect's dialect names its own module as the DBAPI,
                # whose Error is not psycopg2's, so SQLAlchemy never recognized a disconnect.
                # Checkouts are pinged by connection() (bounded), not by the pool's pre-ping.
                import sqlalchemy as sa  # ~0.5 s: imported when a pooled connection is first needed

                self._engine = sa.create_engine(
                    self.settings.sqlalchemy_url, creator=self._new_pg_connection, module=psycopg2
                )
            return self._engine

    def _new_pg_connection(self, *, plain: bool = False) -> Any:
        # questdb-connect 1.1.4's connect() drops every argument but host, port, user,
        # password and database, so connect_timeout would never reach libpq.
        import questdb_connect

        settings = self.settings
        libpq: dict[str, Any] = {
            "host": settings.host,
            "port": settings.pg_port,
            "user": settings.username,
            "password": settings.password,
            "dbname": settings.database,
            "connect_timeout": max(2, round(settings.connect_timeout)),
        }
        if plain:
            import psycopg
            from psycopg.types.numeric import Int8Dumper

            plain_conn = psycopg.connect(**libpq, autocommit=True, prepare_threshold=None)
            # psycopg types an int by its size (int2/int4/int8): one query shape would be
            # several cached compiles on the server, which keys them by parameter types too.
            plain_conn.adapters.register_dumper(int, Int8Dumper)
            return plain_conn
        conn = psycopg2.connect(cursor_factory=questdb_cursor(), **libpq)
        questdb_connect.get_keywords_list(conn)
        questdb_connect.get_functions_list(conn)
        return conn

    def _checkout(self) -> sa.Connection:
        """A pooled connection that answered a ping within ``query_timeout``.

        A kept connection the server has closed since (idle for 5 minutes, or a restart) fails
        its ping and is replaced once; a server that does not answer is not asked twice.
        """
        for attempt in (1, 2):
            try:
                conn = self.engine.connect()
            except driver_errors() as exc:
                raise unavailable(self.settings, "PG wire", getattr(exc, "orig", None) or exc) from exc
            try:
                with self.bounded(conn), sql_errors(self.settings):
                    conn.exec_driver_sql("SELECT 1")
                return conn
            except DatabaseUnavailableError as exc:
                conn.invalidate()
                conn.close()
                if attempt == 2 or isinstance(exc, DatabaseTimeoutError):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def connection(self) -> Iterator[sa.Connection]:
        """A pooled SQLAlchemy connection; connection failures raise ``DatabaseUnavailableError``."""
        conn = self._checkout()
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(*driver_errors()):  # the first error tells more
                conn.close()
            raise
        with sql_errors(self.settings):  # returning a broken connection rolls it back, which fails
            conn.close()

    @contextlib.contextmanager
    def bounded(self, pooled: sa.Connection, timeout: float | None = None) -> Iterator[None]:
        """Bound the calls made inside on ``pooled`` (default: ``settings.query_timeout``)."""
        seconds = self.settings.query_timeout if timeout is None else timeout
        with answer_within(pooled.connection.dbapi_connection, seconds, self.settings):
            yield

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Rows of one query (bind parameters) as a DataFrame, over a pooled connection."""
        with self.connection() as conn, self.bounded(conn), sql_errors(self.settings, query):
            result = conn.execute(_text(query), dict(params or {}))
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def execute(
        self, statement: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> None:
        """Run one statement that returns no rows, with bind parameters, within ``timeout`` s."""
        with self.connection() as conn, self.bounded(conn, timeout), sql_errors(self.settings, statement):
            conn.execute(_text(statement), dict(params or {}))
            conn.commit()

    def fetch_rows(self, query: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of one small read query as tuples (see :mod:`qdbtools.io.plain`)."""
        return self._plain.run(query, params)[1]

    def fetch_frame(self, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """:meth:`fetch_rows` as a DataFrame with the query's column names."""
        columns, rows = self._plain.run(query, params)
        return pd.DataFrame(rows, columns=columns)

    # -- HTTP ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def sender(self) -> Iterator[Any]:
        """The ILP/HTTP ``Sender``, one writer at a time; dropped after a failure."""
        from questdb import Sender

        with self._sender_lock:
            if self._sender_instance is None:
                sender = Sender.from_conf(self.settings.ilp_conf + "auto_flush=off;")
                sender.establish()
                self._sender_instance = sender
            try:
                yield self._sender_instance
            except BaseException:
                self._drop_sender()
                raise

    def _drop_sender(self) -> None:
        sender, self._sender_instance = self._sender_instance, None
        if sender is not None:
            with contextlib.suppress(Exception):  # the connection is already broken; nothing to flush
                sender.close(flush=False)

    def export_parquet(self, sql: str) -> bytes:
        """The Parquet bytes of ``sql``'s result (see :mod:`qdbtools.io.exports`)."""
        return fetch_parquet(self.settings, sql)

    def supports_parquet_export(self) -> bool:
        """Whether the server answers Parquet exports (probed once)."""
        if self._parquet_export is None:
            try:
                self.export_parquet("SELECT 1 AS probe")
                self._parquet_export = True
            except QueryError:
                self._parquet_export = False
        return self._parquet_export

    # -- read-your-writes ---------------------------------------------------------------

    def note_unapplied(self, table: str) -> None:
        """Record that this process committed rows to ``table`` that may not be applied yet."""
        self._unapplied.note(table)

    def wait_for_own_writes(self, tables: Iterable[str] | None = None, *, timeout: float = 60.0) -> None:
        """Wait until this connection's own acknowledged writes to ``tables`` (None: all) are visible.

        Costs nothing (no query) when nothing unapplied was written to them.
        """
        noted = self._unapplied.pending(tables)
        if noted:
            with step("wait_own_writes"):  # read-your-writes: this connection's unapplied saves
                self._wait_visible(sorted(noted), timeout)
            self._unapplied.forget(noted)

    def wait_until_visible(self, tables: str | Iterable[str], *, timeout: float = 60.0) -> None:
        """Wait until rows committed to the WAL ``tables`` (by anyone) are visible to queries."""
        names = [tables] if isinstance(tables, str) else list(tables)
        noted = self._unapplied.pending(names)
        self._wait_visible(names, timeout)
        self._unapplied.forget(noted)

    def _wait_visible(self, names: list[str], timeout: float) -> None:
        try:
            wait_until_visible(self.fetch_frame, names, timeout=timeout)
        except TableSuspendedError as exc:
            note = low_disk_note(self.data_root) if self.data_root is not None else None
            if note is None:
                raise
            raise TableSuspendedError(f"{exc} {note}") from exc

    def close(self) -> None:
        """Dispose of every connection (the server itself is not touched)."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
        self._plain.close()
        with self._sender_lock:
            self._drop_sender()
