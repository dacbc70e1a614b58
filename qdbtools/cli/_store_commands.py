"""``qdbtools list``, ``history``, ``current-sql`` and ``prune``: the stored indicator values."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from qdbtools.cli._options import add_connection_options, add_json_option, connected
from qdbtools.cli._output import show
from qdbtools.exceptions import NoDataError

if TYPE_CHECKING:
    from qdbtools.cli._options import Commands

__all__ = ["register"]

_PRUNE_DESCRIPTION = """\
Remove indicator values that no reader sees any more: superseded saves (the sets that an
overwrite replaced) and abandoned orphans (saves that never committed, older than
--orphan-grace). Every variant's current values are always kept, and --keep-history N keeps
the N states before them too (for as_of= loads).

Without --yes nothing is removed: prune shows what it would remove (a dry run). With --yes
it rewrites the indicators table (QuestDB has no row DELETE); run it when no saves are
expected. Database.prune does the same from Python.
"""


def register(commands: Commands) -> None:
    """Add ``list``, ``history``, ``current-sql`` and ``prune`` to the subparsers ``commands``."""
    listing = commands.add_parser(
        "list",
        help="list the stored indicator variants (rows, first/last time, last save)",
        description="List what is stored: one row per variant of each session and symbol, with its "
        "variant type, the generation and time of its last save, its row count and its first and "
        "last timestamp (Database.list_indicators). An empty listing is not an error.",
    )
    listing.add_argument("--session", metavar="SESSION", help="only this session")
    listing.add_argument("--symbol", metavar="SYMBOL", help="only this symbol")
    add_json_option(listing)
    add_connection_options(listing)
    listing.set_defaults(handler=_list)

    current = commands.add_parser(
        "current-sql",
        help="print a SQL query of one session's current values, for Grafana, psql or the console",
        description="Print one SELECT of the current values of one session (and symbol), with the "
        "columns and the rules of the view indicators_current. The view applies a WHERE only after "
        "computing every session's current values (seconds on a large table); this query filters "
        "inside, through the commit markers' session index. Nothing is sent to the server.",
    )
    current.add_argument("session_id", metavar="SESSION")
    current.add_argument("--symbol", metavar="SYMBOL", help="only this symbol")
    current.set_defaults(handler=_current_sql)

    history = commands.add_parser(
        "history",
        help="every committed save of one variant, oldest first",
        description="Show every committed save of one variant, oldest first: commit time, variant "
        "type, generation, mode (append/overwrite), rows, first and last timestamp, checksum and "
        "creator (Database.indicator_history; a commit time is what load_indicators(as_of=) takes). "
        "The table shortens checksums to 12 digits, --json gives them whole. Exit status 1 when "
        "nothing of the variant is stored.",
    )
    history.add_argument("session_id", metavar="SESSION")
    history.add_argument("symbol", metavar="SYMBOL")
    history.add_argument("variant_id", metavar="VARIANT", help="a stored variant id, e.g. RSI_14")
    history.add_argument(
        "--variant-type", metavar="TYPE", help="only saves under this variant type (e.g. general)"
    )
    add_json_option(history)
    add_connection_options(history)
    history.set_defaults(handler=_history)

    prune = commands.add_parser(
        "prune",
        help="remove superseded indicator saves and orphans (a dry run unless --yes)",
        description=_PRUNE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prune.add_argument("--session", metavar="SESSION", help="only this session (default: every one)")
    prune.add_argument("--symbol", metavar="SYMBOL", help="only this symbol (default: every one)")
    prune.add_argument(
        "--keep-history",
        type=int,
        default=0,
        metavar="N",
        help="also keep the N states before each variant's current one (%(default)s)",
    )
    prune.add_argument(
        "--orphan-grace",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="keep uncommitted saves younger than this; they may be in flight (%(default)s)",
    )
    prune.add_argument("--yes", action="store_true", help="remove them (without it: only show them)")
    add_json_option(prune)
    add_connection_options(prune)
    prune.set_defaults(handler=_prune)


def _filters(session: str | None, symbol: str | None) -> str:
    named = [f"{what} {value!r}" for what, value in (("session", session), ("symbol", symbol)) if value]
    return f" for {' and '.join(named)}" if named else ""


def _list(args: argparse.Namespace) -> int:
    with connected(args) as db:
        frame = db.list_indicators(args.session, args.symbol)
    show(frame, as_json=args.json, empty=f"no indicators stored{_filters(args.session, args.symbol)}")
    return 0


def _history(args: argparse.Namespace) -> int:
    with connected(args) as db:
        frame = db.indicator_history(
            args.session_id, args.symbol, args.variant_id, variant_type=args.variant_type
        )
    if frame.empty:
        under = f" under variant type {args.variant_type!r}" if args.variant_type else ""
        raise NoDataError(
            f"no saves of {args.variant_id!r}{under} for session {args.session_id!r} and symbol "
            f"{args.symbol!r}; `qdbtools list --session SESSION` shows what is stored"
        )
    if not args.json and "checksum" in frame:
        frame = frame.assign(checksum=frame["checksum"].str[:12])
    show(frame, as_json=args.json)
    return 0


def _prune(args: argparse.Namespace) -> int:
    with connected(args) as db:
        result = db.prune(
            args.session,
            args.symbol,
            keep_history=args.keep_history,
            orphan_grace=args.orphan_grace,
            dry_run=not args.yes,
        )
    show(dataclasses.asdict(result), as_json=args.json)
    if args.json:
        return 0
    where = _filters(args.session, args.symbol)
    if not (result.superseded_generations or result.orphan_generations):
        print(f"nothing to remove{where}")
    elif result.dry_run:
        print(f"dry run: nothing was removed{where}; run again with --yes to remove these rows")
    else:
        print(f"removed {result.rows_removed:,} rows{where}")
    return 0


def _current_sql(args: argparse.Namespace) -> int:
    from qdbtools.store import current_values_sql

    print(current_values_sql(args.session_id, args.symbol))
    return 0
