"""The old trading system's CSV store: where its files live and what their names say.

Layout (``base_dir`` is the old system's ``data/`` directory)::

    {base_dir}/{session_id}/prices.csv
    {base_dir}/{session_id}/{symbol}/indicators/{variant_type}_{variant_id}.csv

``variant_type`` never contains ``_``: a file stem splits at its FIRST ``_``
(``momentum_MACD_12_26_9`` is type ``momentum``, id ``MACD_12_26_9``). The file name is the
truth of the old system; rows whose ``indicator_type``/``indicator_id`` disagree with it are
an error. Everything is UTC: epoch seconds are converted to microseconds from their decimal
text, never through local time.

Frames are "long": one row per timestamp, the columns of :data:`INDICATOR_COLUMNS` or
:data:`PRICE_COLUMNS`; ``timestamp`` is ``datetime64[us, UTC]``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from qdbtools.exceptions import InvalidInputError

__all__ = [
    "INDICATORS_DIR",
    "PRICES_FILE",
    "LegacyFile",
    "Skipped",
    "indicator_path",
    "name_problem",
    "split_stem",
    "variant_of",
]

INDICATORS_DIR = "indicators"
PRICES_FILE = "prices.csv"
_MAX_NAME_BYTES = 255


@dataclass(frozen=True)
class LegacyFile:
    """One file of the legacy tree, with the ids its path gives.

    Attributes
    ----------
    path : Path
        The file.
    kind : {"indicators", "prices"}
        An indicator variant's values, or a session's ticks.
    session_id : str
        The session directory's name.
    symbol, variant_type, variant_id : str or None
        For ``"indicators"``: the symbol directory and the two halves of the file stem.
        ``None`` for ``"prices"``.
    """

    path: Path
    kind: Literal["indicators", "prices"]
    session_id: str
    symbol: str | None = None
    variant_type: str | None = None
    variant_id: str | None = None

    def __post_init__(self) -> None:
        ids = (self.symbol, self.variant_type, self.variant_id)
        if self.kind == "indicators":
            if any(part is None for part in ids):
                raise InvalidInputError(
                    f"{self.path}: an indicators LegacyFile needs symbol, variant_type and variant_id"
                )
        elif self.kind == "prices":
            if any(part is not None for part in ids):
                raise InvalidInputError(
                    f"{self.path}: a prices LegacyFile has no symbol, variant_type or variant_id"
                )
        else:
            raise InvalidInputError(f"LegacyFile kind must be 'indicators' or 'prices', got {self.kind!r}")


@dataclass(frozen=True)
class Skipped:
    """A file (or hidden directory) of the legacy tree that :func:`scan_tree` did not accept.

    Attributes
    ----------
    path : Path
        The file or directory.
    reason : str
        Why, for a person reading the migration log.
    """

    path: Path
    reason: str


# --------------------------------------------------------------------------- paths


def name_problem(value: object) -> str | None:
    """Why ``value`` cannot be one path part (a directory or file name), else ``None``."""
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if value == "":
        return "is empty"
    if value in (".", ".."):
        return f"is {value!r}, which would leave its directory"
    if "/" in value or "\\" in value or (os.altsep and os.altsep in value):
        return "contains a path separator, which could escape the base directory"
    if value.startswith("."):
        return "starts with '.' (hidden names are not legacy files)"
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return "contains a control character"
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid Unicode text (lone surrogate)"
    if size > _MAX_NAME_BYTES:
        return f"is {size} bytes long; file names allow at most {_MAX_NAME_BYTES}"
    return None


def _check_name(part: str, value: object) -> str:
    problem = name_problem(value)
    if problem is not None:
        raise InvalidInputError(f"{part} {value!r} {problem}")
    assert isinstance(value, str)
    return value


def split_stem(stem: str) -> tuple[str, str]:
    """``{variant_type}_{variant_id}`` → the two halves (split at the FIRST ``_``)."""
    variant_type, separator, variant_id = stem.partition("_")
    if not separator:
        raise InvalidInputError(
            f"file name {stem!r} has no '_' between variant_type and variant_id "
            "(expected {variant_type}_{variant_id}.csv)"
        )
    if not variant_type:
        raise InvalidInputError(f"file name {stem!r} has an empty variant_type before its first '_'")
    if not variant_id:
        raise InvalidInputError(f"file name {stem!r} has an empty variant_id after its first '_'")
    for part, value in (("variant_type", variant_type), ("variant_id", variant_id)):
        problem = name_problem(value)
        if problem is not None:
            raise InvalidInputError(f"file name {stem!r}: {part} {value!r} {problem}")
    return variant_type, variant_id


def variant_of(path: Path) -> tuple[str, str]:
    if path.suffix != ".csv":
        raise InvalidInputError(f"{path}: an indicator file name ends in .csv")
    try:
        return split_stem(path.stem)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{path}: {exc}") from None


def indicator_path(
    base_dir: str | os.PathLike[str],
    session_id: str,
    symbol: str,
    variant_type: str,
    variant_id: str,
) -> Path:
    """Path of one variant's CSV file: ``{base_dir}/{session_id}/{symbol}/indicators/{type}_{id}.csv``.

    Every part is checked, since ids arrive from callers and a hostile one could otherwise
    escape ``base_dir``: non-empty text, no path separator, not ``.``/``..`` nor hidden, no
    control character; ``variant_type`` without ``_`` (the stem splits at the first ``_``);
    ``symbol`` not ``indicators``.

    Raises
    ------
    InvalidInputError
        Naming the part and why it is refused.

    Examples
    --------
    >>> indicator_path("data", "sess_1", "BTC_USDT", "momentum", "RSI_14").as_posix()
    'data/sess_1/BTC_USDT/indicators/momentum_RSI_14.csv'
    """
    _check_name("session_id", session_id)
    _check_name("symbol", symbol)
    _check_name("variant_type", variant_type)
    _check_name("variant_id", variant_id)
    if "_" in variant_type:
        head, _, tail = f"{variant_type}_{variant_id}".partition("_")
        raise InvalidInputError(
            f"variant_type {variant_type!r} contains '_': the file name would be read back as "
            f"variant_type {head!r}, variant_id {tail!r}"
        )
    if symbol == INDICATORS_DIR:
        raise InvalidInputError(f"symbol {symbol!r} is reserved: it would look like a missing symbol level")
    name = f"{variant_type}_{variant_id}.csv"
    problem = name_problem(name)
    if problem is not None:
        raise InvalidInputError(f"file name {name!r} {problem}")
    return Path(base_dir) / session_id / symbol / INDICATORS_DIR / name
