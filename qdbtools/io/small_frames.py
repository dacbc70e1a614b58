"""Small frames serialized row by row: ``Buffer.row`` instead of ``Buffer.dataframe``.

``Buffer.dataframe`` pays a fixed cost of a few milliseconds per call (it inspects every
column through pandas), more than serializing a hundred rows one by one. For frames of up
to :data:`ROW_BY_ROW_MAX_ROWS` rows, :func:`add_rows` writes the same lines: the same ILP
types per dtype (float64: double, integers: long, bool: boolean, datetimes: timestamp in their unit,
text: string, the ``symbols`` columns: symbol), NULLs left out, NaN sent as NaN.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from questdb import TimestampMicros, TimestampNanos

__all__ = ["ROW_BY_ROW_MAX_ROWS", "add_rows"]

#: Up to this many rows, serializing row by row is faster than ``Buffer.dataframe``.
ROW_BY_ROW_MAX_ROWS = 512


_NAT = np.iinfo("int64").min


def _timestamps(column: pd.Series) -> list[Any]:
    """Datetimes (UTC; naive ones are taken as UTC) in their own unit's type, NaT as None.

    Nanoseconds go out as ``TimestampNanos`` and everything else as ``TimestampMicros``, as
    the dataframe path sends them (a table it creates gets TIMESTAMP_NS or TIMESTAMP).
    """
    values = column.array
    if values.unit not in ("us", "ns"):
        values = values.as_unit("us")
    kind = TimestampNanos if values.unit == "ns" else TimestampMicros
    ticks = values.asi8
    if (ticks == _NAT).any():
        return [None if t == _NAT else kind(t) for t in ticks.tolist()]
    return [kind(t) for t in ticks.tolist()]


def _categories(categorical: pd.Categorical) -> list[Any]:
    codes = categorical.codes
    if len(codes) and (codes == codes[0]).all():  # one value throughout, the usual case
        first = int(codes[0])
        return [None if first < 0 else categorical.categories[first]] * len(codes)
    lookup = np.append(np.asarray(categorical.categories, dtype=object), [None])  # code -1: None
    cells: list[Any] = lookup[codes].tolist()
    return cells


def _cells(column: pd.Series) -> list[Any]:
    """One column's cells as the Python objects ``Buffer.row`` serializes like the dataframe path."""
    dtype = column.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or dtype.kind == "M":
        return _timestamps(column)
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
        return column.to_numpy().tolist()  # NaN goes out as NaN, as the dataframe path sends it
    if isinstance(dtype, pd.CategoricalDtype):
        return _categories(column.array)
    objects = column.to_numpy(dtype=object)
    missing = pd.isna(objects)
    cells: list[Any] = objects.tolist()
    return [
        None if gone else cell.item() if isinstance(cell, np.generic) else cell
        for cell, gone in zip(cells, missing, strict=True)
    ]


def add_rows(buffer: Any, frame: pd.DataFrame, table: str, symbols: Sequence[str], at: str) -> None:
    """Append ``frame``'s rows to ``buffer``, as ``buffer.dataframe(frame, ...)`` would."""
    symbol_names = [name for name in frame.columns if name in symbols]
    column_names = [name for name in frame.columns if name not in symbols and name != at]
    stamps = _timestamps(frame[at])
    symbol_cells: Iterator[tuple[Any, ...]] = zip(
        *(_cells(frame[name]) for name in symbol_names), strict=True
    )
    column_cells: Iterator[tuple[Any, ...]] = zip(
        *(_cells(frame[name]) for name in column_names), strict=True
    )
    if not symbol_names:
        symbol_cells = iter([()] * len(frame))
    if not column_names:
        column_cells = iter([()] * len(frame))
    row = buffer.row
    for stamp, row_symbols, row_columns in zip(stamps, symbol_cells, column_cells, strict=True):
        row(
            table,
            symbols=dict(zip(symbol_names, row_symbols, strict=True)),
            columns=dict(zip(column_names, row_columns, strict=True)),
            at=stamp,
        )
