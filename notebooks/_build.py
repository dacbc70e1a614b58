"""Generate the notebooks of this folder (stored without outputs).

The ``.ipynb`` files are built from the cell sources below so that they stay clean,
reviewable and identical from one build to the next (fixed cell ids, no outputs, no
execution counts). Edit this script, not the notebooks, then rebuild:

    python notebooks/_build.py           # rewrite the notebooks
    python notebooks/_build.py --check   # exit 1 when a notebook differs from this script

``tests/test_notebooks.py`` runs the check and executes every notebook against a real QuestDB.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

# Shared first code cell: the database, this notebook's id prefix and the sample data folder.
SETUP = '''
import os
from pathlib import Path

import pandas as pd

import qdbtools

# Every session id this notebook writes starts with PREFIX, so notebooks (and test runs)
# never see each other's rows; running a notebook again overwrites its own rows.
PREFIX = os.environ.get("QDBTOOLS_NOTEBOOK_PREFIX", "nb")


def find_data_samples() -> Path:
    """The repository's data_samples/: ../data_samples from notebooks/, else the nearest one upward."""
    here = Path.cwd().resolve()
    for base in [Path(".."), here, *here.parents]:
        if (base / "data_samples" / "ticks.parquet").is_file():
            return (base / "data_samples").resolve()
    raise FileNotFoundError(f"no data_samples/ticks.parquet in {here} or above")


DATA = find_data_samples()

# No configuration: the embedded default (a managed local QuestDB, started on first use).
# QDBTOOLS_HOST / QDBTOOLS_HTTP_PORT / QDBTOOLS_PG_PORT (or QDBTOOLS_CONF) point it elsewhere.
db = qdbtools.connect()
db.migrate()  # idempotent; creates the tables on a server that has never seen qdbtools
print(db, "QuestDB", db.server_version(), "| prefix:", PREFIX, "| data:", DATA)
'''


def md(text: str) -> tuple[str, str]:
    return ("markdown", text)


def code(text: str) -> tuple[str, str]:
    return ("code", text)


# --------------------------------------------------------------------------------------
# 01 quickstart

QUICKSTART = [
    md(
        """
        # Quickstart: ticks into QuestDB, OHLCV bars out

        The shortest path from a file of trades to bars you can analyse: connect, write one
        session of ticks (both symbols) to `tick_prices`, let QuestDB build 1-minute and
        5-minute bars (`SAMPLE BY`), read them back with both read engines and plot them.

        The `assert` statements make this notebook a regression test
        (`tests/test_notebooks.py` runs it against a throwaway QuestDB): tick counts must equal
        the Parquet file's rows and bar counts must equal pandas' non-empty `resample` bins.
        """
    ),
    code(SETUP),
    md(
        """
        ## Load one session of ticks

        `data_samples/ticks.parquet` holds two UTC days of BTC_USDT and ETH_USDT trades. We take
        the first day and give it this notebook's own session id.
        """
    ),
    code(
        """
        ticks = pd.read_parquet(DATA / "ticks.parquet")
        SOURCE_SESSION = "sess_2024_03_01"
        SESSION = f"{PREFIX}_01_{SOURCE_SESSION}"
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
        """
    ),
    md(
        """
        ## Write the ticks

        `df.qdb.write_ticks` (or `db.write_ticks(df)`) sends the frame over ILP/HTTP and returns
        once the rows are visible to queries. The exchange `trade_id` is part of the table's
        DEDUP key, so writing the same ticks again changes nothing: re-running this notebook is
        safe, and trades sharing a microsecond are all kept.
        """
    ),
    code(
        """
        written = day.qdb.write_ticks(db=db)  # session_id and symbol come from the frame's columns
        print(written)
        assert written.rows == len(day)
        """
    ),
    code(
        """
        stored = db.sql(
            "SELECT symbol, count() AS ticks FROM tick_prices WHERE session_id = :s "
            "GROUP BY symbol ORDER BY symbol",
            {"s": SESSION},
        ).set_index("symbol")["ticks"]
        expected_ticks = day.groupby("symbol").size()
        counts = pd.DataFrame({"in QuestDB": stored, "in the Parquet file": expected_ticks})
        print(counts)
        assert stored.to_dict() == expected_ticks.to_dict(), counts
        """
    ),
    code(
        """
        btc_ticks = db.read_ticks(SESSION, "BTC_USDT")
        source = day[day["symbol"] == "BTC_USDT"]
        assert len(btc_ticks) == len(source)
        # read_ticks orders by (timestamp, trade_id): the file's order within a symbol
        assert (btc_ticks["trade_id"].to_numpy() == source["trade_id"].to_numpy()).all()
        assert (btc_ticks["price"].to_numpy() == source["price"].to_numpy()).all()
        assert (btc_ticks.index == pd.DatetimeIndex(source["timestamp"])).all()
        btc_ticks.head()
        """
    ),
    md(
        """
        ## Bars, built inside QuestDB

        `db.aggregate_ohlcv(session, symbol, interval)` runs `SAMPLE BY ... ALIGN TO CALENDAR`
        over `tick_prices` and stores the bars in `aggregated_ohlcv` (idempotent). Minutes
        without a trade get no bar, exactly like pandas' `resample(...)` once the empty bins
        are dropped.
        """
    ),
    code(
        """
        FREQ = {"1m": "1min", "5m": "5min"}


        def pandas_bars(symbol: str, interval: str) -> pd.DataFrame:
            \"\"\"The reference: pandas resample of the same ticks, empty bins dropped.\"\"\"
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
        """
    ),
    md(
        """
        ## Read the bars with both engines

        `engine="fast"` uses QuestDB's HTTP Parquet export, `engine="sqlalchemy"` runs
        `pd.read_sql` over PG wire; both return the same frame (UTC index named `timestamp`,
        the same dtypes).
        """
    ),
    code(
        """
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
        """
    ),
    code(
        """
        # a time window: start <= timestamp < end, tz-aware bounds
        window = db.read_ohlcv(
            SESSION, "BTC_USDT", "5m", start="2024-03-01T14:00:00Z", end="2024-03-01T16:00:00Z"
        )
        expected_window = pandas_bars("BTC_USDT", "5m").loc["2024-03-01 14:00":"2024-03-01 15:59:59"]
        assert window.index.equals(expected_window.index)
        window[["open", "high", "low", "close", "volume", "trades"]]
        """
    ),
    md("## A quick look"),
    code(
        """
        fig = bars.qdb.plot(kind="line")
        assert {"price", "volume"} <= {ax.get_label() for ax in fig.axes}
        fig
        """
    ),
]


# --------------------------------------------------------------------------------------
# 02 indicators

INDICATORS = [
    md(
        """
        # Indicators: compute a grid, chart it, store it, load it back

        From 1-minute bars in QuestDB to a grid of indicator variants (`bars.qdb.indicators`),
        a chart with overlays and oscillator panels, and a round trip through the `indicators`
        table: `save_indicators(mode="overwrite")` stores a new generation of each variant
        atomically, `load_indicators` returns exactly what was computed. Last, the
        `OfflineIndicatorEngine` does load, compute and save in one call.

        Variant names carry their parameters (`RSI_14`, `BBANDS_20_2`); multi-output indicators
        give one column per output (`MACD_12_26_9.macd`, `.signal`, `.hist`).
        """
    ),
    code(SETUP),
    code(
        """
        import tempfile

        import numpy as np

        from qdbtools import OfflineIndicatorEngine
        from qdbtools.plotting import plot_indicators

        SOURCE_SESSION, SYMBOL = "sess_2024_03_01", "BTC_USDT"
        SESSION = f"{PREFIX}_02_{SOURCE_SESSION}"

        # this notebook's own ticks and 1-minute bars (idempotent: trade ids are DEDUP keys)
        ticks = pd.read_parquet(DATA / "ticks.parquet")
        mine = ticks[(ticks["session_id"] == SOURCE_SESSION) & (ticks["symbol"] == SYMBOL)]
        db.write_ticks(mine.assign(session_id=SESSION))
        db.aggregate_ohlcv(SESSION, SYMBOL, "1m")

        bars = db.read_ohlcv(SESSION, SYMBOL, "1m")
        assert len(bars) == mine["timestamp"].dt.floor("min").nunique()
        bars.tail(3)
        """
    ),
    md(
        """
        ## A grid of variants

        An RSI period sweep (7 to 21) plus the usual suspects. `compute` evaluates the whole list
        in one pass and matches TA-Lib, warm-up included (NaN where TA-Lib has no value).
        """
    ),
    code(
        """
        RSI_GRID = [f"RSI_{n}" for n in range(7, 22)]
        OTHERS = ["EMA_12", "SMA_20", "BBANDS_20_2", "MACD_12_26_9", "STOCH_14_3_3", "VWAP", "ATR_14"]
        VARIANTS = RSI_GRID + OTHERS

        ind = bars.qdb.indicators(VARIANTS)
        print(ind.shape)
        ind.dropna().head()
        """
    ),
    code(
        """
        assert ind.index.equals(bars.index)
        assert {
            "MACD_12_26_9.macd", "MACD_12_26_9.signal", "MACD_12_26_9.hist",
            "BBANDS_20_2.upper", "BBANDS_20_2.middle", "BBANDS_20_2.lower",
            "STOCH_14_3_3.k", "STOCH_14_3_3.d",
        } <= set(ind.columns)
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
        """
    ),
    md(
        """
        ## Chart

        `plot_indicators` puts moving averages, Bollinger bands and VWAP on the price panel and
        gives each oscillator family its own panel. With `path=` it also writes the file.
        """
    ),
    code(
        """
        plot_dir = Path(tempfile.mkdtemp(prefix="qdbtools-nb02-"))
        png = plot_dir / f"{SYMBOL}_{SOURCE_SESSION}_indicators.png"
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
        assert png.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n" and png.stat().st_size > 10_000
        assert {"price", "RSI", "MACD_12_26_9", "STOCH", "volume"} <= set(labels)
        fig
        """
    ),
    code(
        """
        # the first two hours as candles, Bollinger bands and RSI only
        morning = bars.loc[:"2024-03-01 01:59"]
        fig = plot_indicators(morning, ind, kind="candle", overlays=["BBANDS_20_2"], oscillators=["RSI_14"])
        assert [ax.get_label() for ax in fig.axes][:2] == ["price", "RSI"]
        fig
        """
    ),
    md(
        """
        ## Store and load back

        `mode="overwrite"` replaces each variant's whole set atomically (loads see the old set
        until the new generation is complete), so re-running stores the same values again.
        Warm-up NaNs are not stored.
        """
    ),
    code(
        """
        saved = ind.qdb.save_indicators(session_id=SESSION, symbol=SYMBOL, mode="overwrite", db=db)
        print(f"{saved.rows:,} values in {len(saved.generations)} variants, {saved.seconds:.2f} s")
        assert saved.rows == int(ind.notna().sum().sum())
        assert set(saved.generations) == set(ind.columns)
        """
    ),
    code(
        """
        loaded = db.load_indicators(SESSION, SYMBOL, list(ind.columns), variant_type="general")
        expected = ind.dropna(how="all")  # rows where no variant has a value are not stored
        pd.testing.assert_frame_equal(loaded, expected, check_exact=True, check_freq=False)
        loaded.tail(3)
        """
    ),
    code(
        """
        # exact matching: RSI_14 is RSI_14, never RSI_140 or another id that starts with it
        noon, one_pm = "2024-03-01T12:00:00Z", "2024-03-01T13:00:00Z"
        one = db.load_indicators(SESSION, SYMBOL, "RSI_14", start=noon, end=one_pm, variant_type="general")
        assert list(one.columns) == ["RSI_14"] and len(one) == 60
        assert one["RSI_14"].equals(ind["RSI_14"].loc["2024-03-01 12:00":"2024-03-01 12:59"])
        """
    ),
    code(
        """
        info = db.indicator_info(SESSION, SYMBOL, "RSI_14", variant_type="general")
        print({k: v for k, v in info.items() if k != "size_note"})
        assert info["exists"] and info["storage"] == "questdb"
        assert info["rows"] == ind["RSI_14"].notna().sum()
        assert info["first_timestamp"] == ind["RSI_14"].first_valid_index()
        assert info["last_timestamp"] == ind.index[-1]
        assert info["generation"] == saved.generations["RSI_14"]
        """
    ),
    code(
        """
        listing = db.list_indicators(SESSION)
        general = listing[listing["indicator_type"] == "general"].set_index("indicator_id")
        assert set(general.index) == set(ind.columns)
        assert (general["rows"] == ind.notna().sum().reindex(general.index)).all()
        assert (general["generation"] == pd.Series(saved.generations).reindex(general.index)).all()
        listing[["indicator_type", "indicator_id", "generation", "rows", "first_timestamp", "last_timestamp"]]
        """
    ),
    md(
        """
        ## The offline engine

        `OfflineIndicatorEngine(db).run(session, symbol, variants)` loads the 1-minute bars
        (from `aggregated_ohlcv`, else resampled from `tick_prices`), computes and saves.
        Saved under the variant type `engine` here, its variants are kept apart from the
        `general` ones above: the type is part of a variant's key.
        """
    ),
    code(
        """
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
        """
    ),
    code(
        """
        import shutil

        shutil.rmtree(plot_dir)  # the chart was shown above; keep the file by skipping this cell
        """
    ),
]


# --------------------------------------------------------------------------------------
# 03 migrate the legacy CSV tree

MIGRATE = [
    md(
        """
        # Migrating the legacy CSV store

        The old trading system kept one CSV per indicator variant under
        `data/{session_id}/{symbol}/indicators/{variant_type}_{variant_id}.csv`, plus each
        session's ticks in `data/{session_id}/prices.csv`. `migrate_csv(db, data_dir)` imports
        the tree into QuestDB and verifies every file (row count and a content checksum of
        timestamps, values and confidences, read back from the database).

        The notebook migrates a copy of `data_samples/legacy/` whose session directories carry
        this notebook's prefix, does a dry run first, checks the report, runs again (everything
        is then "already migrated") and compares one migrated variant with its CSV row by row.
        """
    ),
    code(SETUP),
    code(
        """
        import json
        import shutil
        import tempfile

        import numpy as np

        from qdbtools.legacy import read_indicator_csv, scan_tree
        from qdbtools.legacy.migrate import migrate_csv

        work = Path(tempfile.mkdtemp(prefix="qdbtools-nb03-"))
        tree = work / "data"
        SESSIONS = {}  # this notebook's session id -> the sample's
        for source in sorted((DATA / "legacy").iterdir()):
            if source.is_dir():
                session = f"{PREFIX}_03_{source.name}"
                shutil.copytree(source, tree / session)
                SESSIONS[session] = source.name

        files, skipped = scan_tree(tree)
        print(f"{len(files)} legacy files under {tree}, {len(skipped)} skipped")
        assert not skipped
        assert sum(f.kind == "prices" for f in files) == len(SESSIONS) == 2
        assert sum(f.kind == "indicators" for f in files) == 12
        found = pd.DataFrame([vars(f) for f in files])
        found.assign(path=found["path"].map(lambda p: p.relative_to(tree)))
        """
    ),
    md(
        """
        ## Dry run

        Reads and checks every file, writes nothing.
        """
    ),
    code(
        """
        def stored_state() -> tuple[int, int]:
            \"\"\"(indicator variants, ticks) stored for this notebook's sessions.\"\"\"
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
        assert preview.summary["would import"] == len(files)
        assert stored_state() == before  # nothing written
        """
    ),
    md(
        """
        ## Migrate

        Indicator files are stored as the current generation of their variant
        (`mode="overwrite"`), loaded back and compared; `prices.csv` ticks are imported when the
        session has none in the file's time range. The JSON report goes next to the tree.
        """
    ),
    code(
        """
        report_path = work / "migration_report.json"
        run = migrate_csv(db, tree, report=report_path, progress=False)
        report = pd.DataFrame([vars(f) for f in run.files])
        report["path"] = report["path"].map(lambda p: str(Path(p).relative_to(tree)))
        print(run.summary, f"{run.seconds:.1f} s")
        report[["path", "kind", "status", "rows", "variant_type", "variant_id", "reason"]]
        """
    ),
    code(
        """
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
        """
    ),
    md("## Run it again: nothing to do"),
    code(
        """
        again = migrate_csv(db, tree, progress=False)
        print(again.summary)
        assert again.ok
        assert again.summary["already migrated"] == len(files)
        assert again.summary["rows"] == run.summary["rows"]
        assert all(f.status == "already migrated" for f in again.files)
        """
    ),
    md(
        """
        ## One variant, CSV against QuestDB

        `sess_2024_03_01/BTC_USDT` holds `general_RSI_14.csv` next to `momentum_RSI_14.csv`
        (same id, different values: the type is part of the key) and `momentum_RSI_140.csv`
        (ids match exactly, never by prefix). Confidence `0.0` stays `0.0`; empty provenance
        columns of the old rows stay empty (NULL), never the text `nan`.
        """
    ),
    code(
        """
        SESSION = f"{PREFIX}_03_sess_2024_03_01"
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
        """
    ),
    code(
        """
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
        """
    ),
    md(
        """
        ## The session's ticks

        `prices.csv` had no trade ids: ticks sharing a timestamp were numbered in file order.
        """
    ),
    code(
        """
        prices = pd.read_csv(tree / SESSION / "prices.csv")
        for symbol, expected in prices.groupby("symbol").size().items():
            got = db.read_ticks(SESSION, symbol, columns=["trade_id", "price", "volume"])
            assert len(got) == expected, (symbol, len(got), expected)
            assert np.allclose(got["price"].sum(), prices.loc[prices["symbol"] == symbol, "price"].sum())
        got.head()
        """
    ),
    code(
        """
        shutil.rmtree(work)  # the copied tree and the report; QuestDB keeps the migrated rows
        """
    ),
]

# --------------------------------------------------------------------------------------
# 04 regression against the legacy values

REGRESSION = [
    md(
        """
        # Regression: do today's indicators reproduce the legacy values?

        The migration plan's last step: verify that indicator calculations match previous
        results. For every legacy variant file we

        1. migrate the legacy tree (its own copy, with this notebook's session prefix),
        2. write the full sessions' ticks (`data_samples/ticks.parquet`) and build 1-minute bars
           in QuestDB,
        3. recompute the variant with `qdbtools.indicators.compute` on those bars,
        4. compare the recomputation with the values stored in QuestDB and with the CSV,

        and fail when any difference exceeds the tolerance. Two legacy quirks are handled, not
        skipped (see `data_samples/README.md`): `MACD_12_26_9` files hold only the MACD main
        line (`MACD_12_26_9.macd`), and `general_RSI_14` is RSI 14 of the typical price
        `(high + low + close) / 3`, as its metadata says (`"price": "hlc3"`).
        """
    ),
    code(SETUP),
    code(
        """
        import json
        import shutil
        import tempfile

        import numpy as np

        from qdbtools.indicators import compute
        from qdbtools.legacy import read_indicator_csv
        from qdbtools.legacy.migrate import migrate_csv

        RTOL = 1e-9  # largest relative difference accepted
        OHLCV = ["open", "high", "low", "close", "volume"]

        work = Path(tempfile.mkdtemp(prefix="qdbtools-nb04-"))
        tree = work / "data"
        SESSIONS = {}  # this notebook's session id -> the sample's
        for source in sorted((DATA / "legacy").iterdir()):
            if source.is_dir():
                session = f"{PREFIX}_04_{source.name}"
                shutil.copytree(source, tree / session)
                SESSIONS[session] = source.name
        SESSIONS
        """
    ),
    md(
        """
        ## Ticks first, then the migration

        The ticks go in first, with the exchange trade ids from the Parquet file. The migration
        then finds each `prices.csv` (the first two hours of a session) already in
        `tick_prices`, verifies it against them and imports nothing, so no tick is doubled.
        """
    ),
    code(
        """
        ticks = pd.read_parquet(DATA / "ticks.parquet")
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
        """
    ),
    code(
        """
        indicator_files = [f for f in run.files if f.kind == "indicators"]
        pairs = sorted({(f.session_id, f.symbol) for f in indicator_files})
        BARS = {}
        for session, symbol in pairs:
            db.aggregate_ohlcv(session, symbol, "1m")
            BARS[session, symbol] = db.read_ohlcv(session, symbol, "1m")[OHLCV]
            source = ticks[(ticks["session_id"] == SESSIONS[session]) & (ticks["symbol"] == symbol)]
            assert len(BARS[session, symbol]) == source["timestamp"].dt.floor("min").nunique()
        {key: len(bars) for key, bars in BARS.items()}
        """
    ),
    md(
        """
        ## Recompute each legacy variant

        The recipe comes from the file itself: its variant id, and the `price` its metadata
        names (`close` unless said otherwise). Multi-output indicators map to the one output the
        legacy store kept.

        Relative differences are taken against the magnitude of the values compared, except for
        the MACD line: it is the difference of two EMAs of the price (~62,000 for BTC), so its
        rounding error scales with the price, and near a zero crossing a difference relative to
        the line itself would be meaningless. Its scale is the bar's close.
        """
    ),
    code(
        """
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
            \"\"\"Largest absolute and relative difference of two series on the same index.

            The relative difference divides by max(|a|, |b|, floor); 0 where both values are 0.
            \"\"\"
            assert a.index.equals(b.index), "different timestamps"
            x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
            diff = np.abs(x - y)
            scale = np.maximum(np.abs(x), np.abs(y))
            if floor is not None:
                scale = np.maximum(scale, np.abs(floor.reindex(a.index).to_numpy(dtype=float)))
            rel = np.divide(diff, scale, out=np.where(diff > 0, np.inf, 0.0), where=scale > 0)
            return {"max_abs": float(diff.max()), "max_rel": float(rel.max()), "ok": bool(rel.max() <= RTOL)}
        """
    ),
    code(
        """
        rows = []
        for f in indicator_files:
            csv = read_indicator_csv(f.path)
            metadata = {json.dumps(json.loads(m), sort_keys=True) for m in csv["metadata"]}
            assert len(metadata) == 1, f"{f.path}: one recipe per file"
            metadata = json.loads(metadata.pop())
            legacy = csv.set_index("timestamp")["value"]
            stored = db.load_indicators(
                f.session_id, f.symbol, f.variant_id, variant_type=f.variant_type
            )[f.variant_id]
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
        """
    ),
    md(
        """
        ## Verdict

        Differences around 1e-16 relative are float rounding: the recursions (EMA, Wilder
        averages) run in compiled numba kernels when numba is installed and in a blocked numpy
        scan otherwise, which agree to ~1e-15 relative, and the legacy values were computed by
        the numpy path (with `QDBTOOLS_NO_NUMBA=1` they are reproduced bit for bit). Anything
        above the tolerance fails the notebook.
        """
    ),
    code(
        """
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
        """
    ),
    md(
        """
        ## The check can fail

        A negative control: recomputing the `general` RSI on the close price (the `momentum`
        recipe) must not pass.
        """
    ),
    code(
        """
        general = next(f for f in indicator_files if f.variant_type == "general" and f.variant_id == "RSI_14")
        legacy = read_indicator_csv(general.path).set_index("timestamp")["value"]
        wrong = recompute(BARS[general.session_id, general.symbol], "RSI_14", {"price": "close"}).dropna()
        control = differences(wrong, legacy)
        print(control)
        assert not control["ok"] and control["max_rel"] > 1e-3
        """
    ),
    code(
        """
        shutil.rmtree(work)  # the copied tree; QuestDB keeps the rows
        """
    ),
]


NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_indicators.ipynb": INDICATORS,
    "03_migrate_csv.ipynb": MIGRATE,
    "04_regression.ipynb": REGRESSION,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (a key of :data:`NOTEBOOKS`), without outputs."""
    stem = name.split("_")[0]
    cells = []
    for index, (kind, text) in enumerate(NOTEBOOKS[name]):
        source = textwrap.dedent(text).strip("\n")
        cell = new_markdown_cell(source) if kind == "markdown" else new_code_cell(source)
        cell["id"] = f"nb{stem}-{index:02d}"
        cells.append(cell)
    nb = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    """The file text of notebook ``name``."""
    return nbformat.writes(build(name)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale notebooks, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name in NOTEBOOKS:
        path = HERE / name
        text = render(name)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("out of date (run python notebooks/_build.py):", ", ".join(stale))
        return 1
    print(("stale: " if args.check else "written: ") + (", ".join(stale) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
