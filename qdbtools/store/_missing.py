"""What a load asked for that is not stored: multi-output base names, and the NoDataError
that names the close matches which ARE stored.

Only a load whose keys are not all stored comes here; the queries below (markers only, bound
parameters) run on that path alone. A key that is stored but has no values in the load's
time window is not missing: that load is empty, like a date range of ArcticDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qdbtools.exceptions import InvalidVariantError, NoDataError
from qdbtools.names import natural_key, natural_sorted, nearby
from qdbtools.schema import MARKER_SESSION_COLUMN, marker_session_key
from qdbtools.store._commits import Commit, Key, committed

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = ["OPT_OUT", "expand_outputs", "is_missing", "require_stored"]

OPT_OUT = "pass missing_ok=True to get an empty frame instead"
_MARKERS = "commit_mode IN ('overwrite', 'append')"


def _output_order(base: str) -> list[str]:
    """The outputs of a registered multi-output variant in the order ``compute`` makes them."""
    from qdbtools.indicators import parse_variant  # the indicator engine (and numba): on first use

    try:
        return list(parse_variant(base).outputs)
    except InvalidVariantError:  # not a registered name: the stored outputs' natural order
        return []


def expand_outputs(
    ids: Sequence[str],
    state: dict[Key, list[Commit]],
    pair_state: dict[Key, list[Commit]],
) -> tuple[list[str], dict[Key, list[Commit]]]:
    """Requested ids with each base name that is not stored replaced by its stored outputs.

    ``MACD_12_26_9`` becomes ``MACD_12_26_9.macd, .signal, .hist`` when those are stored
    (``pair_state``: every key of the pair); the state grows by their keys.
    """
    stored = {key[1] for key in state}
    expanded: list[str] = []
    for variant_id in ids:
        prefix = variant_id + "."
        outputs = {key[1] for key in pair_state if key[1].startswith(prefix)}
        if variant_id in stored or not outputs:
            expanded.append(variant_id)
            continue
        order = {name: position for position, name in enumerate(_output_order(variant_id))}
        expanded.extend(sorted(outputs, key=lambda name: (order.get(name, len(order)), natural_key(name))))
    wanted = set(expanded)
    return expanded, {key: commits for key, commits in pair_state.items() if key[1] in wanted}


def is_missing(ids: Sequence[str] | None, state: dict[Key, list[Commit]]) -> bool:
    """True when a requested id (or, for all ids, every key) has no state."""
    return not state if ids is None else not {key[1] for key in state} >= set(ids)


def _distinct(db: Database, column: str, where: str, params: dict[str, Any]) -> list[str]:
    rows = db.fetch_rows(f"SELECT DISTINCT {column} FROM indicators WHERE {where}", params)
    return natural_sorted(str(row[0]) for row in rows if row[0] is not None)


def _missing_variant(
    variant_id: str,
    saves: dict[tuple[str, str, str | None, str], list[Commit]],
    *,
    variant_type: str | None,
    as_of: Any,
) -> str:
    """Why one variant id of a stored pair is not in the load, and what is stored near it."""
    types = natural_sorted(str(key[2]) for key in saves if key[3] == variant_id)
    if types and variant_type is not None and variant_type not in types:
        return (
            f"variant {variant_id!r} is stored under variant type(s) {', '.join(map(repr, types))}, "
            f"not variant_type={variant_type!r}"
        )
    if types and as_of is not None:
        first = min(c.committed_at for key, cs in saves.items() if key[3] == variant_id for c in cs)
        return (
            f"variant {variant_id!r} has no save committed at or before as_of={as_of!r} (its first: {first})"
        )
    if types:  # its markers became visible after the load resolved its state
        return f"variant {variant_id!r} was committed while this load ran: load it again"
    stored = {key[3] for key in saves}
    return f"variant {variant_id!r} is not stored ({nearby(variant_id, stored, 'variants of the pair')})"


def require_stored(
    db: Database,
    session_id: str,
    symbol: str,
    ids: Sequence[str] | None,
    state: dict[Key, list[Commit]],
    *,
    variant_type: str | None,
    as_of: Any,
) -> None:
    """Raise :class:`~qdbtools.NoDataError` unless every requested key (or, for all, any) is stored."""
    if not is_missing(ids, state):
        return
    stored = {key[1] for key in state}
    missing = [i for i in ids if i not in stored] if ids is not None else [None]
    pair = f"session_id={session_id!r}, symbol={symbol!r}"
    params: dict[str, Any] = {"k": marker_session_key(session_id), "s": session_id}
    symbols = _distinct(
        db, "symbol", f"{MARKER_SESSION_COLUMN} = :k AND session_id = :s AND {_MARKERS}", params
    )
    if not symbols:
        sessions = _distinct(db, "session_id", _MARKERS, {})
        near = nearby(session_id, sessions, "sessions")
        raise NoDataError(f"no indicators are stored for session_id={session_id!r} ({near}); {OPT_OUT}")
    if symbol not in symbols:
        raise NoDataError(
            f"session_id={session_id!r} stores no indicators for symbol={symbol!r} "
            f"({nearby(symbol, symbols, 'symbols of the session')}); {OPT_OUT}"
        )
    saves = committed(db, session_id, symbol)
    if ids is None:
        types = natural_sorted({str(key[2]) for key in saves})
        reason = (
            f"no variant of variant_type={variant_type!r} is stored (stored types: "
            f"{', '.join(map(repr, types))})"
            if variant_type is not None and variant_type not in types
            else f"nothing was committed at or before as_of={as_of!r}"
            if as_of is not None
            else "no variants are stored"
        )
        raise NoDataError(f"{reason} for {pair}; {OPT_OUT}")
    reasons = [_missing_variant(i, saves, variant_type=variant_type, as_of=as_of) for i in missing if i]
    raise NoDataError(f"{'; '.join(reasons)} for {pair}; {OPT_OUT}")
