"""Entry points: ``connect()``, ``local_server()`` and the default database.

The *default database* is what accessor methods and services use when no ``db=`` is
given: the innermost active :func:`local_server`, else the database of the latest
:func:`connect`, else the embedded default (``connect()`` with nothing configured).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from qdbtools.config import Settings
from qdbtools.database import Database
from qdbtools.exceptions import ConfigError, DatabaseError, ServerStartError
from qdbtools.server import LocalServer, ServerPorts, read_state
from qdbtools.telemetry import Telemetry

__all__ = [
    "EMBEDDED_PORTS",
    "connect",
    "data_dir",
    "embedded_root",
    "get_default_database",
    "local_server",
    "start_embedded_server",
    "use_as_default",
]


#: Ports of the embedded default server; chosen away from QuestDB's own defaults so that
#: it can run beside a QuestDB you installed yourself.
EMBEDDED_PORTS = ServerPorts(http=29000, pg=28812, ilp=29009, health=29003)

_lock = threading.RLock()
_connected: Database | None = None
_scoped: list[Database] = []


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$QDBTOOLS_HOME``, else ``$XDG_DATA_HOME/qdbtools``, else ``~/.local/share/qdbtools``."""
    env = os.environ if env is None else env
    if env.get("QDBTOOLS_HOME"):
        return Path(env["QDBTOOLS_HOME"]).expanduser()
    base = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else Path.home() / ".local" / "share"
    return base / "qdbtools"


def embedded_root(env: Mapping[str, str] | None = None) -> Path:
    """Root directory of the embedded default server."""
    return data_dir(env) / "questdb"


def start_embedded_server(
    root: Path | None = None, *, ports: ServerPorts | None = None, heap: str = "1g"
) -> Settings:
    """Reuse the background server recorded under ``root``, or start one there.

    Returns the settings to reach it. The server keeps running after this process ends
    (stop it with ``qdbtools server stop``).
    """
    root = root or embedded_root()
    state = read_state(root)
    if state is None:
        server = LocalServer(root, ports=ports or EMBEDDED_PORTS, heap=heap).start(detach=True)
        return server.settings
    deadline = time.monotonic() + 60
    with Database(state.settings) as db:
        while True:
            try:
                db.ping()
                return state.settings
            except DatabaseError as exc:  # still starting, or hung: report after the deadline
                if time.monotonic() > deadline:
                    raise ServerStartError(
                        f"the managed QuestDB (pid {state.pid}) under {root} does not answer: {exc}; "
                        f"see {state.log}, or restart it with `qdbtools server stop` and start"
                    ) from exc
                time.sleep(0.5)


def connect(
    conf: str | None = None,
    *,
    url: str | None = None,
    settings: Settings | None = None,
    migrate: bool | None = None,
    telemetry: Telemetry | None = None,
    **overrides: Any,
) -> Database:
    """Connect to QuestDB and make the result the default database.

    Parameters
    ----------
    conf : str, optional
        A questdb client configuration string, e.g. ``"http::addr=db:9000;"``.
    url : str, optional
        A SQLAlchemy URL, e.g. ``"questdb://admin:quest@db:8812/qdb"``. With ``conf`` too,
        both apply (:meth:`Settings.combine`): a setting they both give must agree.
    settings : Settings, optional
        Ready-made settings.
    migrate : bool, optional
        Apply pending schema migrations now. Default: only for the embedded default.
    telemetry : Telemetry, optional
        Where operations' metrics and traces go (:mod:`qdbtools.telemetry`), e.g.
        ``Telemetry(record_ids=True)``; default: the global OpenTelemetry providers, no ids.
    **overrides
        Single :class:`Settings` fields (``host=``, ``pg_port=`` ...).

    With no arguments, the ``QDBTOOLS_*`` environment variables are used; when none is
    set either, the *embedded default*: a managed QuestDB under :func:`data_dir`,
    started in the background on first use and reused afterwards.

    Examples
    --------
    >>> db = qdbtools.connect()                                   # doctest: +SKIP
    >>> db = qdbtools.connect("http::addr=localhost:9000;", pg_port=8812)  # doctest: +SKIP
    """
    embedded = False
    if settings is not None and (conf is not None or url is not None or overrides):
        raise ConfigError("give either settings= or conf/url/overrides, not both")
    if settings is None:
        if conf is not None or url is not None:
            settings = Settings.combine(conf, url, **overrides)
        elif overrides:
            settings = Settings(**overrides)
        else:
            settings = Settings.from_env()
            if settings is None:
                settings, embedded = start_embedded_server(), True
    db = Database(settings, telemetry=telemetry)
    if migrate or (migrate is None and embedded):
        db.migrate()
    global _connected
    with _lock:
        _connected = db
    return db


@contextlib.contextmanager
def local_server(
    root: str | os.PathLike[str] | None = None,
    *,
    ports: ServerPorts | None = None,
    heap: str = "512m",
    migrate: bool = True,
    startup_timeout: float = 90.0,
) -> Iterator[Database]:
    """Run a managed QuestDB for the duration of a ``with`` block.

    Parameters
    ----------
    root : path, optional
        Server root; a temporary directory (removed afterwards) when None.
    ports : ServerPorts, optional
        Explicit ports; free ones are chosen by default.
    heap : str
        Java heap limit.
    migrate : bool
        Apply the schema migrations once the server is up.

    Yields
    ------
    Database
        Connected to the server, and the default database inside the block.

    Examples
    --------
    >>> with qdbtools.local_server() as db:                      # doctest: +SKIP
    ...     print(db.server_version(), db.tables())
    """
    temporary = root is None
    path = Path(tempfile.mkdtemp(prefix="qdbtools-")) if temporary else Path(root)  # type: ignore[arg-type]
    server = LocalServer(path, ports=ports, heap=heap, startup_timeout=startup_timeout)
    try:
        server.start()
        db = Database(server.settings, server=server)
        try:
            if migrate:
                db.migrate()
            with use_as_default(db):
                yield db
        finally:
            db.close()
    finally:
        server.stop()
        if temporary:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def use_as_default(db: Database) -> Iterator[Database]:
    """Make ``db`` the default database inside a ``with`` block (blocks nest)."""
    with _lock:
        _scoped.append(db)
    try:
        yield db
    finally:
        with _lock:
            _scoped.remove(db)


def get_default_database() -> Database:
    """The database accessor methods use when no ``db=`` is given (see module docstring)."""
    with _lock:
        if _scoped:
            return _scoped[-1]
        if _connected is not None:
            return _connected
    return connect()
