"""``qdbtools server start|stop|status|install``: the managed QuestDB in the background."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from qdbtools.server import (
    LocalServer,
    ServerPorts,
    ensure_jar,
    find_java,
    inspect_jar,
    read_state,
    stop_background,
)
from qdbtools.session import EMBEDDED_PORTS, embedded_root

if TYPE_CHECKING:
    from qdbtools.cli._options import Commands

__all__ = ["register"]

_DESCRIPTION = """\
Start, stop or inspect a managed QuestDB that keeps running in the background: the embedded
default under ~/.local/share/qdbtools/questdb (what commands without --conf/--url use), or
the server under --root.

  qdbtools server start     start it in the background, or report the one already running;
                            prints its pid, root, log and every address (HTTP, PG wire, ILP)
  qdbtools server stop      stop it (nothing to do when none is running)
  qdbtools server status    show the running server as start does; exit status 3 when none
                            is running under the root
  qdbtools server install   only fetch the pinned QuestDB jar (Maven Central) and check Java

The ports apply to start; the pid, ports and log path are kept in ROOT/qdbtools-server.json.
"""


def register(commands: Commands) -> None:
    """Add the ``server`` command to the subparsers ``commands``."""
    server = commands.add_parser(
        "server",
        help="run a persistent local QuestDB in the background (start, stop, status, install)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    server.add_argument(
        "action",
        choices=["start", "stop", "status", "install"],
        help="install: only fetch the pinned QuestDB jar and check Java",
    )
    server.add_argument("--root", type=Path, help="server root directory (default: the embedded default)")
    server.add_argument("--http-port", type=int, default=EMBEDDED_PORTS.http, help="HTTP port (%(default)s)")
    server.add_argument("--pg-port", type=int, default=EMBEDDED_PORTS.pg, help="PG wire port (%(default)s)")
    server.add_argument("--ilp-port", type=int, default=EMBEDDED_PORTS.ilp, help="ILP/TCP port (%(default)s)")
    server.add_argument(
        "--health-port", type=int, default=EMBEDDED_PORTS.health, help="health port (%(default)s)"
    )
    server.add_argument("--heap", default="1g", help="Java heap limit (%(default)s)")
    server.set_defaults(handler=_server)


def _server(args: argparse.Namespace) -> int:
    root = (args.root or embedded_root()).expanduser().absolute()
    if args.action == "install":
        jar = inspect_jar(ensure_jar())
        java = find_java(jar.min_java)
        print(f"QuestDB {jar.version_text}: {jar.path}")
        print(f"Java {java.major}: {java.executable}")
        return 0
    if args.action == "start":
        state = read_state(root)
        if state is not None:
            print(f"already running (pid {state.pid})")
            _print_state(root)
            return 0
        ports = ServerPorts(args.http_port, args.pg_port, args.ilp_port, args.health_port)
        LocalServer(root, ports=ports, heap=args.heap).start(detach=True)
        _print_state(root)
        return 0
    if args.action == "stop":
        stopped = stop_background(root)
        print(f"stopped pid {stopped.pid}" if stopped else f"no server running under {root}")
        return 0
    if read_state(root) is None:
        print(f"not running (root {root})")
        return 3
    _print_state(root)
    return 0


def _print_state(root: Path) -> None:
    state = read_state(root)
    assert state is not None
    print(f"QuestDB {state.version} running, pid {state.pid}")
    print(f"  root      {state.root}")
    print(f"  log       {state.log}")
    print(f"  http      http://{state.host}:{state.ports.http}  (web console, ILP over HTTP)")
    print(f"  pg wire   {state.host}:{state.ports.pg}  ({state.settings.sqlalchemy_url.render_as_string()})")
    print(f"  ilp/tcp   {state.host}:{state.ports.ilp}")
    print(f"  health    http://{state.host}:{state.ports.health}/status")
