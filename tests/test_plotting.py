"""qdbtools.plotting: figure structure, candles, overlays, UTC axis, PNG output, bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from PIL import Image

from qdbtools.exceptions import InvalidInputError, MissingColumnsError
from qdbtools.indicators import compute
from qdbtools.plotting import plot_indicators

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "ticks.parquet"
VARIANTS = ["EMA_12", "BBANDS_20_2", "VWAP", "RSI_14", "MACD_12_26_9", "STOCH_14_3_3"]


@pytest.fixture(scope="module")
def day_bars() -> pd.DataFrame:
    """1-minute bars of one session of BTC_USDT (the full UTC day, ~1,430 bars)."""
    ticks = pd.read_parquet(SAMPLE)
    g = ticks[(ticks.session_id == "sess_2024_03_01") & (ticks.symbol == "BTC_USDT")].set_index("timestamp")
    grouped = g.groupby(["session_id", "symbol"])
    bars = grouped["price"].resample("1min").ohlc()
    bars["volume"] = grouped["volume"].resample("1min").sum()
    bars = bars.dropna(subset=["close"]).reset_index(["session_id", "symbol"])
    assert isinstance(bars.index, pd.DatetimeIndex) and str(bars.index.tz) == "UTC"
    return bars


@pytest.fixture(scope="module")
def bars(day_bars: pd.DataFrame) -> pd.DataFrame:
    """The first 6 hours (360 bars: candles by default)."""
    return day_bars[day_bars.index < pd.Timestamp("2024-03-01T06:00Z")]


@pytest.fixture(scope="module")
def ind(bars: pd.DataFrame) -> pd.DataFrame:
    return compute(bars, VARIANTS)


@pytest.fixture
def figs():
    made: list[Figure] = []
    yield made
    for fig in made:
        fig.clear()


@pytest.fixture
def plot(figs):
    def _plot(*args, **kwargs) -> Figure:
        fig = plot_indicators(*args, **kwargs)
        figs.append(fig)
        return fig

    return _plot


def axes_by_label(fig: Figure) -> dict[str, object]:
    return {ax.get_label(): ax for ax in fig.axes}


def hlines(ax) -> set[float]:
    """y of the horizontal guide lines (axhline: two equal y values in axes-x coordinates)."""
    out = set()
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        if y.size == 2 and y[0] == y[1] and list(line.get_xdata()) == [0, 1]:
            out.add(float(y[0]))
    return out


def line_labels(ax) -> list[str]:
    return [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")]


def by_gid(ax, gid: str):
    found = [c for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, [c.get_gid() for c in ax.collections]
    return found[0]


# ----------------------------------------------------------------------------- structure


def test_panels_and_labels(plot, bars, ind):
    fig = plot(bars, ind)
    assert isinstance(fig, Figure)
    assert [ax.get_label() for ax in fig.axes] == ["price", "RSI", "MACD_12_26_9", "STOCH", "volume"]
    ax = axes_by_label(fig)
    assert ax["price"].get_ylabel() == "Price"
    assert ax["RSI"].get_ylabel() == "RSI"
    assert ax["MACD_12_26_9"].get_ylabel() == "MACD"
    assert ax["volume"].get_ylabel() == "Volume"
    # price panel is the tallest
    heights = {k: a.get_position().height for k, a in ax.items()}
    assert heights["price"] == max(heights.values())
    assert heights["price"] > 2 * heights["RSI"]
    # default title from the frame
    title = fig.get_suptitle()
    assert "BTC_USDT" in title and "sess_2024_03_01" in title and "1min" in title and "UTC" in title


def test_rsi_panel_guides_and_limits(plot, bars, ind):
    rsi = axes_by_label(plot(bars, ind))["RSI"]
    assert rsi.get_ylim() == (0.0, 100.0)
    assert {30.0, 70.0} <= hlines(rsi)
    assert "RSI_14" in line_labels(rsi)


def test_macd_panel_has_histogram_colored_by_sign(plot, bars, ind):
    macd = axes_by_label(plot(bars, ind))["MACD_12_26_9"]
    assert {"MACD_12_26_9.macd", "MACD_12_26_9.signal"} <= set(line_labels(macd))
    hist = by_gid(macd, "macd-hist")
    assert isinstance(hist, PolyCollection)
    values = ind["MACD_12_26_9.hist"].dropna()
    assert len(hist.get_paths()) == len(values)
    assert hist.get_label() == "MACD_12_26_9.hist"
    colors = {tuple(np.round(c[:3], 3)) for c in hist.get_facecolor()}
    assert len(colors) == 2  # up and down
    assert 0.0 in hlines(macd)


def test_stoch_panel(plot, bars, ind):
    stoch = axes_by_label(plot(bars, ind))["STOCH"]
    assert set(line_labels(stoch)) == {"STOCH_14_3_3.k", "STOCH_14_3_3.d"}
    assert {20.0, 80.0} <= hlines(stoch)
    assert stoch.get_ylim() == (0.0, 100.0)


def test_candles_are_collections_one_body_per_bar(plot, bars, ind):
    price = axes_by_label(plot(bars, ind))["price"]
    bodies = by_gid(price, "candle-bodies")
    wicks = by_gid(price, "candle-wicks")
    assert isinstance(bodies, PolyCollection) and isinstance(wicks, LineCollection)
    assert len(bodies.get_paths()) == len(bars)
    assert len(wicks.get_segments()) == len(bars)
    # up and down candles colored differently, according to close >= open
    faces = bodies.get_facecolor()
    up = (bars["close"] >= bars["open"]).to_numpy()
    assert up.any() and (~up).any()
    assert np.allclose(faces[up][0], faces[up][-1]) and not np.allclose(faces[up][0], faces[~up][0])
    # the wick of the first bar spans its low..high at its time
    seg = wicks.get_segments()[0]
    first = bars.iloc[0]
    assert seg[0][1] == first["low"] and seg[1][1] == first["high"]
    assert seg[0][0] == pytest.approx(mdates.date2num(bars.index[0].tz_localize(None)))


def test_volume_bars(plot, bars, ind):
    vol = axes_by_label(plot(bars, ind))["volume"]
    assert len(by_gid(vol, "volume-bars").get_paths()) == len(bars)
    assert vol.get_ylim()[0] == 0


def test_overlays_on_price_axes(plot, bars, ind):
    fig = plot(bars, ind)
    price = axes_by_label(fig)["price"]
    labels = set(line_labels(price))
    assert {
        "EMA_12",
        "VWAP",
        "BBANDS_20_2.upper",
        "BBANDS_20_2.middle",
        "BBANDS_20_2.lower",
    } <= labels
    middle = next(ln for ln in price.get_lines() if ln.get_label() == "BBANDS_20_2.middle")
    assert middle.get_linestyle() == "--"
    # the band between upper and lower is filled
    by_gid(price, "fill:BBANDS_20_2")
    assert price.get_legend() is not None
    for other in fig.axes[1:]:
        assert not {"EMA_12", "VWAP"} & set(line_labels(other))


def test_shared_utc_time_axis(plot, bars, ind):
    fig = plot(bars, ind)
    first, *rest = fig.axes
    for ax in rest:
        assert first.get_shared_x_axes().joined(first, ax)
    bottom = fig.axes[-1]
    assert "UTC" in bottom.get_xlabel()
    formatter = bottom.xaxis.get_major_formatter()
    assert isinstance(formatter, mdates.ConciseDateFormatter)
    assert str(bottom.xaxis.get_major_locator().tz) == "UTC"


def test_time_axis_renders_utc_whatever_the_default_timezone(plot, bars, ind):
    with matplotlib.rc_context({"timezone": "America/New_York"}):
        fig = plot(bars, ind)
        bottom = fig.axes[-1]
        ticks = [mdates.date2num(pd.Timestamp(f"2024-03-01T0{h}:00")) for h in (1, 2, 3)]
        labels = bottom.xaxis.get_major_formatter().format_ticks(ticks)
    assert labels == ["01:00", "02:00", "03:00"]
    lo, hi = bottom.get_xlim()
    start = mdates.date2num(bars.index[0].tz_localize(None))
    end = mdates.date2num(bars.index[-1].tz_localize(None))
    assert lo < start < end < hi and (hi - lo) < (end - start) * 1.05


def test_non_utc_index_is_converted(plot, bars, ind):
    local = bars.tz_convert("Europe/Berlin")
    fig = plot(local, ind)
    seg = by_gid(axes_by_label(fig)["price"], "candle-wicks").get_segments()[0]
    assert seg[0][0] == pytest.approx(mdates.date2num(bars.index[0].tz_localize(None)))


def test_indicators_in_the_bars_frame(plot, bars, ind):
    fig = plot(bars.join(ind))
    assert [ax.get_label() for ax in fig.axes] == ["price", "RSI", "MACD_12_26_9", "STOCH", "volume"]


def test_explicit_selection_overrides_auto(plot, bars, ind):
    fig = plot(bars, ind, overlays=["EMA_12"], oscillators=["rsi_14", "MACD_12_26_9.hist"], volume=False)
    ax = axes_by_label(fig)
    assert list(ax) == ["price", "RSI", "MACD_12_26_9"]
    assert set(line_labels(ax["price"])) == {"EMA_12"}
    assert line_labels(ax["MACD_12_26_9"]) == []
    by_gid(ax["MACD_12_26_9"], "macd-hist")

    fig = plot(bars, ind, overlays=[], oscillators=[])
    assert [a.get_label() for a in fig.axes] == ["price", "volume"]
    assert line_labels(fig.axes[0]) == []


def test_generic_panels_and_cap(plot, day_bars, caplog):
    extra = compute(day_bars, ["RSI_14", "ATR_14", "ADX_14", "PLUS_DI_14", "MINUS_DI_14", "OBV", "CCI_20"])
    with caplog.at_level(logging.WARNING, logger="qdbtools.plotting"):
        fig = plot(day_bars, extra)
    assert [ax.get_label() for ax in fig.axes] == ["price", "RSI", "ATR", "DMI", "OBV", "volume"]
    assert "CCI_20" in caplog.text and "max_panels" in caplog.text
    dmi = axes_by_label(fig)["DMI"]
    assert set(line_labels(dmi)) == {"ADX_14", "PLUS_DI_14", "MINUS_DI_14"}

    fig = plot(day_bars, extra, max_panels=10)
    assert [ax.get_label() for ax in fig.axes][-2:] == ["CCI", "volume"]
    assert {-100.0, 100.0} <= hlines(axes_by_label(fig)["CCI"])


def test_auto_kind_line_for_many_bars(plot, day_bars):
    assert len(day_bars) > 600
    price = axes_by_label(plot(day_bars))["price"]
    assert "close" in line_labels(price)
    assert not [c for c in price.collections if c.get_gid() == "candle-bodies"]
    # candles when asked, whatever the size
    price = axes_by_label(plot(day_bars, kind="candle"))["price"]
    assert len(by_gid(price, "candle-bodies").get_paths()) == len(day_bars)


def test_close_only_line(plot, bars):
    fig = plot(bars[["close"]], kind="line")
    assert [ax.get_label() for ax in fig.axes] == ["price"]
    assert line_labels(fig.axes[0]) == ["close"]


def test_random_walk_bars(plot):
    rng = np.random.default_rng(1)
    idx = pd.date_range("2024-01-02 14:30", periods=120, freq="5min", tz="UTC")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, idx.size)))
    openp = np.r_[close[0], close[:-1]]
    frame = pd.DataFrame(
        {
            "open": openp,
            "high": np.maximum(openp, close) * 1.001,
            "low": np.minimum(openp, close) * 0.999,
            "close": close,
            "volume": rng.lognormal(0, 1, idx.size),
        },
        index=idx,
    )
    fig = plot(frame, compute(frame, ["SMA_10", "WILLR_14", "MFI_14"]), title="walk")
    assert fig.get_suptitle() == "walk"
    ax = axes_by_label(fig)
    assert list(ax) == ["price", "WILLR", "MFI", "volume"]
    assert ax["WILLR"].get_ylim() == (-100.0, 0.0)
    assert "SMA_10" in line_labels(ax["price"])


# ----------------------------------------------------------------------------- PNG


def test_png_written(plot, bars, ind, tmp_path):
    target = tmp_path / "nested" / "dir" / "chart.png"
    fig = plot(bars, ind, path=target, dpi=80, figsize=(10, 8))
    assert target.is_file()
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000
    with Image.open(target) as img:
        assert img.format == "PNG"
        assert img.size == (800, 640)
        pixels = np.asarray(img.convert("L"), dtype=float)
    assert pixels.var() > 0
    # mostly white background with some ink
    assert 0.5 < (pixels > 250).mean() < 0.995
    assert tuple(fig.get_size_inches()) == (10, 8)


def test_png_default_size(plot, bars, ind, tmp_path):
    target = tmp_path / "chart.png"
    fig = plot(bars, ind, path=str(target))
    w, h = fig.get_size_inches()
    with Image.open(target) as img:
        assert img.size == (round(w * 120), round(h * 120))
        assert np.asarray(img.convert("L"), dtype=float).var() > 0


# ----------------------------------------------------------------------------- bad input


def test_not_a_frame():
    with pytest.raises(InvalidInputError, match="DataFrame"):
        plot_indicators([1, 2, 3])


def test_empty_frame(bars):
    with pytest.raises(InvalidInputError, match="empty"):
        plot_indicators(bars.iloc[:0])


def test_missing_close(bars):
    with pytest.raises(MissingColumnsError, match="close") as info:
        plot_indicators(bars.drop(columns="close"), kind="line")
    assert info.value.missing == ("close",)


def test_missing_candle_columns_suggests_line(bars):
    with pytest.raises(MissingColumnsError, match="kind='line'") as info:
        plot_indicators(bars.drop(columns=["open", "low"]), kind="candle")
    assert info.value.missing == ("open", "low")
    with pytest.raises(MissingColumnsError):
        plot_indicators(bars[["close"]])  # auto -> candles for 360 bars


def test_naive_index(bars):
    with pytest.raises(
        InvalidInputError, match=r"localize it first: ohlcv.index = ohlcv.index.tz_localize\('UTC'\)"
    ):
        plot_indicators(bars.tz_localize(None))


def test_not_datetime_index(bars):
    with pytest.raises(InvalidInputError, match="DatetimeIndex"):
        plot_indicators(bars.reset_index())


def test_naive_indicator_index(bars, ind):
    with pytest.raises(InvalidInputError, match=r"indicators.*localize"):
        plot_indicators(bars, ind.tz_localize(None))


def test_indexes_do_not_overlap(bars, ind):
    shifted = ind.set_axis(ind.index + pd.Timedelta(days=30))
    with pytest.raises(InvalidInputError, match="does not overlap"):
        plot_indicators(bars, shifted)


def test_indicators_not_a_frame(bars):
    with pytest.raises(InvalidInputError, match="indicators must be"):
        plot_indicators(bars, [1, 2])


def test_unknown_overlay_lists_available(bars, ind):
    with pytest.raises(InvalidInputError, match=r"unknown \['SMA_50'\].*EMA_12.*RSI_14"):
        plot_indicators(bars, ind, overlays=["SMA_50"])
    with pytest.raises(InvalidInputError, match=r"oscillators: unknown \['nope'\]"):
        plot_indicators(bars, ind, oscillators=["RSI_14", "nope"])


def test_several_symbols(bars):
    two = pd.concat([bars, bars.assign(symbol="ETH_USDT")])
    with pytest.raises(InvalidInputError, match=r"duplicated timestamps|several symbol"):
        plot_indicators(two)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "bars"}, "kind"),
        ({"dpi": 0}, "dpi"),
        ({"figsize": (10, -1)}, "figsize"),
        ({"figsize": "big"}, "figsize"),
        ({"max_panels": 0}, "max_panels"),
    ],
)
def test_bad_arguments(bars, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        plot_indicators(bars, **kwargs)


def test_charts_show_inline_in_jupyter_without_pyplot(plot, bars, ind):
    """IPython displays an object through its ``_repr_png_``: the chart needs no %matplotlib."""
    from IPython.core.formatters import PNGFormatter

    png = PNGFormatter()(plot(bars, ind))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
