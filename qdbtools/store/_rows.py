"""Frames in: wide or long indicator frames become validated ``indicators`` value rows."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from qdbtools.exceptions import InvalidInputError, MissingColumnsError
from qdbtools.io.literals import key_text
from qdbtools.io.writer import prepare_frame

__all__ = ["ROW_COLUMNS", "SYMBOL_COLUMNS", "text_argument", "to_rows"]

SYMBOL_COLUMNS = ("session_id", "symbol", "indicator_type", "indicator_id", "scope", "user_id", "created_by")
ROW_COLUMNS = (
    "timestamp",
    "session_id",
    "symbol",
    "indicator_type",
    "indicator_id",
    "indicator_name",
    "value",
    "confidence",
    "metadata",
    "scope",
    "user_id",
    "created_by",
)


def text_argument(name: str, value: Any, *, allow_none: bool = False) -> str | None:
    """``value`` if it is a non-empty string (or None when allowed), else InvalidInputError."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _metadata_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"metadata {value!r} is not JSON-serializable: {exc}") from exc


def _one_key_in_time_order(rows: pd.DataFrame) -> bool:
    """True for rows of one variant key with strictly increasing timestamps (already sorted)."""
    stamps = rows["timestamp"].array.asi8
    return bool(
        rows["indicator_type"].nunique(dropna=False) <= 1
        and rows["indicator_id"].nunique(dropna=False) <= 1
        and (np.diff(stamps) > 0).all()
    )


def to_rows(
    frame: pd.DataFrame,
    *,
    session_id: str,
    symbol: str,
    variant_type: str = "general",
    scope: str | None = None,
    user_id: str | None = None,
    created_by: str | None = None,
) -> pd.DataFrame:
    """Turn a wide or long indicator frame into ``indicators`` rows.

    *Wide*: a ``DatetimeIndex`` and one column per variant id (``RSI_14``,
    ``MACD_12_26_9.macd`` ...). *Long*: columns ``timestamp`` (or the index), ``indicator_id``
    and ``value``, optionally ``confidence``, ``indicator_name``, ``metadata`` (dict or JSON
    text), ``indicator_type``, ``scope``, ``user_id``, ``created_by``.

    NaN values (an indicator's warm-up) are not stored. ``inf`` values, naive timestamps
    and two different values for one variant at one timestamp are refused.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"expected a DataFrame of indicator values, got {type(frame).__name__}")
    session_id, symbol = key_text("session_id", session_id), key_text("symbol", symbol)
    text_argument("variant_type", variant_type)
    for name, value in (("scope", scope), ("user_id", user_id), ("created_by", created_by)):
        text_argument(name, value, allow_none=True)
    long = "indicator_id" in frame.columns and "value" in frame.columns
    presorted = False
    if long:
        rows = frame.reset_index() if "timestamp" not in frame.columns else frame.copy()
        if "timestamp" not in rows.columns:
            raise MissingColumnsError(
                "a long frame needs a 'timestamp' column or index", missing=("timestamp",)
            )
    else:
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise InvalidInputError(
                "a wide indicator frame needs a DatetimeIndex (tz-aware, UTC) and one column per variant; "
                "a long frame needs 'timestamp', 'indicator_id' and 'value' columns"
            )
        if frame.columns.has_duplicates:
            raise InvalidInputError(
                f"duplicate variant columns: {sorted(set(frame.columns[frame.columns.duplicated()]))}"
            )
        for name in frame.columns:
            text_argument("variant column name", name)
        # Sorted columns over a sorted, unique index melt into rows already in the order
        # this function returns, with no (timestamp, variant) twice: the checks below are skipped.
        numeric = frame.apply(pd.to_numeric, errors="coerce").sort_index(axis=1)
        if not numeric.index.is_monotonic_increasing:
            numeric = numeric.sort_index(kind="stable")
        presorted = numeric.index.is_unique
        rows = (
            numeric.rename_axis("timestamp")
            .reset_index()
            .melt(id_vars="timestamp", var_name="indicator_id", value_name="value")
        )
    if "metadata" in rows.columns and pd.api.types.infer_dtype(rows["metadata"], skipna=True) not in (
        "string",
        "empty",
    ):
        rows["metadata"] = rows["metadata"].map(_metadata_text)
    rows = prepare_frame(rows, at="timestamp", symbols=())
    ids = rows["indicator_id"]
    if pd.api.types.infer_dtype(ids, skipna=False) not in ("string", "empty") or (ids == "").any():
        raise InvalidInputError("indicator_id values must be non-empty strings")
    rows["value"] = pd.to_numeric(rows["value"], errors="raise").astype("float64")
    infinite = np.isinf(rows["value"].to_numpy())
    if infinite.any():
        raise InvalidInputError(
            f"value holds inf for {rows['indicator_id'].iloc[int(np.flatnonzero(infinite)[0])]!r}"
        )
    rows = rows[rows["value"].notna()]
    defaults = {"indicator_type": variant_type, "scope": scope, "user_id": user_id, "created_by": created_by}
    for name, default in defaults.items():
        if name not in rows.columns:
            rows[name] = default
        elif default is not None:
            rows[name] = rows[name].where(rows[name].notna() & (rows[name] != ""), default)
    rows["session_id"], rows["symbol"] = session_id, symbol
    if "confidence" not in rows.columns:
        rows["confidence"] = np.nan
    rows["confidence"] = pd.to_numeric(rows["confidence"], errors="raise").astype("float64")
    rows["indicator_name"] = (
        rows["indicator_name"] if "indicator_name" in rows.columns else rows["indicator_id"]
    )
    if "metadata" not in rows.columns:
        rows["metadata"] = None
    rows = rows[list(ROW_COLUMNS)].astype({c: "object" for c in ("metadata", "indicator_name")})
    if presorted or _one_key_in_time_order(rows):
        return rows.reset_index(drop=True)
    rows = rows.drop_duplicates(["timestamp", "indicator_type", "indicator_id", "value", "confidence"])
    clash = rows.duplicated(["timestamp", "indicator_type", "indicator_id"], keep=False).to_numpy()
    if clash.any():
        first = rows.iloc[int(np.flatnonzero(clash)[0])]
        raise InvalidInputError(
            f"two different values for {first['indicator_id']!r} at {first['timestamp']}; one value per "
            "variant and timestamp. Nothing was written"
        )
    return rows.sort_values(["indicator_type", "indicator_id", "timestamp"], kind="stable", ignore_index=True)
