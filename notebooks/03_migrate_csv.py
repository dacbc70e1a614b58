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
# # Migrating the legacy CSV store
#
# The old trading system kept one CSV per indicator variant under
# `data/{session_id}/{symbol}/indicators/{variant_type}_{variant_id}.csv`, plus each
# session's ticks in `data/{session_id}/prices.csv`. `migrate_csv(db, data_dir)` imports
# the tree into QuestDB and verifies every file (row count and a content checksum of
# timestamps, values and confidences, read back from the database).
#
# The notebook migrates a copy of `data_samples/legacy/` whose session directories carry
# this notebook's prefix, does a dry run first, checks the report, runs again (everything
# is then "already migrated") and compares one migrated variant with its CSV row by row.

# %%
import pandas as pd

from qdbtools.notebook import setup

nb = setup("03")  # the database (migrated), data_samples/ and this notebook's session ids
db = nb.db
nb

# %%
import json
from pathlib import Path

import numpy as np

from qdbtools.legacy import read_indicator_csv, scan_tree
from qdbtools.legacy.migrate import migrate_csv

work = nb.scratch_dir()
tree, SESSIONS = nb.legacy_tree(work)  # this notebook's session id -> the sample's

files, skipped = scan_tree(tree)
print(f"{len(files)} legacy files under {tree}, {len(skipped)} skipped")
assert not skipped
assert sum(f.kind == "prices" for f in files) == len(SESSIONS) == 2
assert sum(f.kind == "indicators" for f in files) == 12
found = pd.DataFrame([vars(f) for f in files])
found.assign(path=found["path"].map(lambda p: p.relative_to(tree)))


# %% [markdown]
# ## Dry run
#
# Reads and checks every file, writes nothing.


# %%
def stored_state() -> tuple[int, int]:
    """(indicator variants, ticks) stored for this notebook's sessions."""
    variants = sum(len(db.list_indicators(s)) for s in SESSIONS)
    ticks = sum(
        int(db.sql("SELECT count() FROM tick_prices WHERE session_id = :s", {"s": s}).iat[0, 0])
        for s in SESSIONS
    )
    return variants, ticks


before = stored_state()
fresh = before == (0, 0)  # False when this notebook ran before with the same prefix
preview = migrate_csv(db, tree, dry_run=True, progress=False)
print(preview.summary)
assert preview.ok and preview.dry_run
if fresh:
    assert preview.summary["would import"] == len(files)
else:  # this notebook ran before with the same prefix: nothing left to import
    assert preview.summary["already migrated"] == len(files)
assert stored_state() == before  # nothing written

# %% [markdown]
# ## Migrate
#
# Indicator files are stored as the current generation of their variant
# (`mode="overwrite"`), loaded back and compared; `prices.csv` ticks are imported when the
# session has none in the file's time range. The JSON report goes next to the tree.

# %%
report_path = work / "migration_report.json"
run = migrate_csv(db, tree, report=report_path, progress=False)
report = pd.DataFrame([vars(f) for f in run.files])
report["path"] = report["path"].map(lambda p: str(Path(p).relative_to(tree)))
print(run.summary, f"{run.seconds:.1f} s")
report[["path", "kind", "status", "rows", "variant_type", "variant_id", "reason"]]

# %%
assert run.ok, report[~report["status"].isin(["verified", "already migrated"])]
# a first run verifies every file; a re-run of this notebook finds them already migrated
assert set(report["status"]) <= {"verified", "already migrated"}
if fresh:
    assert (report["status"] == "verified").all(), report["status"].value_counts()
assert (report["csv_checksum"] == report["db_checksum"]).all()
assert run.summary["files"] == len(files) and run.summary["failed"] == run.summary["mismatched"] == 0

saved_report = json.loads(report_path.read_text())
assert saved_report["ok"] is True and saved_report["summary"] == run.summary
assert len(saved_report["files"]) == len(files)

# every CSV row is in QuestDB
csv_rows = {
    (f.session_id, f.symbol, f.variant_type, f.variant_id): f.rows
    for f in run.files
    if f.kind == "indicators"
}
listing = pd.concat([db.list_indicators(s) for s in SESSIONS])
keys = ["session_id", "symbol", "indicator_type", "indicator_id"]
stored_rows = listing.set_index(keys)["rows"].to_dict()
assert stored_rows == csv_rows

# %% [markdown]
# ## Run it again: nothing to do

# %%
again = migrate_csv(db, tree, progress=False)
print(again.summary)
assert again.ok
assert again.summary["already migrated"] == len(files)
assert again.summary["rows"] == run.summary["rows"]
assert all(f.status == "already migrated" for f in again.files)

# %% [markdown]
# ## One variant, CSV against QuestDB
#
# `sess_2024_03_01/BTC_USDT` holds `general_RSI_14.csv` next to `momentum_RSI_14.csv`
# (same id, different values: the type is part of the key) and `momentum_RSI_140.csv`
# (ids match exactly, never by prefix). Confidence `0.0` stays `0.0`; empty provenance
# columns of the old rows stay empty (NULL), never the text `nan`.

# %%
SESSION = nb.session_id("sess_2024_03_01")
folder = tree / SESSION / "BTC_USDT" / "indicators"
csv = read_indicator_csv(folder / "general_RSI_14.csv")
stored = db.load_indicators(SESSION, "BTC_USDT", "RSI_14", shape="long", variant_type="general")

assert len(stored) == len(csv)
assert (stored.index == pd.DatetimeIndex(csv["timestamp"])).all()
assert (stored["value"].to_numpy() == csv["value"].to_numpy()).all()  # bit for bit
conf_db, conf_csv = stored["confidence"].to_numpy(), csv["confidence"].to_numpy()
assert ((conf_db == conf_csv) | (np.isnan(conf_db) & np.isnan(conf_csv))).all()
assert (conf_csv == 0.0).sum() > 15 and (conf_db == 0.0).sum() == (conf_csv == 0.0).sum()
TEXT = ["indicator_type", "indicator_id", "indicator_name", "metadata"]
TEXT += ["scope", "user_id", "created_by"]
for column in TEXT:
    db_text = stored[column].astype(object).where(stored[column].notna(), None).tolist()
    assert db_text == csv[column].tolist(), column
assert "nan" not in set(stored["scope"].dropna())
stored.head()

# %%
momentum = db.load_indicators(SESSION, "BTC_USDT", ["RSI_14", "RSI_140"], variant_type="momentum")
general = db.load_indicators(SESSION, "BTC_USDT", "RSI_14", variant_type="general")["RSI_14"]
momentum_csv = read_indicator_csv(folder / "momentum_RSI_14.csv").set_index("timestamp")["value"]
rsi140_csv = read_indicator_csv(folder / "momentum_RSI_140.csv").set_index("timestamp")["value"]

assert momentum["RSI_14"].dropna().to_numpy().tolist() == momentum_csv.to_numpy().tolist()
assert momentum["RSI_140"].dropna().to_numpy().tolist() == rsi140_csv.to_numpy().tolist()
assert not np.allclose(general, momentum_csv.reindex(general.index), equal_nan=True)
side_by_side = {
    "general RSI_14 (hlc3)": general,
    "momentum RSI_14": momentum["RSI_14"],
    "momentum RSI_140": momentum["RSI_140"],
}
pd.DataFrame(side_by_side).dropna().head()

# %% [markdown]
# ## The session's ticks
#
# `prices.csv` had no trade ids: ticks sharing a timestamp were numbered in file order.

# %%
prices = pd.read_csv(tree / SESSION / "prices.csv")
for symbol, expected in prices.groupby("symbol").size().items():
    got = db.read_ticks(SESSION, symbol, columns=["trade_id", "price", "volume"])
    assert len(got) == expected, (symbol, len(got), expected)
    assert np.allclose(got["price"].sum(), prices.loc[prices["symbol"] == symbol, "price"].sum())
got.head()

# %% [markdown]
# ## Clean up
#
# QuestDB has no row DELETE: the migrated ticks and indicators stay under this notebook's
# session ids, and running it again finds them "already migrated". `nb.cleanup()` removes
# the copied tree and the report, prunes superseded indicator generations and shows what
# stays: every CSV row, once.

# %%
left = nb.cleanup()
assert not work.exists()
assert set(left.index) == set(SESSIONS)
assert left["values"].sum() == sum(csv_rows.values()) and left["pruned"].sum() == 0
ticks_in_csv = sum(f.rows for f in run.files if f.kind == "prices")
assert left["ticks"].sum() == ticks_in_csv, (left, ticks_in_csv)
left
