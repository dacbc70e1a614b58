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
# # Regression: do today's indicators reproduce the legacy values?
#
# The migration plan's last step: verify that indicator calculations match previous
# results. For every legacy variant file we
#
# 1. migrate the legacy tree (its own copy, with this notebook's session prefix),
# 2. write the full sessions' ticks (`data_samples/ticks.parquet`) and build 1-minute bars
#    in QuestDB,
# 3. recompute the variant with `qdbtools.indicators.compute` on those bars,
# 4. compare the recomputation with the values stored in QuestDB and with the CSV,
#
# and fail when any difference exceeds the tolerance. Two legacy quirks are handled, not
# skipped (see `data_samples/README.md`): `MACD_12_26_9` files hold only the MACD main
# line (`MACD_12_26_9.macd`), and `general_RSI_14` is RSI 14 of the typical price
# `(high + low + close) / 3`, as its metadata says (`"price": "hlc3"`).

# %%
import pandas as pd

from qdbtools.notebook import setup

nb = setup("04")  # the database (migrated), data_samples/ and this notebook's session ids
db = nb.db
nb

# %%
import json

import numpy as np

from qdbtools.indicators import compute
from qdbtools.legacy import read_indicator_csv
from qdbtools.legacy.migrate import migrate_csv

RTOL = 1e-9  # largest relative difference accepted
OHLCV = ["open", "high", "low", "close", "volume"]

work = nb.scratch_dir()
tree, SESSIONS = nb.legacy_tree(work)  # this notebook's session id -> the sample's
SESSIONS

# %% [markdown]
# ## Ticks first, then the migration
#
# The ticks go in first, with the exchange trade ids from the Parquet file. The migration
# then finds each `prices.csv` (the first two hours of a session) already in
# `tick_prices`, verifies it against them and imports nothing, so no tick is doubled.

# %%
ticks = pd.read_parquet(nb.data / "ticks.parquet")
for session, source in SESSIONS.items():
    day = ticks[ticks["session_id"] == source].assign(session_id=session)
    print(session, db.write_ticks(day))

run = migrate_csv(db, tree, report=work / "migration_report.json", progress=False)
migrated = pd.DataFrame([vars(f) for f in run.files])
print(run.summary)
assert run.ok, migrated[["path", "status", "reason"]]
assert set(migrated["status"]) <= {"verified", "already migrated"}
assert (migrated.loc[migrated["kind"] == "prices", "status"] == "already migrated").all()
migrated[["session_id", "symbol", "variant_type", "variant_id", "rows", "status"]]

# %%
indicator_files = [f for f in run.files if f.kind == "indicators"]
pairs = sorted({(f.session_id, f.symbol) for f in indicator_files})
BARS = {}
for session, symbol in pairs:
    db.aggregate_ohlcv(session, symbol, "1m")
    BARS[session, symbol] = db.read_ohlcv(session, symbol, "1m")[OHLCV]
    source = ticks[(ticks["session_id"] == SESSIONS[session]) & (ticks["symbol"] == symbol)]
    assert len(BARS[session, symbol]) == source["timestamp"].dt.floor("min").nunique()
{key: len(bars) for key, bars in BARS.items()}

# %% [markdown]
# ## Recompute each legacy variant
#
# The recipe comes from the file itself: its variant id, and the `price` its metadata
# names (`close` unless said otherwise). Multi-output indicators map to the one output the
# legacy store kept.
#
# Relative differences are taken against the magnitude of the values compared, except for
# the MACD line: it is the difference of two EMAs of the price (~62,000 for BTC), so its
# rounding error scales with the price, and near a zero crossing a difference relative to
# the line itself would be meaningless. Its scale is the bar's close.

# %%
LEGACY_OUTPUT = {"MACD": "macd"}  # the legacy store kept one value per row: MACD's main line
PRICE_SCALED = {"MACD"}  # differences of price averages: relative to the price level


def price_input(bars: pd.DataFrame, price: str) -> pd.DataFrame:
    if price == "close":
        return bars
    if price == "hlc3":  # typical price
        return bars.assign(close=(bars["high"] + bars["low"] + bars["close"]) / 3.0)
    raise ValueError(f"no recipe for price {price!r}")


def recompute(bars: pd.DataFrame, variant_id: str, metadata: dict) -> pd.Series:
    out = compute(price_input(bars, metadata.get("price", "close")), [variant_id])
    if out.shape[1] == 1:
        return out.iloc[:, 0]
    return out[f"{variant_id}.{LEGACY_OUTPUT[variant_id.split('_')[0]]}"]


def differences(a: pd.Series, b: pd.Series, floor: pd.Series | None = None) -> dict:
    """Largest absolute and relative difference of two series on the same index.

    The relative difference divides by max(|a|, |b|, floor); 0 where both values are 0.
    """
    assert a.index.equals(b.index), "different timestamps"
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    diff = np.abs(x - y)
    scale = np.maximum(np.abs(x), np.abs(y))
    if floor is not None:
        scale = np.maximum(scale, np.abs(floor.reindex(a.index).to_numpy(dtype=float)))
    rel = np.divide(diff, scale, out=np.where(diff > 0, np.inf, 0.0), where=scale > 0)
    return {"max_abs": float(diff.max()), "max_rel": float(rel.max()), "ok": bool(rel.max() <= RTOL)}


# %%
rows = []
for f in indicator_files:
    csv = read_indicator_csv(f.path)
    metadata = {json.dumps(json.loads(m), sort_keys=True) for m in csv["metadata"]}
    assert len(metadata) == 1, f"{f.path}: one recipe per file"
    metadata = json.loads(metadata.pop())
    legacy = csv.set_index("timestamp")["value"]
    stored = db.load_indicators(f.session_id, f.symbol, f.variant_id, variant_type=f.variant_type)
    stored = stored[f.variant_id]
    bars = BARS[f.session_id, f.symbol]
    fresh = recompute(bars, f.variant_id, metadata).dropna()
    floor = bars["close"] if f.variant_id.split("_")[0] in PRICE_SCALED else None

    # the same bars: warm-up ends where it ended, no bar missing or added
    assert fresh.index.equals(legacy.index), f"{f.path}: timestamps differ"
    assert stored.index.equals(legacy.index), f"{f.path}: QuestDB timestamps differ"
    vs_db, vs_csv = differences(fresh, stored, floor), differences(fresh, legacy, floor)
    db_csv = differences(stored, legacy, floor)
    rows.append(
        {
            "session_id": f.session_id,
            "symbol": f.symbol,
            "variant_type": f.variant_type,
            "variant_id": f.variant_id,
            "price": metadata.get("price", "close"),
            "scale": "close" if floor is not None else "value",
            "rows": len(legacy),
            "max_abs vs QuestDB": vs_db["max_abs"],
            "max_rel vs QuestDB": vs_db["max_rel"],
            "max_abs vs CSV": vs_csv["max_abs"],
            "max_rel vs CSV": vs_csv["max_rel"],
            "max_abs QuestDB vs CSV": db_csv["max_abs"],
            "ok": vs_db["ok"] and vs_csv["ok"] and db_csv["ok"],
        }
    )
regression = pd.DataFrame(rows)
regression

# %% [markdown]
# ## Verdict
#
# Differences around 1e-16 relative are float rounding: the recursions (EMA, Wilder
# averages) run in compiled numba kernels when numba is installed and in a blocked numpy
# scan otherwise, which agree to ~1e-15 relative, and the legacy values were computed by
# the numpy path (with `QDBTOOLS_NO_NUMBA=1` they are reproduced bit for bit). Anything
# above the tolerance fails the notebook.

# %%
assert len(regression) == len(indicator_files) == 12  # every legacy variant compared, none skipped
LEGACY_IDS = {"MACD_12_26_9", "RSI_14", "RSI_140", "EMA_12", "SMA_20", "ATR_14"}
assert set(regression["variant_id"]) == LEGACY_IDS
assert regression["ok"].all(), regression[~regression["ok"]]
relative = regression[["max_rel vs QuestDB", "max_rel vs CSV"]]
assert (relative <= RTOL).all().all()
# the migration stored the CSV values bit for bit
assert (regression["max_abs QuestDB vs CSV"] == 0).all()
print(f"{regression['rows'].sum():,} values in {len(regression)} variants within {RTOL:g} relative")
print("largest relative difference:", relative.max().max())

# %% [markdown]
# ## The check can fail
#
# A negative control: recomputing the `general` RSI on the close price (the `momentum`
# recipe) must not pass.

# %%
general = next(f for f in indicator_files if f.variant_type == "general" and f.variant_id == "RSI_14")
legacy = read_indicator_csv(general.path).set_index("timestamp")["value"]
wrong = recompute(BARS[general.session_id, general.symbol], "RSI_14", {"price": "close"}).dropna()
control = differences(wrong, legacy)
print(control)
assert not control["ok"] and control["max_rel"] > 1e-3

# %% [markdown]
# ## Clean up
#
# QuestDB has no row DELETE: this notebook's ticks, bars and migrated indicators stay under
# its own session ids, and running it again rewrites or skips them. `nb.cleanup()` removes
# the copied tree and the report, prunes superseded indicator generations and shows what
# stays.

# %%
left = nb.cleanup()
assert not work.exists()
assert set(left.index) == set(SESSIONS)
assert left["ticks"].sum() == ticks["session_id"].isin(list(SESSIONS.values())).sum()
assert left["values"].sum() == regression["rows"].sum()
left
