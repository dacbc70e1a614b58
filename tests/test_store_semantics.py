"""The store's v2 semantics against the real QuestDB: layers, as_of, read-your-writes, the view."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import psycopg2
import pytest

import qdbtools.io.connection
from qdbtools.cli import main as cli_main
from qdbtools.database import Database
from qdbtools.io.literals import render_params
from qdbtools.schema import MARKER_SESSION_COLUMN
from qdbtools.store import SYMBOL_COLUMNS, current_values_sql
from qdbtools.store._commits import marker_query


def series(n: int, value: float | None = None, *, start: str = "2024-03-01", seed: int = 0) -> pd.DataFrame:
    index = pd.date_range(start, periods=n, freq="1min", tz="UTC", name="timestamp")
    values = np.full(n, value) if value is not None else np.random.default_rng(seed).normal(50, 10, n)
    return pd.DataFrame({"RSI_14": values}, index=index)


def test_append_layers_on_the_current_set_and_as_of_returns_what_a_load_returned(qdb, unique_id):
    first = qdb.save_indicators(series(100, seed=1), unique_id, "X", mode="overwrite")
    load_1 = qdb.load_indicators(unique_id, "X")
    update = pd.concat([series(10, 7.0, start="2024-03-01 01:30"), series(5, 8.0, start="2024-03-01 02:00")])
    second = qdb.save_indicators(update, unique_id, "X")  # 10 replaced, 5 new
    load_2 = qdb.load_indicators(unique_id, "X")
    assert len(load_2) == 105
    assert (load_2["RSI_14"].iloc[90:100] == 7.0).all() and (load_2["RSI_14"].iloc[100:] == 8.0).all()
    pd.testing.assert_frame_equal(load_2.iloc[:90], load_1.iloc[:90])
    third = qdb.save_indicators(series(3, 9.0, start="2024-03-01 01:00"), unique_id, "X", mode="overwrite")

    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X", as_of=first.committed_at), load_1)
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X", as_of=second.committed_at), load_2)
    just_before = third.committed_at - pd.Timedelta(microseconds=1)
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X", as_of=just_before), load_2)
    assert qdb.load_indicators(unique_id, "X")["RSI_14"].tolist() == [9.0] * 3
    history = qdb.indicator_history(unique_id, "X", "RSI_14")
    assert history["mode"].tolist() == ["overwrite", "append", "overwrite"]
    assert history["rows"].tolist() == [100, 15, 3]
    info = qdb.indicator_info(unique_id, "X", "RSI_14")
    assert (info["rows"], info["generations"], info["generation"]) == (3, 3, third.generation)


def test_appends_to_a_variant_never_overwritten_accumulate(qdb, unique_id):
    for day in range(3):
        qdb.save_indicators(series(4, float(day), start=f"2024-03-0{day + 1}"), unique_id, "X")
    back = qdb.load_indicators(unique_id, "X", shape="long")
    assert back["value"].tolist() == [0.0] * 4 + [1.0] * 4 + [2.0] * 4
    assert back["generation"].nunique() == 3
    assert qdb.load_indicators(unique_id, "X", limit=-2)["RSI_14"].tolist() == [2.0, 2.0]
    listing = qdb.list_indicators(unique_id)
    assert listing[["indicator_id", "rows"]].to_dict("records") == [{"indicator_id": "RSI_14", "rows": 12}]


def test_the_listing_as_records_holds_what_the_frame_holds(qdb, unique_id):
    qdb.save_indicators(series(4, 1.0, start="2024-03-01"), unique_id, "B")  # one save: its marker's figures
    for day in range(2):  # two saves: counted in the table
        qdb.save_indicators(series(3, float(day), start=f"2024-03-0{day + 1}"), unique_id, "A")
    frame = qdb.list_indicators(unique_id)
    records = qdb.list_indicators(unique_id, as_frame=False)
    assert [r["symbol"] for r in records] == ["A", "B"]
    assert [r["rows"] for r in records] == [6, 4]
    assert records[0]["first_timestamp"] == dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    assert records[1]["last_timestamp"] == dt.datetime(2024, 3, 1, 0, 3, tzinfo=dt.UTC)
    assert all(r["committed_at"].tzinfo is dt.UTC for r in records)
    assert frame.to_dict("records") == [
        {
            k: (pd.NaT if v is None else pd.Timestamp(v) if isinstance(v, dt.datetime) else v)
            for k, v in r.items()
        }
        for r in records
    ]


def test_a_listing_column_wise_equals_the_listing_key_by_key(qdb, unique_id, monkeypatch):
    """Many markers are listed column-wise (numpy), few key by key: both give the same listing."""
    import qdbtools.store._listing as listing

    session, other = unique_id, f"{unique_id}_it's \\ %é"
    qdb.save_indicators(series(5, 1.0).rename(columns={"RSI_14": "RSI_10"}).assign(RSI_7=2.0), session, "X")
    qdb.save_indicators(series(4, 3.0), session, "X", mode="overwrite")  # one save
    qdb.save_indicators(
        series(3, 4.0, start="2024-03-02"), session, "X"
    )  # layered on it (later values: markers add up)
    for day in range(2):  # appended only
        qdb.save_indicators(series(2, float(day), start=f"2024-03-0{day + 1}"), session, "Y")
    qdb.save_indicators(series(6, 5.0), session, "Y", mode="overwrite")  # overwrite after appends: one save
    qdb.save_indicators(series(2, 6.0), other, "Ω 'q'", variant_type="général")
    by_key = qdb.list_indicators(session), qdb.list_indicators(session, as_frame=False)
    by_key_other = qdb.list_indicators(other), qdb.list_indicators(other, as_frame=False)
    monkeypatch.setattr(listing, "COLUMNWISE_FROM", 0)
    pd.testing.assert_frame_equal(qdb.list_indicators(session), by_key[0])
    assert qdb.list_indicators(session, as_frame=False) == by_key[1]
    pd.testing.assert_frame_equal(qdb.list_indicators(other), by_key_other[0])
    assert qdb.list_indicators(other, as_frame=False) == by_key_other[1]
    rows = {(r["symbol"], r["indicator_id"]): r["rows"] for r in by_key[1]}
    assert rows == {("X", "RSI_7"): 5, ("X", "RSI_10"): 5, ("X", "RSI_14"): 7, ("Y", "RSI_14"): 6}
    assert [r["indicator_id"] for r in by_key[1]][:2] == ["RSI_7", "RSI_10"]


def test_appends_of_later_values_are_listed_from_their_markers_and_overlaps_are_counted_once(
    qdb, unique_id, monkeypatch
):
    """A variant appended to again and again (the service's default) costs a listing no query
    over its rows: its saves' ranges are disjoint, so the markers' figures add up. A state
    whose saves overlap is counted once; later appends of disjoint ranges extend the count."""
    for day in range(1, 6):
        qdb.save_indicators(series(3, float(day), start=f"2024-03-0{day}"), unique_id, "X")
    queries: list[str] = []
    fetch_rows = qdb.fetch_rows
    monkeypatch.setattr(qdb, "fetch_rows", lambda q, p=None: queries.append(q) or fetch_rows(q, p))

    def figures() -> tuple[tuple[Any, ...], tuple[Any, ...], int]:
        ((record,), info) = (
            qdb.list_indicators(unique_id, as_frame=False),
            qdb.indicator_info(unique_id, "X", "RSI_14"),
        )
        names = ("rows", "first_timestamp", "last_timestamp")
        counts = len([q for q in queries if "count_distinct" in q])
        return tuple(record[n] for n in names), tuple(info[n] for n in names), counts

    day = pd.Timedelta(days=1)
    first, last = pd.Timestamp("2024-03-01", tz="UTC"), pd.Timestamp("2024-03-05 00:02", tz="UTC")
    assert figures() == ((15, first, last), (15, first, last), 0)
    qdb.save_indicators(series(2, 9.0, start="2024-03-03 00:02"), unique_id, "X")  # 1 replaced, 1 new
    assert figures() == ((16, first, last), (16, first, last), 1)  # counted once, then known
    assert figures()[2] == 1
    qdb.save_indicators(series(3, 2.0, start="2024-03-06"), unique_id, "X")  # later: extends the count
    assert figures() == ((19, first, last + day), (19, first, last + day), 1)
    assert len(qdb.load_indicators(unique_id, "X")) == 19


@pytest.fixture
def waits(monkeypatch) -> list[list[str]]:
    """The tables of every wait for visibility (a ``wal_tables()`` query), in order."""
    seen: list[list[str]] = []
    real = qdbtools.io.connection.wait_until_visible

    def counting(run_query, tables, **kwargs):
        seen.append(sorted(tables))
        return real(run_query, tables, **kwargs)

    monkeypatch.setattr(qdbtools.io.connection, "wait_until_visible", counting)
    return seen


def test_read_your_writes_waits_only_for_this_databases_unapplied_writes(qdb, unique_id, waits):
    with Database(qdb.settings) as db:
        db.load_indicators(unique_id, "X", missing_ok=True)
        assert waits == []  # nothing written: no wal_tables() query at all
        frame = series(5000, seed=3)
        db.save_indicators(frame, unique_id, "X", mode="overwrite")
        assert waits == []  # the save returned on the acknowledgement
        pd.testing.assert_frame_equal(db.load_indicators(unique_id, "X"), frame, check_freq=False)
        assert waits == [["indicators"]]
        db.load_indicators(unique_id, "X")
        db.indicator_info(unique_id, "X", "RSI_14")
        assert waits == [["indicators"]]  # applied once: later reads do not wait


def test_wait_true_returns_when_every_reader_sees_the_save(qdb, unique_id):
    frame = series(2000, seed=4)
    with Database(qdb.settings) as writer, Database(qdb.settings) as reader:
        writer.save_indicators(frame, unique_id, "X", mode="overwrite", wait=True)
        pd.testing.assert_frame_equal(reader.load_indicators(unique_id, "X"), frame, check_freq=False)


def test_waiting_for_all_own_writes_makes_them_visible_to_other_databases(qdb, unique_id, waits):
    frame = series(3000, seed=6)
    with Database(qdb.settings) as writer, Database(qdb.settings) as reader:
        writer.wait_for_own_writes()
        assert waits == []  # nothing written: no query
        writer.save_indicators(frame, unique_id, "X", mode="overwrite")
        writer.wait_for_own_writes()
        assert waits == [["indicators"]]
        pd.testing.assert_frame_equal(reader.load_indicators(unique_id, "X"), frame, check_freq=False)
        writer.wait_for_own_writes()
        assert waits == [["indicators"]]  # already seen applied: no second query


def test_skip_unchanged_adds_no_history(qdb, unique_id):
    frame = series(50, seed=5)
    assert qdb.save_indicators(frame, unique_id, "X", mode="overwrite", skip_unchanged=True).rows == 50
    again = qdb.save_indicators(frame, unique_id, "X", mode="overwrite", skip_unchanged=True)
    assert (again.rows, again.unchanged) == (0, ("RSI_14",))
    changed = qdb.save_indicators(frame + 1, unique_id, "X", mode="overwrite", skip_unchanged=True)
    assert changed.rows == 50
    assert len(qdb.indicator_history(unique_id, "X", "RSI_14")) == 2


def _orphan(db: Database, session_id: str, value: float, n: int) -> None:
    """Value rows of a save whose commit marker never arrived (a crash between requests)."""
    rows = series(n, value).reset_index()
    rows = rows.melt(id_vars="timestamp", var_name="indicator_id", value_name="value").assign(
        session_id=session_id,
        symbol="X",
        indicator_type="general",
        scope=None,
        user_id=None,
        created_by=None,
        generation=42,
        written_at=pd.Timestamp.now(tz="UTC"),
    )
    db.write_frame(rows, "indicators", at="written_at", symbols=SYMBOL_COLUMNS, wait=True)


def _plain_connection(db: Database) -> psycopg2.extensions.connection:
    """A psycopg2 connection as any SQL tool opens one (no qdbtools in between)."""
    settings = db.settings
    return psycopg2.connect(
        host=settings.host,
        port=settings.pg_port,
        user=settings.username,
        password=settings.password,
        dbname=settings.database,
    )


def test_indicators_current_shows_plain_sql_users_only_current_values(qdb, unique_id):
    for round_ in range(6):
        qdb.save_indicators(series(500, float(round_)), unique_id, "X", mode="overwrite")
    qdb.save_indicators(series(10, 50.0, start="2024-03-01 08:20"), unique_id, "X")  # an append on top
    _orphan(qdb, unique_id, -999.0, 500)
    qdb.save_indicators(series(20, 1.0).rename(columns={"RSI_14": "RSI_140"}), unique_id, "X")
    qdb.wait_until_visible("indicators")
    conn = _plain_connection(qdb)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT timestamp, value FROM indicators_current WHERE session_id = %s AND "
                "indicator_id = 'RSI_14' ORDER BY timestamp",
                (unique_id,),
            )
            rows = cursor.fetchall()
            cursor.execute(
                "SELECT count(), min(value), max(value) FROM indicators_current WHERE session_id = %s",
                (unique_id,),
            )
            total, low, high = cursor.fetchone()
    finally:
        conn.close()
    assert len(rows) == 510 and {v for _, v in rows[:500]} == {5.0} and {v for _, v in rows[500:]} == {50.0}
    assert (total, low, high) == (530, 1.0, 50.0)  # no superseded rows, no orphan (-999)
    loaded = qdb.load_indicators(unique_id, "X", "RSI_14")
    assert loaded["RSI_14"].tolist() == [v for _, v in rows]
    raw = int(
        qdb.sql(
            "SELECT count() FROM indicators WHERE session_id = :s AND commit_mode IS NULL", {"s": unique_id}
        ).iat[0, 0]
    )
    assert raw == 6 * 500 + 10 + 500 + 20  # the history table keeps every save and the orphan


def test_the_current_values_sql_of_a_session_returns_what_the_view_returns(qdb, unique_id, capsys):
    session = f"{unique_id} it's \\ %é"
    for round_ in range(2):
        qdb.save_indicators(series(50, float(round_)).assign(EMA_12=7.0), session, "X", mode="overwrite")
    qdb.save_indicators(series(5, 9.0, start="2024-03-01 00:45"), session, "X")  # layered on top
    _orphan(qdb, session, -999.0, 20)
    qdb.save_indicators(series(10, 3.0), session, "Y 'q'", mode="overwrite")
    qdb.save_indicators(series(10, 4.0), f"{session}_other", "X", mode="overwrite")
    qdb.wait_until_visible("indicators")
    assert cli_main(["current-sql", session, "--symbol", "X"]) == 0
    printed = capsys.readouterr().out
    order = " ORDER BY symbol, indicator_id, timestamp"
    conn = _plain_connection(qdb)
    try:
        with conn.cursor() as cursor:
            # psycopg2 doubles a backslash in a bound value (QuestDB keeps both): a literal.
            where = render_params("session_id = :s", {"s": session})
            cursor.execute(f"SELECT * FROM indicators_current WHERE {where}" + order)
            view = cursor.fetchall()
            cursor.execute(f"SELECT * FROM ({current_values_sql(session)})" + order)
            whole = cursor.fetchall()
            cursor.execute(f"SELECT * FROM ({printed.strip()})" + order)
            one_symbol = cursor.fetchall()
    finally:
        conn.close()
    assert len(view) == 50 + 50 + 10 and whole == view  # RSI_14 and EMA_12 of X, RSI_14 of Y
    assert one_symbol == [row for row in view if row[2] == "X"] and len(one_symbol) == 100
    rsi = [row[6] for row in one_symbol if row[4] == "RSI_14"]
    assert rsi == [1.0] * 45 + [9.0] * 5  # the second overwrite, the append on top, no orphan


@pytest.mark.parametrize("engine", ["fast", "sqlalchemy"])
def test_layered_loads_are_identical_on_both_engines(qdb, unique_id, engine):
    qdb.save_indicators(series(30, seed=6).assign(EMA_12=1.0), unique_id, "X", mode="overwrite")
    qdb.save_indicators(series(10, 2.0, start="2024-03-01 00:25"), unique_id, "X")
    wide = qdb.load_indicators(unique_id, "X", engine=engine)
    assert len(wide) == 35 and (wide["RSI_14"].iloc[25:] == 2.0).all()
    assert wide["EMA_12"].iloc[:30].eq(1.0).all() and wide["EMA_12"].iloc[30:].isna().all()
    long = qdb.load_indicators(unique_id, "X", shape="long", engine=engine)
    assert len(long) == 65
    pd.testing.assert_frame_equal(long, qdb.load_indicators(unique_id, "X", shape="long", engine="fast"))


def test_one_variant_of_one_symbol_across_sessions_in_one_call(qdb, unique_id):
    sessions = [f"{unique_id}_{i}" for i in range(5)]
    for i, session in enumerate(sessions):
        frame = series(20, float(i)).assign(EMA_12=100.0 + i)
        qdb.save_indicators(frame, session, "XSYM", mode="overwrite")
        qdb.save_indicators(series(10, -1.0), session, "OTHER", mode="overwrite")  # another symbol
    qdb.save_indicators(series(5, 42.0, start="2024-03-01 00:15"), sessions[0], "XSYM")  # an append
    qdb.save_indicators(series(20, 7.0), sessions[1], "XSYM", mode="overwrite")  # RSI_14 only, again
    both = qdb.load_across_sessions("XSYM", ["RSI_14", "EMA_12"])
    both = both.loc[sessions]
    assert both.index.names == ["session_id", "timestamp"] and list(both.columns) == ["RSI_14", "EMA_12"]
    assert len(both) == 5 * 20
    first = both.loc[sessions[0], "RSI_14"]
    assert first.iloc[:15].eq(0.0).all() and first.iloc[15:].eq(42.0).all()
    assert both.loc[sessions[1], "RSI_14"].eq(7.0).all() and both.loc[sessions[1], "EMA_12"].eq(101.0).all()
    for i in range(2, 5):
        assert both.loc[sessions[i], "RSI_14"].eq(float(i)).all()
    some = qdb.load_across_sessions("XSYM", "RSI_14", sessions[3:])
    assert sorted(set(some.index.get_level_values(0))) == sessions[3:]
    assert qdb.load_across_sessions("XSYM", "NOT_STORED", sessions).empty
    one = qdb.load_across_sessions("XSYM", "RSI_14")["RSI_14"]
    assert one.loc[sessions[0]].iloc[:15].eq(0.0).all() and one.loc[sessions[0]].iloc[15:].eq(42.0).all()
    assert one.loc[sessions[1]].eq(7.0).all()


def test_many_sessions_are_read_with_one_range_scan_and_exact_results(qdb, unique_id):
    sessions = [f"{unique_id}_{i:03d}" for i in range(70)]  # more than one query's point lookups
    for i, session in enumerate(sessions):
        qdb.save_indicators(series(3, float(i)), session, "MANY", mode="overwrite")
        if i % 10 == 0:  # history that the range scan meets and must drop
            qdb.save_indicators(series(3, float(i)), session, "MANY", mode="overwrite")
    qdb.save_indicators(series(3, -5.0), f"{unique_id}_other", "ELSEWHERE", mode="overwrite")
    loaded = qdb.load_across_sessions("MANY", "RSI_14")
    loaded = loaded[loaded.index.get_level_values(0).str.startswith(unique_id)]
    assert len(loaded) == 70 * 3
    for i, session in enumerate(sessions):
        assert loaded.loc[session, "RSI_14"].tolist() == [float(i)] * 3


@pytest.mark.parametrize("session_suffix", ["", "it's", 'q"uote', "back\\slash", "zażółć 🚀"])
def test_one_sessions_markers_are_an_index_lookup_that_finds_exactly_them(qdb, unique_id, session_suffix):
    session_id = unique_id + session_suffix
    for symbol in ("A", "B"):
        qdb.save_indicators(series(5), session_id, symbol)
    qdb.save_indicators(series(5), unique_id + "_neighbour", "A")
    query, params = marker_query(session_id, details=True)
    plan = [row[0] for row in qdb.fetch_rows("EXPLAIN " + query, params)]
    assert any(f"Index forward scan on: {MARKER_SESSION_COLUMN}" in line for line in plan), plan
    listing = qdb.list_indicators(session_id=session_id)
    assert sorted(listing["symbol"]) == ["A", "B"] and set(listing["session_id"]) == {session_id}
    assert len(qdb.load_indicators(session_id, "A")) == 5


def _as_loaded(frame: pd.DataFrame) -> pd.DataFrame:
    index = pd.DatetimeIndex(frame.index, name="timestamp", freq=None).as_unit("us")
    return frame.set_axis(index).astype("float64")


def test_a_layered_load_keeps_each_timestamps_latest_save_past_later_rows(qdb, unique_id):
    """Appends over an overwrite, then rows at the same timestamps outside the state (an orphan
    written later, and saves after an ``as_of``): each load is the layers applied in order."""
    rng = np.random.default_rng(7)
    expected = series(200, seed=1)
    saved = [(qdb.save_indicators(expected, unique_id, "X", mode="overwrite").committed_at, expected)]
    for k in range(6):
        start = pd.Timestamp("2024-03-01") + pd.Timedelta(minutes=int(rng.integers(0, 220)))
        layer = series(int(rng.integers(1, 60)), seed=k + 2, start=start.isoformat())
        expected = layer.combine_first(expected)  # the append's values win where both have one
        saved.append((qdb.save_indicators(layer, unique_id, "X").committed_at, expected))
    _orphan(qdb, unique_id, -999.0, 300)  # later than every save, on the same timestamps

    want = _as_loaded(expected)
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X"), want)
    long = qdb.load_indicators(unique_id, "X", shape="long")
    assert long["value"].tolist() == want["RSI_14"].tolist() and long.index.equals(want.index)
    assert -999.0 not in long["value"].tolist()
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X", limit=7), want.head(7))
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X", limit=-7), want.tail(7))
    window = qdb.load_indicators(unique_id, "X", start="2024-03-01T01:00Z", end="2024-03-01T02:00Z")
    inside = (want.index >= "2024-03-01T01:00Z") & (want.index < "2024-03-01T02:00Z")  # end excluded
    pd.testing.assert_frame_equal(window, want[inside])
    for committed_at, then in saved:
        back_then = qdb.load_indicators(unique_id, "X", as_of=committed_at)
        pd.testing.assert_frame_equal(back_then, _as_loaded(then))


def test_a_save_sharing_its_microsecond_loads_exactly_its_values(qdb, unique_id, monkeypatch):
    """A single-key save is read by its save time alone (no server-side filter, so no new query
    to compile); saves of other processes in the same microsecond stay out, by generation, and
    one that even shares the generation (another key) sends the load to the filtered read."""
    import qdbtools.store._read as read
    import qdbtools.store._saves as saves

    filtered_reads = []
    real = read._one_variant
    monkeypatch.setattr(read, "_one_variant", lambda *a: filtered_reads.append(a[1]) or real(*a))
    micros = saves.new_generation() // 1000
    generations = iter([micros * 1000 + 1, micros * 1000 + 2, micros * 1000 + 1])
    monkeypatch.setattr(saves, "new_generation", lambda: next(generations))
    mine = series(50, seed=3)
    qdb.save_indicators(mine, unique_id, "X", mode="overwrite")
    other = series(30, 1.0).rename(columns={"RSI_14": "SMA_5"})
    qdb.save_indicators(other, unique_id, "Y", mode="overwrite")  # same microsecond, another save
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X", "RSI_14"), mine, check_freq=False)
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "Y", "SMA_5"), other, check_freq=False)
    assert filtered_reads == []

    qdb.save_indicators(series(20, 2.0), unique_id, "Z", mode="overwrite")  # its generation too
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X", "RSI_14"), mine, check_freq=False)
    assert len(filtered_reads) == 1 and "generation IN" in filtered_reads[0]
    assert qdb.load_indicators(unique_id, "Z")["RSI_14"].tolist() == [2.0] * 20


@pytest.mark.parametrize("details", ["before keys", "not json"])
def test_a_marker_without_the_keys_count_loads_through_the_filtered_read(
    qdb, unique_id, monkeypatch, details
):
    """Markers written before they counted their save's keys (or not by this store) never take
    the read by save time alone: the filtered read returns the same values."""
    import qdbtools.store._read as read
    import qdbtools.store._saves as saves

    filtered_reads = []
    real_read, real_row = read._one_variant, saves.marker_row
    monkeypatch.setattr(read, "_one_variant", lambda *a: filtered_reads.append(a[1]) or real_read(*a))

    def old_marker(key, session_id, symbol, mode, figures, *rest):
        row = real_row(
            key, session_id, symbol, mode, {k: v for k, v in figures.items() if k != "keys"}, *rest
        )
        if details == "not json":
            row["columns"]["metadata"] = "{not json"
        return row

    monkeypatch.setattr(saves, "marker_row", old_marker)
    mine = series(40, seed=4)
    qdb.save_indicators(mine, unique_id, "X", mode="overwrite")
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X", "RSI_14"), mine, check_freq=False)
    assert len(filtered_reads) == 1


def test_saves_of_one_key_in_one_microsecond_are_layered_by_generation(qdb, unique_id, monkeypatch):
    """Two processes may save one key in the same microsecond (their generations then differ
    in the random digits): a load orders such saves by generation, as commit order says, not
    by the order in which they reached the table. (The server's LATEST ON happens to break such
    ties by generation too, as its DEDUP keys sort them; the load does not rely on that.)"""
    import qdbtools.store._saves as saves

    qdb.save_indicators(series(10, 1.0), unique_id, "X", mode="overwrite")
    micros = saves.new_generation() // 1000
    first, second = micros * 1000 + 9, micros * 1000 + 5  # the second to arrive commits first
    generations = iter([first, second])
    monkeypatch.setattr(saves, "new_generation", lambda: next(generations))
    qdb.save_indicators(series(4, 2.0, start="2024-03-01 00:06"), unique_id, "X")
    qdb.save_indicators(series(4, 3.0, start="2024-03-01 00:04"), unique_id, "X")
    history = qdb.indicator_history(unique_id, "X", "RSI_14")
    assert history["committed_at"].iloc[1:].nunique() == 1 and len(history) == 3
    assert qdb.load_indicators(unique_id, "X")["RSI_14"].tolist() == [1.0] * 4 + [3.0] * 2 + [2.0] * 4
    long = qdb.load_indicators(unique_id, "X", shape="long")
    assert long["generation"].tolist()[4:] == [second] * 2 + [first] * 4


def test_a_remembered_state_is_extended_only_when_it_is_the_start_of_the_current_one():
    """The figures kept per key serve a later state only when its first saves are exactly the
    remembered ones (a save that arrives late, between them, makes another state)."""
    import json

    from qdbtools.store._commits import Commit
    from qdbtools.store._figures import MarkerCache

    def save(order: int, first_minute: int, last_minute: int) -> Commit:
        first, last = (f"2024-01-01T00:{m:02d}:00.000000Z" for m in (first_minute, last_minute))
        details = {"rows": last_minute - first_minute + 1, "first": first, "last": last}
        return Commit(order, order * 1000, "append", json.dumps(details), None)

    def naive(minute: int) -> dt.datetime:
        return dt.datetime(2024, 1, 1, 0, minute)

    cache, key = MarkerCache(), ("s", "y", "t", "i")
    a, b = save(1, 0, 10), save(3, 5, 20)  # overlapping: 16 distinct minutes, counted
    assert cache.state(key, [a, b]) is None
    cache.remember(key, [a, b], (16, naive(0), naive(20)))
    assert cache.state(key, [a, b]) == (16, naive(0), naive(20))
    later = save(4, 30, 39)
    assert cache.state(key, [a, b, later]) == (26, naive(0), naive(39))
    late = save(2, 50, 59)  # committed between a and b, seen only now
    assert cache.state(key, [a, late, b, save(6, 40, 45)]) is None
