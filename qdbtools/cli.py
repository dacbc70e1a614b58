"""The ``qdbtools`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import qdbtools
from qdbtools.exceptions import InvalidInputError, QdbToolsError
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

__all__ = ["main"]

_DESCRIPTION = """\
qdbtools: tick prices, OHLCV bars and technical indicators in QuestDB.

Without --conf/--url (or QDBTOOLS_* variables), commands use the embedded default:
a managed QuestDB under ~/.local/share/qdbtools/questdb, started on first use.
"""


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


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--conf", help="questdb configuration string, e.g. 'http::addr=host:9000;'")
    parser.add_argument("--url", help="SQLAlchemy URL, e.g. questdb://admin:quest@host:8812/qdb")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qdbtools", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"qdbtools {qdbtools.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    server = commands.add_parser(
        "server",
        help="run a persistent local QuestDB in the background",
        description="Start, stop or inspect a managed QuestDB that keeps running in the background.",
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

    migrate = commands.add_parser(
        "migrate",
        help="apply pending schema migrations",
        description="Create or upgrade the qdbtools tables (idempotent).",
    )
    _add_connection_options(migrate)

    migrate_csv = commands.add_parser(
        "migrate-csv",
        help="import the legacy CSV tree into QuestDB and verify every file",
        description="Walk DATA_DIR/{session}/{symbol}/indicators/*.csv and DATA_DIR/{session}/prices.csv, "
        "import them, and verify each file by row count and content checksum. Reruns skip what is "
        "already migrated; --dry-run checks against the database and writes nothing.",
        epilog="exit status: 0 when every file was verified or already migrated (in a dry run: or "
        "would be imported); 2 when a file mismatched or failed; 3 when nothing mismatched or failed "
        "but files were skipped. The last line gives the counts.",
    )
    migrate_csv.add_argument(
        "data_dir", type=Path, metavar="DATA_DIR", help="the old system's data/ directory"
    )
    migrate_csv.add_argument("--dry-run", action="store_true", help="check every file, write nothing")
    migrate_csv.add_argument("--backup", type=Path, metavar="DIR", help="copy the tree to DIR first")
    migrate_csv.add_argument(
        "--report",
        type=Path,
        default=Path("csv-migration-report.json"),
        help="where to write the JSON report (default: %(default)s)",
    )
    migrate_csv.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_connection_options(migrate_csv)

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
    _add_connection_options(compute)

    demo = commands.add_parser(
        "demo",
        help="the full workflow on the sample data, verified, with a chart",
        description="On the embedded default (or --conf/--url): start or reuse the managed QuestDB, "
        "apply migrations, load the sample ticks, aggregate 1m bars, migrate the legacy CSV tree, "
        "compute and save a standard set of indicators, load them back and verify them, and write "
        "a PNG chart. Running it again stores nothing new.",
    )
    demo.add_argument("--data", type=Path, help="the data_samples directory (default: found from here)")
    demo.add_argument(
        "--out", type=Path, default=Path("qdbtools-demo"), help="output directory (default: %(default)s)"
    )
    _add_connection_options(demo)
    return parser


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


def _connect(args: argparse.Namespace) -> qdbtools.Database:
    return qdbtools.connect(args.conf, url=args.url) if (args.conf or args.url) else qdbtools.connect()


def _migrate(args: argparse.Namespace) -> int:
    with _connect(args) as db:
        report = db.migrate()
    applied = ", ".join(f"{v:03d}" for v in report.applied) or "none"
    print(f"applied: {applied}; already applied: {len(report.already_applied)}")
    return 0


def _migrate_csv(args: argparse.Namespace) -> int:
    from qdbtools.legacy.migrate import migrate_csv

    db = _connect(args)
    run = migrate_csv(
        db,
        args.data_dir,
        dry_run=args.dry_run,
        backup=args.backup,
        report=args.report,
        progress=not args.no_progress,
    )
    print(f"report: {args.report}")
    print_migration_report(run)
    if not run.ok:
        return 2
    return 3 if run.count("skipped") else 0


def print_migration_report(run: Any) -> None:
    """The summary table of a CSV migration, then every file that was not verified."""
    summary = run.summary
    columns = [
        ("files", "files"),
        ("rows", "rows"),
        ("verified", "verified"),
        ("already", "already migrated"),
        ("mismatched", "mismatched"),
        ("skipped", "skipped"),
        ("failed", "failed"),
    ]
    for result in run.files:
        if result.status in ("mismatched", "skipped", "failed"):
            print(f"  {result.status:<10} {result.path}: {result.reason}")
    if run.dry_run:
        print(f"dry run: {summary['would import']} files would be imported")
    print(" ".join(f"{title:>10}" for title, _ in columns))
    print(" ".join(f"{summary[key]:>10}" for _, key in columns))


def _compute(args: argparse.Namespace) -> int:
    from qdbtools.offline.pairs import dask_executor, read_pairs_file

    many = args.all or args.pairs is not None
    if not many and len(args.targets) < 3:
        raise InvalidInputError(
            "compute needs SESSION SYMBOL VARIANT..., or --all/--pairs FILE and VARIANT..."
        )
    variants = args.targets if many else args.targets[2:]
    with _connect(args) as db:
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
    failed = [run for run in runs if not run.ok]
    rows = sum(sum(run.rows.values()) for run in runs)
    print(f"{len(runs) - len(failed)} of {len(runs)} pairs saved, {rows:,} values")
    for run in failed:
        print(f"  failed: {run.session_id!r} {run.symbol!r}: {run.error}")
    return 2 if failed else 0


def _demo(args: argparse.Namespace) -> int:
    from qdbtools.demo import find_samples, run_demo

    data = args.data or find_samples()
    with _connect(args) as db:
        print(f"QuestDB at {db.settings.address}")
        if not (args.conf or args.url):
            print(f"managed server root: {embedded_root()} (stop it with `qdbtools server stop`)")
        report = run_demo(db, data, args.out)
        print(report.table())
        print("tables: " + ", ".join(db.tables()))
    for chart in report.charts:
        print(f"chart: {chart}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qdbtools`` command; returns the exit code."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handlers = {
        "server": _server,
        "migrate": _migrate,
        "migrate-csv": _migrate_csv,
        "compute": _compute,
        "demo": _demo,
    }
    try:
        return handlers[args.command](args)
    except QdbToolsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
