"""SQL literal text (qdbtools.io.literals): the ISO form markers and queries carry."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qdbtools.exceptions import InvalidInputError
from qdbtools.io.literals import bind_params, utc_text

_DAY = 86_400 * 10**9  # away from pandas' limits, where converting to another zone overflows


@given(st.integers(min_value=pd.Timestamp.min.value + _DAY, max_value=pd.Timestamp.max.value - _DAY))
def test_utc_text_is_strftime_microseconds_in_utc(nanos):
    ts = pd.Timestamp(nanos, tz="UTC")
    assert utc_text(ts) == ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert utc_text(ts.tz_convert("Asia/Kolkata")) == utc_text(ts)


def test_utc_text_refuses_a_naive_timestamp():
    with pytest.raises(TypeError, match="time zone aware"):
        utc_text(pd.Timestamp("2024-03-01"))


def test_bind_params_turns_placeholders_into_the_drivers_and_escapes_percent_signs():
    query = "SELECT '%:x' AS a, b % 2, c::varchar FROM t WHERE s = :s AND w IN (:w0, :w1) AND c = 'it''s :s'"
    sql, values = bind_params(query, {"s": "it's \\ %s", "w0": 1, "w1": pd.Timestamp("2024-03-01", tz="UTC")})
    assert sql == (
        "SELECT '%%:x' AS a, b %% 2, c::varchar FROM t WHERE s = %(s)s AND w IN (%(w0)s, %(w1)s) "
        "AND c = 'it''s :s'"
    )
    assert values == {"s": "it's \\ %s", "w0": 1, "w1": "2024-03-01T00:00:00.000000Z"}
    assert bind_params("SELECT 7 % 4", {}) == ("SELECT 7 % 4", None)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"s": "a\x00b"}, "NUL"),
        ({"s": float("inf")}, "finite"),
        ({"s": object()}, "unsupported type"),
        ({"s": pd.Timestamp("2024-03-01")}, "time zone"),
        ({}, "no value given"),
    ],
)
def test_bind_params_refuses_what_a_literal_would(params, message):
    with pytest.raises(InvalidInputError, match=message):
        bind_params("SELECT :s", params)
