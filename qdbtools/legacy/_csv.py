"""The legacy CSV dialect: records with line numbers, exact number text, quoting, atomic writes.

Private to :mod:`qdbtools.legacy`. The old system wrote RFC 4180 files with ``\\n`` line
ends and UTF-8 text through Python's ``csv`` module, floats as their shortest ``repr``.
Everything here is column-wise; Python loops run only while an error message is built.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import secrets
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from qdbtools.exceptions import InvalidInputError, MissingColumnsError

log = logging.getLogger(__name__)

MICROS_PER_SECOND = 1_000_000
# Epoch seconds as the old system wrote them (``1709251200.0``, ``1709251200.123456``): parsed
# from the decimal text itself, never through a float. 12 integer digits keep micros in int64.
_DECIMAL_SECONDS = r"^(?P<sign>[+-]?)(?P<whole>\d{1,12})(?:\.(?P<fraction>\d*))?$"
# What Python's float() accepts, minus underscores (RE2 syntax: \d is ASCII only).
_FLOAT_TEXT = r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)"
_FINITE_TEXT = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
# QUOTE_MINIMAL of the csv module, plus "\r": csv.writer with lineterminator="\n" leaves a lone
# "\r" unquoted, and the file would no longer read back.
_NEEDS_QUOTES = r'[,"\r\n]'


class CsvTable:
    """The records of one CSV file: the header and the data rows as text (object columns).

    Blank lines are dropped. :meth:`line` maps a data row back to the line of the file where
    it starts (header = line 1), counting the lines of quoted fields that hold line breaks.
    """

    def __init__(self, path: Path, text: str, header: list[str], records: list[list[str]]) -> None:
        self.path = path
        self._text = text
        self.header = header
        lengths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
        #: index in ``records`` (0 = header) of each data row
        self._record_of_row = np.flatnonzero(lengths[1:] > 0) + 1
        self._starts: list[int] | None = None
        self._problem: tuple[int, str] | None = None
        blank = len(records) - 1 - len(self._record_of_row)
        if blank:
            log.debug("%s: ignoring %d blank line(s)", path, blank, extra={"path": str(path)})
        wrong = self._record_of_row[lengths[self._record_of_row] != len(header)]
        if wrong.size:
            record = int(wrong[0])
            raise InvalidInputError(
                f"{path}: line {self._record_line(record)}: {lengths[record]} field(s), but the header has "
                f"{len(header)} (a truncated or damaged row?)"
            )
        rows = list(filter(None, records[1:]))
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(header)
        self.frame = pd.DataFrame(
            {
                name: pd.Series(np.array(values, dtype=object), dtype=object)
                for name, values in zip(header, columns, strict=True)
            }
        )

    def _record_line(self, record: int) -> int:
        if self._starts is None:
            self._starts = record_start_lines(self._text)[0]
        return self._starts[record]

    def line(self, row: int) -> int:
        """Line number (1-based, header = 1) where data row ``row`` (0-based) starts."""
        return self._record_line(int(self._record_of_row[row]))

    def fail(self, row: int, message: str) -> NoReturn:
        """Raise :class:`InvalidInputError` naming the file and the line of data row ``row``."""
        raise InvalidInputError(f"{self.path}: line {self.line(row)}: {message}")

    def report(self, row: int, message: str) -> None:
        """Note a problem of data row ``row``; :meth:`check` raises the earliest one noted."""
        if self._problem is None or row < self._problem[0]:
            self._problem = (row, message)

    def check(self) -> None:
        """Raise the problem of the earliest row noted by :meth:`report`, if any."""
        if self._problem is not None:
            self.fail(*self._problem)


def record_start_lines(text: str) -> tuple[list[int], int | None]:
    """Start line of every CSV record of ``text``, and the start line of a malformed one.

    Returns
    -------
    starts : list of int
        Line (1-based) on which each record that parsed begins.
    failed : int or None
        Line on which the first record that the ``csv`` module rejects begins, else ``None``.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    starts: list[int] = []
    while True:
        start = reader.line_num + 1
        try:
            next(reader)
        except StopIteration:
            return starts, None
        except csv.Error:
            return starts, start
        starts.append(start)


def read_table(path: Path, *, required: Sequence[str], optional: Sequence[str] = (), what: str) -> CsvTable:
    """Read and tokenize one legacy CSV file and check its header.

    Parameters
    ----------
    path : Path
        The file (UTF-8, an optional byte order mark is ignored).
    required : sequence of str
        Columns that must be in the header (:class:`MissingColumnsError` otherwise).
    optional : sequence of str
        Columns that may be absent; they are added with empty text.
    what : str
        What the file is, for messages (``"indicator CSV"``).

    Raises
    ------
    InvalidInputError
        Not UTF-8, malformed CSV quoting, an empty file, a duplicate or unknown column, a row
        with the wrong number of fields.
    MissingColumnsError
        A required column is absent.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InvalidInputError(
            f"{path}: line {line}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        bad_line = record_start_lines(text)[1]
        raise InvalidInputError(f"{path}: line {bad_line}: malformed CSV ({exc})") from exc
    expected = [*required, *optional]
    if not records:
        raise InvalidInputError(
            f"{path}: the file is empty; a {what} starts with the header {','.join(expected)}"
        )
    header = records[0]
    if not header:
        raise InvalidInputError(f"{path}: line 1 is empty; expected the header {','.join(expected)}")
    repeated = [name for name, count in Counter(header).items() if count > 1]
    if repeated:
        raise InvalidInputError(f"{path}: line 1: column(s) {', '.join(map(repr, repeated))} appear twice")
    missing = tuple(name for name in required if name not in header)
    if missing:
        raise MissingColumnsError(
            f"{path}: line 1: missing column(s) {', '.join(missing)} of a {what}; the header is "
            f"{','.join(header)}",
            missing=missing,
        )
    unknown = [name for name in header if name not in expected]
    if unknown:
        raise InvalidInputError(
            f"{path}: line 1: unexpected column(s) {', '.join(map(repr, unknown))}; a {what} has only "
            f"{','.join(expected)} (refusing to drop data silently)"
        )
    table = CsvTable(path, text, header, records)
    for name in optional:
        if name not in header:
            table.frame[name] = pd.Series("", index=table.frame.index, dtype=object)
    return table


def first_row(mask: np.ndarray) -> int | None:
    """Position of the first ``True`` of a boolean array, or ``None``."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _arrow_text(table: CsvTable, column: str) -> pa.StringArray:
    """A text column as an Arrow string array, surrounding whitespace removed."""
    return pc.utf8_trim_whitespace(pa.array(table.frame[column].to_numpy(dtype=object), type=pa.string()))


def _numpy(array: pa.Array[Any], fill: object) -> np.ndarray:
    return array.fill_null(fill).to_numpy(zero_copy_only=False)


def parse_epoch_micros(table: CsvTable, column: str) -> np.ndarray:
    """Epoch seconds text → int64 microseconds, exactly (decimal digits, not float arithmetic).

    More than 6 decimals round to the nearest microsecond (ties to even). Exponent notation
    (``1.7092512e9``) falls back to ``round(float(text) * 1e6)``. Problems are reported to
    ``table`` (see :meth:`CsvTable.report`); their rows hold 0.
    """
    text = _arrow_text(table, column)
    parts = pc.extract_regex(text, _DECIMAL_SECONDS)
    decimal = _numpy(parts.is_valid(), False).astype(bool)
    whole_text: pa.StringArray = pc.struct_field(parts, "whole")
    whole = _numpy(pc.cast(whole_text, pa.int64()), 0).astype(np.int64)
    fraction: pa.StringArray = pc.struct_field(parts, "fraction")
    head = pc.cast(pc.utf8_rpad(pc.utf8_slice_codeunits(fraction, 0, 6), 6, "0"), pa.int64())
    tail = pc.utf8_slice_codeunits(fraction, 6)
    first = pc.utf8_slice_codeunits(tail, 0, 1)
    beyond_half = _numpy(pc.greater(first, pa.scalar("5")), False).astype(bool)
    half = _numpy(pc.equal(first, pa.scalar("5")), False).astype(bool)
    rest_length = pc.utf8_length(pc.utf8_rtrim(pc.utf8_slice_codeunits(tail, 1), "0"))
    rest = _numpy(pc.greater(rest_length, pa.scalar(0)), False)
    exact = whole * MICROS_PER_SECOND + _numpy(head, 0).astype(np.int64)
    exact += beyond_half | (half & (rest.astype(bool) | (exact % 2 == 1)))
    sign: pa.StringArray = pc.struct_field(parts, "sign")
    negative = _numpy(pc.equal(sign, pa.scalar("-")), False).astype(bool)
    micros = np.where(negative, -exact, exact)
    if decimal.all():
        return micros
    other = ~decimal
    finite = _numpy(pc.match_substring_regex(text, f"^{_FINITE_TEXT}$"), False).astype(bool) & other
    finite_text: pa.StringArray = pc.if_else(pa.array(finite), text, None)
    seconds = _numpy(pc.cast(finite_text, pa.float64()), np.nan)
    usable = finite & np.isfinite(seconds) & (np.abs(seconds) < 9.2e12)
    micros[usable] = np.rint(seconds[usable] * 1e6).astype(np.int64)
    micros[other & ~usable] = 0
    row = first_row(other & ~usable)
    if row is not None:
        table.report(
            row,
            f"{column} {table.frame[column].iloc[row]!r} is not epoch seconds "
            "(a number such as 1709251200.0 or 1709251200.123456)",
        )
    return micros


def parse_floats(table: CsvTable, column: str, *, allow_empty: bool, finite: bool) -> np.ndarray:
    """Float text → float64, exactly as Python's ``float`` reads it (correctly rounded).

    Empty text is NaN when ``allow_empty``, else a problem; ``nan``/``inf`` are accepted unless
    ``finite``. Problems are reported to ``table``; their rows hold NaN.
    """
    text = _arrow_text(table, column)
    syntax = _numpy(pc.match_substring_regex(text, f"^(?:{_FLOAT_TEXT})$", ignore_case=True), False)
    syntax = syntax.astype(bool)
    empty = _numpy(pc.equal(pc.utf8_length(text), pa.scalar(0)), False).astype(bool)
    number_text: pa.StringArray = pc.if_else(pa.array(syntax), text, None)
    values = _numpy(pc.cast(number_text, pa.float64()), np.nan)
    values = values.astype(np.float64)
    row = first_row(~syntax & ~(empty & allow_empty))
    if row is not None:
        raw = table.frame[column].iloc[row]
        problem = "is empty" if empty[row] else f"{raw!r} is not a number"
        table.report(row, f"{column} {problem}")
    if finite:
        row = first_row(syntax & ~np.isfinite(values))
        if row is not None:
            table.report(row, f"{column} {table.frame[column].iloc[row]!r} is not a finite number")
    return values


def json_object_problem(text: str) -> str | None:
    """Why ``text`` is not the text of a JSON object, or ``None`` when it is."""
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        return f"is not valid JSON ({exc})"
    if not isinstance(parsed, dict):
        return f"is JSON {type(parsed).__name__}, not an object"
    return None


def first_bad_json(values: pd.Series | np.ndarray) -> tuple[int, str] | None:
    """First position (and reason) whose non-empty text is not a JSON object; each distinct text
    is parsed once."""
    texts = np.asarray(values, dtype=object)
    present = pd.notna(texts) & (texts != "")
    problems = {text: why for text in pd.unique(texts[present]) if (why := json_object_problem(text))}
    if not problems:
        return None
    row = first_row(present & pd.Series(texts).isin(list(problems)).to_numpy(dtype=bool))
    assert row is not None
    return row, problems[texts[row]]


def text_or_none(values: pd.Series) -> pd.Series:
    """Object column of ``str``, empty text → ``None``."""
    array = values.to_numpy(dtype=object, copy=True)
    array[array == ""] = None
    return pd.Series(array, dtype=object)


def text_array(values: np.ndarray | pd.Series) -> pa.StringArray:
    """Text (``str`` objects, no missing values) as an Arrow string array."""
    return pa.array(np.asarray(values, dtype=object), type=pa.string())


def format_epoch(micros: np.ndarray) -> pa.StringArray:
    """int64 microseconds → epoch seconds text like the old system's: ``1709251200.0``,
    ``1709251200.5``, ``1709251200.123456`` (exact, trailing zeros dropped)."""
    magnitude = np.abs(micros)
    whole: pa.StringArray = pc.cast(pa.array(magnitude // MICROS_PER_SECOND), pa.string())
    digits: pa.StringArray = pc.cast(pa.array(magnitude % MICROS_PER_SECOND), pa.string())
    fraction = pc.utf8_rtrim(pc.utf8_lpad(digits, 6, "0"), "0")
    fraction = pc.if_else(pc.equal(pc.utf8_length(fraction), pa.scalar(0)), "0", fraction)
    sign = pa.array(np.where(micros < 0, "-", ""), type=pa.string())
    joined: pa.StringArray = pc.binary_join_element_wise(sign, whole, ".", fraction, "")
    return joined


def format_floats(values: np.ndarray, *, nan_as: str) -> pa.StringArray:
    """float64 → shortest text that reads back to the same float (Python ``repr``: ``0.1``,
    ``1e-300``, ``-0.0``); NaN → ``nan_as``."""
    floats = np.asarray(values, dtype=np.float64)
    text = pa.array(floats.astype(str), type=pa.string())
    chosen: pa.StringArray = pc.if_else(pa.array(np.isnan(floats)), nan_as, text)
    return chosen


def quote(values: pa.StringArray) -> pa.StringArray:
    """RFC 4180 quoting where needed (delimiter, quote, CR or LF inside)."""
    needs = pc.match_substring_regex(values, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return values
    escaped = pc.replace_substring(values, '"', '""')
    # The stub's overloads want all scalars or all arrays; pyarrow broadcasts the scalars.
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")  # type: ignore[call-overload]
    chosen: pa.StringArray = pc.if_else(needs, quoted, values)
    return chosen


def csv_text(header: Sequence[str], columns: Sequence[pa.StringArray]) -> str:
    """Header line plus one ``\\n``-terminated line per row, from text columns (quoted here)."""
    head = ",".join(header) + "\n"
    if not len(columns[0]):
        return head
    quoted = [quote(column) for column in columns]
    # The stub's overloads want all scalars or all arrays; pyarrow broadcasts the separator.
    lines = pc.binary_join_element_wise(*quoted, ",")  # type: ignore[call-overload]
    return head + "\n".join(lines.to_pylist()) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` all or nothing: temp file in the same directory,
    fsync, ``os.replace``, fsync of the directory. The temp file is removed on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 lets the umask decide the mode, like a plain open() would.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(dir_fd)
