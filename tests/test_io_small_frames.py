"""Small frames go out row by row: the server must store exactly what ``Buffer.dataframe`` stores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from questdb import TimestampNanos

from qdbtools.io import small_frames
from qdbtools.io.small_frames import ROW_BY_ROW_MAX_ROWS
from qdbtools.io.writer import write_frame

TEXTS = ["plain", "it's", 'say "hi"', "back\\slash", "tab\tnew\nline", "100%", "ünïcødé ✓", "", None]


def _frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(n)
    at = pd.date_range("2024-03-01", periods=n, freq="37s", tz="UTC").as_unit("us")
    floats = rng.standard_normal(n)
    floats[::5] = np.nan
    other_time = pd.Series(at + pd.Timedelta("1h")).astype("datetime64[us, UTC]")
    other_time[::4] = pd.NaT
    texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
    return pd.DataFrame(
        {
            "at": at,
            "tag": pd.Categorical([None if i % 7 == 3 else TEXTS[i % 3] for i in range(n)], TEXTS[:3]),
            "same_tag": pd.Categorical(["one value"] * n),
            "price": floats,
            "count": rng.integers(-(2**62), 2**62, n),
            "flag": rng.integers(0, 2, n).astype(bool),
            "seen": other_time,
            "naive_seen": (at + pd.Timedelta("2h")).tz_localize(None).astype("datetime64[ns]"),
            "coarse_seen": (at + pd.Timedelta("3h")).astype("datetime64[s, UTC]"),
            "milli_seen": (at + pd.Timedelta("4h")).tz_localize(None).astype("datetime64[ms]"),
            "note": pd.Series(texts, dtype="object"),
            "label": pd.Series(texts, dtype="str"),
        }
    )


def _stored(db, table: str) -> pd.DataFrame:
    return db.sql(f"SELECT * FROM {table} ORDER BY timestamp")  # the designated "at" column


@pytest.mark.parametrize("n", [1, 7, 100])
def test_row_by_row_stores_what_the_dataframe_path_stores(qdb, unique_id, monkeypatch, n):
    frame = _frame(n)
    by_rows, by_frame = f"small_rows_{unique_id}", f"small_frame_{unique_id}"
    assert n <= ROW_BY_ROW_MAX_ROWS
    write_frame(qdb.transport, frame, by_rows, at="at", symbols=("tag", "same_tag"))
    monkeypatch.setattr("qdbtools.io.writer.ROW_BY_ROW_MAX_ROWS", 0)  # force Buffer.dataframe
    write_frame(qdb.transport, frame, by_frame, at="at", symbols=("tag", "same_tag"))
    columns = [qdb.sql(f"SELECT \"column\", type FROM table_columns('{t}')") for t in (by_rows, by_frame)]
    pd.testing.assert_frame_equal(columns[0], columns[1])
    pd.testing.assert_frame_equal(_stored(qdb, by_rows), _stored(qdb, by_frame), check_exact=True)
    assert len(_stored(qdb, by_rows)) == n


def test_cells_keep_nulls_and_exact_values():
    frame = _frame(9)
    tags = small_frames._cells(frame["tag"])
    assert tags[3] is None and tags[1] == "it's"
    prices = small_frames._cells(frame["price"])
    assert np.isnan(prices[0]) and prices[1] == frame["price"][1]
    first = small_frames._cells(frame["naive_seen"])[0]
    assert isinstance(first, TimestampNanos) and first.value == frame["naive_seen"][0].value
    seen = small_frames._cells(frame["seen"])
    assert seen[0] is None and seen[1] is not None
    assert small_frames._cells(frame["count"]) == frame["count"].tolist()
