"""Writers through Sender.dataframe against the real QuestDB: semantics and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from market_data import make_ticks

from qdbtools.config import Settings
from qdbtools.database import Database
from qdbtools.exceptions import DatabaseUnavailableError, InvalidInputError, MissingColumnsError
from qdbtools.server import free_ports


def count(db, session_id):
    return int(db.sql("SELECT count() FROM tick_prices WHERE session_id = :s", {"s": session_id}).iat[0, 0])


def test_ticks_round_trip_exactly_and_are_visible_on_return(qdb, unique_id):
    ticks = make_ticks(1500)
    result = qdb.write_ticks(ticks, session_id=unique_id, symbol="BTC_USDT")
    assert result.rows == 1500 and result.table == "tick_prices"
    assert count(qdb, unique_id) == 1500  # wait=True: no polling needed
    back = qdb.read_ticks(unique_id, "BTC_USDT")
    assert back.index.tz is not None and str(back.index.tz) == "UTC"
    assert (back.index == ticks["timestamp"]).all()
    np.testing.assert_array_equal(back["price"].to_numpy(), ticks["price"].to_numpy())
    np.testing.assert_array_equal(back["volume"].to_numpy(), ticks["volume"].to_numpy())


def test_reimporting_the_same_ticks_adds_nothing(qdb, unique_id):
    ticks = make_ticks(800, seed=3)
    qdb.write_ticks(ticks, session_id=unique_id, symbol="ETH_USDT")
    qdb.write_ticks(
        ticks.sample(frac=1.0, random_state=1).sort_values("timestamp", kind="stable"),
        session_id=unique_id,
        symbol="ETH_USDT",
    )
    assert count(qdb, unique_id) == 800


def test_two_trades_in_the_same_microsecond_stay_two(qdb, unique_id):
    stamp = pd.Timestamp("2024-03-01T12:00:00.000001Z")
    ticks = pd.DataFrame({"timestamp": [stamp, stamp], "price": [100.0, 100.5], "volume": [1.0, 2.0]})
    qdb.write_ticks(ticks, session_id=unique_id, symbol="X")
    qdb.write_ticks(ticks, session_id=unique_id, symbol="X")
    back = qdb.read_ticks(unique_id, "X")
    assert back["price"].tolist() == [100.0, 100.5]
    assert back["trade_id"].tolist() == [0, 1]


def test_exchange_trade_ids_are_kept(qdb, unique_id):
    ticks = make_ticks(50).assign(trade_id=np.arange(9_000_000_000, 9_000_000_050))
    qdb.write_ticks(ticks, session_id=unique_id, symbol="X")
    assert qdb.read_ticks(unique_id, "X")["trade_id"].tolist() == list(range(9_000_000_000, 9_000_000_050))


def test_unsorted_ticks_are_accepted_and_read_back_in_time_order(qdb, unique_id):
    ticks = make_ticks(300, seed=5)
    qdb.write_ticks(ticks.iloc[::-1], session_id=unique_id, symbol="X")
    back = qdb.read_ticks(unique_id, "X")
    assert back.index.is_monotonic_increasing and len(back) == 300


def test_frames_larger_than_one_request_go_in_chunks(qdb, unique_id):
    ticks = make_ticks(1000, seed=11)
    qdb.write_ticks(ticks, session_id=unique_id, symbol="X", chunk_rows=128)
    assert count(qdb, unique_id) == 1000


NASTY = [
    "x'; DROP TABLE tick_prices; --",
    "a \"quoted\" 'value'",
    "semi;colon,comma=equals",
    "zażółć 🚀 日本",
    "s" * 1000,
    "",
    "new\nline",
]


@pytest.mark.parametrize("engine", ["fast", "sqlalchemy"])
@pytest.mark.parametrize("value", NASTY, ids=range(len(NASTY)))
def test_hostile_ids_are_stored_and_read_back_exactly(qdb, unique_id, value, engine):
    ticks = make_ticks(5, seed=1)
    qdb.write_ticks(ticks, session_id=unique_id + value, symbol=value)
    back = qdb.read_ticks(unique_id + value, value, engine=engine)
    assert len(back) == 5
    assert set(back["session_id"]) == {unique_id + value} and set(back["symbol"]) == {value}
    # The readers fill the pinned key columns from the filter; check the stored text itself.
    stored = qdb.sql(
        "SELECT DISTINCT session_id, symbol FROM tick_prices WHERE symbol = :v AND session_id LIKE :prefix",
        {"v": value, "prefix": unique_id + "%"},
    )
    assert stored.values.tolist() == [[unique_id + value, value]]
    assert {"tick_prices", "indicators"} <= set(qdb.tables())


def test_accessor_writes_to_the_given_or_default_database(qdb, unique_id):
    ticks = make_ticks(20)
    ticks.qdb.write_ticks(session_id=unique_id, symbol="A", db=qdb)
    ticks.set_index("timestamp").qdb.write_ticks(session_id=unique_id, symbol="B")  # default db
    assert count(qdb, unique_id) == 40


# -- bad input: clear errors, nothing written --------------------------------------------------


def _bad_frames():
    good = make_ticks(10)
    naive = good.assign(timestamp=good["timestamp"].dt.tz_localize(None))
    nat = good.copy()
    nat.loc[4, "timestamp"] = pd.NaT
    text = good.assign(timestamp=good["timestamp"].astype(str))
    nan_price = good.copy()
    nan_price.loc[3, "price"] = np.nan
    inf_price = good.copy()
    inf_price.loc[6, "price"] = np.inf
    negative = good.copy()
    negative.loc[2, "volume"] = -1.0
    with_ids = good.assign(trade_id=np.arange(10))
    clash = pd.concat([with_ids, with_ids.iloc[[5]].assign(price=1.0)], ignore_index=True)
    return [
        ("missing timestamp", good.drop(columns="timestamp"), MissingColumnsError, "no timestamp"),
        ("naive timestamps", naive, InvalidInputError, "naive"),
        (
            "naive index",
            naive.set_index("timestamp"),
            InvalidInputError,
            "DatetimeIndex is naive (no time zone), which is ambiguous; qdbtools stores UTC: the times "
            "are in the index, so use frame.index = frame.index.tz_localize('UTC')",
        ),
        ("NaT", nat, InvalidInputError, "NaT at row 4"),
        ("text timestamps", text, InvalidInputError, "not datetime"),
        ("NaN price", nan_price, InvalidInputError, "'price' must be a finite number > 0; row 3"),
        ("inf price", inf_price, InvalidInputError, "'price' must be a finite number > 0; row 6"),
        ("negative volume", negative, InvalidInputError, "'volume' must be a finite number >= 0; row 2"),
        ("conflicting duplicate", clash, InvalidInputError, "differ in price or volume"),
        ("extra column", good.assign(note="x"), InvalidInputError, "tick_prices has no columns ['note']"),
        ("missing price", good.drop(columns="price"), MissingColumnsError, "['price']"),
    ]


@pytest.mark.parametrize(
    ("label", "frame", "error", "fragment"), _bad_frames(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_bad_ticks_are_refused_before_sending(qdb, unique_id, label, frame, error, fragment):
    with pytest.raises(error) as info:
        qdb.write_ticks(frame, session_id=unique_id, symbol="X")
    assert fragment in str(info.value), str(info.value)
    assert count(qdb, unique_id) == 0


def test_duplicate_rows_with_trade_ids_collapse(qdb, unique_id):
    ticks = make_ticks(10).assign(trade_id=np.arange(10))
    qdb.write_ticks(pd.concat([ticks, ticks.iloc[[2, 3]]]), session_id=unique_id, symbol="X")
    assert count(qdb, unique_id) == 10


def test_identical_rows_without_trade_ids_are_separate_trades(qdb, unique_id):
    # Without ids nothing tells a resent row from a second trade at the same price and size.
    ticks = make_ticks(10)
    qdb.write_ticks(pd.concat([ticks, ticks.iloc[[2]]]), session_id=unique_id, symbol="X")
    assert count(qdb, unique_id) == 11


def test_write_frame_refuses_mixed_object_columns_and_inf(qdb, unique_id):
    table = f"{unique_id}_frame"
    base = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=3, freq="s", tz="UTC")})
    with pytest.raises(InvalidInputError, match=r"column 'note' mixes types: row 1 .* int 5"):
        qdb.write_frame(base.assign(note=["a", 5, "c"]), table)
    with pytest.raises(InvalidInputError, match="column 'x' holds inf at row 2"):
        qdb.write_frame(base.assign(x=[1.0, 2.0, -np.inf]), table)
    assert table not in qdb.tables()
    qdb.write_frame(base.assign(x=[1.0, np.nan, 3.0], tag=["a", "b", "a"]), table, symbols=["tag"])
    back = qdb.sql(f"SELECT x, tag FROM {table}")
    assert back["x"].isna().tolist() == [False, True, False]  # NaN is stored as NULL


def test_write_frame_converts_other_time_zones_to_utc(qdb, unique_id):
    table = f"{unique_id}_tz"
    stamps = pd.date_range("2024-01-01 09:00", periods=2, freq="h", tz="Europe/Warsaw")
    qdb.write_frame(pd.DataFrame({"timestamp": stamps, "v": [1.0, 2.0]}), table)
    back = qdb.sql(f"SELECT timestamp FROM {table}")
    assert back["timestamp"].tolist() == [pd.Timestamp("2024-01-01 08:00"), pd.Timestamp("2024-01-01 09:00")]


def test_invalid_table_name_is_refused(qdb):
    with pytest.raises(InvalidInputError, match="table name"):
        qdb.write_frame(make_ticks(2), "bad name; drop")


def test_writing_to_a_stopped_server_is_a_clear_error():
    (port,) = free_ports(1)
    db = Database(Settings(http_port=port, pg_port=port, connect_timeout=2, request_timeout=5))
    with pytest.raises(DatabaseUnavailableError, match=f"127.0.0.1:{port}"):
        db.write_ticks(make_ticks(3), session_id="s", symbol="X", wait=False)


def test_server_stopped_mid_write_reports_confirmed_rows_and_a_retry_adds_no_duplicates(qdb_server_factory):
    import contextlib

    from qdbtools.exceptions import DatabaseError
    from qdbtools.server import LocalServer

    server = qdb_server_factory()
    db = Database(server.settings, server=server)
    db.migrate()
    ticks = make_ticks(1000, seed=99)
    real_sender = db.transport.sender

    class StopAfterFirstChunk:
        def __init__(self, sender):
            self.sender, self.flushes = sender, 0

        def new_buffer(self):
            return self.sender.new_buffer()

        def flush(self, buffer=None):
            if self.flushes == 1:
                server.stop()  # the first chunk is confirmed; the server goes away before the second
            self.flushes += 1
            return self.sender.flush(buffer)

    @contextlib.contextmanager
    def sender_that_loses_its_server():
        with real_sender() as sender:
            yield StopAfterFirstChunk(sender)

    db.transport.sender = sender_that_loses_its_server
    with pytest.raises(DatabaseError, match="400 of 1000 rows were written before the failure"):
        db.write_ticks(ticks, session_id="s", symbol="X", chunk_rows=400)
    db.close()
    restarted = LocalServer(server.root, ports=server.ports, heap="384m").start()
    try:
        again = Database(restarted.settings)
        again.write_ticks(ticks, session_id="s", symbol="X", chunk_rows=400)
        assert count(again, "s") == 1000
        again.close()
    finally:
        restarted.stop()


@pytest.mark.parametrize("engine", ["fast", "sqlalchemy"])
def test_reading_from_a_stopped_server_raises_instead_of_returning_empty(engine):
    (port,) = free_ports(1)
    db = Database(Settings(http_port=port, pg_port=port, connect_timeout=2, request_timeout=5))
    with pytest.raises(DatabaseUnavailableError, match=f"127.0.0.1:{port}"):
        db.read_ticks("s", "X", engine=engine)
