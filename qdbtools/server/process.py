"""Run a QuestDB server process: write its configuration, start java, wait, stop."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from qdbtools.config import Settings
from qdbtools.exceptions import ServerStartError
from qdbtools.server.jar import JarInfo, ensure_jar, inspect_jar
from qdbtools.server.java import JavaRuntime, find_java

__all__ = ["LocalServer", "ServerPorts", "ServerState", "free_ports", "read_state"]

log = logging.getLogger(__name__)

STATE_FILE = "qdbtools-server.json"
_LIVE_SERVERS: weakref.WeakSet[LocalServer] = weakref.WeakSet()


@dataclass(frozen=True)
class ServerPorts:
    """The four listeners of a QuestDB server."""

    http: int
    pg: int
    ilp: int
    health: int

    @classmethod
    def free(cls, host: str = "127.0.0.1") -> ServerPorts:
        """Four ports that are free on ``host`` right now."""
        return cls(*free_ports(4, host))


@dataclass(frozen=True)
class ServerState:
    """What ``qdbtools server start`` records in ``ROOT/qdbtools-server.json``."""

    pid: int
    host: str
    ports: ServerPorts
    root: str
    log: str
    version: str
    java: str
    started_at: float

    @property
    def settings(self) -> Settings:
        return Settings(
            host=self.host, http_port=self.ports.http, pg_port=self.ports.pg, ilp_port=self.ports.ilp
        )


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ask the kernel for ``count`` distinct free TCP ports on ``host``."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def read_state(root: Path) -> ServerState | None:
    """The recorded background server of ``root`` when its process is still alive."""
    path = Path(root) / STATE_FILE
    try:
        raw = json.loads(path.read_text())
        state = ServerState(**{**raw, "ports": ServerPorts(**raw["ports"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return state if _pid_alive(state.pid) else None


class LocalServer:
    """A QuestDB server process that qdbtools starts and stops.

    Parameters
    ----------
    root : path
        The server's root directory (``conf/``, ``db/``, ``log/``); created if missing.
    ports : ServerPorts, optional
        Explicit ports; by default four free ports are chosen.
    host : str
        Address every listener binds to; loopback by default.
    heap : str
        Maximum Java heap (``-Xmx``), e.g. ``"512m"``.
    startup_timeout : float
        Seconds to wait for ``/ping`` and the PG wire port to answer.
    env : mapping, optional
        Environment for finding Java and the jar (``JAVA_HOME``, ``QDBTOOLS_QUESTDB_JAR``).
    extra_conf : mapping, optional
        More ``server.conf`` properties, e.g. ``{"cairo.wal.enabled.default": "true"}``.

    Examples
    --------
    >>> with LocalServer("/tmp/qdb") as server:      # doctest: +SKIP
    ...     print(server.settings.sqlalchemy_url)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        ports: ServerPorts | None = None,
        host: str = "127.0.0.1",
        heap: str = "512m",
        startup_timeout: float = 90.0,
        env: Mapping[str, str] | None = None,
        extra_conf: Mapping[str, str] | None = None,
    ) -> None:
        self.root = Path(root).expanduser().absolute()
        self.host = host
        self.ports = ports or ServerPorts.free(host)
        self.heap = heap
        self.startup_timeout = startup_timeout
        self._env = dict(os.environ if env is None else env)
        self.extra_conf = dict(extra_conf or {})
        self._process: subprocess.Popen[bytes] | None = None
        self.jar: JarInfo | None = None
        self.java: JavaRuntime | None = None

    # -- public -------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """Connection settings for this server."""
        return Settings(
            host=self.host, http_port=self.ports.http, pg_port=self.ports.pg, ilp_port=self.ports.ilp
        )

    @property
    def log_path(self) -> Path:
        return self.root / "log" / "server.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *, detach: bool = False) -> LocalServer:
        """Start java and return once the server answers on HTTP and PG wire.

        With ``detach=True`` the server outlives this Python process (``qdbtools server
        start``) and its pid is recorded in ``ROOT/qdbtools-server.json``; otherwise it is
        stopped when this object is closed, when the interpreter exits, and (on Linux)
        when this process dies.

        Raises
        ------
        ServerStartError
            The root is not writable, a port is taken, java exited or readiness timed out;
            no java process is left behind.
        JavaNotFoundError, JarNotFoundError
            Java or the jar is missing.
        """
        if self.is_running:
            return self
        self._prepare_root()
        self._check_ports_free()
        self.jar = inspect_jar(ensure_jar(self._env))
        self.java = find_java(self.jar.min_java, self._env)
        self._write_conf()
        command = self._command()
        log.info(
            "starting QuestDB in %s on HTTP port %d with %s",
            self.root,
            self.ports.http,
            self.java.executable,
            extra={"root": str(self.root), "ports": asdict(self.ports), "java": str(self.java.executable)},
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=detach,
                preexec_fn=None if detach else _die_with_parent,
            )
        try:
            self._wait_ready()
        except BaseException:
            self._terminate(timeout=10)
            raise
        if detach:
            self._write_state()
        else:
            _LIVE_SERVERS.add(self)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Terminate the server, wait up to ``timeout`` seconds, then kill it."""
        self._terminate(timeout)
        with contextlib.suppress(FileNotFoundError):
            (self.root / STATE_FILE).unlink()
        _LIVE_SERVERS.discard(self)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server log."""
        return log_tail(self.log_path, lines)

    def exit_note(self) -> str | None:
        """Why the server is gone when its java process died on its own, else None.

        None while it runs and after :meth:`stop`. A JVM that is still writing its crash report
        counts as dead. Costs a ``poll`` and a ``stat``: error paths call it.
        """
        process = self._process
        if process is None:
            return None
        code = process.poll()
        report = self.root / "log" / f"hs_err_pid{process.pid}.log"
        crashed = report.exists()
        if code is None and not crashed:
            return None
        if code is None:
            how = "crashed"
        elif code < 0:
            how = f"was killed by {_signal_name(-code)}"
        else:
            how = f"exited with code {code}"
        seen = f"; the JVM's crash report is {report}" if crashed else ""
        return (
            f"the managed QuestDB server (pid {process.pid}) {how}{seen}; its log is {self.log_path}. "
            f"Start it again on the same root ({self.root}): the writes it acknowledged are kept"
        )

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<LocalServer {state} root={self.root} http={self.ports.http} pg={self.ports.pg}>"

    # -- steps --------------------------------------------------------------------------

    def _prepare_root(self) -> None:
        probe = self.root / ".qdbtools-write-test"
        try:
            (self.root / "conf").mkdir(parents=True, exist_ok=True)
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise ServerStartError(
                f"QuestDB root {self.root} is not writable ({exc.strerror or exc}); choose another "
                "root (local_server(root=...) or --root DIR) or fix its permissions"
            ) from exc
        running = read_state(self.root)
        if running is not None:
            raise ServerStartError(
                f"a QuestDB server (pid {running.pid}) already runs from {self.root} on HTTP port "
                f"{running.ports.http}; stop it with `qdbtools server stop --root {self.root}` "
                "or use another root"
            )

    def _check_ports_free(self) -> None:
        for name, port in asdict(self.ports).items():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, port))
            except OSError as exc:
                raise ServerStartError(
                    f"the {name} port {self.host}:{port} is already in use ({exc.strerror}); choose "
                    "other ports (ports=ServerPorts(...) or --http-port/--pg-port/--ilp-port/"
                    "--health-port) or stop the program that holds it"
                ) from exc
            finally:
                sock.close()

    def _write_conf(self) -> None:
        host, ports = self.host, self.ports
        lines = [
            "# written by qdbtools; rewritten at every start",
            f"http.bind.to={host}:{ports.http}",
            f"http.min.net.bind.to={host}:{ports.health}",
            f"pg.net.bind.to={host}:{ports.pg}",
            f"line.tcp.net.bind.to={host}:{ports.ilp}",
            "line.udp.enabled=false",
            "telemetry.enabled=false",
            "http.min.enabled=true",
            "shared.worker.count=2",
        ]
        lines += [f"{key}={value}" for key, value in self.extra_conf.items()]
        (self.root / "conf" / "server.conf").write_text("\n".join(lines) + "\n")

    def _command(self) -> list[str]:
        assert self.jar is not None and self.java is not None
        command = [
            str(self.java.executable),
            f"-Xmx{self.heap}",
            "-Xms64m",
            "-XX:+UseParallelGC",
            "-Dfile.encoding=UTF-8",
            f"-XX:ErrorFile={self.root / 'log' / 'hs_err_pid%p.log'}",
        ]
        if not self.jar.version or self.jar.version >= (9, 4):
            command.append("--add-exports=java.base/jdk.internal.vm=io.questdb")
        command += ["-p", str(self.jar.path), "-m", "io.questdb/io.questdb.ServerMain", "-d", str(self.root)]
        return command

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise ServerStartError(
                    f"QuestDB (java) exited with code {code} while starting from {self.root}.\n"
                    f"Last lines of {self.log_path}:\n{self.log_tail()}"
                )
            if _http_ping(self.host, self.ports.http) and _port_open(self.host, self.ports.pg):
                log.info(
                    "QuestDB ready on HTTP port %d (pid %d)",
                    self.ports.http,
                    self._process.pid,
                    extra={"http_port": self.ports.http, "pid": self._process.pid},
                )
                return
            time.sleep(0.1)
        raise ServerStartError(
            f"QuestDB did not answer on {self.host}:{self.ports.http} (/ping) and "
            f"{self.host}:{self.ports.pg} (PG wire) within {self.startup_timeout:.0f} s.\n"
            f"Last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def _write_state(self) -> None:
        assert self._process is not None and self.jar is not None and self.java is not None
        state = ServerState(
            pid=self._process.pid,
            host=self.host,
            ports=self.ports,
            root=str(self.root),
            log=str(self.log_path),
            version=self.jar.version_text,
            java=str(self.java.executable),
            started_at=time.time(),
        )
        payload: dict[str, Any] = asdict(state)
        (self.root / STATE_FILE).write_text(json.dumps(payload, indent=2))

    def _terminate(self, timeout: float) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            late = "QuestDB (pid %d) did not stop in time; killing it"
            log.warning(late, process.pid, extra={"pid": process.pid})
            process.kill()
            process.wait(10)


def stop_background(root: Path, timeout: float = 30.0) -> ServerState | None:
    """Stop the background server recorded in ``root``; returns its state, or None."""
    state = read_state(root)
    if state is None:
        with contextlib.suppress(FileNotFoundError):
            (Path(root) / STATE_FILE).unlink()
        return None
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(state.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_alive(state.pid):
        os.kill(state.pid, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):
        (Path(root) / STATE_FILE).unlink()
    return state


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _http_ping(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/ping", timeout=1) as response:
            return bool(response.status == 204)
    except (OSError, urllib.error.URLError):
        return False


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still has a pid; treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _die_with_parent() -> None:
    """In the child: ask Linux to send SIGTERM when the parent process dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


@atexit.register
def _stop_live_servers() -> None:
    for server in list(_LIVE_SERVERS):
        server.stop(timeout=15)
