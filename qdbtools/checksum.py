"""Content checksums of indicator values, computed the same way from CSV files and from QuestDB.

A checksum covers one variant key (session_id, symbol, indicator_type, indicator_id) and
its rows: timestamps (UTC microseconds), values and confidences, in timestamp order. NaN
and NULL hash alike. Two sources hold the same data exactly when their checksums match.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

__all__ = ["micros_checksum", "values_checksum"]

_CANONICAL_NAN = np.float64("nan")


def _as_micros(timestamps: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    index = pd.DatetimeIndex(timestamps)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.as_unit("us").asi8.astype("<i8")


def _as_floats(values: object, size: int) -> np.ndarray:
    if values is None:
        return np.full(size, _CANONICAL_NAN, dtype="<f8")
    array = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(
        dtype="<f8", na_value=np.nan, copy=True
    )
    array[np.isnan(array)] = _CANONICAL_NAN  # one NaN bit pattern
    return array


def values_checksum(
    session_id: str,
    symbol: str,
    indicator_type: str | None,
    indicator_id: str,
    timestamps: pd.Series | pd.DatetimeIndex | np.ndarray,
    values: object,
    confidence: object = None,
) -> str:
    """SHA-256 (hex) of one variant's rows: ids, then (timestamp, value, confidence) by time.

    Examples
    --------
    >>> ts = pd.to_datetime(["2024-01-01T00:00:00Z"])
    >>> values_checksum("s", "BTC", "momentum", "RSI_14", ts, [50.0], [0.0])[:12]
    '72132af0a479'
    """
    micros = _as_micros(timestamps)
    order = np.argsort(micros, kind="stable")
    value_array = _as_floats(values, len(micros))[order]
    confidence_array = _as_floats(confidence, len(micros))[order]
    return micros_checksum(
        session_id, symbol, indicator_type, indicator_id, micros[order], value_array, confidence_array
    )


def micros_checksum(
    session_id: str,
    symbol: str,
    indicator_type: str | None,
    indicator_id: str,
    micros: np.ndarray,
    values: np.ndarray,
    confidence: np.ndarray,
) -> str:
    """:func:`values_checksum` of rows already in time order: int64 UTC microseconds, float64."""
    values = np.where(np.isnan(values), _CANONICAL_NAN, values).astype("<f8")  # one NaN bit pattern
    confidence = np.where(np.isnan(confidence), _CANONICAL_NAN, confidence).astype("<f8")
    digest = hashlib.sha256()
    ids = "\x1f".join(
        ["" if v is None else str(v) for v in (session_id, symbol, indicator_type, indicator_id)]
    )
    digest.update(ids.encode("utf-8") + b"\x1e")
    digest.update(np.ascontiguousarray(micros, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(values).tobytes())
    digest.update(np.ascontiguousarray(confidence).tobytes())
    return digest.hexdigest()
