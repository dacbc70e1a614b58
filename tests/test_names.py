"""Natural order and close matches of stored names (qdbtools.names), used by every listing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from qdbtools import names
from qdbtools.names import close_matches, natural_key, natural_sorted, naturally_sorted_keys, nearby


def test_numbers_in_names_sort_as_numbers():
    names = ["RSI_10", "RSI_7", "EMA_12", "MACD_12_26_9.signal", "MACD_5_35_5.hist", "RSI_100", "ATR_14"]
    assert natural_sorted(names) == [
        "ATR_14",
        "EMA_12",
        "MACD_5_35_5.hist",
        "MACD_12_26_9.signal",
        "RSI_7",
        "RSI_10",
        "RSI_100",
    ]


def test_the_order_is_total_for_equal_numbers_and_none():
    assert natural_sorted(["RSI_7", "RSI_07", "7", "RSI_"]) == ["7", "RSI_", "RSI_07", "RSI_7"]
    assert sorted([None, "a"], key=natural_key) == [None, "a"]


def test_close_matches_ignore_case_and_rank_the_best_first():
    stored = ["RSI_14", "RSI_140", "EMA_12", "rsi_14"]
    assert close_matches("Rsi_14", stored)[:2] == ["RSI_14", "rsi_14"]
    assert close_matches("XYZ", stored) == []


def test_nearby_names_the_matches_else_lists_some_stored_names():
    assert nearby("RSI_41", ["RSI_14", "EMA_12"], "variants") == "stored variants close to 'RSI_41': 'RSI_14'"
    far = nearby("zzz", [f"S_{i}" for i in range(20)], "sessions")
    assert far.startswith("none of the stored sessions is close to 'zzz'; stored: 'S_0', 'S_1'")
    assert far.endswith("... (20 in all)")
    assert nearby("x", [], "symbols") == "no symbols are stored"


def test_keys_sort_part_by_part_in_natural_order():
    keys = [
        ("s10", "B", None, "RSI_10"),
        ("s2", "B", "general", "RSI_7"),
        ("s2", "A", "general", "RSI_10"),
        ("s2", "B", "general", "RSI_10"),
        ("s2", "B", None, "RSI_7"),
    ]
    assert naturally_sorted_keys(keys) == [
        ("s2", "A", "general", "RSI_10"),
        ("s2", "B", None, "RSI_7"),
        ("s2", "B", "general", "RSI_7"),
        ("s2", "B", "general", "RSI_10"),
        ("s10", "B", None, "RSI_10"),
    ]
    assert naturally_sorted_keys([]) == []


_NAME = st.one_of(
    st.none(), st.from_regex(r"[A-Za-z_]{0,3}[0-9]{0,3}[A-Za-z_.]{0,2}[0-9]{0,2}", fullmatch=True)
)


@given(st.lists(st.tuples(_NAME, _NAME, _NAME, _NAME), max_size=60))
def test_few_and_many_keys_sort_alike(keys):
    """The cached-key path (a session's keys) and the rank path (a whole store's) agree."""
    assert (
        names._sorted_by_keys(keys)
        == names._sorted_by_ranks(keys)
        == sorted(keys, key=lambda k: tuple(map(natural_key, k)))
    )


def test_a_few_keys_sort_whatever_their_sequence_type_and_come_back_as_given():
    lists = [["s", "RSI_10"], ["s", "RSI_7"]]
    assert naturally_sorted_keys(lists) == [["s", "RSI_7"], ["s", "RSI_10"]]
    assert naturally_sorted_keys(lists)[0] is lists[1]
    tuples = [("s", "RSI_10"), ("s", "RSI_7")]
    assert naturally_sorted_keys(tuples)[1] is tuples[0]
    assert naturally_sorted_keys([("s", None), ("s", "a")]) == [("s", None), ("s", "a")]


def test_a_session_not_sorted_before_computes_no_new_natural_key():
    symbols, variants = [f"SYM{j}" for j in range(10)], ["RSI_14", "EMA_12", "MACD_12_26_9.macd"]
    naturally_sorted_keys([("names_test_a", y, "general", v) for y in symbols for v in variants])
    before = names._natural_part.cache_info().misses
    second = [("names_test_b", y, "general", v) for y in reversed(symbols) for v in variants]
    assert naturally_sorted_keys(second) == sorted(second, key=names._parts_key)
    # One session's keys are ordered by their other parts, which the sessions share: not even
    # the new session's own name needs a natural key.
    assert names._natural_part.cache_info().misses - before == 0
    mixed = [("names_test_c10", "SYM1", "general", "RSI_14"), ("names_test_c9", "SYM2", "general", "RSI_7")]
    assert naturally_sorted_keys(mixed) == mixed[::-1] == sorted(mixed, key=names._parts_key)
