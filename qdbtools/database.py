"""``Database``: one QuestDB server, its settings, and lazily created connections."""

from __future__ import annotations

import contextlib
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pandas as pd

from qdbtools.config import Settings
from qdbtools.exceptions import InvalidInputError
from qdbtools.io.connection import Connection
from qdbtools.io.errors import explain_unreachable
from qdbtools.io.literals import check_read_only
from qdbtools.io.market import aggregate_ohlcv, list_pairs, read_ohlcv, read_ohlcv_many, read_ticks
from qdbtools.io.status import ServerStatus, server_release, server_status
from qdbtools.io.visibility import low_disk_note
from qdbtools.io.writer import DEFAULT_CHUNK_ROWS, write_frame, write_ticks
from qdbtools.store.methods import IndicatorMethods
from qdbtools.telemetry import Telemetry, instrumented

if TYPE_CHECKING:
    import sqlalchemy as sa

    from qdbtools.io.writer import WriteResult
    from qdbtools.schema import MigrationReport
    from qdbtools.server import LocalServer

__all__ = ["Database"]


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,126}$")


class Database(IndicatorMethods):
    """A QuestDB server and the ways qdbtools talks to it.

    Create one with :func:`qdbtools.connect` or :func:`qdbtools.local_server`. Its connections
    (``transport``, :class:`qdbtools.io.connection.Connection`) are created on first use.

    Parameters
    ----------
    settings : Settings
        Where the server is.
    server : LocalServer, optional
        The managed server behind this database, when qdbtools started it.
    telemetry : Telemetry, optional
        Where its operations' metrics and traces go (:mod:`qdbtools.telemetry`); by default
        the global OpenTelemetry providers (no-ops without an SDK), without ids.
    """

    def __init__(
        self, settings: Settings, *, server: LocalServer | None = None, telemetry: Telemetry | None = None
    ) -> None:
        self.settings = settings
        self.server = server
        self.telemetry = telemetry if telemetry is not None else Telemetry()
        self.transport = Connection(settings, data_root=server.root if server is not None else None)
        self._schema_ready = False
        if server is not None:
            explain_unreachable(settings, _why_gone(server))

    # -- connections --------------------------------------------------------------------

    @property
    def engine(self) -> sa.Engine:
        """SQLAlchemy engine on the questdb-connect dialect (created on first use)."""
        return self.transport.engine

    def connection(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """A pooled SQLAlchemy connection; connection failures raise ``DatabaseUnavailableError``."""
        return self.transport.connection()

    def fetch_rows(self, query: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one small read query and return its rows as tuples (see :mod:`qdbtools.io.plain`)."""
        return self.transport.fetch_rows(query, params)

    def wait_for_own_writes(self, tables: Iterable[str] | None = None, *, timeout: float = 60.0) -> None:
        """Wait until this database's own acknowledged writes to ``tables`` are visible.

        ``tables`` None: every table it wrote to. Costs nothing (no query) when this database
        has written nothing unapplied to them; other writers' rows are not waited for.
        """
        self.transport.wait_for_own_writes(tables, timeout=timeout)

    def close(self) -> None:
        """Dispose of pooled connections (the server, if managed, is not stopped)."""
        self.transport.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        managed = f" managed root={self.server.root}" if self.server is not None else ""
        return f"<Database {self.settings.address}{managed}>"

    # -- SQL ----------------------------------------------------------------------------

    def sql(self, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run one read-only SQL statement with bind parameters and return a DataFrame.

        Parameters
        ----------
        query : str
            A ``SELECT``/``WITH``/``SHOW``/``EXPLAIN`` statement; values go in as
            ``:name`` placeholders, never into the text.
        params : mapping, optional
            Values for the placeholders.

        Examples
        --------
        >>> db.sql("SELECT * FROM tick_prices WHERE symbol = :s LIMIT 5", {"s": "BTC_USDT"})  # doctest: +SKIP
        """
        check_read_only(query)
        return self.transport.read(query, params)

    def execute(
        self, statement: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> None:
        """Run one statement that returns no rows (DDL, ``INSERT``) with bind parameters, waiting
        up to ``timeout`` seconds for the server (default ``settings.query_timeout``)."""
        self.transport.execute(statement, params, timeout=timeout)

    # -- operational figures ------------------------------------------------------------

    def stats(self) -> pd.DataFrame:
        """Calls, errors and latency of each operation since this database was made or reset.

        One row per operation called (``save``, ``load``, ``read_ohlcv``, ...): ``calls``,
        ``errors`` (calls that raised, except :class:`~qdbtools.NoDataError`), ``no_data``,
        ``error_rate`` (errors / calls) and the ``p50_ms``, ``p95_ms``, ``p99_ms`` of the
        latest 100,000 calls. The same calls feed OpenTelemetry (:mod:`qdbtools.telemetry`).

        Examples
        --------
        >>> db.stats()  # doctest: +SKIP
          operation  calls  errors  no_data  error_rate  p50_ms  p95_ms  p99_ms
        0      load     20       0        0         0.0    8.91   12.40   14.02
        """
        return self.telemetry.stats.frame()

    def reset_stats(self) -> None:
        """Start :meth:`stats` afresh (OpenTelemetry's counters are cumulative and stay)."""
        self.telemetry.stats.reset()

    # -- server facts -------------------------------------------------------------------

    def server_version(self) -> str:
        """The server's release, e.g. ``"9.3.4"``."""
        return server_release(self.transport)

    def status(self) -> ServerStatus:
        """The server's release and, per table, rows, disk use, WAL lag and suspension.

        What ``qdbtools status`` prints; ``wal_lag_txns`` counts transactions acknowledged
        (durable) but not yet applied (visible).
        """
        return server_status(self.transport)

    def tables(self) -> list[str]:
        """Names of the user tables, sorted."""
        frame = self.transport.read("SELECT table_name FROM tables() ORDER BY table_name")
        return [name for name in frame["table_name"] if not name.startswith("sys.")]

    def ping(self) -> None:
        """Check that the server answers on PG wire; raise ``DatabaseUnavailableError`` if not."""
        self.transport.read("SELECT 1")

    def wait_until_visible(self, tables: str | Iterable[str], *, timeout: float = 60.0) -> None:
        """Wait until rows committed to the WAL ``tables`` are visible to queries.

        Raises
        ------
        TableSuspendedError
            A table stopped applying commits.
        VisibilityError
            The commits were not applied within ``timeout`` seconds.
        """
        self.transport.wait_until_visible(tables, timeout=timeout)

    # -- market data --------------------------------------------------------------------

    @instrumented("write_frame")
    def write_frame(
        self,
        frame: pd.DataFrame,
        table: str,
        *,
        at: str | None = None,
        symbols: Sequence[str] = (),
        wait: bool = True,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> WriteResult:
        """Write a DataFrame to ``table`` with ``Sender.dataframe`` (ILP over HTTP).

        Parameters
        ----------
        frame : DataFrame
            Rows to write; its ``timestamp`` column (or ``at``, or a ``DatetimeIndex``) must be
            tz-aware. See :mod:`qdbtools.io.writer` for NaN, inf and type rules.
        table : str
            Target table (created by the server on first write if it does not exist).
        symbols : sequence of str
            Columns sent as SYMBOL (categoricals).
        wait : bool
            Return only when the rows are visible to queries.
        chunk_rows : int
            Rows per HTTP request.
        """
        if not _IDENTIFIER.match(table):
            raise InvalidInputError(f"table name {table!r} must match {_IDENTIFIER.pattern}")
        return write_frame(
            self.transport, frame, table, at=at, symbols=symbols, wait=wait, chunk_rows=chunk_rows
        )

    @instrumented("write_ticks", table="tick_prices")
    def write_ticks(
        self,
        frame: pd.DataFrame,
        session_id: str | None = None,
        symbol: str | None = None,
        *,
        wait: bool = True,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> WriteResult:
        """Write trade ticks to ``tick_prices``.

        Parameters
        ----------
        frame : DataFrame
            ``timestamp`` (column or ``DatetimeIndex``, tz-aware), ``price`` (> 0), ``volume``
            (>= 0), optional ``trade_id``, and ``session_id``/``symbol`` columns unless given
            as arguments. Without ``trade_id``, ticks sharing a timestamp are numbered in frame
            order (see :func:`qdbtools.io.writer.prepare_ticks`).
        session_id, symbol : str, optional
            Fill those columns for every row.

        Returns
        -------
        WriteResult
            Table, rows sent, seconds.

        Examples
        --------
        >>> db.write_ticks(ticks, session_id="s1", symbol="BTC_USDT")       # doctest: +SKIP
        """
        self.require_schema()
        return write_ticks(
            self.transport, frame, session_id=session_id, symbol=symbol, wait=wait, chunk_rows=chunk_rows
        )

    @instrumented("read_ticks", table="tick_prices")
    def read_ticks(
        self,
        session_id: str,
        symbol: str,
        start: Any = None,
        end: Any = None,
        columns: Sequence[str] | None = None,
        *,
        engine: str = "auto",
    ) -> pd.DataFrame:
        """Ticks of one session and symbol, ``start <= timestamp < end``.

        Parameters
        ----------
        start, end : timestamp-like, optional
            Tz-aware bounds (strings ending in ``Z`` work); naive values are refused.
        columns : sequence of str, optional
            Subset of ``session_id, symbol, trade_id, price, volume``.
        engine : {"auto", "fast", "sqlalchemy"}
            ``fast`` = HTTP Parquet export, ``sqlalchemy`` = ``pd.read_sql`` on PG wire; both
            return identical frames. ``auto`` picks ``fast`` where the server has it.

        Returns
        -------
        DataFrame
            Indexed by a UTC ``DatetimeIndex`` named ``timestamp``; dtypes as in
            :data:`qdbtools.io.market.TICK_DTYPES`. Empty (same columns) when nothing matches.
        """
        return read_ticks(self.transport, session_id, symbol, start, end, columns, engine=engine)

    @instrumented("read_ohlcv", table="aggregated_ohlcv")
    def read_ohlcv(
        self,
        session_id: str,
        symbol: str,
        interval: str = "1m",
        start: Any = None,
        end: Any = None,
        *,
        engine: str = "auto",
        missing_ok: bool = False,
    ) -> pd.DataFrame:
        """Bars from ``aggregated_ohlcv``, indexed by bar open time (UTC).

        Columns and dtypes as in :data:`qdbtools.io.market.OHLCV_DTYPES`; ``engine`` as in
        :meth:`read_ticks`.

        Parameters
        ----------
        interval : str
            One of :data:`qdbtools.io.market.INTERVALS` that :meth:`aggregate_ohlcv` built.
        start, end : timestamp-like, optional
            ``start <= timestamp < end`` (tz-aware); a window without bars gives an empty frame.
        missing_ok : bool
            By default, no ``interval`` bars at all for the session and symbol raise
            :class:`~qdbtools.NoDataError` (naming the intervals, symbols or sessions that are
            stored); ``True`` returns the empty frame instead.

        Raises
        ------
        NoDataError
            No bars of this interval are stored for the session and symbol.
        """
        return read_ohlcv(
            self.transport, session_id, symbol, interval, start, end, engine=engine, missing_ok=missing_ok
        )

    @instrumented("read_ohlcv_many", table="aggregated_ohlcv")
    def read_ohlcv_many(
        self,
        pairs: Iterable[tuple[str, str]],
        interval: str = "1m",
        start: Any = None,
        end: Any = None,
        *,
        engine: str = "auto",
    ) -> pd.DataFrame:
        """Bars of many (session_id, symbol) pairs in one frame, indexed by (session_id, symbol, timestamp).

        A pair without bars has no rows. For more pairs than fit in memory, a lazy
        ``dask.dataframe`` with one partition per pair: :func:`qdbtools.cluster.read_ohlcv_dask`.
        """
        return read_ohlcv_many(self.transport, pairs, interval, start, end, engine=engine)

    def list_pairs(self) -> list[tuple[str, str]]:
        """Every (session_id, symbol) pair with 1-minute bars or ticks, sorted (``compute --all``)."""
        self.require_schema()
        return list_pairs(self.transport)

    @instrumented("aggregate", table="aggregated_ohlcv")
    def aggregate_ohlcv(self, session_id: str, symbol: str, interval: str = "1m") -> int:
        """Build ``interval`` bars from ``tick_prices`` inside QuestDB (``SAMPLE BY``); returns bars stored.

        Idempotent: running it again replaces the same bars. ``interval`` is one of
        :data:`qdbtools.io.market.INTERVALS`.
        """
        self.require_schema()
        return aggregate_ohlcv(self.transport, session_id, symbol, interval)

    # -- schema -------------------------------------------------------------------------

    def migrate(self) -> MigrationReport:
        """Apply the pending schema migrations (see :mod:`qdbtools.schema`)."""
        from qdbtools.schema import migrate

        report = migrate(self)
        self._schema_ready = True
        return report

    def require_schema(self) -> None:
        """Raise :class:`~qdbtools.SchemaNotReadyError` unless the server has every migration.

        Checked once per ``Database`` (one query), before its first write or store read.
        """
        if not self._schema_ready:
            from qdbtools.schema import require_current_schema

            require_current_schema(self)
            self._schema_ready = True


def _why_gone(server: LocalServer) -> Callable[[], str | None]:
    """Why ``server`` cannot be reached, if its process died (and how full its disk is)."""
    ref = weakref.ref(server)

    def explain() -> str | None:
        found = ref()
        if found is None or (note := found.exit_note()) is None:
            return None
        disk = low_disk_note(found.root)
        return f"{note}. {disk}" if disk else note

    return explain
