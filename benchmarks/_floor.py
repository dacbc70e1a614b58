"""What any design pays to store rows durably on this server: the bench's floor rows.

* :meth:`Floor.request`: one bare request of the very rows a save sends, through the official
  client (``Sender.dataframe``, or ``Buffer.row`` for small saves), acknowledged, not awaited;
* :meth:`Floor.resend`: the same request serialized beforehand, so only the client's request
  and the server's acknowledgement are timed;
* :meth:`Floor.raw_http`: those bytes in a hand-written HTTP/1.1 request on a kept-alive
  socket, no client library: the server's own round trip (parse, WAL commit, answer);
* :meth:`Floor.pg_insert`: the other durable path QuestDB offers, one PG-wire ``INSERT`` of the
  rows with bound values, committed;
* :class:`AppendSteps`: the client's steps of a small append, and a store-and-forward prototype.

Every request goes to ``indicators_floor`` (``LIKE indicators``), never to the store's table.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg2
from questdb import Sender

from qdbtools.database import Database
from qdbtools.io.small_frames import ROW_BY_ROW_MAX_ROWS, add_rows
from qdbtools.service import values_to_columns
from qdbtools.store import SYMBOL_COLUMNS, VariantColumns, _columns, new_generation, save_columns

__all__ = ["AppendSteps", "Floor"]

TABLE = "indicators_floor"
_INSERTED = ("session_id", "symbol", "indicator_type", "indicator_id", "value", "timestamp")


class Floor:
    """The floor rows' requests, into :data:`TABLE`, on connections opened once."""

    def __init__(self, db: Database) -> None:
        db.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (LIKE indicators)")
        settings = db.settings
        self.sender = Sender.from_conf(settings.ilp_conf + "auto_flush=off;")
        self.sender.establish()
        self._address = (settings.host, settings.http_port)
        self._socket: socket.socket | None = None
        self._pg = psycopg2.connect(
            host=settings.host,
            port=settings.pg_port,
            user=settings.username,
            password=settings.password,
            dbname=settings.database,
        )

    def request(self, rows: pd.DataFrame) -> None:
        generation = new_generation()
        frame = rows.assign(
            written_at=pd.Timestamp(generation // 1000, unit="us", tz="UTC"), generation=generation
        )
        buffer = self.sender.new_buffer()
        if len(frame) <= ROW_BY_ROW_MAX_ROWS:  # serialized as the store sends small saves
            add_rows(buffer, frame, TABLE, SYMBOL_COLUMNS, "written_at")
        else:
            buffer.dataframe(frame, table_name=TABLE, symbols=list(SYMBOL_COLUMNS), at="written_at")
        self.sender.flush(buffer)

    def prebuilt(self, rows: pd.DataFrame) -> Any:
        """A buffer of ``rows``, serialized once: :meth:`resend` then times the request alone."""
        buffer = self.sender.new_buffer()
        frame = rows.assign(written_at=pd.Timestamp.now(tz="UTC"), generation=1)
        add_rows(buffer, frame, TABLE, SYMBOL_COLUMNS, "written_at")
        return buffer

    def resend(self, buffer: Any) -> None:
        """The request and its acknowledgement through the client, no serialization."""
        self.sender.flush(buffer, clear=False)

    def http_request(self, buffer: Any) -> bytes:
        """The HTTP/1.1 request :meth:`raw_http` sends: the buffer's ILP bytes to ``/write``."""
        body = bytes(buffer)
        head = f"POST /write?precision=n HTTP/1.1\r\nHost: {self._address[0]}\r\n"
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body

    def raw_http(self, request: bytes) -> None:
        """One prebuilt request on a kept-alive socket, until the server's ``204``: no client work."""
        if self._socket is None:
            self._socket = socket.create_connection(self._address, timeout=30)
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = self._socket.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection before it answered")
            answer += chunk
        if not answer.startswith(b"HTTP/1.1 204"):
            raise RuntimeError(f"the server refused the floor request: {answer[:300]!r}")

    def pg_insert(self, rows: pd.DataFrame) -> None:
        """One PG-wire ``INSERT`` of ``rows`` (bound values), committed: the other durable path."""
        values = ", ".join(["(%s, %s, %s, %s, %s, %s::timestamp, now(), 1)"] * len(rows))
        params = [
            v.isoformat() if isinstance(v, pd.Timestamp) else v
            for row in rows[list(_INSERTED)].itertuples(index=False)
            for v in row
        ]
        with self._pg.cursor() as cursor:
            columns = ", ".join(_INSERTED)
            cursor.execute(f"INSERT INTO {TABLE} ({columns}, written_at, generation) VALUES {values}", params)
        self._pg.commit()

    def close(self) -> None:
        self.sender.close()
        self._pg.close()
        if self._socket is not None:
            self._socket.close()


class AppendSteps:
    """The steps of the service's small append, each timed alone, and a store-and-forward prototype.

    :meth:`prepare` runs the service's code up to its request (validation, checksum, the rows
    and the marker); :meth:`serialize` is the official client's ``Buffer.row`` of those rows;
    :meth:`journal` is the whole append with its request replaced by a write of the request's
    bytes to a local file: what a save that returns before the server's acknowledgement (a
    client-side store-and-forward journal, shipped later) would still cost its caller.
    """

    def __init__(self, db: Database, directory: Path) -> None:
        self.db = db
        self.sender = Sender.from_conf(db.settings.ilp_conf + "auto_flush=off;")
        self.sender.establish()
        self._journal = os.open(directory / "journal.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.rows: list[Any] = []

    @contextlib.contextmanager
    def _sending(self, send: Callable[..., None]) -> Iterator[None]:
        original = _columns.send_rows
        _columns.send_rows = send
        try:
            yield
        finally:
            _columns.send_rows = original

    def _keep(self, conn: Any, table: str, rows: list[Any], *, wait: bool) -> None:
        self.rows = rows

    def _write(self, conn: Any, table: str, rows: list[Any], *, wait: bool) -> None:
        buffer = self.sender.new_buffer()
        for row in rows:
            buffer.row(table, **row)
        body = bytes(buffer)
        os.write(self._journal, len(body).to_bytes(4, "little") + body)

    def prepare(self, columns: VariantColumns) -> None:
        with self._sending(self._keep):
            save_columns(self.db, columns, "append")

    def serialize(self) -> None:
        buffer = self.sender.new_buffer()
        for row in self.rows:
            buffer.row(TABLE, **row)

    def journal(self, values: list[Any], key: tuple[str, str, str]) -> None:
        columns = values_to_columns(values, *key, "general")
        with self._sending(self._write):
            save_columns(self.db, columns, "append")

    def close(self) -> None:
        os.close(self._journal)
        self.sender.close()
