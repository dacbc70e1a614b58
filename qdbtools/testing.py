"""pytest plugin: a real QuestDB per test session, per-test ids, and row waits.

Installed as the ``qdbtools`` pytest plugin (entry point ``pytest11``). Fixtures:

``qdb_server``
    Session scope. A :class:`~qdbtools.server.LocalServer` in a temporary root on free
    loopback ports; stopped at the end of the session.
``qdb``
    Session scope. A migrated :class:`~qdbtools.Database` on that server, also the
    default database while tests run.
``unique_id``
    Function scope. A short id unique to the test (``t`` + 12 hex digits), to use as
    session_id or table-name prefix so tests never see each other's rows.
``qdb_server_factory``
    Function scope. Start extra servers (e.g. an empty database for migration tests);
    each is stopped when the test ends.

When Java or Maven is missing, the fixtures fail (never skip) with what to install.

**An existing server.** ``--qdb-conf CONF`` and/or ``--qdb-url URL`` (or the variables
``QDBTOOLS_TEST_CONF`` / ``QDBTOOLS_TEST_URL``: a questdb configuration string and a SQLAlchemy
URL, as :meth:`~qdbtools.config.Settings.combine` takes them) point ``qdb`` at a QuestDB you
run, like pytest-postgresql's ``noproc`` fixtures. No server is started; the fixture applies
qdbtools' migrations there and tests write rows under their unique ids, so use a scratch
server, never one whose data matters. Tests that control the server process themselves
(``qdb_server``: kill, freeze, restart) are skipped in that mode, with the reason;
``qdb_server_factory`` still starts its own servers.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, SupportsInt, cast

import pytest

from qdbtools.config import Settings
from qdbtools.database import Database
from qdbtools.exceptions import DatabaseError, JarNotFoundError, JavaNotFoundError, VisibilityError
from qdbtools.server import LocalServer
from qdbtools.session import use_as_default

__all__ = ["existing_server_settings", "wait_for_rows"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qdbtools")
    group.addoption(
        "--qdb-heap", default="768m", help="Java heap of the QuestDB started for tests (default 768m)"
    )
    group.addoption(
        "--qdb-conf",
        default=os.environ.get("QDBTOOLS_TEST_CONF") or None,
        help="run against an existing QuestDB: its questdb configuration string, e.g. "
        "'http::addr=localhost:9000;' (default $QDBTOOLS_TEST_CONF; use a scratch server)",
    )
    group.addoption(
        "--qdb-url",
        default=os.environ.get("QDBTOOLS_TEST_URL") or None,
        help="run against an existing QuestDB: its SQLAlchemy URL, e.g. "
        "'questdb://admin:quest@localhost:8812/qdb' (default $QDBTOOLS_TEST_URL)",
    )


def existing_server_settings(config: pytest.Config) -> Settings | None:
    """The settings of the existing server the options name, or None to start one."""
    conf, url = config.getoption("--qdb-conf"), config.getoption("--qdb-url")
    if conf is None and url is None:
        return None
    return Settings.combine(conf, url)


def _start(root: Path, heap: str) -> LocalServer:
    try:
        return LocalServer(root, heap=heap).start()
    except (JavaNotFoundError, JarNotFoundError) as exc:
        pytest.fail(f"cannot start the QuestDB for tests: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def qdb_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalServer]:
    if existing_server_settings(request.config) is not None:
        pytest.skip("this test controls its own QuestDB process; --qdb-conf/--qdb-url name an existing one")
    server = _start(tmp_path_factory.mktemp("questdb"), request.config.getoption("--qdb-heap"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def qdb(request: pytest.FixtureRequest) -> Iterator[Database]:
    settings = existing_server_settings(request.config)
    if settings is None:
        server: LocalServer = request.getfixturevalue("qdb_server")
        database = Database(server.settings, server=server)
    else:
        database = Database(settings)
        try:
            database.ping()
        except DatabaseError as exc:
            message = f"the existing QuestDB named by --qdb-conf/--qdb-url does not answer: {exc}"
            pytest.fail(message, pytrace=False)
    with database as db:
        db.migrate()
        with use_as_default(db):
            yield db


@pytest.fixture
def unique_id() -> str:
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def qdb_server_factory(tmp_path: Path) -> Iterator[Callable[..., LocalServer]]:
    started: list[LocalServer] = []

    def start(**kwargs: Any) -> LocalServer:
        root = kwargs.pop("root", None) or tmp_path / f"questdb{len(started)}"
        server = LocalServer(root, **{"heap": "384m", **kwargs})
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def wait_for_rows(
    db: Database,
    query: str,
    params: Mapping[str, Any] | None = None,
    *,
    expected: int,
    timeout: float = 30.0,
) -> int:
    """Poll ``SELECT count() ...`` (a one-value query) until it returns ``expected``.

    Returns the count; raises :class:`VisibilityError` with the last count on timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        # pandas types a cell as any scalar; the query answers one count.
        count = int(cast(SupportsInt, db.sql(query, params).iat[0, 0]))
        if count == expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if count != expected:
        raise VisibilityError(f"expected {expected} rows from {query!r}, found {count} after {timeout} s")
    return count
