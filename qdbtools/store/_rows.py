"""Frames in: wide or long indicator frames become validated ``indicators`` value rows."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from qdbtools.exceptions import InvalidInputError, MissingColumnsError
from qdbtools.io.literals import key_text, sendable_text
from qdbtools.io.writer import prepare_frame
from qdbtools.schema import INDICATOR_COLUMNS

__all__ = [
    "ROW_COLUMNS",
    "SYMBOL_COLUMNS",
    "VariantColumns",
    "row_text",
    "rows_from_columns",
    "save_key",
    "stored_positions",
    "text_argument",
    "to_rows",
]

#: The variant type of ``Database.save_indicators`` / ``df.qdb.save_indicators`` when none is
#: given: not ``general``, the type the trading system (and its migrated CSV files) writes, so
#: values saved from a notebook never replace the system's by accident.
DEFAULT_VARIANT_TYPE = "custom"

SYMBOL_COLUMNS = ("session_id", "symbol", "indicator_type", "indicator_id", "scope", "user_id", "created_by")
#: The value columns of ``indicators``, in table order: everything but the save's own columns.
ROW_COLUMNS = tuple(c for c in INDICATOR_COLUMNS if c not in ("written_at", "generation", "commit_mode"))


@overload
def text_argument(name: str, value: Any, *, allow_none: Literal[False] = False) -> str: ...
@overload
def text_argument(name: str, value: Any, *, allow_none: bool) -> str | None: ...
def text_argument(name: str, value: Any, *, allow_none: bool = False) -> str | None:
    """``value`` if it is a non-empty string (or None when allowed), else InvalidInputError."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{name} must be a non-empty string, got {value!r}")
    return sendable_text(name, value)


def save_key(name: str, value: Any) -> str:
    """A session_id or symbol to save under: a string that is not empty or only whitespace."""
    key = key_text(name, value)
    if not key.strip():
        raise InvalidInputError(
            f"{name}={value!r} is {'empty' if not key else 'only whitespace'}; a save needs a {name} that "
            f"names it, e.g. {_KEY_EXAMPLES[name]!r}"
        )
    return key


_KEY_EXAMPLES = {"session_id": "sess_2024_03_01", "symbol": "BTC_USDT"}
#: Column names of OHLCV bars: a frame that holds them is bars, not indicator values.
OHLCV_NAMES = ("open", "high", "low", "close", "volume")
_NUMBER_KINDS = {"integer", "floating", "mixed-integer-float", "decimal", "boolean", "empty"}


def _check_not_bars(names: Sequence[Any], what: str) -> None:
    """Refuse OHLCV names (any case) among the variant ids: saving bars as indicators is a slip."""
    bars = [name for name in names if str(name).lower() in OHLCV_NAMES]
    if bars:
        others = [name for name in names if str(name).lower() not in (*OHLCV_NAMES, "trades")]
        select = f"select them, e.g. frame[{others[:4]!r}], or " if others and what == "columns" else ""
        raise InvalidInputError(
            f"{what} {', '.join(map(repr, bars))} look like OHLCV bars, not indicator values; save "
            f"indicators only: {select}compute them with bars.qdb.indicators([...]) and save that frame"
        )


def _is_numeric(column: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(column.dtype):
        return True
    return column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in _NUMBER_KINDS


def _check_wide_frame(frame: pd.DataFrame) -> None:
    """A wide frame holds numeric indicator columns over a unique index, or is refused by name."""
    _check_not_bars(list(frame.columns), "columns")
    text = [f"{name!r} ({frame[name].dtype})" for name in frame.columns if not _is_numeric(frame[name])]
    if text:
        raise InvalidInputError(
            f"column(s) {', '.join(text)} are not numeric; indicator values are numbers, and no column "
            "is dropped silently: save the indicator columns only (e.g. frame.select_dtypes('number')) "
            "or convert them with pd.to_numeric"
        )
    duplicated = frame.index.duplicated()
    if duplicated.any():
        first = frame.index[int(np.flatnonzero(duplicated)[0])]
        rows = np.flatnonzero(frame.index == first)
        raise InvalidInputError(
            f"timestamp {first} is in the frame's index {len(rows)} times (rows {rows[:5].tolist()}); one "
            "row per timestamp: keep one, e.g. frame[~frame.index.duplicated(keep='last')]"
        )


def row_text(name: str, value: Any) -> str:
    """One non-NULL value of a per-row text column: a string the server can store."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string or None, got {type(value).__name__} {value!r}")
    return sendable_text(name, value)


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


def _symbol_column(column: pd.Series) -> pd.Categorical[str]:
    """A categorical of strings, as ``Sender.dataframe`` sends it (NULL stays NULL), each sendable."""
    categorical: pd.Categorical[str]
    if isinstance(column.dtype, pd.CategoricalDtype) and str(column.cat.categories.dtype) == "str":
        categorical = column.array
    else:
        categorical = pd.Categorical(column.astype("str").where(column.notna(), None))
    for value in categorical.categories:
        sendable_text(str(column.name), value)
    return categorical


def _check_metadata(texts: pd.Series) -> None:
    """Every distinct metadata text is a JSON object (what the service reads back as a dict)."""
    for text in texts.dropna().unique():
        sendable_text("metadata", text)
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            position = int(np.flatnonzero((texts == text).to_numpy())[0])
            raise InvalidInputError(
                f"metadata at row {position} is not a JSON object: {text[:200]!r}. Give a dict, or "
                "JSON text of an object"
            )


@functools.lru_cache(maxsize=4096)
def _one_category(value: str | None) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(pd.Index([] if value is None else [value], dtype="str"))


def _constant(value: str | None, n: int) -> pd.Categorical:
    """``n`` times ``value`` (or NULL) as a one-category categorical."""
    codes = np.full(n, -1 if value is None else 0, dtype="int8")
    return pd.Categorical.from_codes(codes, dtype=_one_category(value), validate=False)


def _check_microseconds(stamps: pd.Series | pd.DatetimeIndex) -> None:
    """QuestDB stores microseconds: refuse finer stamps rather than merge or truncate them."""
    unit = stamps.unit if isinstance(stamps, pd.DatetimeIndex) else stamps.dt.unit
    if unit != "ns":
        return
    nanos_all = stamps.array.asi8 if isinstance(stamps, pd.Series) else stamps.asi8
    nanos = nanos_all % 1000
    if nanos.any():
        position = int(np.flatnonzero(nanos)[0])
        raise InvalidInputError(
            f"timestamp at row {position} ({pd.Timestamp(int(nanos_all[position]), unit='ns', tz='UTC')}) "
            "has nanoseconds; QuestDB stores microseconds. Round the timestamps first, e.g. "
            "frame.index = frame.index.floor('us')"
        )


def _numeric_values(frame: pd.DataFrame, name: Any) -> np.ndarray:
    """One wide column as float64; text that is not a number is an error naming it."""
    column = frame[name]
    values: np.ndarray
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        return values
    numbers = pd.to_numeric(column, errors="coerce")
    bad = (numbers.isna() & column.notna()).to_numpy()
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"column {name!r} is not numeric: row {position} (index {frame.index[position]}) holds "
            f"{column.iloc[position]!r}. Indicator values are numbers; convert or drop the column"
        )
    values = numbers.to_numpy(dtype="float64", na_value=np.nan)
    return values


def _wide_rows(
    frame: pd.DataFrame, session_id: str, symbol: str, defaults: dict[str, str | None]
) -> pd.DataFrame:
    """The rows of a wide frame with a unique DatetimeIndex, built column-wise with numpy."""
    if frame.columns.has_duplicates:
        raise InvalidInputError(
            f"duplicate variant columns: {sorted(set(frame.columns[frame.columns.duplicated()]))}"
        )
    for name in frame.columns:
        text_argument("variant column name", name)
    index = frame.index
    assert isinstance(index, pd.DatetimeIndex), "to_rows sends only frames with a DatetimeIndex here"
    if index.tz is None:
        raise InvalidInputError(
            "the frame's DatetimeIndex is naive (no time zone), which is ambiguous; qdbtools stores "
            "UTC: the times are in the index, so use frame.index = frame.index.tz_localize('UTC') if "
            "they are UTC, or tz_localize(<their zone>) first"
        )
    if index.hasnans:
        raise InvalidInputError("the frame's DatetimeIndex holds NaT; every value needs a timestamp")
    _check_microseconds(index)
    ids = sorted(frame.columns)
    order = None if index.is_monotonic_increasing else np.argsort(index.asi8, kind="stable")
    stamps = index.tz_convert("UTC").as_unit("us").asi8
    columns = [_numeric_values(frame, name) for name in ids]
    values = np.concatenate(columns) if columns else np.empty(0)
    if order is not None:
        stamps = stamps[order]
        values = np.concatenate([column[order] for column in columns])
    infinite = np.isinf(values)
    if infinite.any():
        position = int(np.flatnonzero(infinite)[0])
        raise InvalidInputError(
            f"value holds inf for {ids[position // len(index)]!r} at "
            f"{pd.Timestamp(stamps[position % len(index)], unit='us', tz='UTC')}; "
            "QuestDB cannot store infinity: replace it (NaN values are not stored)"
        )
    keep = ~np.isnan(values)
    n = int(keep.sum())
    codes = np.repeat(np.arange(len(ids), dtype="int32"), len(index))[keep]
    variant_ids = pd.Categorical.from_codes(codes, pd.Index(ids, dtype="str"))
    rows = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(np.tile(stamps, len(ids))[keep].astype("datetime64[us]"), tz="UTC"),
            "session_id": _constant(session_id, n),
            "symbol": _constant(symbol, n),
            "indicator_type": _constant(defaults["indicator_type"], n),
            "indicator_id": variant_ids,
            "indicator_name": variant_ids,
            "value": values[keep],
            "confidence": np.full(n, np.nan),
            "metadata": pd.Series([None] * n, dtype="object"),
            "scope": _constant(defaults["scope"], n),
            "user_id": _constant(defaults["user_id"], n),
            "created_by": _constant(defaults["created_by"], n),
        }
    )
    return rows


def _text_codes(name: str, items: Sequence[Any] | None, n: int, default: str | None) -> pd.Categorical:
    """A per-row text column (None: ``default``) as a categorical, checked per distinct value."""
    if items is None:
        return _constant(default, n)
    codes, uniques = pd.factorize(pd.Series(items, dtype="object"), use_na_sentinel=True)
    for value in uniques:
        row_text(name, value)
    if default is not None and (codes < 0).any():
        uniques = pd.Index([*uniques, default]) if default not in uniques else pd.Index(uniques)
        position = uniques.get_loc(default)
        assert isinstance(position, int), "the uniques of factorize hold default once"
        codes = np.where(codes < 0, position, codes)
    return pd.Categorical.from_codes(codes, pd.Index(list(uniques), dtype="str"))


@dataclass(frozen=True)
class VariantColumns:
    """One variant key's values column by column, as the persistence service holds them.

    ``micros`` are UTC microseconds; the text columns are one item per value (None: the
    variant id for ``names``, NULL for the others) or None for all.
    """

    session_id: str
    symbol: str
    indicator_type: str
    indicator_id: str
    micros: np.ndarray
    values: np.ndarray
    confidence: np.ndarray
    names: Sequence[str | None] | None = None
    metadata: Sequence[str | None] | None = None
    scope: Sequence[str | None] | None = None
    user_id: Sequence[str | None] | None = None
    created_by: Sequence[str | None] | None = None


def stored_positions(columns: VariantColumns) -> np.ndarray:
    """Positions of the values to store, in time order: NaN values and exact repeats left out.

    Raises InvalidInputError for bad ids, ``inf``, and two different values at one timestamp.
    """
    key_text("session_id", columns.session_id), key_text("symbol", columns.symbol)
    text_argument("variant_type", columns.indicator_type)
    text_argument("variant_id", columns.indicator_id)
    micros, values, confidence = columns.micros, columns.values, columns.confidence
    infinite = np.isinf(values)
    if infinite.any():
        position = int(np.flatnonzero(infinite)[0])
        raise InvalidInputError(f"value {position} is inf; QuestDB cannot store infinity (NaN is not stored)")
    order = np.argsort(micros, kind="stable") if (np.diff(micros) < 0).any() else None
    keep = ~np.isnan(values)
    if order is not None:
        keep = keep[order]
    picks: np.ndarray = (order if order is not None else np.arange(len(micros)))[keep]
    stamps, kept_values, kept_confidence = micros[picks], values[picks], confidence[picks]
    same_time = np.flatnonzero(stamps[1:] == stamps[:-1])
    if len(same_time):
        clash = (kept_values[same_time] != kept_values[same_time + 1]) | ~(
            (kept_confidence[same_time] == kept_confidence[same_time + 1])
            | (np.isnan(kept_confidence[same_time]) & np.isnan(kept_confidence[same_time + 1]))
        )
        if clash.any():
            at = pd.Timestamp(int(stamps[same_time[int(np.flatnonzero(clash)[0])]]), unit="us", tz="UTC")
            raise InvalidInputError(
                f"two different values for {columns.indicator_id!r} at {at}; one value per variant and "
                "timestamp. Nothing was written"
            )
        first = np.ones(len(stamps), dtype=bool)
        first[same_time + 1] = False  # an exact repeat of the value before it
        picks = picks[first]
    return picks


def _json_codes(texts: Sequence[str | None] | None, n: int) -> pd.Categorical:
    """Metadata JSON texts (None: NULL) as a categorical: a few distinct texts repeat, and a
    categorical is sized without hashing each row's text and serialized faster (10k rows:
    ~1.8 ms less per save, measured; the request's bytes are the same)."""
    if texts is None:
        return _constant(None, n)
    codes, uniques = pd.factorize(np.asarray(texts, dtype=object), use_na_sentinel=True)
    return pd.Categorical.from_codes(codes, pd.Index(uniques, dtype="str"), validate=False)


def rows_from_columns(columns: VariantColumns) -> pd.DataFrame:
    """Rows of one variant key, as :func:`to_rows` returns them, without per-row pandas work."""
    picks = stored_positions(columns)
    n, m = len(columns.micros), len(picks)
    return pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(columns.micros[picks].astype("datetime64[us]"), tz="UTC"),
            "session_id": _constant(columns.session_id, m),
            "symbol": _constant(columns.symbol, m),
            "indicator_type": _constant(columns.indicator_type, m),
            "indicator_id": _constant(columns.indicator_id, m),
            "indicator_name": _text_codes("indicator_name", columns.names, n, columns.indicator_id)[picks],
            "value": columns.values[picks],
            "confidence": columns.confidence[picks],
            "metadata": _json_codes(columns.metadata, n)[picks],
            "scope": _text_codes("scope", columns.scope, n, None)[picks],
            "user_id": _text_codes("user_id", columns.user_id, n, None)[picks],
            "created_by": _text_codes("created_by", columns.created_by, n, None)[picks],
        }
    )


def to_rows(
    frame: pd.DataFrame,
    *,
    session_id: str,
    symbol: str,
    variant_type: str = DEFAULT_VARIANT_TYPE,
    scope: str | None = None,
    user_id: str | None = None,
    created_by: str | None = None,
) -> pd.DataFrame:
    """Turn a wide or long indicator frame into ``indicators`` rows.

    *Wide*: a ``DatetimeIndex`` and one column per variant id (``RSI_14``,
    ``MACD_12_26_9.macd`` ...). *Long*: columns ``timestamp`` (or the index), ``indicator_id``
    and ``value``, optionally ``confidence``, ``indicator_name``, ``metadata`` (dict or JSON
    text), ``indicator_type``, ``scope``, ``user_id``, ``created_by``.

    NaN values (an indicator's warm-up) are not stored. Refused, by name: an empty or blank
    session_id or symbol, OHLCV columns (``open`` ... ``volume``), columns that are not
    numeric, a timestamp twice in a wide frame's index, ``inf`` values, naive timestamps and
    two different values for one variant at one timestamp.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"expected a DataFrame of indicator values, got {type(frame).__name__}")
    session_id, symbol = save_key("session_id", session_id), save_key("symbol", symbol)
    text_argument("variant_type", variant_type)
    for name, value in (("scope", scope), ("user_id", user_id), ("created_by", created_by)):
        text_argument(name, value, allow_none=True)
    long = "indicator_id" in frame.columns and "value" in frame.columns
    if not long and not isinstance(frame.index, pd.DatetimeIndex):
        raise InvalidInputError(
            "a wide indicator frame needs a DatetimeIndex (tz-aware, UTC) and one column per variant; "
            "a long frame needs 'timestamp', 'indicator_id' and 'value' columns"
        )
    if not long:
        _check_wide_frame(frame)
        defaults = {
            "indicator_type": variant_type,
            "scope": scope,
            "user_id": user_id,
            "created_by": created_by,
        }
        return _wide_rows(frame, session_id, symbol, defaults)
    rows = frame.reset_index() if "timestamp" not in frame.columns else frame.copy()
    if "timestamp" not in rows.columns:
        raise MissingColumnsError("a long frame needs a 'timestamp' column or index", missing=("timestamp",))
    if "metadata" in rows.columns and pd.api.types.infer_dtype(rows["metadata"], skipna=True) not in (
        "string",
        "empty",
    ):
        rows["metadata"] = rows["metadata"].map(_metadata_text)
    if "metadata" in rows.columns:
        _check_metadata(rows["metadata"].reset_index(drop=True))
    rows = prepare_frame(rows, at="timestamp", symbols=())
    ids = rows["indicator_id"]
    if pd.api.types.infer_dtype(ids, skipna=False) not in ("string", "empty") or (ids == "").any():
        raise InvalidInputError("indicator_id values must be non-empty strings")
    _check_not_bars(list(pd.unique(ids)), "indicator_id values")
    numbers = pd.to_numeric(rows["value"], errors="coerce")
    bad = (numbers.isna() & rows["value"].notna()).to_numpy()
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"value at row {position} ({rows['indicator_id'].iloc[position]!r}) is "
            f"{rows['value'].iloc[position]!r}, not a number; indicator values are numbers"
        )
    rows["value"] = numbers.astype("float64")
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
    _check_microseconds(rows["timestamp"])
    rows = rows[list(ROW_COLUMNS)].astype({"metadata": "object"})
    rows = rows.assign(**{c: _symbol_column(rows[c]) for c in (*SYMBOL_COLUMNS, "indicator_name")})
    if _one_key_in_time_order(rows):
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
