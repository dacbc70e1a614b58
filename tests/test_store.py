"""The indicator store against the real QuestDB: append, overwrite, history, prune, faults."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

from qdbtools.database import Database
from qdbtools.exceptions import InvalidInputError, NoDataError


def values(n: int = 500, *, seed: int = 0, start: str = "2024-03-01", scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=n, freq="1min", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {"RSI_14": 50 + 10 * rng.standard_normal(n) * scale, "EMA_12": 100 + rng.standard_normal(n).cumsum()},
        index=index,
    )


def stored_rows(db, session_id, variant_id=None) -> int:
    """Current values of a session as a plain SQL user counts them (the ``indicators_current`` view)."""
    query = "SELECT count() FROM indicators_current WHERE session_id = :s"
    params = {"s": session_id}
    if variant_id:
        query += " AND indicator_id = :i"
        params["i"] = variant_id
    return int(db.sql(query, params).iat[0, 0])


def raw_rows(db, session_id, variant_id=None) -> int:
    """Value rows of every save, current or not, in the history table ``indicators``."""
    query = "SELECT count() FROM indicators WHERE session_id = :s AND commit_mode IS NULL"
    params = {"s": session_id}
    if variant_id:
        query += " AND indicator_id = :i"
        params["i"] = variant_id
    db.wait_until_visible("indicators")
    return int(db.sql(query, params).iat[0, 0])


def test_wide_frame_round_trips_exactly(qdb, unique_id):
    frame = values()
    frame.iloc[:13, 0] = np.nan  # warm-up is not stored
    result = frame.qdb.save_indicators(session_id=unique_id, symbol="BTC_USDT")
    assert result.rows == 500 + 487
    back = qdb.load_indicators(unique_id, "BTC_USDT")
    assert list(back.columns) == ["EMA_12", "RSI_14"]
    pd.testing.assert_frame_equal(back[frame.columns], frame, check_freq=False)
    assert str(back.index.tz) == "UTC"


def test_long_frame_keeps_confidence_zero_metadata_and_provenance(qdb, unique_id):
    long = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-03-01", periods=3, freq="1min", tz="UTC"),
            "indicator_id": "RSI_14",
            "value": [30.0, 50.0, 70.0],
            "confidence": [0.0, 0.5, np.nan],
            "metadata": [{"period": 14}, '{"src": "x"}', None],
            "indicator_name": "Relative Strength Index",
        }
    )
    qdb.save_indicators(
        long, unique_id, "ETH", variant_type="momentum", scope="s", user_id="u", created_by="c"
    )
    back = qdb.load_indicators(unique_id, "ETH", "RSI_14", shape="long")
    assert back["confidence"].tolist()[:2] == [0.0, 0.5] and np.isnan(back["confidence"].iloc[2])
    assert back["metadata"].tolist()[:2] == ['{"period": 14}', '{"src": "x"}']
    assert set(back["indicator_type"]) == {"momentum"} and set(back["created_by"]) == {"c"}
    assert set(back["indicator_name"]) == {"Relative Strength Index"}


def test_exact_variant_matching(qdb, unique_id):
    frame = values().rename(columns={"EMA_12": "RSI_140"})
    qdb.save_indicators(frame, unique_id, "X")
    only = qdb.load_indicators(unique_id, "X", "RSI_14")
    assert list(only.columns) == ["RSI_14"]
    np.testing.assert_array_equal(only["RSI_14"].to_numpy(), frame["RSI_14"].to_numpy())
    assert qdb.indicator_info(unique_id, "X", "RSI_14")["rows"] == 500


def test_append_is_idempotent_and_replaces_values_at_existing_timestamps(qdb, unique_id):
    frame = values()
    qdb.save_indicators(frame, unique_id, "X")
    qdb.save_indicators(frame, unique_id, "X", wait=True)  # the same values again
    assert stored_rows(qdb, unique_id) == 1000
    assert raw_rows(qdb, unique_id) == 2000  # both saves are history
    update = frame.iloc[490:].copy() * 2
    more = values(20, start="2024-03-01 08:20")  # continues after the last bar
    qdb.save_indicators(pd.concat([update, more]), unique_id, "X")
    back = qdb.load_indicators(unique_id, "X")
    assert len(back) == 520
    np.testing.assert_array_equal(back["RSI_14"].iloc[490:500].to_numpy(), update["RSI_14"].to_numpy())
    np.testing.assert_array_equal(back["RSI_14"].iloc[:490].to_numpy(), frame["RSI_14"].iloc[:490].to_numpy())


def test_overwrite_replaces_the_whole_set_and_keeps_history(qdb, unique_id):
    old, new = values(500, seed=1), values(200, seed=2, start="2024-03-02")
    first = qdb.save_indicators(old, unique_id, "X", mode="overwrite")
    second = qdb.save_indicators(new[["RSI_14"]], unique_id, "X", mode="overwrite")
    assert second.generations["RSI_14"] != first.generations["RSI_14"]
    back = qdb.load_indicators(unique_id, "X")
    pd.testing.assert_frame_equal(back[["RSI_14"]].dropna(), new[["RSI_14"]], check_freq=False)
    assert len(back["EMA_12"].dropna()) == 500  # other variants are untouched
    history = qdb.indicator_history(unique_id, "X", "RSI_14")
    assert history["mode"].tolist() == ["overwrite", "overwrite"]
    earlier = qdb.load_indicators(unique_id, "X", "RSI_14", as_of=history["committed_at"].iloc[0])
    pd.testing.assert_frame_equal(earlier, old[["RSI_14"]], check_freq=False)


def test_limit_start_end_and_variant_types(qdb, unique_id):
    frame = values()
    qdb.save_indicators(frame, unique_id, "X", variant_type="momentum")
    qdb.save_indicators(frame * 0 + 1, unique_id, "X", variant_type="general")
    clash = r"several variant types \(general, momentum\); pass variant_type="
    with pytest.raises(InvalidInputError, match=clash):
        qdb.load_indicators(unique_id, "X", "RSI_14")
    momentum = qdb.load_indicators(unique_id, "X", "RSI_14", variant_type="momentum", limit=-5)
    np.testing.assert_array_equal(momentum["RSI_14"].to_numpy(), frame["RSI_14"].iloc[-5:].to_numpy())
    window = qdb.load_indicators(
        unique_id,
        "X",
        ["RSI_14"],
        start="2024-03-01T01:00:00Z",
        end="2024-03-01T02:00:00Z",
        variant_type="general",
    )
    assert len(window) == 60 and (window["RSI_14"] == 1).all()
    assert len(qdb.load_indicators(unique_id, "X", variant_type="general", limit=7)) == 7


def test_nothing_stored_is_no_data_or_with_missing_ok_an_empty_frame(qdb, unique_id):
    with pytest.raises(NoDataError, match="missing_ok=True"):
        qdb.load_indicators(unique_id, "X")
    assert qdb.load_indicators(unique_id, "X", missing_ok=True).empty
    assert qdb.load_indicators(unique_id, "X", shape="long", missing_ok=True).empty
    info = qdb.indicator_info(unique_id, "X", "RSI_14")
    assert info["exists"] is False and info["rows"] == 0
    assert info["path"] == f"questdb://indicators/{unique_id}/X/RSI_14" and info["storage"] == "questdb"


def test_info_and_listing(qdb, unique_id):
    qdb.save_indicators(values(), unique_id, "X")
    info = qdb.indicator_info(unique_id, "X", "EMA_12")
    assert info["exists"] and info["rows"] == 500
    assert info["first_timestamp"] == pd.Timestamp("2024-03-01", tz="UTC")
    assert info["last_timestamp"] == pd.Timestamp("2024-03-01 08:19", tz="UTC")
    assert info["table_disk_bytes"] > 0 and "estimate" in info["size_note"]
    listing = qdb.list_indicators(unique_id)
    assert listing[["indicator_id", "rows"]].to_dict("records") == [
        {"indicator_id": "EMA_12", "rows": 500},
        {"indicator_id": "RSI_14", "rows": 500},
    ]


def _bad_inputs():
    frame = values(10)
    naive = frame.tz_localize(None)
    inf = frame.copy()
    inf.iloc[3, 0] = np.inf
    clash = pd.DataFrame(
        {
            "timestamp": [pd.Timestamp("2024-03-01", tz="UTC")] * 2,
            "indicator_id": "RSI_14",
            "value": [1.0, 2.0],
        }
    )
    bars = frame.rename(columns={"RSI_14": "close", "EMA_12": "Volume"}).assign(RSI_7=1.0)
    long_bars = clash.assign(indicator_id=["close", "close"], value=[1.0, 1.0])
    text_value = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-03-01", periods=2, freq="1min", tz="UTC"),
            "indicator_id": "RSI_14",
            "value": ["abc", "def"],
        }
    )
    return [
        ("naive index", naive, {}, "use frame.index = frame.index.tz_localize('UTC')"),
        ("empty session", frame, {"session_id": ""}, "session_id='' is empty; a save needs a session_id"),
        ("blank symbol", frame, {"symbol": " \t"}, "is only whitespace; a save needs a symbol that names it"),
        ("OHLCV columns", bars, {}, "columns 'close', 'Volume' look like OHLCV bars, not indicator values"),
        ("OHLCV ids", long_bars, {}, "indicator_id values 'close' look like OHLCV bars"),
        ("text column", frame.assign(label="x"), {}, "column(s) 'label' ("),
        ("text value", text_value, {}, "value at row 0 ('RSI_14') is 'abc', not a number"),
        (
            "duplicate timestamps",
            pd.concat([frame, frame.iloc[[3]]]),
            {},
            f"timestamp {frame.index[3]} is in the frame's index 2 times (rows [3, 10])",
        ),
        ("inf value", inf, {}, "inf"),
        ("two values at one time", clash, {}, "two different values for 'RSI_14'"),
        ("bad mode", frame, {"mode": "upsert"}, "mode must be one of append, overwrite"),
        ("symbol not a string", frame, {"symbol": 42}, "symbol must be a string"),
        (
            "float timestamps",
            frame.reset_index()
            .assign(timestamp=lambda f: f["timestamp"].astype("int64") / 1e9)
            .melt(id_vars="timestamp", var_name="indicator_id"),
            {},
            "not datetime",
        ),
        ("empty variant id", frame.rename(columns={"RSI_14": ""}), {}, "must be a non-empty string"),
        ("not a frame", [1, 2], {}, "expected a DataFrame"),
        ("no time index", frame.reset_index(drop=True), {}, "needs a DatetimeIndex"),
    ]


@pytest.mark.parametrize(
    ("label", "frame", "kwargs", "fragment"), _bad_inputs(), ids=[c[0] for c in _bad_inputs()]
)
def test_bad_input_is_refused_and_writes_nothing(qdb, unique_id, label, frame, kwargs, fragment):
    args = {"session_id": unique_id, "symbol": "X", **kwargs}
    with pytest.raises(InvalidInputError) as info:
        qdb.save_indicators(frame, args.pop("session_id"), args.pop("symbol"), **args)
    assert fragment in str(info.value)
    assert stored_rows(qdb, unique_id) == 0


def test_bad_load_arguments(qdb, unique_id):
    with pytest.raises(InvalidInputError, match="limit must be a non-zero integer"):
        qdb.load_indicators(unique_id, "X", limit=0)
    with pytest.raises(InvalidInputError, match="shape must be"):
        qdb.load_indicators(unique_id, "X", shape="tall")


# -- faults: see tests/test_store_faults.py --------------------------------------------------------


# -- concurrency -------------------------------------------------------------------------------------


def _save_in_process(args: tuple[int, int, str, str, str, str, int]) -> int:
    http_port, pg_port, session_id, symbol, variant, mode, seed = args
    db = Database(qdbtools_settings(http_port, pg_port))
    frame = values(300, seed=seed)[["RSI_14"]].rename(columns={"RSI_14": variant})
    return db.save_indicators(frame, session_id, symbol, mode=mode).rows


def qdbtools_settings(http_port: int, pg_port: int):
    from qdbtools.config import Settings

    return Settings(http_port=http_port, pg_port=pg_port)


def test_saves_from_several_processes_do_not_interfere(qdb, unique_id):
    ports = (qdb.settings.http_port, qdb.settings.pg_port)
    jobs = [(*ports, unique_id, f"SYM{i % 2}", f"V_{i}", "overwrite", i) for i in range(6)]
    with ProcessPoolExecutor(3) as pool:
        assert list(pool.map(_save_in_process, jobs)) == [300] * 6
    qdb.wait_until_visible("indicators")  # saved by other processes: visible once applied
    for _, _, _, symbol, variant, _, seed in jobs:
        back = qdb.load_indicators(unique_id, symbol, variant)
        expected = values(300, seed=seed)["RSI_14"].to_numpy()
        np.testing.assert_array_equal(back[variant].to_numpy(), expected)


def test_concurrent_overwrites_of_one_key_end_with_one_complete_set(qdb, unique_id):
    ports = (qdb.settings.http_port, qdb.settings.pg_port)
    jobs = [(*ports, unique_id, "X", "RSI_14", "overwrite", seed) for seed in (101, 202, 303, 404)]
    with ProcessPoolExecutor(4) as pool:
        list(pool.map(_save_in_process, jobs))
    qdb.wait_until_visible("indicators")
    back = qdb.load_indicators(unique_id, "X", "RSI_14")["RSI_14"].to_numpy()
    candidates = [values(300, seed=seed)["RSI_14"].to_numpy() for seed in (101, 202, 303, 404)]
    assert sum(np.array_equal(back, c) for c in candidates) == 1
    winner = qdb.indicator_history(unique_id, "X", "RSI_14").iloc[-1]
    assert qdb.indicator_info(unique_id, "X", "RSI_14")["generation"] == winner["generation"]


def test_prune_keeps_current_and_requested_history(qdb, unique_id):
    for seed in range(3):
        qdb.save_indicators(values(50, seed=seed), unique_id, "X", mode="overwrite")
    current = qdb.load_indicators(unique_id, "X")
    result = qdb.prune(unique_id, keep_history=1)
    assert result.superseded_generations == 2 and result.rows_removed == 100  # oldest, both variants
    assert raw_rows(qdb, unique_id) == 200
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X"), current)
    assert qdb.prune(unique_id).rows_removed == 100
    pd.testing.assert_frame_equal(qdb.load_indicators(unique_id, "X"), current)
    assert qdb.prune(unique_id).rows_removed == 0


HOSTILE = [
    "x'; DROP TABLE indicators; --",
    "100%",
    "a_b",
    "q\"uote's",
    "zażółć 🚀",
    "",
    "C:\\path\\RSI",
    "tab\tnew\nline",
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_ids_are_stored_and_matched_exactly(qdb, unique_id, hostile):
    session_id, symbol = unique_id + hostile, hostile or "S"  # an empty symbol is refused (issue 12)
    frame = values(20).rename(columns={"EMA_12": "RSI_" + hostile + "x"})
    qdb.save_indicators(frame, session_id, symbol)
    qdb.save_indicators(frame * 2, session_id, symbol + "_other")
    back = qdb.load_indicators(session_id, symbol)
    pd.testing.assert_frame_equal(back[frame.columns], frame, check_freq=False)
    with pytest.raises(NoDataError, match="'RSI_%' is not stored"):
        qdb.load_indicators(session_id, symbol, "RSI_%")
    assert qdb.load_indicators(session_id, symbol, "RSI_%", missing_ok=True)["RSI_%"].isna().all()
    assert "indicators" in qdb.tables()


@pytest.mark.parametrize("shape", ["wide", "long"])
@pytest.mark.parametrize(
    "variants", [["RSI_14"], ["RSI_14", "EMA_12"], ["NOT_STORED"]], ids=["one", "two", "none"]
)
def test_both_read_engines_load_identical_frames(qdb, unique_id, shape, variants):
    frame = values(200)
    frame.iloc[:5, 0] = np.nan
    qdb.save_indicators(frame, unique_id, "BTC_USDT", created_by="tester")
    loads = {
        engine: qdb.load_indicators(
            unique_id, "BTC_USDT", variants, shape=shape, engine=engine, missing_ok=True
        )
        for engine in ("fast", "sqlalchemy")
    }
    pd.testing.assert_frame_equal(loads["fast"], loads["sqlalchemy"])
    if variants != ["NOT_STORED"]:
        stored = frame[variants]
        expected = stored.notna().sum().sum() if shape == "long" else len(stored.dropna(how="all"))
        assert len(loads["fast"]) == expected
    if shape == "long" and variants == ["RSI_14"]:
        long = loads["fast"]
        assert set(long["indicator_id"]) == {"RSI_14"} and set(long["indicator_type"]) == {"custom"}
        assert set(long["created_by"]) == {"tester"} and long["generation"].nunique() == 1
        np.testing.assert_array_equal(long["value"].to_numpy(), frame["RSI_14"].dropna().to_numpy())


@pytest.mark.parametrize(
    ("where", "bad"),
    [("session", "sess\x00ion"), ("symbol", "BTC\ud800"), ("variant", "RSI\x00"), ("scope", "sc\udcff")],
)
def test_unsendable_text_is_refused_before_anything_is_sent(qdb, unique_id, where, bad):
    frame = values(5)
    session_id, symbol, scope = unique_id, "BTC", None
    if where == "session":
        session_id += bad
    elif where == "symbol":
        symbol = bad
    elif where == "variant":
        frame = frame.rename(columns={"RSI_14": bad})
    else:
        scope = bad
    with pytest.raises(InvalidInputError, match=r"NUL character|not valid Unicode"):
        qdb.save_indicators(frame, session_id, symbol, scope=scope)
    qdb.wait_until_visible("indicators")
    count = qdb.fetch_rows("SELECT count() FROM indicators WHERE session_id LIKE :p", {"p": unique_id + "%"})
    assert count == [(0,)]


@pytest.mark.parametrize("metadata", ["not json", "[1, 2]", "5", '"text"'])
def test_metadata_text_must_be_a_json_object(qdb, unique_id, metadata):
    long = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-03-01", periods=3, freq="min", tz="UTC"),
            "indicator_id": "RSI_14",
            "value": [1.0, 2.0, 3.0],
            "metadata": ['{"ok": 1}', metadata, None],
        }
    )
    with pytest.raises(InvalidInputError, match="metadata at row 1 is not a JSON object"):
        qdb.save_indicators(long, unique_id, "BTC")


# -- names and times (issue 12, item 10) --------------------------------------------------------------


def test_listings_and_loads_order_variants_naturally(qdb, unique_id):
    frame = values(5)[["RSI_14"]]
    wide = pd.concat(
        [frame.rename(columns={"RSI_14": name}) for name in ("RSI_10", "RSI_7", "EMA_100")], axis=1
    )
    qdb.save_indicators(wide, unique_id, "X")
    natural = ["EMA_100", "RSI_7", "RSI_10"]
    assert qdb.list_indicators(unique_id)["indicator_id"].tolist() == natural
    assert [r["indicator_id"] for r in qdb.list_indicators(unique_id, as_frame=False)] == natural
    assert list(qdb.load_indicators(unique_id, "X").columns) == natural
    result = qdb.save_indicators(wide, unique_id, "Y")
    assert "variants=[EMA_100, RSI_7, RSI_10]" in repr(result)


def test_history_and_listing_times_are_utc(qdb, unique_id):
    qdb.save_indicators(values(5), unique_id, "X", "overwrite")
    history = qdb.indicator_history(unique_id, "X", "RSI_14")
    listing = qdb.list_indicators(unique_id)
    for frame, columns in ((history, ("committed_at", "first_ts", "last_ts")), (listing, ("committed_at",))):
        for column in columns:
            assert str(frame[column].dt.tz) == "UTC", column
    assert history["committed_at"].iloc[0] == listing["committed_at"].iloc[-1]
    assert history["first_ts"].iloc[0] == pd.Timestamp("2024-03-01", tz="UTC")
