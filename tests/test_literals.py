"""SQL literal text (qdbtools.io.literals): the ISO form markers and queries carry."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qdbtools.io.literals import utc_text

_DAY = 86_400 * 10**9  # away from pandas' limits, where converting to another zone overflows


@given(st.integers(min_value=pd.Timestamp.min.value + _DAY, max_value=pd.Timestamp.max.value - _DAY))
def test_utc_text_is_strftime_microseconds_in_utc(nanos):
    ts = pd.Timestamp(nanos, tz="UTC")
    assert utc_text(ts) == ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert utc_text(ts.tz_convert("Asia/Kolkata")) == utc_text(ts)


def test_utc_text_refuses_a_naive_timestamp():
    with pytest.raises(TypeError, match="time zone aware"):
        utc_text(pd.Timestamp("2024-03-01"))
