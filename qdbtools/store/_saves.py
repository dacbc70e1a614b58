"""Saves: each variant's values and its commit marker in one request, one WAL transaction.

A save never reads before it writes and never waits for the server to apply it: it returns
when the server has acknowledged the request, i.e. durably committed it to the table's WAL.
Overwrite and append differ only in the marker's ``commit_mode`` (see :mod:`._commits`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from qdbtools.checksum import values_checksum
from qdbtools.display import html_table
from qdbtools.exceptions import InvalidInputError
from qdbtools.io.literals import utc_text
from qdbtools.io.writer import write_frame
from qdbtools.names import natural_sorted
from qdbtools.schema import MARKER_SESSION_COLUMN, marker_session_key
from qdbtools.store._commits import MODES, Key, committed
from qdbtools.store._rows import DEFAULT_VARIANT_TYPE, SYMBOL_COLUMNS, to_rows

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = [
    "SAVE_REQUEST_ROWS",
    "SaveResult",
    "marker_details",
    "marker_row",
    "new_generation",
    "save_indicators",
    "save_rows",
]

log = logging.getLogger(__name__)

#: Rows per request at most. A save that fits is one request (one transaction); a larger one
#: is sent in several, with the markers in the last: until that one is applied, none count.
SAVE_REQUEST_ROWS = 1_000_000
#: Bytes per request to aim for: the client refuses buffers over 100 MiB (``max_buf_size``).
REQUEST_BYTES = 48 * 1024 * 1024

_generation_lock = threading.Lock()
_last_generation = 0


@dataclass(frozen=True)
class SaveResult:
    """What :func:`save_indicators` stored.

    ``generations`` and ``checksums`` are keyed by indicator_id; the checksum covers the
    values sent in this call (see :mod:`qdbtools.checksum`). ``committed_at`` is the save's
    place in commit order: ``load_indicators(..., as_of=committed_at)`` includes it.
    ``unchanged`` lists the variants that ``skip_unchanged=True`` did not write again.
    """

    rows: int
    mode: str
    generations: Mapping[str, int] = field(default_factory=dict)
    checksums: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    committed_at: pd.Timestamp | None = None
    unchanged: tuple[str, ...] = ()

    def __repr__(self) -> str:
        ids = ", ".join(natural_sorted(self.generations)[:4]) + (" ..." if len(self.generations) > 4 else "")
        when = "" if self.committed_at is None else f", committed_at={self.committed_at.isoformat()}"
        skipped = f", unchanged={len(self.unchanged)}" if self.unchanged else ""
        return (
            f"SaveResult(rows={self.rows:,}, mode={self.mode!r}, variants=[{ids}]{skipped}{when}, "
            f"seconds={self.seconds:.3f})"
        )

    def _repr_html_(self) -> str:
        return html_table(
            "SaveResult",
            {
                "rows": f"{self.rows:,}",
                "mode": self.mode,
                "variants": ", ".join(natural_sorted(self.generations)) or "-",
                "unchanged": ", ".join(self.unchanged) or "-",
                "committed_at": "-" if self.committed_at is None else self.committed_at.isoformat(),
                "seconds": f"{self.seconds:.3f}",
            },
        )

    @property
    def generation(self) -> int | None:
        """The generation when one variant was saved (None for several)."""
        values = set(self.generations.values())
        return values.pop() if len(values) == 1 else None

    @property
    def checksum(self) -> str | None:
        """The checksum when one variant was saved."""
        return next(iter(self.checksums.values())) if len(self.checksums) == 1 else None


def new_generation() -> int:
    """A fresh save id: microseconds since the epoch, then three random digits.

    Strictly increasing within a process, microseconds included (so two saves of one
    process never share a ``written_at``); the random digits keep two processes apart.
    """
    global _last_generation
    with _generation_lock:
        micros = max(time.time_ns() // 1000, _last_generation // 1000 + 1)
        _last_generation = micros * 1000 + random.randrange(1000)
        return _last_generation


def _key_blocks(rows: pd.DataFrame) -> dict[Key, slice]:
    """Each variant key's rows, which :func:`to_rows` sorted into one contiguous block."""
    types, ids = rows["indicator_type"].array, rows["indicator_id"].array
    codes = types.codes.astype("int64") * (len(ids.categories) + 1) + ids.codes
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    return {
        (
            None if types.codes[start] < 0 else types.categories[types.codes[start]],
            ids.categories[ids.codes[start]],
        ): slice(int(start), int(end))
        for start, end in zip(starts, ends, strict=True)
    }


def marker_row(
    key: Key,
    session_id: str,
    symbol: str,
    mode: str,
    details: Mapping[str, Any],
    generation: int,
    written_at: dt.datetime,
    created_by: str | None,
) -> dict[str, Any]:
    """``Buffer.row`` arguments of one key's commit marker (``details``: rows, first, last, checksum)."""
    symbols = {
        "session_id": session_id,
        "symbol": symbol,
        "indicator_id": key[1],
        "commit_mode": mode,
        MARKER_SESSION_COLUMN: marker_session_key(session_id),
    }
    if key[0] is not None:
        symbols["indicator_type"] = key[0]
    if created_by is not None:
        symbols["created_by"] = created_by
    columns = {"generation": generation, "timestamp": written_at, "metadata": json.dumps(dict(details))}
    return {"symbols": symbols, "columns": columns, "at": written_at}


def marker_details(rows: int, first: Any, last: Any, checksum: str, keys: int) -> dict[str, Any]:
    """What a marker records of its save's values of one key (``keys``: how many its save wrote)."""
    return {
        "rows": rows,
        "first": utc_text(first),
        "last": utc_text(last),
        "checksum": checksum,
        "keys": keys,
    }


def _rows_per_request(rows: pd.DataFrame) -> int:
    """Rows per request that keep its ILP text under :data:`REQUEST_BYTES` (a generous estimate).

    Text columns count 4 bytes per character (UTF-8's most) unless that would split the
    rows, in which case their exact encoded lengths are measured.
    """
    per_row = 32 * len(rows.columns)  # column name, separators and a number's text
    texts = []
    for name, dtype in rows.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            per_row += max((len(str(c).encode()) for c in dtype.categories), default=0)
        elif getattr(dtype, "kind", None) == "O":
            texts.append([v for v in pd.unique(rows[name].to_numpy()) if isinstance(v, str)])  # distinct
    longest = [max(map(len, values), default=0) for values in texts]
    if len(rows) * (per_row + 4 * sum(longest)) > REQUEST_BYTES:
        longest = [max((len(v.encode()) for v in values), default=0) for values in texts]
    return max(1, min(SAVE_REQUEST_ROWS, REQUEST_BYTES // (per_row + sum(longest))))


def _ids(keys: set[Key]) -> tuple[str, ...]:
    return tuple(sorted(key[1] for key in keys))


def _unchanged(
    db: Database, session_id: str, symbol: str, mode: str, checksums: Mapping[Key, str]
) -> set[Key]:
    """Keys whose latest save wrote exactly these values, so that saving them again changes nothing.

    For an overwrite, that save must be an overwrite too (after an append, the current set
    holds more than its values).
    """
    saves = committed(db, session_id, symbol, sorted({key[1] for key in checksums}), details=True)
    same = set()
    for (_, _, indicator_type, indicator_id), commits in saves.items():
        key, last = (indicator_type, indicator_id), commits[-1]
        same_values = key in checksums and last.detail("checksum") == checksums[key]
        if same_values and (mode == "append" or last.mode == "overwrite"):
            same.add(key)
    return same


def save_indicators(
    db: Database,
    frame: pd.DataFrame,
    session_id: str,
    symbol: str,
    mode: Literal["append", "overwrite"] = "append",
    *,
    variant_type: str = DEFAULT_VARIANT_TYPE,
    scope: str | None = None,
    user_id: str | None = None,
    created_by: str | None = None,
    wait: bool = False,
    skip_unchanged: bool = False,
) -> SaveResult:
    """Store indicator values (see :meth:`qdbtools.Database.save_indicators`)."""
    started = time.perf_counter()
    rows = to_rows(
        frame,
        session_id=session_id,
        symbol=symbol,
        variant_type=variant_type,
        scope=scope,
        user_id=user_id,
        created_by=created_by,
    )
    return save_rows(
        db,
        rows,
        session_id,
        symbol,
        mode,
        created_by=created_by,
        wait=wait,
        skip_unchanged=skip_unchanged,
        started=started,
    )


def save_rows(
    db: Database,
    rows: pd.DataFrame,
    session_id: str,
    symbol: str,
    mode: str,
    *,
    created_by: str | None = None,
    wait: bool = False,
    skip_unchanged: bool = False,
    started: float | None = None,
) -> SaveResult:
    """Send rows shaped as :func:`~qdbtools.store.to_rows` returns them, with their commit markers."""
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    db.require_schema()
    started = time.perf_counter() if started is None else started
    if rows.empty:
        return SaveResult(0, mode, seconds=time.perf_counter() - started)
    generation = new_generation()
    written_at = pd.Timestamp(generation // 1000, unit="us", tz="UTC")
    blocks = _key_blocks(rows)
    checksums = {
        key: values_checksum(
            session_id,
            symbol,
            key[0],
            key[1],
            rows["timestamp"].iloc[block],
            rows["value"].iloc[block],
            rows["confidence"].iloc[block],
        )
        for key, block in blocks.items()
    }
    unchanged = _unchanged(db, session_id, symbol, mode, checksums) if skip_unchanged else set()
    if unchanged:
        blocks = {key: block for key, block in blocks.items() if key not in unchanged}
        keep = np.zeros(len(rows), dtype=bool)
        for block in blocks.values():
            keep[block] = True
        rows = rows[keep].reset_index(drop=True)
        blocks = _key_blocks(rows) if len(rows) else {}
    if not blocks:
        return SaveResult(0, mode, seconds=time.perf_counter() - started, unchanged=_ids(unchanged))
    markers = []
    for key, block in blocks.items():
        stamps = rows["timestamp"].iloc[block]
        details = marker_details(len(stamps), stamps.iloc[0], stamps.iloc[-1], checksums[key], len(blocks))
        markers.append(
            marker_row(
                key, session_id, symbol, mode, details, generation, written_at.to_pydatetime(), created_by
            )
        )
    rows["written_at"] = written_at
    rows["generation"] = generation
    write_frame(
        db.transport,
        rows,
        "indicators",
        at="written_at",
        symbols=SYMBOL_COLUMNS,
        wait=wait,
        chunk_rows=_rows_per_request(rows),
        prepared=True,
        trailing_rows=markers,
    )
    result = SaveResult(
        rows=len(rows),
        mode=mode,
        generations={key[1]: generation for key in blocks},
        checksums={key[1]: value for key, value in checksums.items()},
        seconds=time.perf_counter() - started,
        committed_at=written_at,
        unchanged=_ids(unchanged),
    )
    log.info(
        "saved %d indicator values of %d variants (%s) for %r/%r",
        len(rows),
        len(blocks),
        mode,
        session_id,
        symbol,
        extra={"session_id": session_id, "symbol": symbol, "rows": len(rows), "mode": mode},
    )
    return result
