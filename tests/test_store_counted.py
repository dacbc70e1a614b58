"""States of overlapping saves: counted once by one reader, then read by every process (real QuestDB)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from qdbtools.exceptions import DatabaseUnavailableError
from qdbtools.schema import STATE_FIGURES_TABLE
from qdbtools.store import _counted
from qdbtools.store._figures import MARKERS


def series(n: int, value: float, *, start: str) -> pd.DataFrame:
    index = pd.date_range(start, periods=n, freq="1min", tz="UTC", name="timestamp")
    return pd.DataFrame({"RSI_14": np.full(n, value)}, index=index)


@pytest.fixture
def queries(qdb, monkeypatch) -> list[str]:
    """Every query text ``qdb`` runs from here on."""
    seen: list[str] = []
    fetch_rows = qdb.fetch_rows
    monkeypatch.setattr(qdb, "fetch_rows", lambda q, p=None: seen.append(q) or fetch_rows(q, p))
    return seen


def _sliding_window(qdb, session_id: str, symbol: str = "X") -> None:
    """Three saves of 10 bars, each re-saving the 5 last bars of the one before: 20 distinct."""
    for i, start in enumerate(("2024-03-01 00:00", "2024-03-01 00:05", "2024-03-01 00:10")):
        qdb.save_indicators(series(10, float(i), start=start), session_id, symbol)


def _figures(qdb, session_id: str) -> tuple[int, pd.Timestamp, pd.Timestamp]:
    ((record,),) = (qdb.list_indicators(session_id, as_frame=False),)
    return record["rows"], record["first_timestamp"], record["last_timestamp"]


def _counts(queries: list[str]) -> int:
    return len([q for q in queries if "count_distinct" in q])


EXPECTED = (20, pd.Timestamp("2024-03-01 00:00", tz="UTC"), pd.Timestamp("2024-03-01 00:19", tz="UTC"))


@pytest.mark.parametrize("odd", ["", 'it\'s a \\ "q" 100% ,= zażółć 🚀'], ids=["plain", "odd-ids"])
def test_a_state_counted_by_one_reader_is_read_by_a_new_process_without_counting(
    qdb, unique_id, queries, odd
):
    session_id, symbol = unique_id + odd, "X" + odd.replace("\\", "/")
    _sliding_window(qdb, session_id, symbol)
    MARKERS.clear()
    assert _figures(qdb, session_id) == EXPECTED
    assert _counts(queries) == 1
    qdb.wait_until_visible(STATE_FIGURES_TABLE)
    MARKERS.clear()  # what a new process knows: nothing
    assert _figures(qdb, session_id) == EXPECTED
    assert _counts(queries) == 1  # read from the table instead
    assert qdb.indicator_info(session_id, symbol, "RSI_14")["rows"] == 20
    # A later save of later bars extends the stored state, still without counting.
    qdb.save_indicators(series(5, 7.0, start="2024-03-01 01:00"), session_id, symbol)
    MARKERS.clear()
    assert _figures(qdb, session_id)[0] == 25
    assert _counts(queries) == 1
    assert len(qdb.load_indicators(session_id, symbol)) == 25


def test_stored_figures_of_another_state_are_never_used(qdb, unique_id, queries):
    _sliding_window(qdb, unique_id)
    MARKERS.clear()
    assert _figures(qdb, unique_id) == EXPECTED
    qdb.wait_until_visible(STATE_FIGURES_TABLE)
    # An overwrite starts another state; its own overlapping append must be counted anew.
    qdb.save_indicators(series(4, 1.0, start="2024-04-01"), unique_id, "X", mode="overwrite")
    qdb.save_indicators(series(4, 2.0, start="2024-04-01 00:02"), unique_id, "X")
    MARKERS.clear()
    rows, first, last = _figures(qdb, unique_id)
    assert (rows, first, last) == (
        6,
        pd.Timestamp("2024-04-01", tz="UTC"),
        pd.Timestamp("2024-04-01 00:05", tz="UTC"),
    )
    assert _counts(queries) == 2
    assert len(qdb.load_indicators(unique_id, "X")) == 6


def test_figures_that_cannot_be_stored_are_logged_and_the_listing_stays_exact(
    qdb, unique_id, queries, monkeypatch, caplog
):
    _sliding_window(qdb, unique_id)

    def refused(*args, **kwargs):  # a write refused by the server, which a test cannot provoke alone
        raise DatabaseUnavailableError("QuestDB refused the request (test)")

    monkeypatch.setattr(_counted, "send_rows", refused)
    MARKERS.clear()
    with caplog.at_level(logging.WARNING, logger="qdbtools.store._counted"):
        assert _figures(qdb, unique_id) == EXPECTED
    assert "could not store the figures of 1 counted indicator states" in caplog.text
    assert "refused the request (test)" in caplog.text
    MARKERS.clear()
    assert _figures(qdb, unique_id) == EXPECTED
    assert _counts(queries) == 2  # nothing was stored: counted again
