"""The ``qdbtools`` argument parser: the top level, and every command's module adds its own."""

from __future__ import annotations

import argparse

import qdbtools
from qdbtools.cli import (
    _indicator_commands,
    _market_commands,
    _ops_commands,
    _server,
    _setup_commands,
    _store_commands,
)

__all__ = ["EXIT_STATUS", "build_parser"]

_DESCRIPTION = """\
qdbtools: tick prices, OHLCV bars and technical indicators in QuestDB.

Without --conf/--url (or QDBTOOLS_* variables), commands use the embedded default:
a managed QuestDB under ~/.local/share/qdbtools/questdb, started on first use.

A day's work: write-ticks FILE, aggregate SESSION SYMBOL, compute SESSION SYMBOL RSI_14 ...,
then list, history and prune. `qdbtools COMMAND --help` tells what each command does.
Listings print an aligned table, or JSON with --json (UTC ISO-8601 times, null for
missing values).
"""

#: The exit statuses of every command (the top-level ``--help`` epilog, and the README).
EXIT_STATUS = """\
exit status:
  0  done (server status: a server is running)
  1  error: one line "error: ..." on stderr (bad input or file, no such data, the database
     is unreachable or refused a request)
  2  wrong or missing arguments (the usage is printed); compute: a pair failed (the others
     were saved); migrate-csv: a file mismatched or failed
  3  server status: no server is running; migrate-csv: files were skipped
  4  check: the probe is over the latency or error-rate limit (or one of its calls failed)
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``qdbtools``: each subcommand's ``handler`` default runs it."""
    parser = argparse.ArgumentParser(
        prog="qdbtools",
        description=_DESCRIPTION,
        epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qdbtools {qdbtools.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (
        _server,
        _setup_commands,
        _market_commands,
        _indicator_commands,
        _store_commands,
        _ops_commands,
    ):
        module.register(commands)
    return parser
