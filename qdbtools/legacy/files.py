"""Reading and writing the legacy CSV files: indicator variants and session prices, and their checksums.

Frames are "long": one row per timestamp, the columns of :data:`INDICATOR_COLUMNS` or
:data:`PRICE_COLUMNS`; ``timestamp`` is ``datetime64[us, UTC]``. Epoch seconds are converted
to microseconds from their decimal text, never through local time.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from qdbtools.checksum import values_checksum
from qdbtools.exceptions import InvalidInputError, MissingColumnsError
from qdbtools.legacy import _csv
from qdbtools.legacy.paths import LegacyFile, variant_of

__all__ = [
    "INDICATOR_COLUMNS",
    "PRICE_COLUMNS",
    "csv_checksum",
    "read_indicator_csv",
    "read_prices_csv",
    "write_indicator_csv",
]

log = logging.getLogger(__name__)

#: Columns of an indicator CSV, in file order (also the columns of :func:`read_indicator_csv`).
INDICATOR_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "value",
    "confidence",
    "indicator_id",
    "indicator_type",
    "indicator_name",
    "metadata",
    "scope",
    "user_id",
    "created_by",
)
#: Columns of a session's ``prices.csv`` (also the columns of :func:`read_prices_csv`).
PRICE_COLUMNS: tuple[str, ...] = ("timestamp", "symbol", "price", "volume")

# Added to the old system late (the plan's "migration 005"): files written before may lack them.
_LATE_COLUMNS: tuple[str, ...] = ("scope", "user_id", "created_by")
_TEXT_COLUMNS: tuple[str, ...] = INDICATOR_COLUMNS[3:]
_OPTIONAL_TEXT: tuple[str, ...] = ("indicator_name", "metadata", *_LATE_COLUMNS)
_ISO_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$"
_WRITE_NUMERIC = frozenset({"floating", "integer", "mixed-integer-float", "decimal", "empty"})


def _empty_indicator_frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype="datetime64[us, UTC]"),
            "value": pd.Series([], dtype=np.float64),
            "confidence": pd.Series([], dtype=np.float64),
        }
    )
    for name in _TEXT_COLUMNS:
        frame[name] = pd.Series([], dtype=object)
    return frame


def _utc_micros(micros: np.ndarray) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(micros.astype("datetime64[us]")).tz_localize("UTC"))


def _indicator_source(source: str | os.PathLike[str] | LegacyFile) -> tuple[Path, str, str]:
    if isinstance(source, LegacyFile):
        if source.kind != "indicators":
            raise InvalidInputError(f"{source.path}: a {source.kind} file, not an indicator file")
        assert source.variant_type is not None and source.variant_id is not None
        return Path(source.path), source.variant_type, source.variant_id
    path = Path(source)
    return (path, *variant_of(path))


def _check_duplicates(table: _csv.CsvTable, frame: pd.DataFrame) -> pd.DataFrame:
    """Drop rows repeated exactly; raise when one timestamp carries different rows."""
    repeated = frame["timestamp"].duplicated(keep=False).to_numpy(dtype=bool)
    if not repeated.any():
        return frame
    distinct = frame[repeated].drop_duplicates()
    clash = distinct["timestamp"].duplicated(keep=False)
    if clash.any():
        stamp = distinct["timestamp"][clash].iloc[0]
        rows = np.flatnonzero((frame["timestamp"] == stamp).to_numpy(dtype=bool))
        first = frame.iloc[rows[0]]
        for other in rows[1:]:
            row = frame.iloc[other]
            differ = [
                name
                for name in frame.columns
                if not (first[name] == row[name] or (pd.isna(first[name]) and pd.isna(row[name])))
            ]
            if differ:
                table.fail(
                    int(other),
                    f"timestamp {table.frame['timestamp'].iloc[other].strip()} "
                    f"({stamp.isoformat()}) repeats line {table.line(int(rows[0]))} with a different "
                    f"{', '.join(differ)}",
                )
        table.fail(int(rows[1]), f"timestamp {stamp.isoformat()} repeats line {table.line(int(rows[0]))}")
    keep = ~frame.duplicated().to_numpy(dtype=bool)
    log.warning(
        "%s: dropped %d row(s) repeated exactly",
        table.path,
        int((~keep).sum()),
        extra={"path": str(table.path), "dropped": int((~keep).sum())},
    )
    return frame[keep]


def read_indicator_csv(source: str | os.PathLike[str] | LegacyFile) -> pd.DataFrame:
    """Read one indicator variant's legacy CSV into a long frame, checking every row.

    Parameters
    ----------
    source : str, PathLike or LegacyFile
        The file; its name ``{variant_type}_{variant_id}.csv`` says which variant it holds.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`INDICATOR_COLUMNS`, sorted by ``timestamp``, ``RangeIndex``:

        - ``timestamp``: ``datetime64[us, UTC]``, exact from the epoch-seconds text;
        - ``value``: float64 (``nan`` text is NaN); ``confidence``: float64, empty → NaN
          (``0.0`` stays ``0.0``);
        - ``indicator_id``, ``indicator_type``, ``indicator_name``, ``metadata`` (JSON object
          text as is), ``scope``, ``user_id``, ``created_by``: object columns of ``str``, with
          ``None`` for empty text. Files older than ``scope``/``user_id``/``created_by`` may
          lack those columns: they read as ``None``.

        Rows repeated exactly are dropped (with a warning). A header-only file gives an empty
        frame with these dtypes.

    Raises
    ------
    MissingColumnsError
        A required column is absent.
    InvalidInputError
        Naming the file and the line (header = line 1) of the first bad row: not UTF-8,
        broken quoting, wrong field count, unknown columns, unparsable timestamp or value,
        metadata that is not JSON object text, ``indicator_type``/``indicator_id`` that
        disagree with the file name, one timestamp with different rows.
    FileNotFoundError
        The file does not exist.
    """
    path, variant_type, variant_id = _indicator_source(source)
    table = _csv.read_table(
        path,
        required=[c for c in INDICATOR_COLUMNS if c not in _LATE_COLUMNS],
        optional=_LATE_COLUMNS,
        what="indicator CSV",
    )
    raw = table.frame
    if raw.empty:
        log.debug("%s: no rows", path, extra={"path": str(path), "rows": 0})
        return _empty_indicator_frame()
    micros = _csv.parse_epoch_micros(table, "timestamp")
    values = _csv.parse_floats(table, "value", allow_empty=False, finite=False)
    confidence = _csv.parse_floats(table, "confidence", allow_empty=True, finite=False)
    for column, expected, part in (
        ("indicator_type", variant_type, "variant_type"),
        ("indicator_id", variant_id, "variant_id"),
    ):
        row = _csv.first_row((raw[column] != expected).to_numpy(dtype=bool))
        if row is not None:
            table.report(
                row,
                f"{column} is {raw[column].iloc[row]!r} but the file name {path.name} says {part} "
                f"{expected!r} (the file name is authoritative; fix or move the file)",
            )
    bad_json = _csv.first_bad_json(raw["metadata"])
    if bad_json is not None:
        table.report(bad_json[0], f"metadata {bad_json[1]}: {raw['metadata'].iloc[bad_json[0]]!r}")
    table.check()
    frame = pd.DataFrame(
        {
            "timestamp": _utc_micros(micros),
            "value": values,
            "confidence": confidence,
            **{name: _csv.text_or_none(raw[name]) for name in _TEXT_COLUMNS},
        }
    )
    frame = _check_duplicates(table, frame)
    if not frame["timestamp"].is_monotonic_increasing:
        log.debug("%s: rows not in timestamp order; sorted", path, extra={"path": str(path)})
        frame = frame.sort_values("timestamp", kind="stable")
    frame = frame.reset_index(drop=True)
    log.debug("%s: %d rows", path, len(frame), extra={"path": str(path), "rows": len(frame)})
    return frame


def _write_text_column(frame: pd.DataFrame, name: str, path: Path) -> np.ndarray:
    """A text column to write: object array of ``str``, missing → ``""``."""
    if name not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    column = frame[name]
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind not in ("string", "empty"):
        raise InvalidInputError(f"{path}: column {name!r} must hold text (str) or None, found {kind} values")
    array = column.to_numpy(dtype=object, copy=True)
    array[pd.isna(array)] = ""
    text = _csv.text_array(array)
    if len(text) and pc.max(pc.utf8_length(text)).as_py() > csv.field_size_limit():
        raise InvalidInputError(
            f"{path}: column {name!r} holds text longer than csv.field_size_limit() "
            f"({csv.field_size_limit()} characters); the file would not read back"
        )
    if pc.any(pc.match_substring(text, "\x00")).as_py():
        raise InvalidInputError(f"{path}: column {name!r} contains a NUL character, which CSV cannot hold")
    return array


def _write_floats(frame: pd.DataFrame, name: str, path: Path) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    column = frame[name]
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind not in _WRITE_NUMERIC:
        raise InvalidInputError(f"{path}: column {name!r} must be numeric, found {kind} values")
    return pd.to_numeric(column).to_numpy(dtype=np.float64, na_value=np.nan)


def _write_micros(frame: pd.DataFrame, path: Path) -> np.ndarray:
    column = frame["timestamp"]
    if not isinstance(column.dtype, pd.DatetimeTZDtype):
        raise InvalidInputError(
            f"{path}: timestamp must be timezone-aware datetime64 (UTC), got {column.dtype}; "
            "use .dt.tz_localize('UTC') if naive times are UTC"
        )
    index = pd.DatetimeIndex(column).tz_convert("UTC")
    if index.hasnans:
        raise InvalidInputError(f"{path}: timestamp has NaT at row {int(np.flatnonzero(index.isna())[0])}")
    fine = np.flatnonzero(index.asi8 % 1000) if index.unit == "ns" else np.array([], dtype=np.int64)
    if fine.size:
        raise InvalidInputError(
            f"{path}: timestamp {index[fine[0]]} (row {int(fine[0])}) is finer than a microsecond; "
            "the legacy format keeps microseconds"
        )
    return index.as_unit("us").asi8


def write_indicator_csv(path: str | os.PathLike[str], frame: pd.DataFrame) -> int:
    """Write one variant's rows as a legacy indicator CSV, atomically (the CSV rollback mode).

    The inverse of :func:`read_indicator_csv`: a write → read round trip gives the same frame
    (empty text and ``None`` both read back as ``None``). Output is the old system's format,
    byte for byte: header :data:`INDICATOR_COLUMNS`, rows by timestamp, epoch seconds exact to
    the microsecond (``1709251200.0``, ``1709251200.123456``), floats as the shortest text
    that reads back to the same float (Python ``repr``: lossless like ``%.17g``), NaN value
    ``nan``, NaN confidence empty, RFC 4180 quoting, ``\\n`` line ends, UTF-8. The file is
    written to a temporary file in the same directory, fsynced, then moved over ``path``
    with :func:`os.replace`; parent directories are created.

    Parameters
    ----------
    path : str or PathLike
        Target file, named ``{variant_type}_{variant_id}.csv`` (see :func:`indicator_path`).
    frame : pandas.DataFrame
        Required columns ``timestamp`` (tz-aware), ``value``, ``indicator_id``,
        ``indicator_type``; the others of :data:`INDICATOR_COLUMNS` default to empty / NaN;
        further columns are ignored.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    MissingColumnsError
        A required column is absent.
    InvalidInputError
        Naive or sub-microsecond timestamps, NaT, duplicate timestamps, ids that disagree with
        the file name, non-text or NUL-containing text columns, metadata that is not JSON object
        text. Nothing is written then.
    """
    target = Path(path)
    variant_type, variant_id = variant_of(target)
    missing = tuple(c for c in ("timestamp", "value", "indicator_id", "indicator_type") if c not in frame)
    if missing:
        raise MissingColumnsError(f"{target}: frame lacks column(s) {', '.join(missing)}", missing=missing)
    micros = _write_micros(frame, target)
    for column, expected, part in (
        ("indicator_type", variant_type, "variant_type"),
        ("indicator_id", variant_id, "variant_id"),
    ):
        row = _csv.first_row((frame[column] != expected).to_numpy(dtype=bool))
        if row is not None:
            raise InvalidInputError(
                f"{target}: row {row} has {column} {frame[column].iloc[row]!r} but the file name says "
                f"{part} {expected!r}"
            )
    repeated = pd.Series(micros).duplicated(keep=False).to_numpy(dtype=bool)
    if repeated.any():
        rows = np.flatnonzero(micros == micros[np.flatnonzero(repeated)[0]])
        raise InvalidInputError(
            f"{target}: rows {int(rows[0])} and {int(rows[1])} share timestamp "
            f"{frame['timestamp'].iloc[rows[0]]}; deduplicate before writing"
        )
    values = _write_floats(frame, "value", target)
    confidence = _write_floats(frame, "confidence", target)
    texts = {name: _write_text_column(frame, name, target) for name in _OPTIONAL_TEXT}
    bad_json = _csv.first_bad_json(texts["metadata"])
    if bad_json is not None:
        raise InvalidInputError(f"{target}: row {bad_json[0]}: metadata {bad_json[1]}")
    order = np.argsort(micros, kind="stable")
    count = len(order)
    columns = {
        "timestamp": _csv.format_epoch(micros[order]),
        "value": _csv.format_floats(values[order], nan_as="nan"),
        "confidence": _csv.format_floats(confidence[order], nan_as=""),
        "indicator_id": pa.array([variant_id] * count, type=pa.string()),
        "indicator_type": pa.array([variant_type] * count, type=pa.string()),
        **{name: _csv.text_array(text[order]) for name, text in texts.items()},
    }
    _csv.write_atomically(target, _csv.csv_text(INDICATOR_COLUMNS, [columns[c] for c in INDICATOR_COLUMNS]))
    log.debug("%s: wrote %d rows", target, count, extra={"path": str(target), "rows": count})
    return count


# --------------------------------------------------------------------------- prices


def read_prices_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a session's legacy ``prices.csv`` (ticks of all its symbols).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PRICE_COLUMNS` in file order (several trades may share a timestamp):
        ``timestamp`` ``datetime64[us, UTC]``, ``symbol`` ``str``, ``price`` and ``volume``
        float64.

    Raises
    ------
    MissingColumnsError
        A column is absent.
    InvalidInputError
        Naming the file and line: a timestamp that is not ISO-8601 UTC ending in ``Z`` (or is
        finer than a microsecond), an empty symbol, a price or volume that is not a finite
        number, and the CSV-level errors of :func:`read_indicator_csv`.
    """
    source = Path(path)
    table = _csv.read_table(source, required=PRICE_COLUMNS, what="prices CSV")
    raw = table.frame
    text = raw["timestamp"].str.strip()
    shaped = text.str.fullmatch(_ISO_UTC).to_numpy(dtype=bool)
    # Digits past the microsecond are checked (must be zeros) and cut, so parsing stays in "us".
    micro_text = text.str.replace(r"(\.\d{6})\d+Z$", r"\1Z", regex=True)
    stamps = pd.to_datetime(micro_text.where(shaped, None), format="ISO8601", utc=True, errors="coerce")
    invalid = stamps.isna().to_numpy(dtype=bool)
    row = _csv.first_row(invalid)
    if row is not None:
        table.report(
            row,
            f"timestamp {raw['timestamp'].iloc[row]!r} is not an ISO-8601 UTC time ending in 'Z' "
            "(like 2024-03-01T00:00:00.123456Z)",
        )
    beyond = text.str.extract(r"\.\d{6}(\d*)Z$")[0].fillna("").str.strip("0") != ""
    row = _csv.first_row(~invalid & beyond.to_numpy(dtype=bool))
    if row is not None:
        table.report(row, f"timestamp {raw['timestamp'].iloc[row]!r} is finer than a microsecond")
    row = _csv.first_row((raw["symbol"] == "").to_numpy(dtype=bool))
    if row is not None:
        table.report(row, "symbol is empty")
    price = _csv.parse_floats(table, "price", allow_empty=False, finite=True)
    volume = _csv.parse_floats(table, "volume", allow_empty=False, finite=True)
    table.check()
    frame = pd.DataFrame(
        {
            "timestamp": stamps.dt.as_unit("us"),
            "symbol": raw["symbol"].astype("str"),
            "price": price,
            "volume": volume,
        }
    )
    log.debug("%s: %d rows", source, len(frame), extra={"path": str(source), "rows": len(frame)})
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- checksum


def csv_checksum(legacy_file: LegacyFile, frame: pd.DataFrame) -> str:
    """Content checksum of an indicator file's rows, keyed by the ids of its PATH.

    Equal to :func:`qdbtools.checksum.values_checksum` of the same variant read from QuestDB
    when both hold the same timestamps, values and confidences.

    Parameters
    ----------
    legacy_file : LegacyFile
        An ``"indicators"`` file (gives session_id, symbol, variant_type, variant_id).
    frame : pandas.DataFrame
        Its rows, e.g. from :func:`read_indicator_csv` (``timestamp``, ``value``, ``confidence``).
    """
    if legacy_file.kind != "indicators":
        raise InvalidInputError(
            f"{legacy_file.path}: checksums cover indicator files, not {legacy_file.kind}"
        )
    missing = tuple(c for c in ("timestamp", "value", "confidence") if c not in frame)
    if missing:
        raise MissingColumnsError(f"frame lacks column(s) {', '.join(missing)}", missing=missing)
    assert legacy_file.symbol is not None and legacy_file.variant_id is not None
    return values_checksum(
        legacy_file.session_id,
        legacy_file.symbol,
        legacy_file.variant_type,
        legacy_file.variant_id,
        frame["timestamp"],
        frame["value"],
        frame["confidence"],
    )
