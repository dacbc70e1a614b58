"""Saves of one variant held column by column (the persistence service's values).

A small save (up to :data:`~qdbtools.io.small_frames.ROW_BY_ROW_MAX_ROWS` values) goes
straight from the columns to ``Buffer.row`` calls: no DataFrame is built, which is most of
its cost otherwise. A larger one becomes rows (:func:`~._rows.rows_from_columns`) and goes
through :func:`~._saves.save_rows`. Both store the same rows and the same marker, the
validation is shared (:func:`~._rows.stored_positions`), and either is one request.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from questdb import TimestampMicros

from qdbtools.checksum import micros_checksum
from qdbtools.exceptions import InvalidInputError
from qdbtools.io.small_frames import ROW_BY_ROW_MAX_ROWS
from qdbtools.io.writer import send_rows
from qdbtools.store._commits import MODES
from qdbtools.store._rows import VariantColumns, row_text, rows_from_columns, save_key, stored_positions
from qdbtools.store._saves import (
    REQUEST_BYTES,
    SaveResult,
    marker_details,
    marker_row,
    new_generation,
    save_rows,
)

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = ["save_columns"]


def _texts(name: str, items: Any, picks: np.ndarray, default: str | None) -> list[str | None]:
    """The picked items of one text column (None: ``default``), each a string or None."""
    if items is None:
        return [default] * len(picks)
    chosen = [items[p] for p in picks.tolist()]
    for value in set(chosen) - {None}:
        row_text(name, value)
    return chosen if default is None else [default if v is None else v for v in chosen]


def _fits_row_by_row(columns: VariantColumns) -> bool:
    if len(columns.micros) > ROW_BY_ROW_MAX_ROWS:
        return False
    texts = columns.metadata or ()
    return sum(map(len, filter(None, texts))) < REQUEST_BYTES // 4


def save_columns(db: Database, columns: VariantColumns, mode: str, *, wait: bool = False) -> SaveResult:
    """Store one variant's values with its commit marker in one request (see the module docs)."""
    started = time.perf_counter()
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    save_key("session_id", columns.session_id), save_key("symbol", columns.symbol)
    db.require_schema()
    if not _fits_row_by_row(columns):
        frame = rows_from_columns(columns)
        return save_rows(db, frame, columns.session_id, columns.symbol, mode, wait=wait, started=started)
    picks = stored_positions(columns)
    names = _texts("indicator_name", columns.names, picks, columns.indicator_id)
    extra = {
        name: _texts(name, getattr(columns, name), picks, None) for name in ("scope", "user_id", "created_by")
    }
    metadata = (
        [None] * len(picks) if columns.metadata is None else [columns.metadata[p] for p in picks.tolist()]
    )
    if not len(picks):
        return SaveResult(0, mode, seconds=time.perf_counter() - started)
    micros = columns.micros[picks]
    values, confidence = columns.values[picks], columns.confidence[picks]
    key = (columns.indicator_type, columns.indicator_id)
    checksum = micros_checksum(columns.session_id, columns.symbol, *key, micros, values, confidence)
    generation = new_generation()
    written_at = TimestampMicros(generation // 1000)
    fixed = {
        "session_id": columns.session_id,
        "symbol": columns.symbol,
        "indicator_type": columns.indicator_type,
        "indicator_id": columns.indicator_id,
    }
    if columns.scope is None and columns.user_id is None and columns.created_by is None:
        symbols: Iterable[dict[str, Any]] = itertools.repeat(fixed, len(picks))  # one dict, every row
    else:
        texts = zip(extra["scope"], extra["user_id"], extra["created_by"], strict=True)
        symbols = ({**fixed, "scope": s, "user_id": u, "created_by": c} for s, u, c in texts)
    rows = [
        {
            "symbols": row_symbols,
            "columns": {
                "timestamp": TimestampMicros(stamp),
                "indicator_name": name,
                "value": value,
                "confidence": conf,
                "metadata": meta,
                "generation": generation,
            },
            "at": written_at,
        }
        for stamp, name, value, conf, meta, row_symbols in zip(
            micros.tolist(), names, values.tolist(), confidence.tolist(), metadata, symbols, strict=True
        )
    ]
    first, last = (pd.Timestamp(int(m), unit="us", tz="UTC") for m in (micros[0], micros[-1]))
    details = marker_details(len(rows), first, last, checksum, 1)
    committed_at = pd.Timestamp(generation // 1000, unit="us", tz="UTC")
    marker = marker_row(
        key, columns.session_id, columns.symbol, mode, details, generation, committed_at.to_pydatetime(), None
    )
    send_rows(db.transport, "indicators", [*rows, marker], wait=wait)
    return SaveResult(
        rows=len(rows),
        mode=mode,
        generations={columns.indicator_id: generation},
        checksums={columns.indicator_id: checksum},
        seconds=time.perf_counter() - started,
        committed_at=committed_at,
    )
