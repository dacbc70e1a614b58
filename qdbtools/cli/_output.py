"""What the commands print: aligned tables for people, JSON for scripts.

The same rows go to both. In JSON, times are UTC ISO-8601 strings ending in ``Z`` (naive
times from the server are UTC), missing values (None, NaN, NaT) are ``null``, and numpy
scalars become plain numbers. A listing prints a JSON array of objects, one per row; a
command that did one thing prints one object.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_value", "print_json", "print_rows", "records", "show", "text_table", "utc_text"]

Row = Mapping[str, Any]


def utc_text(value: dt.datetime) -> str:
    """``2024-03-01T00:00:00.401601Z``: a time as UTC ISO-8601 (naive values are taken as UTC)."""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.tz_localize(None).isoformat() + "Z"


def json_value(value: Any) -> Any:
    """One value as JSON can hold it (see the module docstring)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, dt.datetime | np.datetime64):
        return None if pd.isna(value) else utc_text(value)  # type: ignore[arg-type]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if value is pd.NA:
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON-ready dicts; a named index becomes the first field(s)."""
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    columns = [str(c) for c in frame.columns]
    return [
        {name: json_value(value) for name, value in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def print_json(data: Any) -> None:
    """Print ``data`` (rows or one object) as JSON on stdout."""
    print(json.dumps(json_value(data), indent=2, allow_nan=False))


def _text(value: Any) -> str:
    value = json_value(value)
    return "" if value is None else str(value)


def text_table(rows: Sequence[Row]) -> str:
    """Rows as an aligned text table: text left-aligned, numbers right-aligned."""
    columns = list(rows[0])
    cells = [[_text(row[c]) for c in columns] for row in rows]
    numeric = [
        all(isinstance(row[c], int | float | np.number) and not isinstance(row[c], bool) for row in rows)
        for c in columns
    ]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if right else v.ljust(w) for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(columns), *(line(values) for values in cells)])


def print_rows(rows: Sequence[Row], *, empty: str) -> None:
    """Print rows as a table, or the ``empty`` sentence when there are none."""
    print(text_table(rows) if rows else empty)


def show(data: pd.DataFrame | Row, *, as_json: bool, empty: str = "nothing found") -> None:
    """Print a frame (a listing) or one mapping (one result) as a table or as JSON.

    Parameters
    ----------
    data : DataFrame or mapping
        A frame prints as an array of row objects in JSON; a mapping prints as one object
        (and as a one-row table).
    as_json : bool
        JSON (``--json``) instead of a table.
    empty : str
        What a table says when the frame has no rows.
    """
    if isinstance(data, pd.DataFrame):
        rows: list[dict[str, Any]] = records(data)
        if as_json:
            print_json(rows)
        else:
            print_rows(rows, empty=empty)
    elif as_json:
        print_json(dict(data))
    else:
        print_rows([dict(data)], empty=empty)
