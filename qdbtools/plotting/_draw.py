"""Drawing each panel of a chart: candles or a close line, overlays, oscillators, volume, axes."""

from __future__ import annotations

import logging
from collections.abc import Callable

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.ticker import FuncFormatter

from qdbtools.plotting._layout import (
    DOWN_COLOR,
    GUIDE_COLOR,
    GUIDES,
    PALETTE,
    PRICE_COLOR,
    STOCH_FAMILIES,
    UP_COLOR,
    Panel,
)
from qdbtools.plotting._select import bar_index, family_of, variant_of

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- drawing


def date_numbers(index: pd.DatetimeIndex) -> np.ndarray:
    numbers: np.ndarray = mdates.date2num(index.tz_convert("UTC").tz_localize(None).to_numpy())
    return numbers


def bar_width(x: np.ndarray) -> float:
    """0.8 of the typical bar spacing, in days (matplotlib's date unit)."""
    steps = np.diff(x)
    steps = steps[steps > 0]
    spacing = float(np.median(steps)) if steps.size else 1.0 / 1440.0
    return 0.8 * spacing


def _boxes(
    ax: Axes,
    x: np.ndarray,
    bottom: np.ndarray,
    top: np.ndarray,
    width: float,
    colors: np.ndarray | list[str],
    *,
    label: str | None = None,
    alpha: float = 1.0,
    gid: str | None = None,
) -> PolyCollection:
    """One rectangle per x, drawn as a single PolyCollection (no per-bar Python loop)."""
    left, right = x - width / 2, x + width / 2
    verts = np.stack(
        [
            np.column_stack([left, bottom]),
            np.column_stack([left, top]),
            np.column_stack([right, top]),
            np.column_stack([right, bottom]),
        ],
        axis=1,
    )
    coll = PolyCollection(
        verts,  # type: ignore[arg-type]  # stub wants a Sequence; an (N, 4, 2) array is documented
        facecolors=colors,
        edgecolors=colors,
        linewidths=0.4,
        alpha=alpha,
        label=label,
    )
    if gid:
        coll.set_gid(gid)
    ax.add_collection(coll, autolim=True)
    return coll


def _up_colors(up: np.ndarray) -> np.ndarray:
    return np.where(up, UP_COLOR, DOWN_COLOR)


def draw_price(ax: Axes, frame: pd.DataFrame, x: np.ndarray, width: float, kind: str) -> None:
    close = pd.to_numeric(frame["close"], errors="coerce").to_numpy(dtype=float)
    if kind == "line":
        if {"high", "low"} <= set(frame.columns):
            high = pd.to_numeric(frame["high"], errors="coerce").to_numpy(dtype=float)
            low = pd.to_numeric(frame["low"], errors="coerce").to_numpy(dtype=float)
            ax.fill_between(x, low, high, color=PRICE_COLOR, alpha=0.15, linewidth=0, label="high-low")
        ax.plot(x, close, color=PRICE_COLOR, linewidth=0.9, label="close")
        return
    o, h, lo = (
        pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in ("open", "high", "low")
    )
    ok = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(close)
    if not ok.all():
        log.debug("plot_indicators: %d bars with NaN prices not drawn", int((~ok).sum()))
    o, h, lo, c, xs = o[ok], h[ok], lo[ok], close[ok], x[ok]
    colors = _up_colors(c >= o)
    segments = np.stack([np.column_stack([xs, lo]), np.column_stack([xs, h])], axis=1)
    wicks = LineCollection(
        segments,  # type: ignore[arg-type]  # stub wants a Sequence; an (N, 2, 2) array is documented
        colors=colors,
        linewidths=0.7,
    )
    wicks.set_gid("candle-wicks")
    ax.add_collection(wicks, autolim=True)
    _boxes(ax, xs, np.minimum(o, c), np.maximum(o, c), width, colors, gid="candle-bodies")
    ax.autoscale_view()


def draw_overlays(ax: Axes, pool: pd.DataFrame, columns: list[str], x: np.ndarray) -> None:
    colors = iter(PALETTE * 4)
    done: set[str] = set()
    for col in columns:
        if col in done:
            continue
        variant = variant_of(col)
        if family_of(col) == "BBANDS":
            parts = {c.rsplit(".", 1)[-1]: c for c in columns if variant_of(c) == variant}
            done.update(parts.values())
            color = next(colors)
            upper, lower, middle = parts.get("upper"), parts.get("lower"), parts.get("middle")
            for name, style in ((upper, "-"), (middle, "--"), (lower, "-")):
                if name is not None:
                    ax.plot(x, pool[name].to_numpy(), color=color, linewidth=0.8, linestyle=style, label=name)
            if upper is not None and lower is not None:
                band = ax.fill_between(
                    x, pool[lower].to_numpy(), pool[upper].to_numpy(), color=color, alpha=0.08, linewidth=0
                )
                band.set_gid(f"fill:{variant}")
            for other in set(parts.values()) - {upper, lower, middle}:
                ax.plot(x, pool[other].to_numpy(), color=color, linewidth=0.8, label=other)
            continue
        done.add(col)
        ax.plot(x, pool[col].to_numpy(), color=next(colors), linewidth=1.1, label=col)


def draw_panel(ax: Axes, panel: Panel, pool: pd.DataFrame, x: np.ndarray, width: float) -> None:
    limits, guides = GUIDES.get(panel.family, (None, ()))
    colors = iter(PALETTE * 4)
    if panel.family == "MACD":
        named = {c.rsplit(".", 1)[-1]: c for c in panel.columns}
        for c in panel.columns:
            if c == named.get("hist"):
                continue
            style = {"macd": ("#1f77b4", 1.0), "signal": ("#ff7f0e", 1.0)}.get(c.rsplit(".", 1)[-1])
            color, lw = style if style else (next(colors), 0.9)
            ax.plot(x, pool[c].to_numpy(), color=color, linewidth=lw, label=c)
        if "hist" in named:
            hist = pool[named["hist"]].to_numpy()
            ok = np.isfinite(hist)
            _boxes(
                ax,
                x[ok],
                np.zeros(int(ok.sum())),
                hist[ok],
                width,
                _up_colors(hist[ok] >= 0),
                label=named["hist"],
                alpha=0.55,
                gid="macd-hist",
            )
            ax.autoscale_view()
    else:
        for c in panel.columns:
            dashed = panel.family in STOCH_FAMILIES and c.endswith(".d")
            ax.plot(
                x,
                pool[c].to_numpy(),
                color=next(colors),
                linewidth=0.9,
                linestyle="--" if dashed else "-",
                label=c,
            )
    if limits is not None:
        lo, hi = limits
        data = pool[panel.columns].to_numpy()
        finite = data[np.isfinite(data)]
        if finite.size:  # never hide data outside the usual range (e.g. ADX above 100 cannot happen, ROC can)
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
        ax.set_ylim(lo, hi)
    for y in guides:
        ax.axhline(y, color=GUIDE_COLOR, linewidth=0.7, linestyle=":" if y == 0 else "--", zorder=1)
    if len(guides) == 2 and panel.family != "MACD":
        ax.axhspan(guides[0], guides[1], color=GUIDE_COLOR, alpha=0.06, linewidth=0, zorder=0)
    if panel.family in ("OBV", "AD") or _large(pool[panel.columns]):
        ax.yaxis.set_major_formatter(FuncFormatter(_compact))


def draw_volume(ax: Axes, frame: pd.DataFrame, x: np.ndarray, width: float) -> None:
    vol = pd.to_numeric(frame["volume"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(vol)
    if {"open", "close"} <= set(frame.columns):
        o = pd.to_numeric(frame["open"], errors="coerce").to_numpy(dtype=float)
        c = pd.to_numeric(frame["close"], errors="coerce").to_numpy(dtype=float)
        colors = _up_colors((c >= o)[ok])
    else:
        colors = np.full(int(ok.sum()), PRICE_COLOR)
    _boxes(ax, x[ok], np.zeros(int(ok.sum())), vol[ok], width, colors, alpha=0.6, gid="volume-bars")
    ax.set_ylim(bottom=0)
    ax.autoscale_view()
    ax.yaxis.set_major_formatter(FuncFormatter(_compact))


def _large(frame: pd.DataFrame) -> bool:
    values = frame.to_numpy(dtype=float)
    finite = np.abs(values[np.isfinite(values)])
    return bool(finite.size) and float(finite.max()) >= 1e5


def _compact(value: float, _pos: int | None = None) -> str:
    size = abs(value)
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= scale:
            return f"{value / scale:.4g}{suffix}"
    return f"{value:.4g}"


def add_headroom(ax: Axes, share: float = 0.1) -> None:
    """Extra space above the data so the upper-left legend covers less of it."""
    if ax.get_legend() is None:
        return
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + share * (hi - lo))


def add_legend(ax: Axes) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    ax.legend(
        handles,
        labels,
        loc="upper left",
        fontsize=7,
        ncols=min(len(handles), 6),
        frameon=True,
        framealpha=0.8,
        borderaxespad=0.3,
        handlelength=1.6,
        columnspacing=1.0,
    )


def time_axis(ax: Axes, x: np.ndarray, width: float) -> None:
    locator = mdates.AutoDateLocator(tz="UTC", minticks=4, maxticks=12)
    formatter = mdates.ConciseDateFormatter(locator, tz="UTC")
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlim(x[0] - width, x[-1] + width)
    ax.set_xlabel("time (UTC)", fontsize=9)


def default_title(frame: pd.DataFrame) -> str:
    parts: list[str] = []
    for col in ("symbol", "session_id"):
        if col in frame.columns:
            values = frame[col].dropna().unique()
            if len(values) == 1:
                parts.append(str(values[0]))
    idx = bar_index(frame)
    interval = _interval(idx)
    if interval:
        parts.append(f"{interval} bars")
    start, end = idx[0], idx[-1]
    if interval:  # bars are labelled by their open time: the chart runs to the last bar's close
        end = end + idx.to_series().diff().median()
    if start.normalize() == end.normalize():
        parts.append(f"{start:%Y-%m-%d %H:%M} – {end:%H:%M} UTC")
    else:
        parts.append(f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC")
    return " · ".join(parts)


def _interval(index: pd.DatetimeIndex) -> str | None:
    if len(index) < 2:
        return None
    step = index.to_series().diff().median()
    formats: list[tuple[pd.Timedelta, Callable[[int], str]]] = [
        (pd.Timedelta(days=1), lambda n: f"{n}d"),
        (pd.Timedelta(hours=1), lambda n: f"{n}h"),
        (pd.Timedelta(minutes=1), lambda n: f"{n}min"),
        (pd.Timedelta(seconds=1), lambda n: f"{n}s"),
    ]
    for unit, fmt in formats:
        if step >= unit and step % unit == pd.Timedelta(0):
            return fmt(int(step // unit))
    return None
