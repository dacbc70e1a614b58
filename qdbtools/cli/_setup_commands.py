"""``qdbtools migrate``, ``migrate-csv`` and ``demo``: getting a database ready and filled."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qdbtools.cli._options import add_connection_options, connected
from qdbtools.session import embedded_root

if TYPE_CHECKING:
    from qdbtools.cli._options import Commands

__all__ = ["print_migration_report", "register"]


def register(commands: Commands) -> None:
    """Add ``migrate``, ``migrate-csv`` and ``demo`` to the subparsers ``commands``."""
    migrate = commands.add_parser(
        "migrate",
        help="apply pending schema migrations",
        description="Create or upgrade the qdbtools tables (idempotent).",
    )
    add_connection_options(migrate)
    migrate.set_defaults(handler=_migrate)

    migrate_csv = commands.add_parser(
        "migrate-csv",
        help="import the legacy CSV tree into QuestDB and verify every file",
        description="Walk DATA_DIR/{session}/{symbol}/indicators/*.csv and DATA_DIR/{session}/prices.csv, "
        "import them, and verify each file by row count and content checksum. Reruns skip what is "
        "already migrated, and keep later saves of a migrated variant (status kept: the file is not "
        "imported over them; --replace-newer imports it anyway); --dry-run checks against the "
        "database and writes nothing.",
        epilog="exit status: 0 when every file was verified, already migrated or kept (in a dry run: or "
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
    migrate_csv.add_argument(
        "--replace-newer",
        action="store_true",
        help="import a file again even over later saves of its variant (status 'kept' otherwise)",
    )
    migrate_csv.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_connection_options(migrate_csv)
    migrate_csv.set_defaults(handler=_migrate_csv)

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
    add_connection_options(demo)
    demo.set_defaults(handler=_demo)


def _migrate(args: argparse.Namespace) -> int:
    with connected(args) as db:
        report = db.migrate()
    applied = ", ".join(f"{v:03d}" for v in report.applied) or "none"
    print(f"applied: {applied}; already applied: {len(report.already_applied)}")
    return 0


def _migrate_csv(args: argparse.Namespace) -> int:
    from qdbtools.legacy.migrate import migrate_csv

    with connected(args) as db:
        run = migrate_csv(
            db,
            args.data_dir,
            dry_run=args.dry_run,
            backup=args.backup,
            report=args.report,
            progress=not args.no_progress,
            replace_newer=args.replace_newer,
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
        ("kept", "kept"),
        ("mismatched", "mismatched"),
        ("skipped", "skipped"),
        ("failed", "failed"),
    ]
    for result in run.files:
        if result.status in ("kept", "mismatched", "skipped", "failed"):
            print(f"  {result.status:<10} {result.path}: {result.reason}")
    if run.dry_run:
        print(f"dry run: {summary['would import']} files would be imported")
    print(" ".join(f"{title:>10}" for title, _ in columns))
    print(" ".join(f"{summary[key]:>10}" for _, key in columns))


def _demo(args: argparse.Namespace) -> int:
    from qdbtools.demo import find_samples, run_demo

    data = args.data or find_samples()
    with connected(args) as db:
        print(f"QuestDB at {db.settings.address}")
        if not (args.conf or args.url):
            print(f"managed server root: {embedded_root()} (stop it with `qdbtools server stop`)")
        report = run_demo(db, data, args.out)
        print(report.table())
        print("tables: " + ", ".join(db.tables()))
    for chart in report.charts:
        print(f"chart: {chart}")
    return 0
