"""Input checking for the indicator functions: series, indexes, parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from qdbtools.exceptions import InvalidInputError

from ._core import Ctx, FloatArray

__all__ = [
    "check_index",
    "check_int",
    "check_number",
    "column_array",
    "fmt",
    "series_ctx",
    "to_frame",
    "to_series",
]


def check_index(index: pd.Index, what: str = "input") -> None:
    """Raise :class:`InvalidInputError` unless *index* is strictly increasing.

    The message names the problem (duplicate or out of order) and the first
    offending label with its position.
    """
    if index.is_monotonic_increasing and index.is_unique:
        return
    if index.hasnans:
        pos = int(np.flatnonzero(index.isna())[0])
        raise InvalidInputError(f"{what} index has a missing timestamp (NaT) at position {pos}")
    values = index.asi8 if isinstance(index, pd.DatetimeIndex) else index.to_numpy()
    try:
        bad = np.flatnonzero(values[1:] <= values[:-1])
    except TypeError as exc:
        raise InvalidInputError(f"{what} index cannot be ordered: {exc}") from exc
    pos = int(bad[0]) + 1
    label, before = index[pos], index[pos - 1]
    if label == before:
        raise InvalidInputError(
            f"{what} index has duplicate timestamps: first duplicate {label} at position {pos}"
        )
    raise InvalidInputError(
        f"{what} index is not sorted ascending: first out-of-order timestamp {label} "
        f"at position {pos} (after {before})"
    )


def column_array(values: Any, name: str) -> FloatArray:
    """A float64 copy-free view where possible; NA-likes become NaN."""
    if isinstance(values, pd.Series):
        dtype = values.dtype
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            raise InvalidInputError(f"{name} must be numeric, got dtype {dtype}")
        arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{name} must be numeric: {exc}") from exc
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def series_ctx(**inputs: Any) -> tuple[pd.Index, Ctx]:
    """Validate same-indexed series and wrap them in a fresh :class:`Ctx`."""
    index: pd.Index | None = None
    first = ""
    for name, value in inputs.items():
        if isinstance(value, pd.DataFrame):
            raise InvalidInputError(f"{name} must be a Series, got a DataFrame")
        if isinstance(value, pd.Series):
            if index is None:
                index, first = value.index, name
            elif value.index is not index and not value.index.equals(index):
                raise InvalidInputError(f"{name} and {first} must share the same index")
    lengths = {name: len(v) for name, v in inputs.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidInputError(f"inputs differ in length: {lengths}")
    if index is None:
        index = pd.RangeIndex(next(iter(lengths.values())))
    check_index(index)
    arrays = {name: column_array(v, name) for name, v in inputs.items()}
    return index, Ctx({k: _given(a) for k, a in arrays.items()}, index)


def _given(array: FloatArray) -> Callable[[], FloatArray]:
    """A :class:`Ctx` source for an array already converted."""
    return lambda: array


def check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInputError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise InvalidInputError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_number(name: str, value: object, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidInputError(f"{name} must be a number, got {value!r}")
    if not np.isfinite(value) or value < minimum:
        raise InvalidInputError(f"{name} must be a finite number >= {minimum}, got {value}")
    return float(value)


def to_series(arr: FloatArray, index: pd.Index, name: str) -> pd.Series:
    return pd.Series(arr, index=index, name=name, copy=False)


def to_frame(arrays: Mapping[str, FloatArray], index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(dict(arrays), index=index, copy=False)


def fmt(*params: float) -> str:
    """Canonical parameter suffix: ``_14``, ``_20_2``, ``_20_2.5``."""
    parts: Sequence[str] = [str(int(p)) if float(p).is_integer() else repr(float(p)) for p in params]
    return "".join("_" + p for p in parts)
