"""Names of stored things (sessions, symbols, variants, intervals): their natural order and
the stored names close to one that is not stored.

>>> sorted(["RSI_10", "RSI_7", "EMA_12"], key=natural_key)
['EMA_12', 'RSI_7', 'RSI_10']
>>> close_matches("rsi_14", ["RSI_14", "RSI_140", "EMA_12"])
['RSI_14', 'RSI_140']
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Sequence
from typing import TypeVar

__all__ = [
    "close_matches",
    "natural_key",
    "natural_ranks",
    "natural_sorted",
    "naturally_sorted_keys",
    "nearby",
]

_DIGITS = re.compile(r"(\d+)")

#: Stored names a message lists at most when none is close to the one asked for.
LISTED = 8


def natural_key(name: str | None) -> tuple[tuple[str | int, ...], str]:
    """The sort key of a name: digit runs compare as numbers (``RSI_7`` before ``RSI_10``).

    None sorts first; names whose numbers are equal (``RSI_07``, ``RSI_7``) keep a fixed order.
    """
    if name is None:
        return (), ""
    parts = _DIGITS.split(name)  # text, digits, text, ...: the types alternate at fixed positions
    return tuple(int(part) if i % 2 else part for i, part in enumerate(parts)), name


def natural_sorted(names: Iterable[str]) -> list[str]:
    """``names`` in natural order (:func:`natural_key`)."""
    return sorted(names, key=natural_key)


K = TypeVar("K", bound=Sequence[str | None])


#: Up to this many keys are sorted by their parts' (cached) natural keys; more by ranks.
_RANKED_FROM = 2048


def _parts_key(key: Sequence[str | None]) -> tuple[tuple[tuple[str | int, ...], str], ...]:
    return tuple(map(natural_key, key))


# Per name, not per key: a session not listed before shares its symbols and variant ids with
# the sessions that were.
_natural_part = functools.lru_cache(maxsize=1 << 16)(natural_key)


def naturally_sorted_keys(keys: Iterable[K]) -> list[K]:
    """Tuples of names (``(session, symbol, type, id)``) sorted part by part in natural order.

    A few keys (one session's) compare by their parts' natural keys, cached per name across
    calls, so a listing of 50 pays microseconds. Many keys rank each distinct part once instead, so
    50,000 keys of a few thousand distinct names sort as fast as plain tuples of ints.
    """
    keys = list(keys)
    return _sorted_by_keys(keys) if len(keys) < _RANKED_FROM else _sorted_by_ranks(keys)


def _sorted_by_keys(keys: list[K]) -> list[K]:
    try:
        parts = tuple(map(tuple, keys))
        if len({key[:1] for key in parts}) == 1:
            # One session's keys: ordered by the rest, which other sessions share.
            parts = tuple(key[1:] for key in parts)
        order = _order_of_few(parts)
    except TypeError:  # a part that cannot be hashed
        return sorted(keys, key=_parts_key)
    return [keys[i] for i in order]


@functools.lru_cache(maxsize=256)
def _order_of_few(keys: tuple[tuple[str | None, ...], ...]) -> tuple[int, ...]:
    """The positions of a few keys in sorted order, kept: one session's keys come back from
    the server alike each time."""
    return tuple(sorted(range(len(keys)), key=lambda i: tuple(map(_natural_part, keys[i]))))


def natural_ranks(names: Iterable[str | None]) -> dict[str | None, int]:
    """Each distinct name's rank in natural order (:func:`natural_key`; None first)."""
    return {name: rank for rank, name in enumerate(sorted(set(names), key=natural_key))}


def _sorted_by_ranks(keys: list[K]) -> list[K]:
    if not keys:
        return keys
    ranks = [natural_ranks(k[i] for k in keys) for i in range(len(keys[0]))]
    return sorted(keys, key=lambda k: tuple(map(dict.__getitem__, ranks, k)))


def close_matches(name: str, stored: Iterable[str], n: int = 5) -> list[str]:
    """The stored names most like ``name`` (case ignored), best first (:func:`difflib.get_close_matches`)."""
    by_folded: dict[str, list[str]] = {}
    for candidate in natural_sorted(set(stored)):
        by_folded.setdefault(candidate.casefold(), []).append(candidate)
    found = difflib.get_close_matches(name.casefold(), list(by_folded), n=n, cutoff=0.6)
    return [original for folded in found for original in by_folded[folded]][:n]


def nearby(name: str, stored: Iterable[str], what: str) -> str:
    """A phrase naming what is stored near ``name``: its close matches, else some stored names.

    ``what`` is the plural of the kind of name (``"variants"``), e.g. ``"stored variants close
    to 'RSI_41': 'RSI_14'"``.
    """
    names = natural_sorted(set(stored))
    if not names:
        return f"no {what} are stored"
    matches = close_matches(name, names)
    if matches:
        return f"stored {what} close to {name!r}: {', '.join(map(repr, matches))}"
    listed = ", ".join(map(repr, names[:LISTED]))
    more = f" ... ({len(names)} in all)" if len(names) > LISTED else ""
    return f"none of the stored {what} is close to {name!r}; stored: {listed}{more}"
