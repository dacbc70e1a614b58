# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Quickstart: ticks into QuestDB, OHLCV bars out
#
# The shortest path from a file of trades to bars you can analyse: connect, write one
# session of ticks (both symbols) to `tick_prices`, let QuestDB build 1-minute and
# 5-minute bars (`SAMPLE BY`), read them back with both read engines and plot them.
#
# The `assert` statements make this notebook a regression test
# (`tests/test_notebooks.py` runs it against a throwaway QuestDB): tick counts must equal
# the Parquet file's rows and bar counts must equal pandas' non-empty `resample` bins.
#
# `setup("01")` connects with `qdbtools.connect()`: with no configuration that is the embedded
# default, a managed local QuestDB started on first use (`QDBTOOLS_HOST`, `QDBTOOLS_HTTP_PORT`,
# `QDBTOOLS_PG_PORT` or `QDBTOOLS_CONF` point it elsewhere). It applies the schema migrations
# (idempotent), finds `data_samples/` and hands out this notebook's session ids: every one
# starts with `nb_01_` (the tests set their own prefix), so notebooks never see each
# other's rows and running this one again rewrites its own.

# %%
import pandas as pd

from qdbtools.notebook import setup

nb = setup("01")  # the database (migrated), data_samples/ and this notebook's session ids
db = nb.db
nb

# %% [markdown]
# ## Load one session of ticks
#
# `data_samples/ticks.parquet` holds two UTC days of BTC_USDT and ETH_USDT trades. We take
# the first day and give it this notebook's own session id.

# %%
ticks = pd.read_parquet(nb.data / "ticks.parquet")
SOURCE_SESSION = "sess_2024_03_01"
SESSION = nb.session_id(SOURCE_SESSION)
day = ticks[ticks["session_id"] == SOURCE_SESSION].assign(session_id=SESSION)
SYMBOLS = sorted(day["symbol"].unique())

print(f"{len(ticks):,} ticks in the file, {len(day):,} in {SOURCE_SESSION} -> session {SESSION!r}")
day.groupby("symbol").agg(
    ticks=("price", "size"),
    first=("timestamp", "min"),
    last=("timestamp", "max"),
    low=("price", "min"),
    high=("price", "max"),
)

# %% [markdown]
# ## Write the ticks
#
# `df.qdb.write_ticks` (or `db.write_ticks(df)`) sends the frame over ILP/HTTP and returns
# once the rows are visible to queries. The exchange `trade_id` is part of the table's
# DEDUP key, so writing the same ticks again changes nothing: re-running this notebook is
# safe, and trades sharing a microsecond are all kept.

# %%
written = day.qdb.write_ticks(db=db)  # session_id and symbol come from the frame's columns
print(written)
assert written.rows == len(day)

# %%
stored = db.sql(
    "SELECT symbol, count() AS ticks FROM tick_prices WHERE session_id = :s GROUP BY symbol ORDER BY symbol",
    {"s": SESSION},
).set_index("symbol")["ticks"]
expected_ticks = day.groupby("symbol").size()
counts = pd.DataFrame({"in QuestDB": stored, "in the Parquet file": expected_ticks})
print(counts)
assert stored.to_dict() == expected_ticks.to_dict(), counts

# %%
btc_ticks = db.read_ticks(SESSION, "BTC_USDT")
source = day[day["symbol"] == "BTC_USDT"]
assert len(btc_ticks) == len(source)
# read_ticks orders by (timestamp, trade_id): the file's order within a symbol
assert (btc_ticks["trade_id"].to_numpy() == source["trade_id"].to_numpy()).all()
assert (btc_ticks["price"].to_numpy() == source["price"].to_numpy()).all()
assert (btc_ticks.index == pd.DatetimeIndex(source["timestamp"])).all()
btc_ticks.head()

# %% [markdown]
# ## Bars, built inside QuestDB
#
# `db.aggregate_ohlcv(session, symbol, interval)` runs `SAMPLE BY ... ALIGN TO CALENDAR`
# over `tick_prices` and stores the bars in `aggregated_ohlcv` (idempotent). Minutes
# without a trade get no bar, exactly like pandas' `resample(...)` once the empty bins
# are dropped.

# %%
FREQ = {"1m": "1min", "5m": "5min"}


def pandas_bars(symbol: str, interval: str) -> pd.DataFrame:
    """The reference: pandas resample of the same ticks, empty bins dropped."""
    trades = day[day["symbol"] == symbol].set_index("timestamp")
    grouped = trades["price"].resample(FREQ[interval], label="left", closed="left")
    bars = grouped.ohlc()
    bars["volume"] = trades["volume"].resample(FREQ[interval]).sum()
    return bars[grouped.count() > 0]


rows = []
for symbol in SYMBOLS:
    for interval in FREQ:
        stored_bars = db.aggregate_ohlcv(SESSION, symbol, interval)
        rows.append(
            {
                "symbol": symbol,
                "interval": interval,
                "bars in QuestDB": stored_bars,
                "pandas non-empty bins": len(pandas_bars(symbol, interval)),
            }
        )
bar_counts = pd.DataFrame(rows)
print(bar_counts.to_string(index=False))
assert (bar_counts["bars in QuestDB"] == bar_counts["pandas non-empty bins"]).all()

# %% [markdown]
# ## Read the bars with both engines
#
# `engine="fast"` uses QuestDB's HTTP Parquet export, `engine="sqlalchemy"` runs
# `pd.read_sql` over PG wire; both return the same frame (UTC index named `timestamp`,
# the same dtypes).

# %%
bars = db.read_ohlcv(SESSION, "BTC_USDT", "1m", engine="fast")
bars_pg = db.read_ohlcv(SESSION, "BTC_USDT", "1m", engine="sqlalchemy")
pd.testing.assert_frame_equal(bars, bars_pg)

reference = pandas_bars("BTC_USDT", "1m")
assert bars.index.equals(reference.index)
ohlc = ["open", "high", "low", "close"]
assert (bars[ohlc].to_numpy() == reference[ohlc].to_numpy()).all()  # prices: exact
# volumes are float sums; only the summation order may differ
assert ((bars["volume"] - reference["volume"]).abs() <= 1e-9 * reference["volume"]).all()
assert int(bars["trades"].sum()) == int(expected_ticks["BTC_USDT"])
bars.head()

# %%
# a time window: start <= timestamp < end, tz-aware bounds
window = db.read_ohlcv(SESSION, "BTC_USDT", "5m", start="2024-03-01T14:00:00Z", end="2024-03-01T16:00:00Z")
expected_window = pandas_bars("BTC_USDT", "5m").loc["2024-03-01 14:00":"2024-03-01 15:59:59"]
assert window.index.equals(expected_window.index)
window[["open", "high", "low", "close", "volume", "trades"]]

# %% [markdown]
# ## A quick look

# %%
fig = bars.qdb.plot(kind="line")
assert {"price", "volume"} <= {ax.get_label() for ax in fig.axes}
fig

# %% [markdown]
# ## Clean up
#
# QuestDB has no row DELETE: this notebook's ticks and bars stay under its own session id,
# and running it again rewrites the same rows. `nb.cleanup()` prunes what can go (superseded
# indicator generations; none here) and shows what stays.

# %%
left = nb.cleanup()
assert left.loc[SESSION, "ticks"] == len(day)
assert left.loc[SESSION, "bars"] == bar_counts["bars in QuestDB"].sum()
left
