"""``qdbtools compute`` and ``qdbtools indicators``: computing variants, and which exist."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import qdbtools
from qdbtools.cli._options import add_connection_options, add_json_option, connected
from qdbtools.cli._output import show
from qdbtools.exceptions import InvalidInputError

if TYPE_CHECKING:
    from qdbtools.cli._options import Commands

__all__ = ["register"]

_COMPUTE_DESCRIPTION = """\
Run the OfflineIndicatorEngine: load the 1m bars of each (session, symbol) pair (from
aggregated_ohlcv, else from ticks), compute the variants and save them.

  qdbtools compute SESSION SYMBOL RSI_14 EMA_12       one pair
  qdbtools compute --all RSI_14 MACD_12_26_9          every pair with bars or ticks
  qdbtools compute --pairs pairs.csv RSI_14           the pairs of a CSV file (session_id,symbol)

Many pairs run on local worker processes, a Dask LocalCluster (--local-cluster N, needs
qdbtools[dask]) or an existing Dask scheduler (--scheduler ADDRESS; its workers need
qdbtools and reach QuestDB with the same --conf/--url). Exit code 2 when a pair failed.
"""

_INDICATORS_DESCRIPTION = """\
List the indicators that compute (and df.qdb.indicators) know, one row each: the variant
name pattern (MACD_<fast>_<slow>_<signal>), the variant a bare name means (MACD ->
MACD_12_26_9), the parameters with their defaults, the input columns, the outputs of a
multi-output indicator (columns <variant>.<output>, e.g. MACD_12_26_9.hist), the TA-Lib
function it equals, and a summary. Needs no database. The same table in Python:
qdbtools.indicators.indicator_table() or df.qdb.available_indicators().
"""


def register(commands: Commands) -> None:
    """Add ``compute`` and ``indicators`` to the subparsers ``commands``."""
    compute = commands.add_parser(
        "compute",
        help="compute indicator variants for stored bars and save them",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_COMPUTE_DESCRIPTION,
        usage="qdbtools compute [options] SESSION SYMBOL VARIANT [VARIANT ...]\n"
        "       qdbtools compute [options] (--all | --pairs FILE) VARIANT [VARIANT ...]",
    )
    compute.add_argument(
        "targets", nargs="+", metavar="ARG", help="SESSION SYMBOL VARIANT..., or VARIANTs (--all, --pairs)"
    )
    pairs = compute.add_mutually_exclusive_group()
    pairs.add_argument(
        "--all", action="store_true", help="every (session, symbol) pair with 1m bars or ticks"
    )
    pairs.add_argument("--pairs", type=Path, metavar="FILE", help="a CSV file of session_id,symbol lines")
    where = compute.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, e.g. tcp://head:8786")
    where.add_argument(
        "--local-cluster", type=int, metavar="N", help="a Dask LocalCluster of N worker processes"
    )
    where.add_argument(
        "--processes", type=int, metavar="N", help="N local worker processes (default: one per CPU)"
    )
    compute.add_argument("--mode", choices=["append", "overwrite"], default="append")
    compute.add_argument("--variant-type", default="general", help="variant type to save under (%(default)s)")
    compute.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_connection_options(compute)
    compute.set_defaults(handler=_compute)

    indicators = commands.add_parser(
        "indicators",
        help="list the indicators and their variant names, parameters, inputs and outputs",
        description=_INDICATORS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_json_option(indicators)
    indicators.set_defaults(handler=_indicators)


def _compute(args: argparse.Namespace) -> int:
    from qdbtools.offline.pairs import dask_executor, read_pairs_file

    many = args.all or args.pairs is not None
    if not many and len(args.targets) < 3:
        raise InvalidInputError(
            "compute needs SESSION SYMBOL VARIANT..., or --all/--pairs FILE and VARIANT..."
        )
    variants = args.targets if many else args.targets[2:]
    with connected(args) as db:
        engine = qdbtools.OfflineIndicatorEngine(
            db, variant_type=args.variant_type, created_by="qdbtools compute"
        )
        if not many:
            run = engine.run(args.targets[0], args.targets[1], variants, mode=args.mode)
            seconds = ", ".join(f"{k} {v:.3f}s" for k, v in run.seconds.items())
            print(f"{run.bars} bars from {run.source}; {seconds}")
            for variant, rows in run.rows.items():
                print(f"  {variant:<28} {rows:>8} rows")
            return 0
        pairs = db.list_pairs() if args.all else read_pairs_file(args.pairs)
        with dask_executor(args.scheduler, args.local_cluster) as executor:
            runs = engine.run_many(
                pairs,
                variants,
                args.mode,
                executor=executor,
                processes=args.processes,
                progress=not args.no_progress,
            )
        if any(run.ok for run in runs):
            # The workers saved through their own connections, which ``connected`` does not
            # wait for: the next command (another process) must see every saved pair.
            db.wait_until_visible("indicators")
    failed = [run for run in runs if not run.ok]
    rows = sum(sum(run.rows.values()) for run in runs)
    print(f"{len(runs) - len(failed)} of {len(runs)} pairs saved, {rows:,} values")
    for run in failed:
        print(f"  failed: {run.session_id!r} {run.symbol!r}: {run.error}")
    return 2 if failed else 0


def _indicators(args: argparse.Namespace) -> int:
    from qdbtools.indicators import indicator_table

    show(indicator_table(), as_json=args.json)
    return 0
