"""Options that many commands share, and the database they name."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeAlias

import qdbtools

__all__ = ["add_connection_options", "add_json_option", "connect", "connected"]

if TYPE_CHECKING:
    #: The subparsers object that each command module adds its commands to.
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """``--conf`` and ``--url``: which QuestDB (default: ``QDBTOOLS_*`` variables, else the embedded one)."""
    parser.add_argument("--conf", help="questdb configuration string, e.g. 'http::addr=host:9000;'")
    parser.add_argument("--url", help="SQLAlchemy URL, e.g. questdb://admin:quest@host:8812/qdb")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json``: print JSON for scripts instead of a table."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON instead of a table (UTC ISO-8601 times, null for missing values)",
    )


def connect(args: argparse.Namespace) -> qdbtools.Database:
    """The database that ``--conf``/``--url`` name, else the configured or embedded default."""
    return qdbtools.connect(args.conf, url=args.url) if (args.conf or args.url) else qdbtools.connect()


@contextlib.contextmanager
def connected(args: argparse.Namespace) -> Iterator[qdbtools.Database]:
    """:func:`connect` for one command, closed after it.

    A command that wrote returns once its rows are visible (bounded, like every wait): the
    next command runs in another process, which would not see rows still being applied.
    """
    with connect(args) as db:
        yield db
        db.wait_for_own_writes()
