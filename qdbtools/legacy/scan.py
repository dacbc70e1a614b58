"""The tree scan: which files of a legacy ``data/`` directory are legacy files, and why the rest are not."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from qdbtools.exceptions import InvalidInputError
from qdbtools.legacy.paths import INDICATORS_DIR, PRICES_FILE, LegacyFile, Skipped, name_problem, split_stem

__all__ = ["MAX_FILE_BYTES", "scan_tree"]

log = logging.getLogger(__name__)


def _entries(directory: Path, skipped: list[Skipped]) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as listing:
            return sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        skipped.append(Skipped(directory, f"cannot be listed: {exc.strerror or exc}"))
        return []


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _skip_tree(directory: Path, reason: str, skipped: list[Skipped]) -> None:
    """Report every file below an unexpected directory (symlinked directories are not followed)."""
    found = False
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            found = True
            skipped.append(Skipped(Path(root) / name, reason))
    if not found:
        skipped.append(Skipped(directory, f"{reason} (an empty directory)"))


#: Legacy files above this size are refused rather than read (the largest variant file of
#: the old system held ~100k rows, about 10 MB).
MAX_FILE_BYTES = 1 << 30

_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a legacy file without opening it (None: it can)."""
    try:
        info = os.stat(path)  # follows symlinks: their target is what would be read
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc} (a dangling or looping symlink?)"
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _NOT_REGULAR if test(info.st_mode)), "not a regular file")
        return f"{kind}, not a regular file; legacy files are regular CSV files"
    if info.st_size > MAX_FILE_BYTES:
        return f"too large: {info.st_size:,} bytes, over the limit of {MAX_FILE_BYTES:,} bytes"
    if not os.access(path, os.R_OK):
        return "cannot be read: permission denied"
    return None


def _accept(file: LegacyFile, files: list[LegacyFile], skipped: list[Skipped]) -> None:
    problem = _file_problem(file.path)
    if problem is None:
        files.append(file)
    else:
        skipped.append(Skipped(file.path, problem))


def _skip_hidden(entry: os.DirEntry[str], skipped: list[Skipped]) -> bool:
    if not entry.name.startswith("."):
        return False
    path = Path(entry.path)
    if _is_dir(entry):
        reason = "hidden directory, not scanned"
    elif entry.name.endswith(".tmp"):
        reason = "hidden temporary file, likely left by an interrupted write"
    else:
        reason = "hidden file"
    skipped.append(Skipped(path, reason))
    return True


def _scan_indicators(
    directory: Path, session_id: str, symbol: str, files: list[LegacyFile], skipped: list[Skipped]
) -> None:
    for entry in _entries(directory, skipped):
        path = Path(entry.path)
        if _skip_hidden(entry, skipped):
            continue
        if _is_dir(entry):
            _skip_tree(
                path,
                f"wrong depth: inside a directory below {session_id}/{symbol}/indicators/ "
                "(indicator files sit directly in indicators/)",
                skipped,
            )
            continue
        if path.suffix != ".csv":
            skipped.append(
                Skipped(path, "not a .csv file (indicators/ holds {variant_type}_{variant_id}.csv)")
            )
            continue
        try:
            variant_type, variant_id = split_stem(path.stem)
        except InvalidInputError as exc:
            skipped.append(Skipped(path, str(exc)))
            continue
        _accept(LegacyFile(path, "indicators", session_id, symbol, variant_type, variant_id), files, skipped)


def _scan_symbol(directory: Path, session_id: str, files: list[LegacyFile], skipped: list[Skipped]) -> None:
    symbol = directory.name
    for entry in _entries(directory, skipped):
        path = Path(entry.path)
        if _skip_hidden(entry, skipped):
            continue
        if entry.name == INDICATORS_DIR and _is_dir(entry):
            _scan_indicators(path, session_id, symbol, files, skipped)
        elif _is_dir(entry):
            _skip_tree(
                path,
                f"wrong depth: under {session_id}/{symbol}/ only indicators/ is expected",
                skipped,
            )
        elif entry.name == PRICES_FILE:
            skipped.append(
                Skipped(path, f"wrong depth: prices.csv belongs in the session directory {session_id}/")
            )
        elif path.suffix == ".csv":
            skipped.append(
                Skipped(path, f"wrong depth: indicator CSVs belong in {session_id}/{symbol}/indicators/")
            )
        else:
            skipped.append(
                Skipped(path, f"not a legacy file: under {session_id}/{symbol}/ only indicators/ is expected")
            )


def _scan_session(directory: Path, files: list[LegacyFile], skipped: list[Skipped]) -> None:
    session_id = directory.name
    for entry in _entries(directory, skipped):
        path = Path(entry.path)
        if _skip_hidden(entry, skipped):
            continue
        is_dir = _is_dir(entry)
        if entry.name == PRICES_FILE and not is_dir:
            _accept(LegacyFile(path, "prices", session_id), files, skipped)
        elif entry.name == INDICATORS_DIR and is_dir:
            _skip_tree(
                path,
                f"wrong depth: {session_id}/indicators/ lacks the symbol level "
                f"(expected {session_id}/{{symbol}}/indicators/)",
                skipped,
            )
        elif is_dir:
            problem = name_problem(entry.name)
            if problem is None:
                _scan_symbol(path, session_id, files, skipped)
            else:
                _skip_tree(path, f"symbol directory name {entry.name!r} {problem}", skipped)
        elif path.suffix == ".csv":
            skipped.append(
                Skipped(
                    path,
                    "wrong depth: the only CSV of a session directory is prices.csv; indicator CSVs "
                    f"belong in {session_id}/{{symbol}}/indicators/",
                )
            )
        else:
            skipped.append(
                Skipped(
                    path, "not a legacy file: a session directory holds prices.csv and {symbol}/ directories"
                )
            )


def scan_tree(base_dir: str | os.PathLike[str]) -> tuple[list[LegacyFile], list[Skipped]]:
    """Find the legacy files below ``base_dir``, in sorted order, and everything that does not fit.

    Accepted: ``{session_id}/prices.csv`` and ``{session_id}/{symbol}/indicators/{type}_{id}.csv``.
    Reported in ``skipped`` with a reason: files at the wrong depth (every file below an
    unexpected directory), other files, CSVs whose stem has no ``_`` or an empty half, names
    that :func:`indicator_path` would refuse, hidden files and directories (temporary files of
    an interrupted write among them), directories that cannot be listed. Symlinked directories
    at the expected levels are followed; below unexpected directories they are not.

    Parameters
    ----------
    base_dir : str or PathLike
        The old system's ``data/`` directory.

    Returns
    -------
    files : list of LegacyFile
        In path order (session, then symbol, then file name; ``prices.csv`` after the symbols).
    skipped : list of Skipped
        In path order.

    Raises
    ------
    InvalidInputError
        Only when ``base_dir`` is missing or not a directory; a malformed tree never raises.
    """
    base = Path(base_dir)
    if not base.exists():
        raise InvalidInputError(f"legacy base directory {base} does not exist")
    if not base.is_dir():
        raise InvalidInputError(f"legacy base directory {base} is not a directory")
    files: list[LegacyFile] = []
    skipped: list[Skipped] = []
    for entry in _entries(base, skipped):
        path = Path(entry.path)
        if _skip_hidden(entry, skipped):
            continue
        if not _is_dir(entry):
            skipped.append(
                Skipped(
                    path,
                    "wrong depth: a file directly in the base directory (legacy files live in "
                    "{session_id}/ directories)",
                )
            )
            continue
        problem = name_problem(entry.name)
        if problem is None:
            _scan_session(path, files, skipped)
        else:
            _skip_tree(path, f"session directory name {entry.name!r} {problem}", skipped)
    log.info(
        "legacy scan of %s: %d file(s), %d skipped",
        base,
        len(files),
        len(skipped),
        extra={"base_dir": str(base), "files": len(files), "skipped": len(skipped)},
    )
    return files, skipped
