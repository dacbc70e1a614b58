"""Synthetic ticks for tests: a seeded random walk with same-microsecond trades."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_ticks(
    n: int = 2000, *, seed: int = 7, start: str = "2024-03-01T00:00:00Z", span_s: float = 7200
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.uniform(0, span_s, n))
    stamps = pd.Timestamp(start) + pd.to_timedelta(np.round(offsets * 1e6), unit="us")
    stamps = pd.DatetimeIndex(stamps).as_unit("us")
    # a few trades that share a microsecond with the one before them
    same = rng.choice(np.arange(1, n), size=max(1, n // 200), replace=False)
    values = stamps.to_numpy().copy()
    values[same] = values[same - 1]
    stamps = pd.DatetimeIndex(np.sort(values), tz="UTC")
    price = np.round(60_000 * np.exp(np.cumsum(rng.normal(0, 2e-4, n))), 2)
    volume = np.round(rng.lognormal(-3, 1, n), 5)
    return pd.DataFrame({"timestamp": stamps, "price": price, "volume": volume})
