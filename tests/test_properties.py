"""Property-based round trips (hypothesis) through the store, the service and the tick writer.

Arbitrary ids (quotes, backslashes, %, unicode, control characters; NUL and lone surrogates
are refused elsewhere), values and timestamps go in and must come back exactly, from the
real QuestDB of the test plugin, on every read engine.
"""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdbtools.service import IndicatorPersistenceService, IndicatorValue

SERVER_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

ids = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
nonempty_ids = ids.filter(bool)
save_keys = ids.filter(str.strip)  # a save refuses an empty or blank session_id or symbol
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
# Microseconds from 1970 to 2100: QuestDB's TIMESTAMP resolution and a range any feed uses.
micros = st.integers(min_value=0, max_value=4_102_444_800_000_000)


def _stamps(draw_list: list[int]) -> pd.DatetimeIndex:
    stamps = np.array(sorted(set(draw_list)), dtype="datetime64[us]")
    return pd.DatetimeIndex(stamps, tz="UTC", name="timestamp")


def _fresh(unique_id: str) -> str:
    """A session prefix of its own for each example (the fixtures are shared by all of them)."""
    return f"{unique_id}_{uuid.uuid4().hex[:8]}_"


@SERVER_SETTINGS
@given(
    session=ids,
    symbol=save_keys,
    variant=nonempty_ids,
    stamps=st.lists(micros, min_size=1, max_size=30),
    data=st.data(),
)
def test_store_round_trips_exactly(qdb, unique_id, session, symbol, variant, stamps, data):
    index = _stamps(stamps)
    values = data.draw(st.lists(finite, min_size=len(index), max_size=len(index)))
    frame = pd.DataFrame({variant: values}, index=index)
    session_id = _fresh(unique_id) + session
    qdb.save_indicators(frame, session_id, symbol, mode="overwrite")
    for engine in ("fast", "sqlalchemy"):
        back = qdb.load_indicators(session_id, symbol, variant, engine=engine)
        pd.testing.assert_frame_equal(back, frame, check_exact=True, check_freq=False)


json_leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | finite | ids
metadata = st.dictionaries(ids, json_leaf, max_size=3)


@SERVER_SETTINGS
@given(
    session=ids,
    symbol=save_keys,
    variant=nonempty_ids,
    rows=st.lists(
        st.tuples(micros, finite, st.none() | finite, metadata, st.none() | nonempty_ids),
        min_size=1,
        max_size=20,
        unique_by=lambda row: row[0],
    ),
)
def test_service_round_trips_exactly(qdb, unique_id, session, symbol, variant, rows):
    service = IndicatorPersistenceService(questdb_provider=qdb)
    values = [
        IndicatorValue(timestamp=us / 1e6, value=v, confidence=c, metadata=m, scope=scope)
        for us, v, c, m, scope in rows
    ]
    session_id = _fresh(unique_id) + session
    count = asyncio.run(service.save_values(session_id, symbol, variant, values, mode="overwrite"))
    assert count == len(values)
    back = asyncio.run(service.load_values(session_id, symbol, variant))
    expected = sorted(values, key=lambda v: v.timestamp)
    assert [round(v.timestamp * 1e6) for v in back] == [round(v.timestamp * 1e6) for v in expected]
    assert [v.value for v in back] == [v.value for v in expected]
    assert [v.confidence for v in back] == [v.confidence for v in expected]
    assert [v.metadata for v in back] == [v.metadata for v in expected]
    assert [v.scope for v in back] == [v.scope for v in expected]


@SERVER_SETTINGS
@given(
    session=ids,
    symbol=ids,
    ticks=st.lists(
        st.tuples(micros, st.floats(1e-9, 1e12), st.floats(0, 1e12)),
        min_size=1,
        max_size=30,
        unique_by=lambda tick: tick[0],
    ),
)
def test_ticks_round_trip_exactly(qdb, unique_id, session, symbol, ticks):
    ticks = sorted(ticks)
    frame = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(np.array([t[0] for t in ticks], dtype="datetime64[us]"), tz="UTC"),
            "price": [t[1] for t in ticks],
            "volume": [t[2] for t in ticks],
        }
    )
    session_id = _fresh(unique_id) + session
    qdb.write_ticks(frame, session_id=session_id, symbol=symbol)
    for engine in ("fast", "sqlalchemy"):
        back = qdb.read_ticks(session_id, symbol, engine=engine)
        assert (back.index == pd.DatetimeIndex(frame["timestamp"])).all()
        np.testing.assert_array_equal(back["price"].to_numpy(), frame["price"].to_numpy())
        np.testing.assert_array_equal(back["volume"].to_numpy(), frame["volume"].to_numpy())


# One save of a sequence: its mode, its first minute and how many minutes it holds.
saves = st.tuples(st.sampled_from(["append", "overwrite"]), st.integers(0, 40), st.integers(1, 12))


@SERVER_SETTINGS
@given(sequence=st.lists(saves, min_size=1, max_size=6), data=st.data())
def test_listing_and_info_figures_equal_what_a_load_returns(qdb, unique_id, sequence, data, monkeypatch):
    """Rows, first and last of a state of several saves, disjoint (added up from the markers)
    or overlapping (counted in the table), key by key and column-wise, equal the load's."""
    import qdbtools.store._listing as listing

    session_id = _fresh(unique_id)
    start = pd.Timestamp("2024-03-01", tz="UTC")
    for mode, first_minute, minutes in sequence:
        index = pd.date_range(start + pd.Timedelta(minutes=first_minute), periods=minutes, freq="1min")
        values = data.draw(st.lists(finite, min_size=minutes, max_size=minutes))
        frame = pd.DataFrame({"RSI_14": values}, index=index.rename("timestamp"))
        qdb.save_indicators(frame, session_id, "X", mode=mode)
    loaded = qdb.load_indicators(session_id, "X", "RSI_14")
    expected = (len(loaded), loaded.index.min(), loaded.index.max())
    info = qdb.indicator_info(session_id, "X", "RSI_14")
    assert (info["rows"], info["first_timestamp"], info["last_timestamp"]) == expected
    for columnwise_from in (listing.COLUMNWISE_FROM, 0):
        monkeypatch.setattr(listing, "COLUMNWISE_FROM", columnwise_from)
        (record,) = qdb.list_indicators(session_id, as_frame=False)
        assert (record["rows"], record["first_timestamp"], record["last_timestamp"]) == expected
