"""Connection settings: built once, at the edges, from arguments or the environment.

A :class:`Settings` value says where a QuestDB server is and how to talk to it. It
produces the SQLAlchemy URL for the questdb-connect dialect (PG wire) and the
configuration strings of the official ``questdb`` client (ILP over HTTP; QWP over
WebSocket on servers that have it).

Environment variables (all optional):

``QDBTOOLS_CONF``
    A questdb client configuration string, e.g. ``http::addr=db.example:9000;``
    ``username=admin;password=quest;``. Supplies host, HTTP port, credentials and TLS.
``QDBTOOLS_URL``
    A SQLAlchemy URL, e.g. ``questdb://admin:quest@db.example:8812/qdb``. Supplies host,
    PG wire port, credentials and database.
``QDBTOOLS_HOST``, ``QDBTOOLS_HTTP_PORT``, ``QDBTOOLS_PG_PORT``, ``QDBTOOLS_ILP_PORT``,
``QDBTOOLS_USER``, ``QDBTOOLS_PASSWORD``, ``QDBTOOLS_DATABASE``, ``QDBTOOLS_TLS``
    Single settings; they override what the two strings above say.

When none of them is set, :func:`Settings.from_env` returns ``None`` and
:func:`qdbtools.connect` uses the managed local server (the embedded default).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from qdbtools.exceptions import ConfigError

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["ENV_VARS", "Settings", "parse_conf_string"]

ENV_VARS = (
    "QDBTOOLS_CONF",
    "QDBTOOLS_URL",
    "QDBTOOLS_HOST",
    "QDBTOOLS_HTTP_PORT",
    "QDBTOOLS_PG_PORT",
    "QDBTOOLS_ILP_PORT",
    "QDBTOOLS_USER",
    "QDBTOOLS_PASSWORD",
    "QDBTOOLS_DATABASE",
    "QDBTOOLS_TLS",
)

_CONF_SCHEMAS = {"http": False, "https": True, "tcp": False, "tcps": True, "ws": False, "wss": True}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Where a QuestDB server is and how to reach it.

    Parameters
    ----------
    host : str
        Host name or address of the server.
    http_port : int
        HTTP port (REST API, ILP over HTTP, QWP over WebSocket, ``/ping``).
    pg_port : int
        PostgreSQL wire port, used by the SQLAlchemy dialect.
    ilp_port : int
        ILP over TCP port (kept for tools that still speak it; qdbtools writes over HTTP).
    username, password : str
        Credentials for both HTTP and PG wire.
    database : str
        PG wire database name (QuestDB accepts any; ``qdb`` by convention).
    tls : bool
        Use ``https``/``wss`` for the client configuration strings.
    connect_timeout : float
        Seconds to wait for a connection before reporting the server unreachable.
    request_timeout : float
        Seconds an HTTP request (export, ingestion) may wait for the server; ingestion of a
        large request gets more, by the client's minimum throughput (100 KiB/s).
    query_timeout : float
        Seconds a PG wire query or statement may wait for the server's answer; then the
        connection is closed and :class:`~qdbtools.DatabaseUnavailableError` raised (a frozen
        or overloaded server). Migrations that copy whole tables allow an hour.
    """

    host: str = "127.0.0.1"
    http_port: int = 9000
    pg_port: int = 8812
    ilp_port: int = 9009
    username: str = "admin"
    password: str = field(default="quest", repr=False)
    database: str = "qdb"
    tls: bool = False
    connect_timeout: float = 5.0
    request_timeout: float = 60.0
    query_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.host or any(c in self.host for c in "/;@ "):
            raise ConfigError(f"invalid QuestDB host {self.host!r}: give a host name or address")
        for name in ("http_port", "pg_port", "ilp_port"):
            port = getattr(self, name)
            if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
                raise ConfigError(f"invalid {name} {port!r}: must be an integer in 1..65535")
        for name in ("connect_timeout", "request_timeout", "query_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")

    # -- constructors -------------------------------------------------------------------

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings | None:
        """Build settings from ``QDBTOOLS_*`` variables, or ``None`` when none is set."""
        env = os.environ if env is None else env
        if not any(env.get(name) for name in ENV_VARS):
            return None
        values: dict[str, Any] = {}
        if env.get("QDBTOOLS_CONF"):
            values.update(_values_from_conf(env["QDBTOOLS_CONF"], "QDBTOOLS_CONF"))
        if env.get("QDBTOOLS_URL"):
            values.update(_values_from_url(env["QDBTOOLS_URL"], "QDBTOOLS_URL"))
        singles: dict[str, tuple[str, Callable[[str], object]]] = {
            "QDBTOOLS_HOST": ("host", str),
            "QDBTOOLS_HTTP_PORT": ("http_port", int),
            "QDBTOOLS_PG_PORT": ("pg_port", int),
            "QDBTOOLS_ILP_PORT": ("ilp_port", int),
            "QDBTOOLS_USER": ("username", str),
            "QDBTOOLS_PASSWORD": ("password", str),
            "QDBTOOLS_DATABASE": ("database", str),
            "QDBTOOLS_TLS": ("tls", _parse_bool),
        }
        for var, (key, convert) in singles.items():
            raw = env.get(var)
            if raw:
                try:
                    values[key] = convert(raw)
                except ValueError:
                    raise ConfigError(f"{var}={raw!r} is not a valid {key}") from None
        return cls(**values)

    @classmethod
    def from_conf(cls, conf: str, **overrides: Any) -> Settings:
        """Build settings from a questdb client configuration string.

        Examples
        --------
        >>> Settings.from_conf("http::addr=db:9000;username=u;password=p;").http_port
        9000
        """
        return cls(**{**_values_from_conf(conf, "conf"), **overrides})

    @classmethod
    def from_url(cls, url: str | sa.URL, **overrides: Any) -> Settings:
        """Build settings from a SQLAlchemy URL such as ``questdb://admin:quest@host:8812/qdb``."""
        return cls(**{**_values_from_url(url, "url"), **overrides})

    @classmethod
    def combine(cls, conf: str | None = None, url: str | sa.URL | None = None, **overrides: Any) -> Settings:
        """Settings from a configuration string and a SQLAlchemy URL together, then ``overrides``.

        The string gives the HTTP (or ILP) side, the URL the PG wire side. A setting both
        give (host, username, password) must agree: a ConfigError names both values.

        Examples
        --------
        >>> s = Settings.combine("http::addr=db:9000;", "questdb://admin:quest@db:8812/qdb")
        >>> (s.host, s.http_port, s.pg_port)
        ('db', 9000, 8812)
        """
        values: dict[str, Any] = {}
        if conf is not None:
            if not isinstance(conf, str):
                raise ConfigError(
                    f"conf must be a questdb configuration string such as 'http::addr=host:9000;', got "
                    f"{type(conf).__name__}; pass ready-made settings as settings=..."
                )
            values.update(_values_from_conf(conf, "conf"))
        if url is not None:
            for key, value in _values_from_url(url, "url").items():
                if key in values and values[key] != value:
                    shown = (values[key], value) if key != "password" else ("***", "***")
                    raise ConfigError(
                        f"conf and url disagree on {key}: {shown[0]!r} (conf) against {shown[1]!r} "
                        "(url); give one value, or use only one of them"
                    )
                values[key] = value
        return cls(**{**values, **overrides})

    def with_(self, **changes: Any) -> Settings:
        """Return a copy with some settings changed."""
        return replace(self, **changes)

    # -- derived values -----------------------------------------------------------------

    @property
    def sqlalchemy_url(self) -> sa.URL:
        """URL for the questdb-connect dialect on the PG wire port."""
        import sqlalchemy as sa  # ~0.5 s: paid by whoever asks for a URL, not by ``import qdbtools``

        return sa.URL.create(
            "questdb",
            username=self.username,
            password=self.password,
            host=self.host,
            port=self.pg_port,
            database=self.database,
        )

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP server, e.g. ``http://127.0.0.1:9000``."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.http_port}"

    @property
    def ilp_conf(self) -> str:
        """Client configuration string for ILP over HTTP (``Sender.from_conf``)."""
        schema = "https" if self.tls else "http"
        return self._conf(schema, request_timeout=int(self.request_timeout * 1000))

    @property
    def qwp_conf(self) -> str:
        """Client configuration string for QWP over WebSocket (QuestDB 10.0 and newer)."""
        return self._conf("wss" if self.tls else "ws")

    def _conf(self, schema: str, **extra: int) -> str:
        parts = [f"addr={self.host}:{self.http_port}"]
        if self.username:
            parts.append(f"username={_escape_conf(self.username)}")
        if self.password:
            parts.append(f"password={_escape_conf(self.password)}")
        parts.extend(f"{key}={value}" for key, value in extra.items())
        return f"{schema}::" + "".join(part + ";" for part in parts)

    @property
    def address(self) -> str:
        """``host:http_port / pg host:pg_port`` for messages."""
        return f"{self.host} (HTTP {self.http_port}, PG wire {self.pg_port})"


def parse_conf_string(conf: str) -> tuple[str, dict[str, str]]:
    """Split a questdb configuration string into its schema and key/value pairs.

    ``;;`` inside a value stands for a literal ``;``, as in the official clients.

    Examples
    --------
    >>> parse_conf_string("http::addr=localhost:9000;password=a;;b;")
    ('http', {'addr': 'localhost:9000', 'password': 'a;b'})
    """
    schema, sep, rest = conf.strip().partition("::")
    if not sep or schema not in _CONF_SCHEMAS:
        raise ConfigError(
            f"invalid configuration string {_redact(conf)!r}: it must start with one of "
            f"{', '.join(s + '::' for s in _CONF_SCHEMAS)} (e.g. 'http::addr=localhost:9000;')"
        )
    pairs: dict[str, str] = {}
    key: str | None = None
    buf: list[str] = []
    i = 0
    while i < len(rest):
        ch = rest[i]
        if key is None:
            if ch == "=":
                key, buf = "".join(buf).strip(), []
            elif ch == ";":
                if "".join(buf).strip():
                    raise ConfigError(f"configuration string item {''.join(buf)!r} has no '='")
                buf = []
            else:
                buf.append(ch)
        elif ch == ";":
            if rest[i + 1 : i + 2] == ";":
                buf.append(";")
                i += 1
            else:
                pairs[key], key, buf = "".join(buf), None, []
        else:
            buf.append(ch)
        i += 1
    if key is not None:
        pairs[key] = "".join(buf)
    return schema, pairs


def _values_from_conf(conf: str, source: str) -> dict[str, Any]:
    schema, pairs = parse_conf_string(conf)
    values: dict[str, Any] = {"tls": _CONF_SCHEMAS[schema]}
    addr = pairs.get("addr")
    if not addr:
        raise ConfigError(f"{source}: the configuration string has no addr=host:port")
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"{source}: addr={addr!r} must be host:port, e.g. localhost:9000")
    values["host"] = host
    values["ilp_port" if schema in ("tcp", "tcps") else "http_port"] = int(port)
    if "username" in pairs:
        values["username"] = pairs["username"]
    if "password" in pairs:
        values["password"] = pairs["password"]
    return values


def _values_from_url(url: str | sa.URL, source: str) -> dict[str, Any]:
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"{source}: {url!r} is not a SQLAlchemy URL: {exc}") from None
    if parsed.drivername.split("+")[0] not in ("questdb", "postgresql"):
        raise ConfigError(
            f"{source}: URL scheme {parsed.drivername!r} is not questdb:// "
            "(e.g. questdb://admin:quest@localhost:8812/qdb)"
        )
    values: dict[str, Any] = {}
    if parsed.host:
        values["host"] = parsed.host
    if parsed.port:
        values["pg_port"] = parsed.port
    if parsed.username:
        values["username"] = parsed.username
    if parsed.password is not None:
        values["password"] = str(parsed.password)
    if parsed.database:
        values["database"] = parsed.database
    return values


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(raw)


def _escape_conf(value: str) -> str:
    return value.replace(";", ";;")


def _redact(conf: str) -> str:
    schema, _, rest = conf.partition("::")
    items = ["password=***" if item.startswith(("password=", "token=")) else item for item in rest.split(";")]
    return schema + "::" + ";".join(items) if rest else conf
