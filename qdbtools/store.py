"""The indicator store: append / overwrite / history on QuestDB, without row DELETE.

Every row of ``indicators`` belongs to a *generation*; the ledger ``indicator_generations``
says which generation of each variant key (session_id, symbol, indicator_type,
indicator_id) is current. Readers ask the ledger first and read exactly that generation.

- **overwrite** writes the new values as a fresh generation, waits until the server has
  applied them, then commits one ledger row per key in a single INSERT. Until that INSERT
  is applied, readers see the old generation; afterwards, the new one. A failure before
  the commit leaves an invisible orphan generation that :func:`prune` removes.
- **append** writes into the current generation (or starts one): DEDUP on (timestamp, ...,
  generation) makes a value at an existing timestamp replace the old one and makes resends
  idempotent. If an overwrite of the same key commits meanwhile, the append is redone
  into the new generation.
- **history**: superseded generations stay in the table and are readable with ``as_of=``
  until :func:`prune` rewrites the table without them.

The full argument is in ``docs/design/persistence.md``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from qdbtools.checksum import values_checksum
from qdbtools.exceptions import InvalidInputError, MissingColumnsError, WriteError
from qdbtools.io.engines import read_frame, resolve_engine
from qdbtools.io.literals import key_text, time_range_filter, to_utc_timestamp, utc_text
from qdbtools.io.market import constant_text
from qdbtools.io.writer import prepare_frame, write_frame
from qdbtools.schema import INDICATOR_KEYS, rebuild_table

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = [
    "PruneResult",
    "SaveResult",
    "current_generations",
    "history",
    "indicator_info",
    "list_indicators",
    "load_indicators",
    "prune",
    "save_indicators",
    "to_rows",
]

log = logging.getLogger(__name__)

Key = tuple[str | None, str]  # (indicator_type, indicator_id) within one session and symbol
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
LONG_COLUMNS = (
    "indicator_type",
    "indicator_id",
    "value",
    "confidence",
    "indicator_name",
    "metadata",
    "scope",
    "user_id",
    "created_by",
    "generation",
)
MODES = ("append", "overwrite")
_APPEND_ATTEMPTS = 3


@dataclass(frozen=True)
class SaveResult:
    """What :func:`save_indicators` stored.

    ``generations`` and ``checksums`` are keyed by indicator_id; the checksum covers the
    values sent in this call (see :mod:`qdbtools.checksum`).
    """

    rows: int
    mode: str
    generations: Mapping[str, int] = field(default_factory=dict)
    checksums: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0

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
    """A fresh generation id: microseconds since the epoch, then three random digits.

    Unique across processes in practice and ordered by creation time, which lets
    :func:`prune` tell an abandoned orphan from a save still in flight.
    """
    return time.time_ns() // 1000 * 1000 + random.randrange(1000)


# -- frames in ----------------------------------------------------------------------------


def _text(name: str, value: Any, *, allow_none: bool = False) -> str | None:
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
    _text("variant_type", variant_type)
    for name, value in (("scope", scope), ("user_id", user_id), ("created_by", created_by)):
        _text(name, value, allow_none=True)
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
            _text("variant column name", name)
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


# -- the ledger ---------------------------------------------------------------------------


def _in_list(column: str, values: Sequence[Any], prefix: str, params: dict[str, Any]) -> str:
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        names.append(f":{prefix}{i}")
    return f"{column} IN ({', '.join(names)})"


def _key_filter(keys: Iterable[tuple[str | None, str, int]], params: dict[str, Any]) -> str:
    terms = []
    for i, (indicator_type, indicator_id, generation) in enumerate(keys):
        params[f"i{i}"], params[f"g{i}"] = indicator_id, generation
        if indicator_type is None:
            type_term = "indicator_type IS NULL"
        else:
            params[f"t{i}"] = indicator_type
            type_term = f"indicator_type = :t{i}"
        terms.append(f"({type_term} AND indicator_id = :i{i} AND generation = :g{i})")
    return "(" + " OR ".join(terms) + ")"


def current_generations(
    db: Database,
    session_id: str,
    symbol: str,
    variant_ids: Sequence[str] | None = None,
    *,
    variant_type: str | None = None,
    as_of: Any = None,
) -> dict[Key, tuple[int, pd.Timestamp]]:
    """The committed generation of each variant key (at ``as_of``, when given)."""
    params: dict[str, Any] = {"s": session_id, "y": symbol}
    where = "session_id = :s AND symbol = :y"
    if variant_ids is not None:
        if not variant_ids:
            return {}
        where += " AND " + _in_list("indicator_id", list(variant_ids), "v", params)
    if variant_type is not None:
        params["t"] = variant_type
        where += " AND indicator_type = :t"
    if as_of is not None:
        params["as_of"] = utc_text(to_utc_timestamp(as_of, "as_of"))
        where += " AND committed_at <= :as_of"
    frame = db.sql(
        "SELECT indicator_type, indicator_id, generation, committed_at FROM indicator_generations "
        f"WHERE {where} LATEST ON committed_at PARTITION BY indicator_type, indicator_id",
        params,
    )
    return {
        (None if pd.isna(r.indicator_type) else r.indicator_type, r.indicator_id): (
            int(r.generation),
            pd.Timestamp(r.committed_at, tz="UTC"),
        )
        for r in frame.itertuples(index=False)
    }


def _commit(
    db: Database,
    session_id: str,
    symbol: str,
    mode: str,
    rows: pd.DataFrame,
    generations: Mapping[Key, int],
    checksums: Mapping[Key, str],
    created_by: str | None,
) -> None:
    """One INSERT (one WAL transaction) committing every key's generation."""
    params: dict[str, Any] = {"s": session_id, "y": symbol, "m": mode, "c": created_by}
    tuples = []
    grouped = rows.groupby(["indicator_type", "indicator_id"], dropna=False, sort=False)["timestamp"]
    stats = grouped.agg(["count", "min", "max"])
    for i, (key, generation) in enumerate(generations.items()):
        count, first, last = stats.loc[key]
        params.update(
            {
                f"t{i}": key[0],
                f"i{i}": key[1],
                f"g{i}": generation,
                f"n{i}": int(count),
                f"f{i}": utc_text(first),
                f"l{i}": utc_text(last),
                f"k{i}": checksums[key],
            }
        )
        tuples.append(f"(now(), :s, :y, :t{i}, :i{i}, :g{i}, :m, :n{i}, :f{i}, :l{i}, :k{i}, :c)")
    db.execute(
        "INSERT INTO indicator_generations (committed_at, session_id, symbol, indicator_type, indicator_id, "
        "generation, mode, rows, first_ts, last_ts, checksum, created_by) VALUES " + ", ".join(tuples),
        params,
    )


def _key_blocks(rows: pd.DataFrame) -> dict[Key, slice]:
    """Each variant key's rows, which :func:`to_rows` sorted into one contiguous block."""
    codes = rows.groupby(["indicator_type", "indicator_id"], dropna=False, sort=False).ngroup().to_numpy()
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    types, ids = rows["indicator_type"].to_numpy(dtype=object), rows["indicator_id"].to_numpy(dtype=object)
    return {
        (None if pd.isna(types[start]) else types[start], ids[start]): slice(int(start), int(end))
        for start, end in zip(starts, ends, strict=True)
    }


def save_indicators(
    db: Database,
    frame: pd.DataFrame,
    session_id: str,
    symbol: str,
    mode: Literal["append", "overwrite"] = "append",
    *,
    variant_type: str = "general",
    scope: str | None = None,
    user_id: str | None = None,
    created_by: str | None = None,
    wait: bool = True,
) -> SaveResult:
    """Store indicator values (see :meth:`qdbtools.Database.save_indicators`)."""
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
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
    if rows.empty:
        return SaveResult(0, mode, seconds=time.perf_counter() - started)
    blocks = _key_blocks(rows)
    keys = list(blocks)
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
    pending = set(keys)
    generations: dict[Key, int] = {}
    for _attempt in range(_APPEND_ATTEMPTS):
        ids = sorted({key[1] for key in pending})
        current = current_generations(db, session_id, symbol, ids) if mode == "append" else {}
        batch = {key: current[key][0] if key in current else new_generation() for key in pending}
        part = pd.concat([rows.iloc[blocks[key]] for key in batch], ignore_index=True)
        part["generation"] = np.repeat(
            np.array(list(batch.values()), dtype="int64"),
            [blocks[key].stop - blocks[key].start for key in batch],
        )
        # The rows must be applied before the ledger names their generation: wait regardless of `wait`.
        write_frame(db, part, "indicators", at="timestamp", symbols=SYMBOL_COLUMNS, wait=True)
        _commit(db, session_id, symbol, mode, part, batch, checksums, created_by)
        generations.update(batch)
        if mode == "overwrite":
            break
        db.wait_until_visible("indicator_generations")
        now_current = current_generations(db, session_id, symbol, ids)
        pending = {key for key, gen in batch.items() if now_current.get(key, (gen,))[0] != gen}
        if not pending:
            break
        log.info("append raced an overwrite; appending again", extra={"keys": sorted(map(str, pending))})
    else:
        raise WriteError(
            f"append to {sorted(k[1] for k in pending)} kept losing to concurrent overwrites; retry later"
        )
    if wait:
        db.wait_until_visible("indicator_generations")
    result = SaveResult(
        rows=len(rows),
        mode=mode,
        generations={key[1]: gen for key, gen in generations.items()},
        checksums={key[1]: value for key, value in checksums.items()},
        seconds=time.perf_counter() - started,
    )
    log.info(
        "saved indicators",
        extra={"session_id": session_id, "symbol": symbol, "rows": len(rows), "mode": mode},
    )
    return result


# -- reading ------------------------------------------------------------------------------


def _variant_list(variant_id: str | Sequence[str] | None) -> list[str] | None:
    if variant_id is None:
        return None
    ids = [variant_id] if isinstance(variant_id, str) else list(variant_id)
    for value in ids:
        _text("variant_id", value)
    return ids


#: Column dtypes of a long frame, the same from both read engines (text: ``str``, NULL is NaN).
LONG_DTYPES = {c: "str" for c in LONG_COLUMNS} | {
    "value": "float64",
    "confidence": "float64",
    "generation": "Int64",
}


def _pinned_columns(current: Mapping[Key, tuple[int, pd.Timestamp]]) -> dict[str, Any]:
    """Builders of the long columns that the one variant key in ``current`` fixes."""
    ((indicator_type, indicator_id), (generation, _)) = next(iter(current.items()))
    pinned: dict[str, Any] = {
        "indicator_id": partial(constant_text, indicator_id),
        "generation": lambda rows: pd.Series(np.full(rows, generation, dtype="int64")),
    }
    if indicator_type is not None:
        pinned["indicator_type"] = partial(constant_text, indicator_type)
    return pinned


def _empty_long() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=LONG_DTYPES[c]) for c in LONG_COLUMNS})
    frame.index = pd.DatetimeIndex([], tz="UTC", name="timestamp").as_unit("us")
    return frame


def load_indicators(
    db: Database,
    session_id: str,
    symbol: str,
    variant_id: str | Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    limit: int | None = None,
    as_of: Any = None,
    shape: Literal["wide", "long"] = "wide",
    *,
    variant_type: str | None = None,
    engine: str = "auto",
) -> pd.DataFrame:
    """Read the current (or ``as_of``) values (see :meth:`qdbtools.Database.load_indicators`)."""
    if shape not in ("wide", "long"):
        raise InvalidInputError(f"shape must be 'wide' or 'long', got {shape!r}")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit == 0):
        raise InvalidInputError(f"limit must be a non-zero integer (negative = the last rows), got {limit!r}")
    session_id, symbol = key_text("session_id", session_id), key_text("symbol", symbol)
    ids = _variant_list(variant_id)
    current = current_generations(db, session_id, symbol, ids, variant_type=variant_type, as_of=as_of)
    if not current:
        long = _empty_long()
    else:
        params: dict[str, Any] = {"s": session_id, "y": symbol}
        where = "session_id = :s AND symbol = :y AND " + _key_filter(
            ((t, i, g) for (t, i), (g, _) in current.items()), params
        )
        where += time_range_filter(start, end, params)
        single = len(current) == 1 or shape == "long"
        order = "timestamp DESC" if (limit is not None and limit < 0 and single) else "timestamp"
        sql_limit = f" LIMIT {abs(limit)}" if limit is not None and single else ""
        # Columns that one variant key pins to one value are filled in here, not exported.
        constants = _pinned_columns(current) if len(current) == 1 else {}
        if shape == "wide":
            fetched = ["value"] if constants else ["indicator_id", "value"]
        else:
            fetched = [c for c in LONG_COLUMNS if c not in constants]
        query = f"SELECT timestamp, {', '.join(fetched)} FROM indicators WHERE {where} ORDER BY {order}"
        query += sql_limit
        raw = read_frame(db, query, params, resolve_engine(db, engine))
        stamps = pd.to_datetime(raw.pop("timestamp"))
        stamps = stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps.dt.tz_convert("UTC")
        raw.index = pd.DatetimeIndex(stamps.dt.as_unit("us"), name="timestamp")
        if shape == "long":
            for name, value in constants.items():
                raw[name] = value(len(raw)).set_axis(raw.index)
            raw = raw[list(LONG_COLUMNS)]
        dtypes = {name: dtype for name, dtype in LONG_DTYPES.items() if name in raw.columns}
        long = raw.astype(dtypes).sort_index(kind="stable")
    if shape == "long":
        return long
    stored_ids = [key[1] for key in current]
    clashing = sorted({i for i in stored_ids if stored_ids.count(i) > 1})
    if clashing:
        raise InvalidInputError(
            f"{clashing} are stored under several variant types; pass variant_type= to choose one, "
            "or use shape='long'"
        )
    columns = ids if ids is not None else sorted(stored_ids)
    if len(current) == 1:
        wide = pd.DataFrame({stored_ids[0]: long["value"].to_numpy()}, index=long.index)
    else:
        wide = long.set_index("indicator_id", append=True)["value"].unstack("indicator_id")
    wide = wide.reindex(columns=columns).rename_axis(columns=None)
    wide.index = pd.DatetimeIndex(wide.index, name="timestamp").as_unit("us")
    if limit is not None:
        wide = wide.head(limit) if limit > 0 else wide.tail(-limit)
    return wide.astype("float64")


def history(
    db: Database, session_id: str, symbol: str, variant_id: str, *, variant_type: str | None = None
) -> pd.DataFrame:
    """Every ledger entry of one variant, oldest first (generation, mode, rows, checksum ...)."""
    params: dict[str, Any] = {"s": session_id, "y": symbol, "i": _text("variant_id", variant_id)}
    where = "session_id = :s AND symbol = :y AND indicator_id = :i"
    if variant_type is not None:
        params["t"] = variant_type
        where += " AND indicator_type = :t"
    return db.sql(
        "SELECT committed_at, indicator_type, generation, mode, rows, first_ts, last_ts, checksum, "
        f"created_by FROM indicator_generations WHERE {where} ORDER BY committed_at",
        params,
    )


def indicator_info(
    db: Database, session_id: str, symbol: str, variant_id: str, *, variant_type: str | None = None
) -> dict[str, Any]:
    """What is stored for one variant (see :meth:`qdbtools.Database.indicator_info`)."""
    current = current_generations(
        db, session_id, symbol, [_text("variant_id", variant_id)], variant_type=variant_type
    )
    info: dict[str, Any] = {
        "exists": False,
        "rows": 0,
        "first_timestamp": None,
        "last_timestamp": None,
        "path": f"questdb://indicators/{session_id}/{symbol}/{variant_id}",
        "storage": "questdb",
        "variant_type": variant_type,
        "generation": None,
        "committed_at": None,
        "generations": 0,
    }
    if len(current) > 1:
        raise InvalidInputError(
            f"{variant_id!r} is stored under variant types {sorted(str(k[0]) for k in current)}; "
            "pass variant_type="
        )
    if current:
        ((key, (generation, committed_at)),) = current.items()
        params: dict[str, Any] = {"s": session_id, "y": symbol}
        where = _key_filter([(key[0], key[1], generation)], params)
        stats = db.sql(
            f"SELECT count() AS n, min(timestamp) AS first, max(timestamp) AS last FROM indicators "
            f"WHERE session_id = :s AND symbol = :y AND {where}",
            params,
        ).iloc[0]
        info.update(
            exists=int(stats["n"]) > 0,
            rows=int(stats["n"]),
            variant_type=key[0],
            generation=generation,
            committed_at=committed_at,
            first_timestamp=pd.Timestamp(stats["first"], tz="UTC") if int(stats["n"]) else None,
            last_timestamp=pd.Timestamp(stats["last"], tz="UTC") if int(stats["n"]) else None,
            generations=len(
                history(db, session_id, symbol, variant_id, variant_type=key[0])["generation"].unique()
            ),
        )
    disk = db.sql(
        "SELECT sum(diskSize) AS bytes, sum(numRows) AS rows FROM table_partitions('indicators')"
    ).iloc[0]
    table_rows = int(disk["rows"] or 0)
    info["table_disk_bytes"] = int(disk["bytes"] or 0)
    info["size_bytes_estimate"] = (
        round(info["rows"] * info["table_disk_bytes"] / table_rows) if table_rows else 0
    )
    info["size_note"] = (
        "table_disk_bytes is measured (table_partitions('indicators')); size_bytes_estimate is this "
        "variant's share of it by row count - QuestDB does not report disk use per variant"
    )
    return info


def list_indicators(db: Database, session_id: str | None = None, symbol: str | None = None) -> pd.DataFrame:
    """One row per stored variant: ids, current generation, commit time, rows, first/last timestamp."""
    params: dict[str, Any] = {}
    filters = []
    for column, value in (("session_id", session_id), ("symbol", symbol)):
        if value is not None:
            params[column] = key_text(column, value)
            filters.append(f"{column} = :{column}")
    where = ("WHERE " + " AND ".join(filters)) if filters else ""
    ledger = db.sql(
        "SELECT session_id, symbol, indicator_type, indicator_id, generation, committed_at "
        f"FROM indicator_generations {where} "
        "LATEST ON committed_at PARTITION BY session_id, symbol, indicator_type, indicator_id",
        params,
    )
    counts = db.sql(
        "SELECT session_id, symbol, indicator_type, indicator_id, generation, count() AS rows, "
        f"min(timestamp) AS first_timestamp, max(timestamp) AS last_timestamp FROM indicators {where}",
        params,
    )
    keys = ["session_id", "symbol", "indicator_type", "indicator_id", "generation"]
    listing = ledger.merge(counts, on=keys, how="left")
    listing["rows"] = listing["rows"].fillna(0).astype("int64")
    for column in ("committed_at", "first_timestamp", "last_timestamp"):
        listing[column] = pd.to_datetime(listing[column]).dt.tz_localize("UTC")
    return listing.sort_values(keys[:4], ignore_index=True)


# -- prune --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneResult:
    """What :func:`prune` removed (or, with ``dry_run``, would remove)."""

    rows_removed: int
    superseded_generations: int
    orphan_generations: int
    dry_run: bool


def _prune_plan(
    db: Database, session_id: str | None, symbol: str | None, keep_history: int, orphan_grace: float
) -> tuple[list[tuple[str, str, str | None, str, int]], int, int, int]:
    ledger = db.sql(
        "SELECT session_id, symbol, indicator_type, indicator_id, generation, "
        "max(committed_at) AS committed_at FROM indicator_generations"
    )
    stored = db.sql(
        "SELECT session_id, symbol, indicator_type, indicator_id, generation, count() AS n FROM indicators"
    )
    keep: set[tuple[Any, ...]] = set()
    committed: set[tuple[Any, ...]] = set()
    key_columns = ["session_id", "symbol", "indicator_type", "indicator_id"]
    for key, part in ledger.groupby(key_columns, dropna=False, sort=False):
        ranked = part.sort_values("committed_at", ascending=False)["generation"].tolist()
        keep.update((*key, int(g)) for g in ranked[: 1 + keep_history])
        committed.update((*key, int(g)) for g in ranked)
    cutoff = (time.time() - orphan_grace) * 1e9
    drops, superseded, orphans, rows = [], 0, 0, 0
    for r in stored.itertuples(index=False):
        entry = (
            r.session_id,
            r.symbol,
            None if pd.isna(r.indicator_type) else r.indicator_type,
            r.indicator_id,
            int(r.generation),
        )
        in_scope = (session_id is None or r.session_id == session_id) and (
            symbol is None or r.symbol == symbol
        )
        if not in_scope or entry in keep:
            continue
        if entry in committed:
            superseded += 1
        elif 0 < entry[4] < cutoff:
            orphans += 1  # never committed and older than the grace period: an abandoned save
        else:
            continue  # possibly a save still in flight
        drops.append(entry)
        rows += int(r.n)
    return drops, superseded, orphans, rows


def prune(
    db: Database,
    session_id: str | None = None,
    symbol: str | None = None,
    *,
    keep_history: int = 0,
    orphan_grace: float = 3600.0,
    dry_run: bool = False,
) -> PruneResult:
    """Remove superseded generations and abandoned orphans from ``indicators``.

    QuestDB has no row DELETE, so the table is rewritten: the rows to keep are copied to
    a new table, which replaces ``indicators`` by RENAME once its row count is verified.
    The current generation of every variant is always kept, plus ``keep_history`` earlier
    ones; uncommitted generations younger than ``orphan_grace`` seconds are kept too (a
    save may still be in flight). If any save changes ``indicators`` while the copy is
    made, nothing is replaced and :class:`WriteError` asks to retry. Run it when no saves
    are expected: a load during the two RENAMEs fails with a clear error rather than
    returning wrong data.
    """
    if not isinstance(keep_history, int) or keep_history < 0:
        raise InvalidInputError(f"keep_history must be an integer >= 0, got {keep_history!r}")
    drops, superseded, orphans, rows = _prune_plan(db, session_id, symbol, keep_history, orphan_grace)
    result = PruneResult(rows, superseded, orphans, dry_run)
    if dry_run or not drops:
        return result
    params: dict[str, Any] = {}
    terms = []
    for i, (sid, sym, indicator_type, indicator_id, generation) in enumerate(drops):
        params.update({f"s{i}": sid, f"y{i}": sym, f"i{i}": indicator_id, f"g{i}": generation})
        type_term = "indicator_type IS NULL" if indicator_type is None else f"indicator_type = :t{i}"
        if indicator_type is not None:
            params[f"t{i}"] = indicator_type
        terms.append(
            f"(session_id = :s{i} AND symbol = :y{i} AND {type_term} AND indicator_id = :i{i} "
            f"AND generation = :g{i})"
        )
    rebuild_table(
        db,
        "indicators",
        dedup_keys=INDICATOR_KEYS,
        where=f"NOT ({' OR '.join(terms)})",
        params=params,
        removed_rows=rows,
    )
    log.info("pruned indicators", extra={"rows": rows, "superseded": superseded, "orphans": orphans})
    return result
