"""Migrate the legacy CSV tree into QuestDB, verifying every file.

For each ``{session}/{symbol}/indicators/{type}_{id}.csv``: read and check the file,
compute its content checksum, store it as the current generation of its variant key
(``mode="overwrite"``, so a corrected file replaces what an earlier run stored), load it
back and compare row count and checksum. A rerun skips files whose checksum is already the
committed checksum of their variant (``already migrated``), and never imports a file again
over later saves of its variant: when an earlier save of the variant holds the file's content
and later saves replaced or extended it (a user's own values), the file is ``kept`` out and
the later saves stay current, unless ``replace_newer=True``.

For each ``{session}/prices.csv``: ticks of the session's symbols in the file's time range
are compared with what ``tick_prices`` holds there. Nothing there: the ticks are imported
(ticks sharing a timestamp are numbered in file order) and verified. The same ticks there
(e.g. imported earlier with exchange trade ids): verified, nothing written. Other ticks
there: reported as a mismatch, nothing written (importing would duplicate trades).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qdbtools.exceptions import InvalidInputError, QdbToolsError
from qdbtools.legacy.files import csv_checksum, read_indicator_csv, read_prices_csv
from qdbtools.legacy.paths import LegacyFile
from qdbtools.legacy.scan import scan_tree
from qdbtools.store import committed

if TYPE_CHECKING:
    from qdbtools.database import Database

__all__ = ["FileResult", "MigrationRun", "migrate_csv", "ticks_checksum"]

log = logging.getLogger(__name__)

STATUSES = ("verified", "already migrated", "kept", "mismatched", "skipped", "failed", "would import")


@dataclass
class FileResult:
    """The outcome for one file of the tree."""

    path: str
    kind: str
    status: str
    rows: int = 0
    session_id: str | None = None
    symbol: str | None = None
    variant_type: str | None = None
    variant_id: str | None = None
    csv_checksum: str | None = None
    db_checksum: str | None = None
    reason: str | None = None


@dataclass
class MigrationRun:
    """Report of one :func:`migrate_csv` run (``to_json`` writes it)."""

    data_dir: str
    dry_run: bool
    backup: str | None = None
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def summary(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "rows": sum(f.rows for f in self.files if f.status in ("verified", "already migrated")),
            **{status: self.count(status) for status in STATUSES},
        }

    @property
    def ok(self) -> bool:
        return self.count("mismatched") == 0 and self.count("failed") == 0

    def to_json(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        payload = {**asdict(self), "summary": self.summary, "ok": self.ok}
        target.write_text(json.dumps(payload, indent=2, default=str))
        return target


def ticks_checksum(frame: pd.DataFrame) -> str:
    """SHA-256 of ticks as a multiset of (symbol, timestamp, price, volume), order-free."""
    ordered = frame.assign(_us=pd.DatetimeIndex(frame["timestamp"]).as_unit("us").asi8).sort_values(
        ["symbol", "_us", "price", "volume"], kind="stable"
    )
    digest = hashlib.sha256()
    digest.update("\x1f".join(ordered["symbol"].astype(str)).encode() + b"\x1e")
    for column in ("_us", "price", "volume"):
        digest.update(
            np.ascontiguousarray(ordered[column].to_numpy(dtype="<f8" if column != "_us" else "<i8")).data
        )
    return digest.hexdigest()


def _indicator_ids(legacy: LegacyFile) -> tuple[str, str, str]:
    """The symbol, variant type and variant id of an indicators file."""
    symbol, variant_type, variant_id = legacy.symbol, legacy.variant_type, legacy.variant_id
    assert symbol is not None and variant_type is not None and variant_id is not None, "set for indicators"
    return symbol, variant_type, variant_id


def _stored_state(db: Database, legacy: LegacyFile, checksum: str) -> tuple[str, str | None]:
    """Whether the variant holds the file: ``current``, ``replaced`` (with why) or ``absent``.

    ``current``: its last save is an overwrite with the file's checksum. ``replaced``: an
    earlier overwrite has it and later saves came after it.
    """
    symbol, variant_type, variant_id = _indicator_ids(legacy)
    saves = committed(db, legacy.session_id, symbol, [variant_id], variant_type=variant_type, details=True)
    commits = next(iter(saves.values()), [])
    held = [i for i, c in enumerate(commits) if c.mode == "overwrite" and c.detail("checksum") == checksum]
    if not held:
        return "absent", None
    later = commits[held[-1] + 1 :]
    if not later:
        return "current", None
    latest = later[-1]
    by = f" by {latest.created_by!r}" if latest.created_by else ""
    return "replaced", (
        f"QuestDB holds {len(later)} later save(s) of this variant (the latest at {latest.committed_at}{by}) "
        "after the file's own import; the file is not imported over them. Import it anyway with "
        "replace_newer=True (qdbtools migrate-csv --replace-newer)"
    )


def _migrate_indicator_file(
    db: Database | None, legacy: LegacyFile, result: FileResult, dry_run: bool, replace_newer: bool
) -> None:
    read = read_indicator_csv(legacy)
    # A row without a value (NaN) is not stored (the store's rule): the file's content is
    # its other rows, and that is what is checksummed, imported and verified.
    blank = read["value"].isna().to_numpy()
    frame = read[~blank].reset_index(drop=True)
    note = f"{int(blank.sum())} rows without a value (NaN) are not stored" if blank.any() else None
    result.rows = len(frame)
    result.csv_checksum = csv_checksum(legacy, frame)
    if frame.empty:
        result.status, result.reason = "skipped", note or "the file has no rows"
        return
    result.reason = note
    state, why = _stored_state(db, legacy, result.csv_checksum) if db is not None else ("absent", None)
    if state == "current":
        result.status = "already migrated"
        result.db_checksum = result.csv_checksum
        return
    if state == "replaced" and not replace_newer:
        result.status, result.reason = "kept", f"{why}; {note}" if note else why
        return
    if dry_run or db is None:
        result.status = "would import"
        return
    symbol, variant_type, variant_id = _indicator_ids(legacy)
    stored = db.save_indicators(frame, legacy.session_id, symbol, "overwrite", variant_type=variant_type)
    back = db.load_indicators(
        legacy.session_id,
        symbol,
        variant_id,
        shape="long",
        variant_type=variant_type,
        missing_ok=True,  # nothing stored back is reported as a mismatch below
    )
    result.db_checksum = csv_checksum(legacy, back.reset_index())
    if len(back) != len(frame) or result.db_checksum != result.csv_checksum:
        result.status = "mismatched"
        result.reason = (
            f"{len(frame)} rows in the CSV, {len(back)} in QuestDB (generation {stored.generation})"
            + (f"; {note}" if note else "")
        )
    else:
        result.status = "verified"


def _stored_ticks(
    db: Database, session_id: str, symbols: Iterable[str], start: Any, end: Any
) -> pd.DataFrame:
    frames = []
    for symbol in symbols:
        ticks = db.read_ticks(session_id, symbol, start, end, columns=["symbol", "price", "volume"])
        frames.append(ticks.reset_index())
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _migrate_prices_file(db: Database | None, legacy: LegacyFile, result: FileResult, dry_run: bool) -> None:
    frame = read_prices_csv(legacy.path)
    result.rows = len(frame)
    if frame.empty:
        result.status, result.reason = "skipped", "the file has no rows"
        return
    result.csv_checksum = ticks_checksum(frame)
    if db is None:
        result.status = "would import"
        return
    symbols = sorted(frame["symbol"].unique())
    start, end = frame["timestamp"].min(), frame["timestamp"].max() + pd.Timedelta(microseconds=1)
    present = _stored_ticks(db, legacy.session_id, symbols, start, end)
    if dry_run and (present.empty or ticks_checksum(present) != result.csv_checksum):
        result.status = "would import" if present.empty else "mismatched"
        if not present.empty:
            result.reason = f"tick_prices holds {len(present)} other ticks in the file's time range"
        return
    if present.empty:
        db.write_ticks(frame, session_id=legacy.session_id)
        present = _stored_ticks(db, legacy.session_id, symbols, start, end)
        imported = True
    else:
        imported = False
    result.db_checksum = ticks_checksum(present)
    if result.db_checksum == result.csv_checksum:
        result.status = "verified" if imported else "already migrated"
    else:
        result.status = "mismatched"
        result.reason = (
            f"tick_prices holds {len(present)} ticks of {symbols} in the file's time range, the CSV "
            f"{len(frame)}; {'imported, but they differ' if imported else 'nothing was imported'}"
        )


def migrate_csv(
    db: Database | None,
    data_dir: str | Path,
    *,
    dry_run: bool = False,
    backup: str | Path | None = None,
    report: str | Path | None = None,
    progress: bool = True,
    replace_newer: bool = False,
) -> MigrationRun:
    """Import and verify the legacy CSV tree under ``data_dir``.

    Parameters
    ----------
    db : Database
        Target database (may be None with ``dry_run``).
    data_dir : path
        The old system's ``data/`` directory.
    dry_run : bool
        Scan and check every file, write nothing.
    backup : path, optional
        Copy the whole tree there first (the directory must not exist yet).
    report : path, optional
        Write the JSON report there.
    progress : bool
        Show a tqdm progress bar.
    replace_newer : bool
        Import a file again even over later saves of its variant (status ``kept`` otherwise).

    Returns
    -------
    MigrationRun
        Per-file results and a summary; ``run.ok`` is False when anything mismatched or failed.
    """
    started = time.perf_counter()
    base = Path(data_dir)
    files, skipped = scan_tree(base)
    run = MigrationRun(str(base), dry_run)
    if backup is not None:
        target = Path(backup)
        if target.exists() and any(target.iterdir()):
            raise InvalidInputError(f"backup directory {target} is not empty; choose a new directory")
        shutil.copytree(base, target, dirs_exist_ok=True)
        run.backup = str(target)
    run.files.extend(FileResult(str(s.path), "unknown", "skipped", reason=s.reason) for s in skipped)
    try:
        _migrate_files(db, files, run, dry_run, progress, replace_newer)
    finally:  # also when interrupted: the report says what was done so far
        run.seconds = time.perf_counter() - started
        if report is not None:
            run.to_json(report)
    return run


def _migrate_files(
    db: Database | None,
    files: list[LegacyFile],
    run: MigrationRun,
    dry_run: bool,
    progress: bool,
    replace_newer: bool,
) -> None:
    shown: Iterable[LegacyFile] = files
    if progress:
        from tqdm.auto import tqdm  # imported only when a bar is shown (no widget warning otherwise)

        shown = tqdm(files, desc="migrating CSV files", unit="file")
    for legacy in shown:
        result = FileResult(
            str(legacy.path),
            legacy.kind,
            "failed",
            session_id=legacy.session_id,
            symbol=legacy.symbol,
            variant_type=legacy.variant_type,
            variant_id=legacy.variant_id,
        )
        measured = db.telemetry.operation("migrate_file", {"kind": legacy.kind}) if db is not None else None
        with measured or contextlib.nullcontext() as call:
            _migrate_file(db, legacy, result, dry_run, replace_newer)
            if call is not None and result.status in ("failed", "mismatched"):
                call.fail(result.status)
        run.files.append(result)


def _migrate_file(
    db: Database | None, legacy: LegacyFile, result: FileResult, dry_run: bool, replace_newer: bool
) -> None:
    try:
        if legacy.kind == "prices":
            _migrate_prices_file(db, legacy, result, dry_run)
        else:
            _migrate_indicator_file(db, legacy, result, dry_run, replace_newer)
    except InvalidInputError as exc:
        result.status, result.reason = "skipped", str(exc)
    except (QdbToolsError, OSError) as exc:
        result.status, result.reason = "failed", f"{type(exc).__name__}: {exc}"
        log.error("migrating %s failed: %s", legacy.path, exc, extra={"path": str(legacy.path)})
