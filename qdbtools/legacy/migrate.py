"""Migrate the legacy CSV tree into QuestDB, verifying every file.

For each ``{session}/{symbol}/indicators/{type}_{id}.csv``: read and check the file,
compute its content checksum, store it as the current generation of its variant key
(``mode="overwrite"``, so a corrected file replaces what an earlier run stored), load it
back and compare row count and checksum. A rerun skips files whose checksum is already the
committed checksum of their variant (``already migrated``).

For each ``{session}/prices.csv``: ticks of the session's symbols in the file's time range
are compared with what ``tick_prices`` holds there. Nothing there: the ticks are imported
(ticks sharing a timestamp are numbered in file order) and verified. The same ticks there
(e.g. imported earlier with exchange trade ids): verified, nothing written. Other ticks
there: reported as a mismatch, nothing written (importing would duplicate trades).
"""

from __future__ import annotations

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

STATUSES = ("verified", "already migrated", "mismatched", "skipped", "failed", "would import")


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
            np.ascontiguousarray(ordered[column].to_numpy(dtype="<f8" if column != "_us" else "<i8"))
        )
    return digest.hexdigest()


def _committed_checksum(db: Database, legacy: LegacyFile) -> str | None:
    """The checksum recorded by the variant's last save, if that save was an overwrite."""
    saves = committed(
        db,
        legacy.session_id,
        legacy.symbol,
        [legacy.variant_id],
        variant_type=legacy.variant_type,
        details=True,
    )
    commits = next(iter(saves.values()), [])
    if not commits or commits[-1].mode != "overwrite":
        return None
    checksum = commits[-1].detail("checksum")
    return None if checksum is None else str(checksum)


def _migrate_indicator_file(
    db: Database | None, legacy: LegacyFile, result: FileResult, dry_run: bool
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
    if db is not None and _committed_checksum(db, legacy) == result.csv_checksum:
        result.status = "already migrated"
        result.db_checksum = result.csv_checksum
        return
    if dry_run or db is None:
        result.status = "would import"
        return
    stored = db.save_indicators(
        frame, legacy.session_id, legacy.symbol, "overwrite", variant_type=legacy.variant_type
    )
    back = db.load_indicators(
        legacy.session_id,
        legacy.symbol,
        legacy.variant_id,
        shape="long",
        variant_type=legacy.variant_type,
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
        _migrate_files(db, files, run, dry_run, progress)
    finally:  # also when interrupted: the report says what was done so far
        run.seconds = time.perf_counter() - started
        if report is not None:
            run.to_json(report)
    return run


def _migrate_files(
    db: Database | None, files: list[LegacyFile], run: MigrationRun, dry_run: bool, progress: bool
) -> None:
    from tqdm.auto import tqdm

    for legacy in tqdm(files, desc="migrating CSV files", unit="file") if progress else files:
        result = FileResult(
            str(legacy.path),
            legacy.kind,
            "failed",
            session_id=legacy.session_id,
            symbol=legacy.symbol,
            variant_type=legacy.variant_type,
            variant_id=legacy.variant_id,
        )
        try:
            if legacy.kind == "prices":
                _migrate_prices_file(db, legacy, result, dry_run)
            else:
                _migrate_indicator_file(db, legacy, result, dry_run)
        except InvalidInputError as exc:
            result.status, result.reason = "skipped", str(exc)
        except (QdbToolsError, OSError) as exc:
            result.status, result.reason = "failed", f"{type(exc).__name__}: {exc}"
            log.error("migrating %s failed: %s", legacy.path, exc, extra={"path": str(legacy.path)})
        run.files.append(result)
