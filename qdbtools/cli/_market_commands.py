"""``qdbtools write-ticks`` and ``aggregate``: ticks from a file into QuestDB, and bars from ticks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from qdbtools.cli._options import add_connection_options, add_json_option, connected
from qdbtools.cli._output import show
from qdbtools.exceptions import InvalidInputError, NoDataError
from qdbtools.io.market import INTERVALS

if TYPE_CHECKING:
    from qdbtools.cli._options import Commands

__all__ = ["read_ticks_file", "register"]

_WRITE_TICKS_DESCRIPTION = """\
Write the trade ticks of a Parquet (.parquet, .pq) or CSV (.csv) file to tick_prices,
validated by Database.write_ticks, and report the rows written. Columns: timestamp (UTC;
in CSV ISO-8601 with Z or an offset, e.g. 2024-03-01T00:00:00.401601Z), price (> 0),
volume (>= 0), optional trade_id, and session_id and symbol unless --session/--symbol give
them (they fill, or must agree with, those columns). Ticks carry their keys: writing the
same file again adds nothing. The rows are visible to queries when the command returns.
"""


def register(commands: Commands) -> None:
    """Add ``write-ticks`` and ``aggregate`` to the subparsers ``commands``."""
    write = commands.add_parser(
        "write-ticks",
        help="write trade ticks from a Parquet or CSV file to tick_prices",
        description=_WRITE_TICKS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    write.add_argument("file", type=Path, metavar="FILE", help="a .parquet or .csv file of ticks")
    write.add_argument("--session", metavar="SESSION", help="the session_id of every tick")
    write.add_argument("--symbol", metavar="SYMBOL", help="the symbol of every tick")
    add_json_option(write)
    add_connection_options(write)
    write.set_defaults(handler=_write_ticks)

    aggregate = commands.add_parser(
        "aggregate",
        help="build OHLCV bars from stored ticks inside QuestDB",
        description="Build the OHLCV bars of one session and symbol from tick_prices inside QuestDB "
        "(SAMPLE BY) into aggregated_ohlcv, and report how many bars each interval has "
        "(Database.aggregate_ohlcv). Idempotent: running it again replaces the same bars. Exit "
        "status 1 when the pair has no ticks.",
    )
    aggregate.add_argument("session_id", metavar="SESSION")
    aggregate.add_argument("symbol", metavar="SYMBOL")
    aggregate.add_argument(
        "-i",
        "--interval",
        action="append",
        metavar="INTERVAL",
        help=f"bar interval, repeat for several: {', '.join(INTERVALS)} (default: 1m)",
    )
    add_json_option(aggregate)
    add_connection_options(aggregate)
    aggregate.set_defaults(handler=_aggregate)


#: An ISO-8601 time that ends in a UTC offset (``Z``, ``+01:00``, ``-0500``).
_OFFSET = r"(?:Z|[+-]\d\d(?::?\d\d)?)$"


def _csv_times(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The CSV's ``timestamp`` text as UTC times; a time without an offset names its line."""
    if "timestamp" not in frame.columns:
        return frame  # the writer names what is missing
    text = frame["timestamp"].astype(str).str.strip()
    naive = ~text.str.contains(_OFFSET, regex=True)
    if naive.any():
        row = int(naive.to_numpy().nonzero()[0][0])
        raise InvalidInputError(
            f"{path}, line {row + 2}: timestamp {text.iat[row]!r} has no UTC offset; qdbtools stores UTC, "
            "so write times as 2024-03-01T00:00:00Z or with their offset (+01:00)"
        )
    try:
        times = pd.to_datetime(text, format="ISO8601", utc=True)
    except ValueError as exc:
        raise InvalidInputError(
            f"{path}: the timestamp column holds a time that is not ISO-8601: {str(exc).splitlines()[0]}"
        ) from exc
    return frame.assign(timestamp=times)


def read_ticks_file(path: Path) -> pd.DataFrame:
    """Read a ``.parquet``/``.pq`` or ``.csv`` file of ticks into a frame for ``write_ticks``.

    CSV ids (``session_id``, ``symbol``) stay text as written (``NA``, ``007``); a read
    failure raises :class:`InvalidInputError` naming the file.
    """
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise InvalidInputError(f"{path}: not a readable Parquet file: {exc}") from exc
    if suffix == ".csv":
        try:
            frame = pd.read_csv(
                path,
                dtype={"session_id": str, "symbol": str},
                keep_default_na=False,
            )
        except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InvalidInputError(f"{path}: not a readable CSV file: {exc}") from exc
        return _csv_times(frame, path)
    raise InvalidInputError(
        f"{path}: unknown file type {suffix or '(none)'!r}; write-ticks reads .parquet and .csv"
    )


def _write_ticks(args: argparse.Namespace) -> int:
    frame = read_ticks_file(args.file)
    with connected(args) as db:
        try:
            result = db.write_ticks(frame, args.session, args.symbol)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{args.file}: {exc}") from exc
    summary = {
        "file": str(args.file),
        "table": result.table,
        "rows": result.rows,
        "seconds": round(result.seconds, 3),
    }
    show(summary, as_json=args.json)
    return 0


def _aggregate(args: argparse.Namespace) -> int:
    intervals = args.interval or ["1m"]
    with connected(args) as db:
        rows = [
            {
                "session_id": args.session_id,
                "symbol": args.symbol,
                "interval": interval,
                "bars": db.aggregate_ohlcv(args.session_id, args.symbol, interval),
            }
            for interval in dict.fromkeys(intervals)
        ]
    if not any(row["bars"] for row in rows):
        raise NoDataError(
            f"no ticks for session {args.session_id!r} and symbol {args.symbol!r} in tick_prices; "
            "`qdbtools write-ticks FILE` stores them"
        )
    show(pd.DataFrame(rows), as_json=args.json)
    return 0
