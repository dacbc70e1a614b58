"""Generate the deterministic sample data set in ``data_samples/``.

Writes ``ticks.parquet`` (synthetic BTC_USDT / ETH_USDT trade ticks for two
sessions), a small CSV tree in the legacy trading system's layout under
``legacy/`` and ``README.md`` describing both (with the row counts, sizes and
checksums of this run).  Same seed + same library versions => byte-identical
files.  Usage::

    python data_samples/generate.py [--out DIR] [--seed N]
"""

# The README template at the end holds Markdown table rows that cannot be wrapped.
# ruff: noqa: E501

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from qdbtools.indicators import compute

DEFAULT_SEED = 20240301
US_PER_S = 1_000_000
DAY_S = 86_400

SESSIONS: tuple[tuple[str, str], ...] = (
    ("sess_2024_03_01", "2024-03-01"),  # Friday
    ("sess_2024_03_02", "2024-03-02"),  # Saturday (weaker US-open bump)
)


@dataclass(frozen=True)
class Instrument:
    symbol: str
    start_price: float
    daily_vol: float  # stdev of the daily log return
    tick: float
    qty_step: float
    qty_median: float  # median trade size in base asset
    trades_per_day: float  # approximate number of trades in a weekday session
    first_trade_id: int


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("BTC_USDT", 62_000.0, 0.030, 0.01, 1e-5, 0.0025, 62_000, 3_456_789_012),
    Instrument("ETH_USDT", 3_400.0, 0.036, 0.01, 1e-4, 0.040, 50_000, 1_298_765_432),
)
CORRELATION = 0.8  # of the 1-second log returns of BTC and ETH
MULTI_FILL_P = 0.08  # probability that a taker order fills against several makers
QUIET_GAP_MINUTES = (3, 10)
LEGACY_PRICE_HOURS = 2

TICKS_SCHEMA = pa.schema(
    [
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("session_id", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("trade_id", pa.int64(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),
        pa.field("volume", pa.float64(), nullable=False),
    ],
    metadata={b"qdbtools.sample": b"data_samples/generate.py; see data_samples/README.md"},
)
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 9,
    "row_group_size": 65_536,
    "use_dictionary": ["session_id", "symbol"],
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
}

LEGACY_HEADER = (
    "timestamp",
    "value",
    "confidence",
    "indicator_id",
    "indicator_type",
    "indicator_name",
    "metadata",
    "scope",
    "user_id",
    "created_by",
)


@dataclass(frozen=True)
class LegacyVariant:
    variant_type: str  # never contains "_"
    variant_id: str  # compute() variant name
    name: str
    metadata: dict
    column: str | None = None  # compute() output column when multi-output
    price: str = "close"  # "close", or "hlc3": RSI on the typical price


_RSI = "Relative Strength Index"
V_RSI14 = LegacyVariant("momentum", "RSI_14", _RSI, {"period": 14})
V_RSI14_GENERAL = LegacyVariant("general", "RSI_14", _RSI, {"period": 14, "price": "hlc3"}, price="hlc3")
V_RSI140 = LegacyVariant("momentum", "RSI_140", _RSI, {"period": 140})
V_EMA12 = LegacyVariant("trend", "EMA_12", "Exponential Moving Average", {"period": 12})
V_SMA20 = LegacyVariant("trend", "SMA_20", "Simple Moving Average", {"period": 20})
V_ATR14 = LegacyVariant("volatility", "ATR_14", "Average True Range", {"period": 14})
V_MACD = LegacyVariant(
    "momentum",
    "MACD_12_26_9",
    "Moving Average Convergence Divergence",
    {"fast": 12, "slow": 26, "signal": 9},
    column="MACD_12_26_9.macd",
)

# Which legacy files exist, per (session_id, symbol).  Not every variant everywhere:
# the tree must stay small, and the old system was not consistent either.
LEGACY_FILES: dict[tuple[str, str], tuple[LegacyVariant, ...]] = {
    ("sess_2024_03_01", "BTC_USDT"): (V_RSI14, V_RSI14_GENERAL, V_RSI140, V_EMA12, V_SMA20, V_ATR14, V_MACD),
    ("sess_2024_03_01", "ETH_USDT"): (V_RSI14,),
    ("sess_2024_03_02", "BTC_USDT"): (V_RSI14, V_EMA12),
    ("sess_2024_03_02", "ETH_USDT"): (V_RSI14, V_MACD),
}


# -- ticks ---------------------------------------------------------------------------------


def _bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    d = (hour - centre + 12.0) % 24.0 - 12.0  # circular distance on the 24 h clock
    return np.exp(-0.5 * (d / width) ** 2)


def activity(hour: np.ndarray, weekend: bool) -> np.ndarray:
    """Relative trading activity by UTC hour of day (mean about 1 on a weekday)."""
    us_open = 0.35 if weekend else 1.25  # NYSE opens 14:30 UTC in early March
    return (
        0.55
        + 0.15 * _bump(hour, 2.0, 1.5)  # Asia
        + 0.25 * _bump(hour, 8.0, 1.2)  # Europe
        + us_open * _bump(hour, 14.75, 0.9)
        + 0.30 * _bump(hour, 19.0, 2.5)
    ) * (0.9 if weekend else 1.0)


def _windows(
    rng: np.random.Generator, count: int, min_s: int, max_s: int, lo: int = 600, hi: int = DAY_S - 600
) -> list[tuple[int, int]]:
    """``count`` random [start, end) second windows of min_s..max_s seconds inside [lo, hi)."""
    out = []
    for _ in range(count):
        length = int(rng.integers(min_s, max_s + 1))
        start = int(rng.integers(lo, hi - length))
        out.append((start, start + length))
    return out


def _mask(windows: list[tuple[int, int]]) -> np.ndarray:
    m = np.zeros(DAY_S, dtype=bool)
    for a, b in windows:
        m[a:b] = True
    return m


def simulate_ticks(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_days = len(SESSIONS)
    n_sec = n_days * DAY_S
    hour = (np.arange(DAY_S) + 0.5) / 3600.0

    # Per-second activity, bursts (intensity x15, market-wide ones also volatility x3), quiet gaps.
    act = np.empty((n_days, DAY_S))
    vol_mult = np.empty((n_days, DAY_S))
    bursts: dict[tuple[int, str], np.ndarray] = {}
    quiet: dict[tuple[int, str], np.ndarray] = {}
    for d, (_sid, day) in enumerate(SESSIONS):
        weekend = pd.Timestamp(day).day_of_week >= 5
        act[d] = activity(hour, weekend)
        market_bursts = _windows(rng, 6, 5, 90)
        vol_mult[d] = np.sqrt(act[d]) * np.where(_mask(market_bursts), 3.0, 1.0)
        # Two quiet gaps per (session, symbol) that never overlap: an exchange-wide one
        # (both symbols) in 10:00-22:00 UTC and one of the symbol's own in 00:30-09:30.
        gap_s = (QUIET_GAP_MINUTES[0] * 60 + 30, QUIET_GAP_MINUTES[1] * 60)
        outage = _windows(rng, 1, *gap_s, lo=10 * 3600, hi=22 * 3600)
        for inst in INSTRUMENTS:
            own = _windows(rng, 8, 5, 60)
            bursts[d, inst.symbol] = _mask(market_bursts + own)
            own_gap = _windows(rng, 1, *gap_s, lo=1800, hi=9 * 3600 + 1800)
            quiet[d, inst.symbol] = _mask(outage + own_gap)
    vol_mult /= np.sqrt(np.mean(vol_mult**2))  # keep the requested daily volatility

    # Correlated GBM on a 1-second grid over both days (day 2 continues day 1).
    z1 = rng.standard_normal(n_sec)
    z2 = CORRELATION * z1 + np.sqrt(1 - CORRELATION**2) * rng.standard_normal(n_sec)
    log_paths = {}
    for inst, z in zip(INSTRUMENTS, (z1, z2), strict=True):
        sigma = inst.daily_vol / np.sqrt(DAY_S) * vol_mult.reshape(-1)
        steps = sigma * z - 0.5 * sigma**2
        log_paths[inst.symbol] = np.log(inst.start_price) + np.concatenate(([0.0], np.cumsum(steps)))

    frames = []
    for inst in INSTRUMENTS:
        next_id = inst.first_trade_id
        for d, (sid, day) in enumerate(SESSIONS):
            day_start_us = pd.Timestamp(day, tz="UTC").value // 1000
            orders_per_s = inst.trades_per_day / DAY_S / (1 + MULTI_FILL_P * 1.67)
            lam = orders_per_s * act[d] * np.where(bursts[d, inst.symbol], 15.0, 1.0)
            lam[quiet[d, inst.symbol]] = 0.0
            counts = rng.poisson(lam)
            sec = np.repeat(np.arange(DAY_S), counts)
            t_us = sec * US_PER_S + rng.integers(0, US_PER_S, sec.size)
            t_us.sort()
            n_orders = t_us.size
            # Multi-fill taker orders: k trades, same microsecond, walking the book.
            fills = np.where(rng.random(n_orders) < MULTI_FILL_P, 1 + rng.geometric(0.6, n_orders), 1)
            side = np.where(rng.random(n_orders) < 0.5, -1.0, 1.0)
            order_t = t_us / US_PER_S + d * DAY_S
            mid = np.exp(np.interp(order_t, np.arange(n_sec + 1), log_paths[inst.symbol]))
            half_spread = np.maximum(inst.tick, mid * rng.uniform(0.0, 1e-5, n_orders))
            touch = mid + side * half_spread
            order = np.repeat(np.arange(n_orders), fills)
            level = np.arange(order.size) - np.repeat(np.cumsum(fills) - fills, fills)
            walk = np.repeat(rng.integers(1, 30, n_orders), fills) * inst.tick * level
            price = np.round((touch[order] + side[order] * walk) / inst.tick) * inst.tick
            price = np.round(price, 2)
            qty = rng.lognormal(np.log(inst.qty_median), 1.6, order.size)
            qty *= np.where(bursts[d, inst.symbol][sec[order]], 2.0, 1.0)
            qty = np.maximum(np.round(np.round(qty / inst.qty_step) * inst.qty_step, 5), inst.qty_step)
            n = order.size
            frames.append(
                pd.DataFrame(
                    {
                        "timestamp": pd.to_datetime(day_start_us + t_us[order], unit="us", utc=True),
                        "session_id": sid,
                        "symbol": inst.symbol,
                        "trade_id": np.arange(next_id, next_id + n, dtype=np.int64),
                        "price": price,
                        "volume": qty,
                    }
                )
            )
            next_id += n
    ticks = pd.concat(frames, ignore_index=True)
    ticks["timestamp"] = ticks["timestamp"].astype("datetime64[us, UTC]")
    return ticks.sort_values(["session_id", "symbol", "timestamp", "trade_id"], ignore_index=True)


def write_ticks(ticks: pd.DataFrame, path: Path) -> None:
    ts = ticks["timestamp"].dt.tz_localize(None).to_numpy()
    table = pa.Table.from_arrays(
        [
            pa.array(ts, type=pa.timestamp("us", tz="UTC")),
            pa.array(ticks["session_id"].tolist(), type=pa.string()),
            pa.array(ticks["symbol"].tolist(), type=pa.string()),
            pa.array(ticks["trade_id"].to_numpy(), type=pa.int64()),
            pa.array(ticks["price"].to_numpy(), type=pa.float64()),
            pa.array(ticks["volume"].to_numpy(), type=pa.float64()),
        ],
        schema=TICKS_SCHEMA,
    )
    pq.write_table(table, path, **PARQUET_OPTIONS)


# -- bars and the legacy tree --------------------------------------------------------------


def ohlcv_1min(ticks: pd.DataFrame) -> pd.DataFrame:
    """1-minute bars of one (session, symbol): left-labelled, empty minutes dropped."""
    g = ticks.groupby(ticks["timestamp"].dt.floor("min"), sort=True)
    bars = pd.DataFrame(
        {
            "open": g["price"].first(),
            "high": g["price"].max(),
            "low": g["price"].min(),
            "close": g["price"].last(),
            "volume": g["volume"].sum(),
        }
    )
    bars.index.name = "timestamp"
    return bars


def legacy_values(bars: pd.DataFrame, variant: LegacyVariant) -> pd.Series:
    frame = bars
    if variant.price == "hlc3":
        frame = bars.assign(close=(bars["high"] + bars["low"] + bars["close"]) / 3.0)
    out = compute(frame, [variant.variant_id])
    return out[variant.column or variant.variant_id].dropna()


def _fmt(x: float) -> str:
    return repr(float(x))


def write_legacy_indicator(
    path: Path, values: pd.Series, variant: LegacyVariant, sid: str, rng: np.random.Generator
) -> int:
    n = len(values)
    conf = np.round(rng.uniform(0.55, 1.0, n), 2)
    conf[: min(n, 15)] = 0.0  # the old engine flagged the first rows after warm-up as unstable
    conf[rng.random(n) < 0.03] = 0.0
    conf[rng.random(n) < 0.02] = 1.0
    epoch = values.index.as_unit("us").asi8 / US_PER_S
    # Rows written before the old system's migration 005 have empty scope/user_id/created_by.
    cutoff = pd.Timestamp(sid[5:].replace("_", "-") + " 06:00", tz="UTC").value / 1e9
    pre_005 = epoch < cutoff if sid == SESSIONS[0][0] else np.zeros(n, dtype=bool)
    user = "" if variant.variant_type == "general" else "u_1001"
    meta = json.dumps(variant.metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(LEGACY_HEADER)
        for t, v, c, old in zip(epoch, values.to_numpy(), conf, pre_005, strict=True):
            w.writerow(
                (
                    _fmt(t),
                    _fmt(v),
                    _fmt(c),
                    variant.variant_id,
                    variant.variant_type,
                    variant.name,
                    meta,
                    "" if old else "session",
                    "" if old else user,
                    "" if old else "offline_engine",
                )
            )
    return n


def write_legacy_prices(path: Path, ticks: pd.DataFrame) -> int:
    start = ticks["timestamp"].min().floor("D")
    part = ticks[ticks["timestamp"] < start + pd.Timedelta(hours=LEGACY_PRICE_HOURS)]
    part = part.sort_values(["timestamp", "symbol", "trade_id"], kind="stable")
    stamps = part["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").tolist()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("timestamp", "symbol", "price", "volume"))
        for row in zip(stamps, part["symbol"], part["price"], part["volume"], strict=True):
            w.writerow((row[0], row[1], _fmt(row[2]), _fmt(row[3])))
    return len(part)


# -- README --------------------------------------------------------------------------------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def write_readme(out: Path, seed: int, ticks: pd.DataFrame, legacy_rows: dict[Path, int]) -> None:
    template = README_TEMPLATE
    pq_path = out / "ticks.parquet"
    lines = ["| session_id | symbol | ticks | trade_id range | first / last trade (UTC) | 1-min bars |"]
    lines.append("|---|---|---:|---|---|---:|")
    gaps = []
    for (sid, sym), g in ticks.groupby(["session_id", "symbol"], sort=True):
        bars = ohlcv_1min(g)
        lines.append(
            f"| {sid} | {sym} | {len(g):,} | {g['trade_id'].iloc[0]}–{g['trade_id'].iloc[-1]} | "
            f"{g['timestamp'].iloc[0]:%H:%M:%S.%f} / {g['timestamp'].iloc[-1]:%H:%M:%S.%f} | {len(bars):,} |"
        )
        dt = g["timestamp"].diff()
        for i in np.flatnonzero(dt > pd.Timedelta(minutes=3)):
            a, b = g["timestamp"].iloc[i - 1], g["timestamp"].iloc[i]
            gaps.append(
                f"| {sid} | {sym} | {a:%H:%M:%S} | {b:%H:%M:%S} | {(b - a).total_seconds() / 60:.1f} |"
            )
    gap_lines = [
        "| session_id | symbol | last trade before (UTC) | first trade after (UTC) | minutes |",
        "|---|---|---|---|---:|",
        *gaps,
    ]
    legacy_lines = [
        f"| {sid} | {sym} | {', '.join(f'`{v.variant_type}_{v.variant_id}.csv`' for v in vs)} |"
        for (sid, sym), vs in LEGACY_FILES.items()
    ]
    same_ts = int(ticks.duplicated(["session_id", "symbol", "timestamp"], keep=False).sum())
    files = ["| file | rows | size | sha256 |", "|---|---:|---:|---|"]
    files.append(f"| ticks.parquet | {len(ticks):,} | {_size(pq_path.stat().st_size)} | `{_sha(pq_path)}` |")
    for p, n in sorted(legacy_rows.items()):
        files.append(f"| {p.relative_to(out).as_posix()} | {n:,} | {_size(p.stat().st_size)} | `{_sha(p)}` |")
    legacy_total = sum(p.stat().st_size for p in legacy_rows)
    text = (
        template.replace("{{SEED}}", str(seed))
        .replace("{{COUNTS}}", "\n".join(lines))
        .replace("{{GAPS}}", "\n".join(gap_lines))
        .replace("{{SAME_TS}}", f"{same_ts:,}")
        .replace("{{FILES}}", "\n".join(files))
        .replace("{{LEGACY_TOTAL}}", _size(legacy_total))
        .replace("{{PARQUET_SIZE}}", _size(pq_path.stat().st_size))
        .replace("{{N_TICKS}}", f"{len(ticks):,}")
        .replace("{{PARQUET_OPTIONS}}", json.dumps(PARQUET_OPTIONS))
        .replace("{{LEGACY_FILES}}", "\n".join(legacy_lines))
        .replace("{{VERSIONS}}", f"numpy {np.__version__}, pandas {pd.__version__}, pyarrow {pa.__version__}")
    )
    (out / "README.md").write_text(text, encoding="utf-8", newline="\n")


README_TEMPLATE = r"""# Sample data

Synthetic but realistic market data for examples, notebooks, tests and the legacy
migration: trade ticks of **BTC_USDT** and **ETH_USDT** for two sessions (the UTC days
2024-03-01, a Friday, and 2024-03-02, a Saturday) and a small copy of the old trading
system's CSV files. Nothing here is real exchange data.

Everything in this folder except `generate.py` is written by `generate.py`, this README
included (edit the template inside the script, not this file):

```bash
python data_samples/generate.py                  # rewrites data_samples/ in place
python data_samples/generate.py --out /tmp/ds    # somewhere else
python data_samples/generate.py --seed 7         # other data (the README records the seed)
```

Seed: **{{SEED}}**. The output is a pure function of the seed and the library versions:
running the script twice gives byte-identical files (`tests/test_data_samples.py`
regenerates into a temporary folder and compares). The Parquet file embeds no creation
time (its `created_by` is the fixed string of the pyarrow version, its row groups and
compression are fixed). Other numpy/pandas/pyarrow versions may change the last bits of
some floats or the Parquet encoding, hence the checksums below. Generated with
{{VERSIONS}}.

## Files

{{FILES}}

`ticks.parquet`: {{PARQUET_SIZE}}; the `legacy/` tree: {{LEGACY_TOTAL}} in total.

## `ticks.parquet`

One row per trade, {{N_TICKS}} rows, the layout of QuestDB's `tick_prices` table
(migration 001, DEDUP key `(timestamp, session_id, symbol, trade_id)`):

| column | Arrow / pandas type | meaning |
|---|---|---|
| `timestamp` | `timestamp[us, tz=UTC]` / `datetime64[us, UTC]` | trade time, UTC, microsecond precision (Parquet `isAdjustedToUTC=true`) |
| `session_id` | `string` / `str` | `sess_2024_03_01` or `sess_2024_03_02`; each session is one full UTC day, 00:00:00 to 23:59:59.999999 |
| `symbol` | `string` / `str` | `BTC_USDT` or `ETH_USDT` |
| `trade_id` | `int64` | exchange trade id: consecutive per symbol across the whole file (session 2 continues session 1), so unique per (session_id, symbol) and increasing with time |
| `price` | `float64` | trade price in USDT per unit of the base asset, rounded to the tick 0.01 (both symbols) |
| `volume` | `float64` | traded quantity in the base asset (BTC or ETH), > 0, rounded to 1e-5 BTC / 1e-4 ETH |

Rows are sorted by `(session_id, symbol, timestamp, trade_id)`. No NaN, no nulls.
Writer options: `{{PARQUET_OPTIONS}}`; the Arrow schema carries no pandas metadata
(read it with `pd.read_parquet` or `pyarrow.parquet.read_table`; pandas 3 gives the
dtypes above).

Rows per session and symbol (`1-min bars` = minutes with at least one trade):

{{COUNTS}}

Quiet gaps (more than 3 minutes without a trade; the 1-minute bars have no row for
those minutes):

{{GAPS}}

{{SAME_TS}} rows share their exact microsecond `timestamp` with another trade of the
same symbol (a taker order filled against several makers: consecutive `trade_id`s,
prices walking the book). A dedup key without `trade_id` would lose them.

### How the ticks are generated

* **Prices**: geometric Brownian motion on a 1-second grid, BTC starting at 62,000 and
  ETH at 3,400, daily volatility 3.0 % (BTC) and 3.6 % (ETH), correlation 0.8 between the
  two symbols' 1-second log returns; session 2 continues where session 1 ended. The
  volatility follows the intraday activity profile (square root of it) and triples
  during market-wide bursts. A trade's price is the mid (interpolated log-linearly
  between seconds) plus or minus a random half-spread of at least one tick, rounded to
  the tick; extra fills of a multi-fill order walk 1–29 ticks per level away from it.
* **Arrival times**: inhomogeneous Poisson process (per-second counts, uniform
  microsecond offsets). Intensity by UTC hour: base level plus bumps for Asia (~02:00),
  Europe (~08:00), the US open (~14:45, NYSE opens 14:30 UTC in early March) and the US
  afternoon; the Saturday session is 10 % quieter with a much smaller US-open bump.
  Bursts of 5–90 s multiply the intensity by 15 (six market-wide per day plus eight per
  symbol). 8 % of taker orders fill against 2 or more makers (same timestamp,
  consecutive trade ids). Two quiet gaps of 3.5–10 minutes per session and symbol: one
  exchange-wide (both symbols, between 10:00 and 22:00 UTC) and one of the symbol's own
  (00:30–09:30 UTC).
* **Volumes**: lognormal (median 0.0025 BTC / 0.04 ETH, sigma 1.6), doubled inside
  bursts, rounded to the quantity step and at least one step.

## `legacy/` – the old trading system's files

A small copy of what the old system (its `OfflineIndicatorEngine`) kept on disk under
`data/`: here `legacy/` stands for `data/`, i.e. the old path
`data/{session_id}/{symbol}/indicators/{variant_type}_{variant_id}.csv` is
`legacy/{session_id}/{symbol}/indicators/{variant_type}_{variant_id}.csv` here.

Layout rules:

* `legacy/{session_id}/prices.csv` – the ticks the engine read, both symbols, only the
  **first two hours** (00:00–02:00 UTC) of each session to keep the tree small. Columns
  `timestamp,symbol,price,volume`: `timestamp` ISO-8601 UTC with microseconds and `Z`
  (`2024-03-01T00:00:00.123456Z`), `price` and `volume` as in the Parquet file (these
  rows are exactly the Parquet rows of that window; trade ids are not in the file).
  Sorted by timestamp, then symbol and trade id.
* `legacy/{session_id}/{symbol}/indicators/{variant_type}_{variant_id}.csv` – one file
  per indicator variant. `variant_type` never contains `_`, so the file stem splits at
  the **first** `_`: `momentum_MACD_12_26_9` is type `momentum`, id `MACD_12_26_9`.
  The stem always equals `{indicator_type}_{indicator_id}` of the rows inside.

Indicator CSV columns (header
`timestamp,value,confidence,indicator_id,indicator_type,indicator_name,metadata,scope,user_id,created_by`,
RFC 4180 quoting, `\n` line ends, UTF-8):

| column | type | meaning |
|---|---|---|
| `timestamp` | float | bar **open** time in epoch seconds UTC (written like `1709251200.0`; up to 6 decimals in the old system) |
| `value` | float | the indicator value (shortest repr that round-trips the float64) |
| `confidence` | float in [0, 1] | two decimals; **0.0 on purpose** in the first 15 rows after warm-up and in about 3 % of the others (the old code mishandled 0.0 as if it were missing; a migration must keep it as 0.0); 1.0 in about 2 % |
| `indicator_id` | str | the variant id, e.g. `RSI_14`, `MACD_12_26_9` |
| `indicator_type` | str | the variant type, e.g. `momentum`, `trend`, `volatility`, `general` |
| `indicator_name` | str | human name, e.g. `Relative Strength Index` |
| `metadata` | str | a JSON object, e.g. `{"period": 14}` (CSV-quoted: `"{""period"": 14}"`) |
| `scope` | str | `session`, or empty |
| `user_id` | str | `u_1001`, or empty (always empty for `general_*`) |
| `created_by` | str | `offline_engine`, or empty |

In `sess_2024_03_01`, rows for bars before 06:00 UTC have empty `scope`, `user_id` and
`created_by`, like rows the old system wrote before those columns existed (read them as
empty strings or NULL, never as the text `nan`).

Values: the ticks of that session and symbol (the **full day**, from `ticks.parquet`)
are resampled to 1-minute OHLCV bars (open = first, high = max, low = min, close =
last price, volume = sum; labelled by the left edge; minutes without trades dropped, not
filled), then `qdbtools.indicators.compute(bars, [variant_id])` (TA-Lib-exact) gives the
values; warm-up rows (NaN) are omitted. Special cases:

* `momentum_MACD_12_26_9.csv` holds only the MACD **main line** (`MACD_12_26_9.macd`):
  the legacy system stored one value per row, so signal and histogram were never saved.
* `general_RSI_14.csv` next to `momentum_RSI_14.csv` (sess_2024_03_01/BTC_USDT): the
  same variant id under two variant types with different values (the `general` one is
  RSI 14 of the typical price `(high + low + close) / 3`) and metadata
  (`{"period": 14, "price": "hlc3"}`). A migration must keep `indicator_type` apart.
* `momentum_RSI_140.csv` next to `momentum_RSI_14.csv`: matching ids by prefix (or
  `LIKE 'RSI_14%'`) would mix them; match exactly.

Which variants exist where (deliberately not the same set everywhere):

| session_id | symbol | files |
|---|---|---|
{{LEGACY_FILES}}

To recompute a file's values:

```python
import pandas as pd
from qdbtools.indicators import compute

t = pd.read_parquet("data_samples/ticks.parquet")
g = t[(t.session_id == "sess_2024_03_01") & (t.symbol == "BTC_USDT")]
bars = g.groupby(g.timestamp.dt.floor("min")).agg(
    open=("price", "first"),
    high=("price", "max"),
    low=("price", "min"),
    close=("price", "last"),
    volume=("volume", "sum"),
)
rsi = compute(bars, ["RSI_14"])["RSI_14"].dropna()  # == momentum_RSI_14.csv's value column
```
"""


# -- main ----------------------------------------------------------------------------------


def generate(out: Path, seed: int) -> dict[Path, int]:
    out.mkdir(parents=True, exist_ok=True)
    ticks = simulate_ticks(seed)
    write_ticks(ticks, out / "ticks.parquet")
    rows: dict[Path, int] = {}
    rng = np.random.default_rng([seed, 1])
    for sid, _day in SESSIONS:
        sess = ticks[ticks["session_id"] == sid]
        p = out / "legacy" / sid / "prices.csv"
        rows[p] = write_legacy_prices(p, sess)
        for inst in INSTRUMENTS:
            bars = ohlcv_1min(sess[sess["symbol"] == inst.symbol])
            for v in LEGACY_FILES.get((sid, inst.symbol), ()):
                p = out / "legacy" / sid / inst.symbol / "indicators" / f"{v.variant_type}_{v.variant_id}.csv"
                rows[p] = write_legacy_indicator(p, legacy_values(bars, v), v, sid, rng)
    write_readme(out, seed, ticks, rows)
    rows[out / "ticks.parquet"] = len(ticks)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="output folder")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    args = parser.parse_args(argv)
    rows = generate(args.out, args.seed)
    legacy = [p for p in rows if "legacy" in p.parts]
    pq_path = args.out / "ticks.parquet"
    print(
        f"wrote {pq_path} ({rows[pq_path]:,} ticks, {_size(pq_path.stat().st_size)}), "
        f"{len(legacy)} legacy CSV files ({_size(sum(p.stat().st_size for p in legacy))}) "
        f"and README.md under {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
