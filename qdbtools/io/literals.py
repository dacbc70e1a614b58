"""Values of ``:name`` parameters: as SQL literals for the path without bind parameters (HTTP
export), or as bound values for the PG wire's server-side binding.

Every value is rendered by type into a literal the server cannot read as SQL: strings are
single-quoted with quotes doubled, timestamps become ISO-8601 UTC strings, numbers are
``repr`` of a real int/float. Anything else is refused. :func:`bind_params` checks values by
the same rules and leaves them to the driver to send apart from the query text.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.typing import NaTType

from qdbtools.exceptions import InvalidInputError

__all__ = [
    "bind_params",
    "check_read_only",
    "key_text",
    "render_params",
    "sendable_text",
    "time_range_filter",
    "to_utc_timestamp",
    "utc_text",
]

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_READ_ONLY_START = re.compile(r"^\s*(?:\(\s*)*(select|with|show|explain|declare)\b", re.IGNORECASE)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_LITERALS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


def check_read_only(query: str) -> None:
    """Refuse anything but one read-only statement (SELECT, WITH, SHOW, EXPLAIN)."""
    stripped = _COMMENTS.sub(" ", query).strip().rstrip(";")
    if not _READ_ONLY_START.match(stripped) or ";" in _LITERALS.sub("''", stripped):
        raise InvalidInputError(
            f"Database.sql runs one read-only statement (SELECT, WITH, SHOW, EXPLAIN); got "
            f"{query[:80]!r}. Pass values as :name parameters; use Database.execute for DDL"
        )


def to_utc_timestamp(value: Any, name: str) -> pd.Timestamp:
    """A tz-aware UTC ``Timestamp``; naive values are refused as ambiguous."""
    try:
        ts: pd.Timestamp | NaTType = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name}={value!r} is not a timestamp") from exc
    if isinstance(ts, NaTType):
        raise InvalidInputError(f"{name} is NaT; give a timestamp or None")
    if ts.tzinfo is None:
        raise InvalidInputError(
            f"{name}={value!r} has no time zone; qdbtools works in UTC: pass e.g. "
            f"pd.Timestamp({str(ts)!r}, tz='UTC') or a string ending in 'Z'"
        )
    return ts.tz_convert("UTC")


def utc_text(ts: pd.Timestamp) -> str:
    """``2024-03-01T00:00:00.000000Z``: microsecond ISO-8601 in UTC (QuestDB's literal form)."""
    if ts.tzinfo is None:
        raise TypeError(f"utc_text needs a time zone aware timestamp, got {ts!r}")
    return f"{np.datetime64(ts.value // 1000, 'us')}Z"  # about a ninth of strftime's cost


def _bound(value: Any, name: str) -> Any:
    """A parameter's value as the driver binds it: None, bool, int, float, str; else refused."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            raise InvalidInputError(f"parameter {name}={value!r} is not a finite number")
        return float(value)
    if isinstance(value, pd.Timestamp | dt.datetime):
        return utc_text(to_utc_timestamp(value, name))
    if isinstance(value, str):
        return sendable_text(f"parameter {name}", value)
    raise InvalidInputError(f"parameter {name} has unsupported type {type(value).__name__}")


def _literal(value: Any, name: str) -> str:
    """A parameter's value as SQL text (the checks of :func:`_bound`)."""
    bound = _bound(value, name)
    if bound is None:
        return "NULL"
    if isinstance(bound, bool):
        return "true" if bound else "false"
    if isinstance(bound, str):
        return "'" + bound.replace("'", "''") + "'"
    return repr(bound)  # int or finite float


_QUOTED = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")")


def _placeholders(
    query: str, params: Mapping[str, Any], fill: Callable[[str, Any], str], escape: Callable[[str], str]
) -> str:
    """``query`` with each ``:name`` outside quotes replaced by ``fill(name, value)``.

    ``escape`` is applied to every part of the text around the placeholders first.
    """
    out: list[str] = []
    for i, part in enumerate(_QUOTED.split(query)):
        if i % 2:
            out.append(escape(part))
            continue

        def substitute(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in params:
                raise InvalidInputError(f"no value given for parameter :{key}")
            return fill(key, params[key])

        out.append(_PARAM.sub(substitute, escape(part)))
    return "".join(out)


def render_params(query: str, params: Mapping[str, Any]) -> str:
    """Replace ``:name`` placeholders outside quotes with literals of ``params``."""
    return _placeholders(query, params, lambda key, value: _literal(value, key), lambda part: part)


def bind_params(query: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """``query`` with ``:name`` placeholders as the driver's ``%(name)s``, and their values.

    The values travel apart from the text, so one query shape is one text for the server
    (which caches what it compiled by text) whatever the values. Without placeholders the
    query is returned as it is, with None: a ``%`` in it is then not a placeholder.
    """
    values: dict[str, Any] = {}

    def fill(key: str, value: Any) -> str:
        values[key] = _bound(value, key)
        return f"%({key})s"

    sql = _placeholders(query, params, fill, lambda part: part.replace("%", "%%"))
    return (sql, values) if values else (query, None)


def sendable_text(name: str, value: str) -> str:
    """``value`` if the server can store it: no NUL character, no lone surrogate."""
    if "\x00" in value:
        raise InvalidInputError(
            f"{name} {value!r} contains a NUL character (position {value.index(chr(0))}), which QuestDB "
            "cannot store; remove it"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{name} {value!r} is not valid Unicode (a lone surrogate at position {exc.start}, often "
            "from a file decoded with errors='surrogateescape'); fix or re-decode it"
        ) from None
    return value


def key_text(name: str, value: Any) -> str:
    """An id such as session_id or symbol: any string the server can store, the empty one included."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__} {value!r}")
    return sendable_text(name, value)


def time_range_filter(start: Any, end: Any, params: dict[str, Any]) -> str:
    """``AND timestamp >= :start AND timestamp < :end`` for the bounds given, filling ``params``."""
    clause = ""
    if start is not None:
        params["start"] = utc_text(to_utc_timestamp(start, "start"))
        clause += " AND timestamp >= :start"
    if end is not None:
        params["end"] = utc_text(to_utc_timestamp(end, "end"))
        clause += " AND timestamp < :end"
    if start is not None and end is not None and params["start"] > params["end"]:
        raise InvalidInputError(f"start {params['start']} is after end {params['end']}")
    return clause
