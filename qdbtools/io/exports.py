"""Parquet exports over HTTP (``/exp?fmt=parquet``).

Each export is one request on its own connection, closed after the answer: QuestDB limits
the connections that may use ``/exp`` (by default to the number of CPUs), so a kept-alive
connection would hold one of those few slots while idle. When every slot is taken, the
server answers 429; the export is retried with a growing pause, within the settings'
``request_timeout``.
"""

from __future__ import annotations

import base64
import http.client
import logging
import time
import urllib.parse

from qdbtools.config import Settings
from qdbtools.exceptions import QueryError
from qdbtools.io.errors import http_errors, http_status_error
from qdbtools.telemetry import step

__all__ = ["fetch_parquet"]

log = logging.getLogger(__name__)

_BUSY = 429
_FIRST_PAUSE = 0.005
_LONGEST_PAUSE = 0.5


def _headers(settings: Settings) -> dict[str, str]:
    headers = {"Connection": "close"}
    if settings.username:
        token = base64.b64encode(f"{settings.username}:{settings.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    return headers


def _request(settings: Settings, path: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
    kind = http.client.HTTPSConnection if settings.tls else http.client.HTTPConnection
    conn = kind(settings.host, settings.http_port, timeout=settings.request_timeout)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


def fetch_parquet(settings: Settings, sql: str) -> bytes:
    """The Parquet bytes of ``sql``'s result: uncompressed on loopback, LZ4 elsewhere."""
    # On loopback, compressing costs the server more time than it saves on the wire.
    local = settings.host in ("127.0.0.1", "localhost", "::1")
    params = {
        "query": sql,
        "fmt": "parquet",
        "compression_codec": "uncompressed" if local else "lz4_raw",
        "statistics_enabled": "false",
    }
    path = "/exp?" + urllib.parse.urlencode(params)
    headers = _headers(settings)
    deadline = time.monotonic() + settings.request_timeout
    pause = _FIRST_PAUSE
    with http_errors(settings, "a Parquet export"), step("query"):
        while True:
            status, kind, payload = _request(settings, path, headers)
            if status != _BUSY or time.monotonic() + pause > deadline:
                break
            if pause == _FIRST_PAUSE:
                busy = "every export connection of the server is busy; retrying %.200s"
                log.info(busy, sql, extra={"sql": sql[:200]})
            time.sleep(pause)
            pause = min(2 * pause, _LONGEST_PAUSE)
    if status >= 400:
        raise http_status_error(status, payload, "a Parquet export")
    if "parquet" not in kind:
        raise QueryError(f"the server answered a Parquet export with {kind!r}: {payload[:200]!r}")
    return payload
