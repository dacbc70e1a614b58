"""The ``qdbtools`` command line (the console script ``qdbtools = qdbtools.cli:main``).

One module per group of commands, each a thin layer over the public API: ``_server``
(``server``), ``_setup_commands`` (``migrate``, ``migrate-csv``, ``demo``),
``_market_commands`` (``write-ticks``, ``aggregate``), ``_indicator_commands``
(``compute``, ``indicators``), ``_store_commands`` (``list``, ``history``, ``prune``);
``_parser`` puts them together, ``_options`` holds the shared options and ``_output``
prints tables and JSON.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from qdbtools.cli._parser import build_parser
from qdbtools.exceptions import QdbToolsError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qdbtools`` command; returns the exit code (see ``qdbtools --help``).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``qdbtools`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 when done; 1 when a :class:`~qdbtools.QdbToolsError` was raised (its message goes
        to stderr on one line); 2 and 3 as each command documents.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args))
    except QdbToolsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`qdbtools list | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
