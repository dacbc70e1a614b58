"""``qdbtools status`` and ``check``: what an operator looks at, over the Database API."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from qdbtools.cli._options import add_connection_options, add_json_option, connected
from qdbtools.cli._output import print_json, records, show

if TYPE_CHECKING:
    from qdbtools.cli._options import Commands

__all__ = ["CHECK_FAILED", "register"]

#: The exit status of ``check`` when the probe is over a limit (or one of its calls failed).
CHECK_FAILED = 4

_CHECK_DESCRIPTION = """\
Probe the server as an application uses it and compare with limits: one overwrite of a
100-value variant and --loads loads of it (under session qdbtools-check, symbol PROBE,
variant type check), through a database whose figures are only the probe's. Exit status 0
within the limits, 4 when the p99 of the loads or the share of failed calls is over one
(each problem is printed), 1 when the server cannot be reached at all. For cron or a health
probe; docs/monitoring.md. Each run leaves one superseded 100-row save under the probe's key
(QuestDB has no row DELETE); `qdbtools prune --session qdbtools-check --yes` removes them.
"""


def register(commands: Commands) -> None:
    """Add ``status`` and ``check`` to the subparsers ``commands``."""
    status = commands.add_parser(
        "status",
        help="the server: release, tables, rows, disk use, WAL lag, suspended tables",
        description="Show the server's release and, per table, rows, disk bytes, whether it is a "
        "WAL table, its WAL lag (transactions acknowledged, durable, but not yet applied, so not "
        "yet visible: sequencerTxn - writerTxn of wal_tables()) and whether it is suspended "
        "(Database.status). Exit status 1 when the server cannot be reached.",
    )
    add_json_option(status)
    add_connection_options(status)
    status.set_defaults(handler=_status)

    check = commands.add_parser(
        "check",
        help="probe save/load latency and errors against limits (exit 4 when over)",
        description=_CHECK_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "--latency", type=float, default=50.0, metavar="MS", help="the highest p99 of a load (%(default)s ms)"
    )
    check.add_argument(
        "--error-rate",
        type=float,
        default=0.001,
        metavar="SHARE",
        help="the highest share of failed calls, 0.001 = 0.1%% (%(default)s)",
    )
    check.add_argument("--loads", type=int, default=20, metavar="N", help="loads to time (%(default)s)")
    add_json_option(check)
    add_connection_options(check)
    check.set_defaults(handler=_check)


def _status(args: argparse.Namespace) -> int:
    with connected(args) as db:
        status = db.status()
    if args.json:
        print_json(
            {
                "version": status.version,
                "disk_bytes": status.disk_bytes,
                "wal_lag_txns": status.wal_lag_txns,
                "suspended": status.suspended,
                "tables": records(status.tables),
            }
        )
        return 0
    print(f"QuestDB {status.version} at {db.settings.address}")
    show(status.tables, as_json=False, empty="no tables")
    suspended = ", ".join(status.suspended) or "none"
    lag = f"WAL lag {status.wal_lag_txns} transactions"
    print(f"disk {status.disk_bytes:,} bytes; {lag}; suspended: {suspended}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from qdbtools.health import check_health

    with connected(args) as db:
        report = check_health(db, latency_ms=args.latency, error_rate=args.error_rate, loads=args.loads)
    if args.json:
        print_json(
            {
                "ok": report.ok,
                "p99_load_ms": report.latency_ms,
                "error_rate": report.error_rate,
                "problems": report.problems,
                "stats": records(report.stats),
            }
        )
    else:
        show(report.stats, as_json=False, empty="no calls were made")
        verdict = "ok" if report.ok else "over the limits"
        print(
            f"{verdict}: p99 load {report.latency_ms:.1f} ms (limit {args.latency:g}), error rate "
            f"{report.error_rate:.2%} (limit {args.error_rate:.2%})"
        )
        for problem in report.problems:
            print(f"problem: {problem}")
    return 0 if report.ok else CHECK_FAILED
