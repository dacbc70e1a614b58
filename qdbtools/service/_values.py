"""``IndicatorValue`` objects and their conversions to and from the store's columns and frames.

Column-wise both ways: one list or array per field, no per-value dict, so 10k values cost
milliseconds (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import contextlib
import gc
import json
import marshal
import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qdbtools.exceptions import InvalidInputError
from qdbtools.store import VariantColumns, rows_from_columns

__all__ = ["IndicatorValue", "frame_to_values", "values_to_columns", "values_to_frame", "values_to_rows"]


@dataclass
class IndicatorValue:
    """One indicator value, as the trading system passes it around.

    ``timestamp`` is seconds since the Unix epoch in UTC (microsecond precision is kept).
    ``confidence`` of 0.0 stays 0.0; None means none was given. ``metadata`` is a dict that
    round-trips through JSON.
    """

    timestamp: float
    value: float
    confidence: float | None = None
    indicator_id: str | None = None
    indicator_type: str | None = None
    indicator_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    scope: str | None = None
    user_id: str | None = None
    created_by: str | None = None


def _metadata_texts(items: Sequence[Any]) -> list[str | None]:
    """JSON text per metadata dict (empty or None: NULL, anything else an error); equal dicts once.

    The cache key is the dict's ``marshal`` bytes (its ``repr`` when it holds other objects):
    1, 1.0, True and 0.0, -0.0 are equal but serialize differently, so they never share a text.
    """
    try:
        keys: list[Any] = list(map(marshal.dumps, items))
    except ValueError:
        keys = list(map(repr, items))
    texts: dict[Any, str | None] = dict.fromkeys(keys)
    for key in texts:
        position = keys.index(key)
        metadata = items[position]
        if metadata is None:
            continue
        if not isinstance(metadata, dict):
            raise InvalidInputError(
                f"indicator_values[{position}].metadata must be a dict (a JSON object), "
                f"got {type(metadata).__name__} {metadata!r}"
            )
        if not metadata:
            continue
        try:
            texts[key] = json.dumps(metadata, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"indicator_values[{position}].metadata is not JSON-serializable ({exc}): {metadata!r}"
            ) from exc
    return list(map(texts.__getitem__, keys))


def _no_metadata(items: Sequence[Any]) -> bool:
    """Every item None or ``{}``: the common case, at a quarter of :func:`_metadata_texts`' cost."""
    return all(m is None or (type(m) is dict and not m) for m in items)


def _floats(items: Sequence[Any], field_name: str) -> np.ndarray:
    """One numeric field as float64 (None: NaN); a value that is not a number is an error naming it."""
    try:
        return np.array(items, dtype="float64")
    except (TypeError, ValueError):
        for position, x in enumerate(items):
            try:
                float(x)
            except (TypeError, ValueError):
                raise InvalidInputError(
                    f"indicator_values[{position}].{field_name} is {x!r}, not a number"
                ) from None
        raise


_FIELDS = ("timestamp", "value", "confidence", "metadata", "indicator_name", "scope", "user_id", "created_by")
_GETTERS = tuple(map(operator.attrgetter, _FIELDS))


def values_to_columns(
    values: Sequence[IndicatorValue], session_id: str, symbol: str, variant_id: str, variant_type: str
) -> VariantColumns:
    """Column-wise conversion of ``IndicatorValue`` objects: one list or array per field."""
    exact = set(map(type, values)) <= {IndicatorValue}
    if not exact and not all(isinstance(v, IndicatorValue) for v in values):
        raise InvalidInputError("indicator_values must be a list of IndicatorValue")
    if not values:
        columns: list[list[Any]] = [[] for _ in _FIELDS]
    else:
        columns = [list(map(getter, values)) for getter in _GETTERS]
    stamps, numbers, confidences, metadata, names, scopes, users, creators = columns
    seconds = _floats(stamps, "timestamp")
    if not np.isfinite(seconds).all():
        raise InvalidInputError("every IndicatorValue.timestamp must be a finite number of epoch seconds")
    confidence = [np.nan if c is None else c for c in confidences] if None in confidences else confidences
    return VariantColumns(
        session_id=session_id,
        symbol=symbol,
        indicator_type=variant_type,
        indicator_id=variant_id,
        micros=np.round(seconds * 1e6).astype("int64"),
        values=_floats(numbers, "value"),
        confidence=_floats(confidence, "confidence"),
        names=None if names.count(None) == len(names) else names,
        metadata=None if _no_metadata(metadata) else _metadata_texts(metadata),
        scope=None if scopes.count(None) == len(scopes) else scopes,
        user_id=None if users.count(None) == len(users) else users,
        created_by=None if creators.count(None) == len(creators) else creators,
    )


def values_to_rows(
    values: Sequence[IndicatorValue], session_id: str, symbol: str, variant_id: str, variant_type: str
) -> pd.DataFrame:
    """``IndicatorValue`` objects as ``indicators`` rows (:func:`qdbtools.store.rows_from_columns`)."""
    return rows_from_columns(values_to_columns(values, session_id, symbol, variant_id, variant_type))


def values_to_frame(
    values: Sequence[IndicatorValue],
    variant_id: str,
    variant_type: str,
    *,
    session_id: str = "",
    symbol: str = "",
) -> pd.DataFrame:
    """``IndicatorValue`` objects as a long frame (the legacy CSV layout's columns)."""
    rows = values_to_rows(values, session_id, symbol, variant_id, variant_type)
    columns = [
        "timestamp",
        "indicator_id",
        "indicator_type",
        "value",
        "confidence",
        "indicator_name",
        "metadata",
        "scope",
        "user_id",
        "created_by",
    ]
    texts = {c: rows[c].astype("str") for c in columns if isinstance(rows[c].dtype, pd.CategoricalDtype)}
    return rows[columns].assign(**texts)


def _texts(frame: pd.DataFrame, column: str) -> list[Any]:
    """A column as a list with None for NULL, looked up per distinct value (few per column)."""
    if column not in frame.columns:
        return [None] * len(frame)
    codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
    lookup = np.array([*uniques.tolist(), None], dtype=object)  # code -1 (NULL) picks the None
    cells: list[Any] = lookup[codes].tolist()
    return cells


def _metadata_dicts(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per value (callers may change theirs), each distinct JSON text parsed once."""
    if "metadata" not in frame.columns:
        return [{} for _ in range(len(frame))]
    codes, uniques = pd.factorize(frame["metadata"], use_na_sentinel=True)
    parsed = [json.loads(text) for text in uniques.tolist()] + [{}]
    return [dict(parsed[code]) for code in codes.tolist()]


@contextlib.contextmanager
def _collections_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while many new acyclic objects are made.

    10k ``IndicatorValue`` objects with their metadata dicts trigger dozens of collections,
    some of them of the whole heap: more than half of their cost (42 ms against 18 ms
    measured). Nothing they hold can form a cycle, and collections resume afterwards (unless
    the application had paused them itself).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def frame_to_values(frame: pd.DataFrame) -> list[IndicatorValue]:
    """The inverse of :func:`values_to_frame` (``frame`` indexed or columned by timestamp)."""
    with _collections_paused():
        return _frame_to_values(frame)


def _frame_to_values(frame: pd.DataFrame) -> list[IndicatorValue]:
    if "timestamp" in frame.columns:
        frame = frame.set_index("timestamp")
    seconds = (pd.DatetimeIndex(frame.index).as_unit("us").asi8 / 1e6).tolist()
    values = frame["value"].to_numpy(dtype="float64").tolist()
    if "confidence" in frame.columns:
        confidence = frame["confidence"].to_numpy(dtype="float64")
        boxed = confidence.astype(object)
        boxed[np.isnan(confidence)] = None
        confidences = boxed.tolist()
    else:
        confidences = [None] * len(frame)
    ids, types, names, scopes, users, creators = (
        _texts(frame, c)
        for c in ("indicator_id", "indicator_type", "indicator_name", "scope", "user_id", "created_by")
    )
    metadata = _metadata_dicts(frame)
    return list(
        map(
            IndicatorValue, seconds, values, confidences, ids, types, names, metadata, scopes, users, creators
        )
    )


for _public in (IndicatorValue, frame_to_values, values_to_columns, values_to_frame, values_to_rows):
    _public.__module__ = "qdbtools.service"  # where users import them from (and pickles find them)
