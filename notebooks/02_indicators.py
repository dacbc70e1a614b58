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
# # Indicators: compute a grid, chart it, store it, load it back
#
# From 1-minute bars in QuestDB to a grid of indicator variants (`bars.qdb.indicators`),
# a chart with overlays and oscillator panels, and a round trip through the `indicators`
# table: `save_indicators(mode="overwrite")` stores a new generation of each variant
# atomically, `load_indicators` returns exactly what was computed. Last, the
# `OfflineIndicatorEngine` does load, compute and save in one call.
#
# Variant names carry their parameters (`RSI_14`, `BBANDS_20_2`); multi-output indicators
# give one column per output (`MACD_12_26_9.macd`, `.signal`, `.hist`).

# %%
import pandas as pd

from qdbtools.notebook import setup

nb = setup("02")  # the database (migrated), data_samples/ and this notebook's session ids
db = nb.db
nb

# %%
import numpy as np

from qdbtools import OfflineIndicatorEngine
from qdbtools.plotting import plot_indicators

SOURCE_SESSION, SYMBOL = "sess_2024_03_01", "BTC_USDT"
SESSION = nb.session_id(SOURCE_SESSION)

# this notebook's own ticks and 1-minute bars (idempotent: trade ids are DEDUP keys)
ticks = pd.read_parquet(nb.data / "ticks.parquet")
mine = ticks[(ticks["session_id"] == SOURCE_SESSION) & (ticks["symbol"] == SYMBOL)]
db.write_ticks(mine.assign(session_id=SESSION))
db.aggregate_ohlcv(SESSION, SYMBOL, "1m")

bars = db.read_ohlcv(SESSION, SYMBOL, "1m")
assert len(bars) == mine["timestamp"].dt.floor("min").nunique()
bars.tail(3)

# %% [markdown]
# ## A grid of variants
#
# An RSI period sweep (7 to 21) plus the usual suspects. `compute` evaluates the whole list
# in one pass and matches TA-Lib, warm-up included (NaN where TA-Lib has no value).

# %%
RSI_GRID = [f"RSI_{n}" for n in range(7, 22)]
OTHERS = ["EMA_12", "SMA_20", "BBANDS_20_2", "MACD_12_26_9", "STOCH_14_3_3", "VWAP", "ATR_14"]
VARIANTS = RSI_GRID + OTHERS

ind = bars.qdb.indicators(VARIANTS)
print(ind.shape)
ind.dropna().head()

# %%
assert ind.index.equals(bars.index)
OUTPUTS = {
    "MACD_12_26_9": ["macd", "signal", "hist"],
    "BBANDS_20_2": ["upper", "middle", "lower"],
    "STOCH_14_3_3": ["k", "d"],
}
outputs = {f"{variant}.{output}" for variant, names in OUTPUTS.items() for output in names}
assert outputs <= set(ind.columns)
assert len(ind.columns) == len(RSI_GRID) + 12  # 3 BBANDS, 3 MACD, 2 STOCH outputs, 4 single

# TA-Lib warm-up: RSI_n starts at bar n, SMA_20 at bar 19, EMA_12 at bar 11
for name in RSI_GRID:
    assert ind[name].isna().sum() == int(name.split("_")[1]), name
assert ind["SMA_20"].isna().sum() == 19 and ind["EMA_12"].isna().sum() == 11

# sanity of the values
rsi = ind[RSI_GRID].stack().dropna()  # pandas 3: stack keeps the warm-up NaNs
assert rsi.between(0, 100).all()
bb = ind[["BBANDS_20_2.lower", "BBANDS_20_2.middle", "BBANDS_20_2.upper"]].dropna()
assert (bb["BBANDS_20_2.lower"] <= bb["BBANDS_20_2.middle"]).all()
assert (bb["BBANDS_20_2.middle"] <= bb["BBANDS_20_2.upper"]).all()
assert np.allclose(bb["BBANDS_20_2.middle"], ind["SMA_20"].dropna(), rtol=1e-12)
macd = ind[["MACD_12_26_9.macd", "MACD_12_26_9.signal", "MACD_12_26_9.hist"]].dropna()
assert np.allclose(macd["MACD_12_26_9.hist"], macd["MACD_12_26_9.macd"] - macd["MACD_12_26_9.signal"])
assert ind[["STOCH_14_3_3.k", "STOCH_14_3_3.d"]].stack().dropna().between(0, 100).all()
assert ((ind["VWAP"] >= bars["low"].min()) & (ind["VWAP"] <= bars["high"].max())).all()
assert (ind["ATR_14"].dropna() > 0).all()

# one row per variant: how many values, and the range
ind.describe().T[["count", "min", "max"]]

# %% [markdown]
# ## Chart
#
# `plot_indicators` puts moving averages, Bollinger bands and VWAP on the price panel and
# gives each oscillator family its own panel. With `path=` it also writes the file.

# %%
png = nb.scratch_dir() / f"{SYMBOL}_{SOURCE_SESSION}_indicators.png"
fig = plot_indicators(
    bars,
    ind,
    kind="line",
    overlays=["EMA_12", "SMA_20", "BBANDS_20_2", "VWAP"],
    oscillators=["RSI_7", "RSI_14", "RSI_21", "MACD_12_26_9", "STOCH_14_3_3", "ATR_14"],
    path=png,
)
labels = [ax.get_label() for ax in fig.axes]
print(labels, png, f"{png.stat().st_size:,} bytes")
assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
assert {"price", "RSI", "MACD_12_26_9", "STOCH", "volume"} <= set(labels)
fig

# %%
# the first two hours as candles, Bollinger bands and RSI only
morning = bars.loc[:"2024-03-01 01:59"]
fig = plot_indicators(morning, ind, kind="candle", overlays=["BBANDS_20_2"], oscillators=["RSI_14"])
assert [ax.get_label() for ax in fig.axes][:2] == ["price", "RSI"]
fig

# %% [markdown]
# ## Store and load back
#
# `mode="overwrite"` replaces each variant's whole set atomically (loads see the old set
# until the new generation is complete), so re-running stores the same values again.
# Warm-up NaNs are not stored. Without `variant_type` a save goes under `custom`, never the
# trading system's `general`.

# %%
saved = ind.qdb.save_indicators(session_id=SESSION, symbol=SYMBOL, mode="overwrite", db=db)
print(f"{saved.rows:,} values in {len(saved.generations)} variants, {saved.seconds:.2f} s")
assert saved.rows == int(ind.notna().sum().sum())
assert set(saved.generations) == set(ind.columns)

# %%
loaded = db.load_indicators(SESSION, SYMBOL, list(ind.columns), variant_type="custom")
expected = ind.dropna(how="all")  # rows where no variant has a value are not stored
pd.testing.assert_frame_equal(loaded, expected, check_exact=True, check_freq=False)
loaded.tail(3)

# %%
# exact matching: RSI_14 is RSI_14, never RSI_140 or another id that starts with it
noon, one_pm = "2024-03-01T12:00:00Z", "2024-03-01T13:00:00Z"
one = db.load_indicators(SESSION, SYMBOL, "RSI_14", start=noon, end=one_pm, variant_type="custom")
assert list(one.columns) == ["RSI_14"] and len(one) == 60
assert one["RSI_14"].equals(ind["RSI_14"].loc["2024-03-01 12:00":"2024-03-01 12:59"])

# %%
info = db.indicator_info(SESSION, SYMBOL, "RSI_14", variant_type="custom")
print({k: v for k, v in info.items() if k != "size_note"})
assert info["exists"] and info["storage"] == "questdb"
assert info["rows"] == ind["RSI_14"].notna().sum()
assert info["first_timestamp"] == ind["RSI_14"].first_valid_index()
assert info["last_timestamp"] == ind.index[-1]
assert info["generation"] == saved.generations["RSI_14"]

# %%
listing = db.list_indicators(SESSION)
custom = listing[listing["indicator_type"] == "custom"].set_index("indicator_id")
assert set(custom.index) == set(ind.columns)
assert (custom["rows"] == ind.notna().sum().reindex(custom.index)).all()
assert (custom["generation"] == pd.Series(saved.generations).reindex(custom.index)).all()
listing[["indicator_type", "indicator_id", "generation", "rows", "first_timestamp", "last_timestamp"]]

# %% [markdown]
# ## The offline engine
#
# `OfflineIndicatorEngine(db).run(session, symbol, variants)` loads the 1-minute bars
# (from `aggregated_ohlcv`, else resampled from `tick_prices`), computes and saves.
# Saved under the variant type `engine` here, its variants are kept apart from the
# `custom` ones above (the type a save without `variant_type` uses): the type is part of a
# variant's key.

# %%
engine = OfflineIndicatorEngine(db, variant_type="engine")
run = engine.run(SESSION, SYMBOL, ["RSI_14", "MACD_12_26_9", "ATR_14"], mode="overwrite")
print(run)
assert run.ok and run.source == "aggregated_ohlcv" and run.bars == len(bars)
assert run.rows == {c: int(ind[c].notna().sum()) for c in run.rows}

by_engine = db.load_indicators(SESSION, SYMBOL, list(run.rows), variant_type="engine")
pd.testing.assert_frame_equal(
    by_engine, ind[list(run.rows)].dropna(how="all"), check_exact=True, check_freq=False
)
db.list_indicators(SESSION, SYMBOL).groupby("indicator_type")["indicator_id"].apply(list)

# %% [markdown]
# ## Clean up
#
# QuestDB has no row DELETE: this notebook's ticks, bars and indicators stay under its own
# session id, and running it again rewrites them (the saves overwrite). `nb.cleanup()`
# removes the chart's scratch folder (shown above; skip this cell to keep the PNG), prunes
# the generations that a re-run superseded, and shows what stays.

# %%
left = nb.cleanup()
assert not png.exists()
assert left.loc[SESSION, "ticks"] == len(mine) and left.loc[SESSION, "bars"] == len(bars)
assert left.loc[SESSION, "variants"] == len(saved.generations) + len(run.rows)
assert left.loc[SESSION, "values"] == saved.rows + sum(run.rows.values())
left
