"""Static charts of OHLCV bars and their indicators with matplotlib.

:func:`plot_indicators` draws a price panel (candles or a close line, with
moving averages, VWAP and Bollinger Bands on top), one panel per oscillator
family (RSI, MACD, stochastics, and a generic panel for the others) and a
volume panel, on one shared UTC time axis.  It builds a
:class:`matplotlib.figure.Figure` with the object-oriented API only - no
``pyplot`` state - so it works headless, in scripts and in notebooks
(``display(fig)``), and optionally saves it as a PNG.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, ScalarFormatter

from qdbtools.exceptions import InvalidInputError, InvalidVariantError, MissingColumnsError
from qdbtools.indicators import parse_variant

__all__ = ["plot_indicators"]

logger = logging.getLogger(__name__)

#: Above this many bars ``kind="auto"`` draws a close line instead of candles.
AUTO_LINE_BARS = 600
#: Default cap on the number of panels (price and volume included).
MAX_PANELS = 6

_UP = "#26a69a"
_DOWN = "#ef5350"
_PRICE = "#37474f"
_GUIDE = "#9e9e9e"
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#2ca02c",
    "#d62728",
)

_OHLCV = ("open", "high", "low", "close", "volume")
_OVERLAY_FAMILIES = frozenset({"EMA", "SMA", "WMA", "DEMA", "TEMA", "VWAP", "BBANDS"})
_DMI = frozenset({"ADX", "DX", "PLUS_DI", "MINUS_DI"})
_STOCHS = frozenset({"STOCH", "STOCHF", "STOCHRSI"})
_NUMERIC_SUFFIX = re.compile(r"^(.*?)(?:_[+-]?[\d.]+)*$")

# Panel heights relative to each other (also used to derive the default figsize, in inches).
_PRICE_HEIGHT = 3.4
_OSC_HEIGHT = 1.35
_VOLUME_HEIGHT = 0.9
_WIDTH = 12.0

# family -> (y limits, horizontal guide lines)
_GUIDES: dict[str, tuple[tuple[float, float] | None, tuple[float, ...]]] = {
    "RSI": ((0.0, 100.0), (30.0, 70.0)),
    "STOCH": ((0.0, 100.0), (20.0, 80.0)),
    "STOCHF": ((0.0, 100.0), (20.0, 80.0)),
    "STOCHRSI": ((0.0, 100.0), (20.0, 80.0)),
    "MFI": ((0.0, 100.0), (20.0, 80.0)),
    "WILLR": ((-100.0, 0.0), (-80.0, -20.0)),
    "CCI": (None, (-100.0, 100.0)),
    "DMI": ((0.0, 100.0), (20.0,)),
    "ZSCORE": (None, (-2.0, 0.0, 2.0)),
    "ROC": (None, (0.0,)),
    "MOM": (None, (0.0,)),
    "RET": (None, (0.0,)),
    "LOGRET": (None, (0.0,)),
    "MACD": (None, (0.0,)),
}
_LABELS = {
    "DMI": "ADX / DI",
    "STOCH": "Stoch",
    "STOCHF": "Stoch fast",
    "STOCHRSI": "Stoch RSI",
    "WILLR": "Williams %R",
}


@dataclass
class _Panel:
    """One oscillator panel: a family of columns drawn in the same axes."""

    key: str
    family: str
    columns: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return _LABELS.get(self.family, self.family)


def plot_indicators(
    ohlcv: pd.DataFrame,
    indicators: pd.DataFrame | None = None,
    *,
    kind: Literal["auto", "candle", "line"] = "auto",
    title: str | None = None,
    overlays: Sequence[str] | None = None,
    oscillators: Sequence[str] | None = None,
    volume: bool = True,
    path: str | PathLike[str] | None = None,
    dpi: int = 120,
    figsize: tuple[float, float] | None = None,
    max_panels: int = MAX_PANELS,
) -> Figure:
    """Chart OHLCV bars with their indicators: price, oscillator and volume panels.

    Parameters
    ----------
    ohlcv : pandas.DataFrame
        Bars of one symbol indexed by a tz-aware :class:`~pandas.DatetimeIndex`
        (converted to UTC).  Needs ``close``; candles also need ``open``,
        ``high`` and ``low``; ``volume`` feeds the volume panel.  Other numeric
        columns named like indicator variants (``RSI_14``, ``MACD_12_26_9.hist``)
        are plotted too, so ``bars.join(compute(bars, [...]))`` works alone.
    indicators : pandas.DataFrame, optional
        Indicator columns as returned by :func:`qdbtools.indicators.compute`
        (``RSI_14``, ``MACD_12_26_9.macd/.signal/.hist``, ``BBANDS_20_2.upper``
        ...), reindexed onto ``ohlcv``'s index (the two must overlap).
    kind : {"auto", "candle", "line"}
        ``"candle"`` draws candlesticks, ``"line"`` the close price (with a light
        high-low band when available); ``"auto"`` draws candles up to
        600 bars and a line above.
    title : str, optional
        Figure title; by default built from the ``symbol`` / ``session_id``
        columns, the bar interval and the time range.
    overlays, oscillators : sequence of str, optional
        Variant names (``"EMA_12"``, ``"BBANDS_20_2"``) or column names
        (``"MACD_12_26_9.hist"``) to draw on the price panel / in panels below.
        Each one given replaces the auto-detection for its role (``[]`` means
        none); the other role is still auto-detected from the remaining columns.
        Auto-detection puts EMA, SMA, WMA, DEMA, TEMA, VWAP and BBANDS on the price
        panel and everything else below: RSI (0-100, 30/70 lines), MACD (one panel per
        variant: line, signal, histogram colored by sign), STOCH/STOCHF/STOCHRSI
        (%K, %D, 20/80 lines), and one generic panel per other family
        (ATR, CCI, WILLR, MFI, OBV ...; ADX/DX/PLUS_DI/MINUS_DI share one).
    volume : bool
        Draw the volume panel (skipped when there is no ``volume`` column).
    path : str or os.PathLike, optional
        Save the figure there (parent directories are created); PNG unless the
        suffix names another format matplotlib writes.
    dpi : int
        Resolution of the figure and of the saved file.
    figsize : (float, float), optional
        Width and height in inches; by default 12 wide, the height growing with
        the number of panels.
    max_panels : int
        Cap on the number of panels (price and volume included); oscillator
        panels beyond it are left out with a logged warning.

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to ``pyplot``; in Jupyter ``display(fig)`` (or leave it as the
        cell's last expression).  Each axes carries a label for programmatic
        access: ``"price"``, ``"volume"`` or the oscillator panel's key
        (``"RSI"``, ``"MACD_12_26_9"``, ``"STOCH"`` ...).

    Raises
    ------
    InvalidInputError
        ``ohlcv`` is not a DataFrame, is empty, has no tz-aware DatetimeIndex, has
        duplicated timestamps or several symbols; ``indicators`` does not overlap
        it; a name in ``overlays``/``oscillators`` is unknown (the message lists
        the available columns); a bad ``kind``, ``dpi``, ``figsize`` or ``max_panels``.
    MissingColumnsError
        ``close`` is missing, or ``open``/``high``/``low`` for candles.

    Examples
    --------
    >>> from qdbtools.indicators import compute
    >>> ind = compute(bars, ["EMA_12", "BBANDS_20_2", "RSI_14", "MACD_12_26_9"])  # doctest: +SKIP
    >>> fig = plot_indicators(bars, ind, path="charts/btc.png")                     # doctest: +SKIP
    >>> [ax.get_label() for ax in fig.axes]                                         # doctest: +SKIP
    ['price', 'RSI', 'MACD_12_26_9', 'volume']
    """
    frame = _check_ohlcv(ohlcv)
    kind = _resolve_kind(kind, frame)
    dpi = _check_positive_int(dpi, "dpi")
    max_panels = _check_positive_int(max_panels, "max_panels")
    figsize = _check_figsize(figsize)

    pool, from_indicators = _indicator_pool(frame, indicators)
    over_cols, osc_cols = _select(pool, from_indicators, overlays, oscillators)
    panels = _group(osc_cols)

    has_volume = bool(volume) and "volume" in frame.columns
    if volume and not has_volume:
        logger.debug("plot_indicators: no 'volume' column, no volume panel")
    room = max_panels - 1 - int(has_volume)
    if room < 0:
        has_volume, room = False, max_panels - 1
        logger.warning("plot_indicators: max_panels=%d leaves no room for the volume panel", max_panels)
    if len(panels) > room:
        left_out = [c for p in panels[room:] for c in p.columns]
        logger.warning(
            "plot_indicators: %d panels needed, max_panels=%d; left out: %s "
            "(choose with oscillators=[...] or raise max_panels)",
            1 + int(has_volume) + len(panels),
            max_panels,
            ", ".join(left_out),
        )
        panels = panels[:room]

    heights = [_PRICE_HEIGHT] + [_OSC_HEIGHT] * len(panels) + ([_VOLUME_HEIGHT] if has_volume else [])
    if figsize is None:
        figsize = (_WIDTH, round(sum(heights) + 1.0, 2))
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    axes = fig.subplots(len(heights), 1, sharex=True, squeeze=False, height_ratios=heights)[:, 0]

    x = _date_numbers(frame.index)
    width = _bar_width(x)

    price_ax = axes[0]
    price_ax.set_label("price")
    _draw_price(price_ax, frame, x, width, kind)
    _draw_overlays(price_ax, pool, over_cols, x)
    price_ax.set_ylabel("Price")
    price_ax.yaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    _legend(price_ax)
    _headroom(price_ax)

    for ax, panel in zip(axes[1 : 1 + len(panels)], panels, strict=True):
        ax.set_label(panel.key)
        _draw_panel(ax, panel, pool, x, width)
        ax.set_ylabel(panel.label)
        _legend(ax)

    if has_volume:
        vol_ax = axes[-1]
        vol_ax.set_label("volume")
        _draw_volume(vol_ax, frame, x, width)
        vol_ax.set_ylabel("Volume")

    for ax in axes:
        ax.grid(True, color="#e0e0e0", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.tick_params(labelsize=8)
        ax.yaxis.label.set_size(9)
    _time_axis(axes[-1], x, width)
    fig.suptitle(title if title is not None else _default_title(frame), fontsize=12)

    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target, dpi=dpi, format=None if target.suffix else "png", facecolor="white")
        logger.info("plot_indicators: saved %s", target)
    return fig


# ----------------------------------------------------------------------------- validation


def _check_ohlcv(ohlcv: Any) -> pd.DataFrame:
    if not isinstance(ohlcv, pd.DataFrame):
        raise InvalidInputError(f"ohlcv must be a pandas DataFrame, got {type(ohlcv).__name__}")
    if ohlcv.empty:
        raise InvalidInputError("ohlcv is empty: there is nothing to plot")
    if "close" not in ohlcv.columns:
        raise MissingColumnsError(
            f"ohlcv has no 'close' column (columns: {list(ohlcv.columns)})", missing=("close",)
        )
    idx = _check_index(ohlcv.index, "ohlcv")
    if idx.has_duplicates:
        first = idx[idx.duplicated()][0]
        hint = " (several symbols or sessions? plot one at a time)" if "symbol" in ohlcv.columns else ""
        raise InvalidInputError(f"ohlcv has duplicated timestamps, first {first}{hint}")
    for col in ("symbol", "session_id"):
        if col in ohlcv.columns and ohlcv[col].nunique(dropna=True) > 1:
            values = sorted(map(str, ohlcv[col].dropna().unique()))[:5]
            raise InvalidInputError(f"ohlcv holds several {col} values ({values}); plot one at a time")
    frame = ohlcv.set_axis(idx, axis=0)
    if not idx.is_monotonic_increasing:
        frame = frame.sort_index()
    if not np.isfinite(pd.to_numeric(frame["close"], errors="coerce").to_numpy(dtype=float)).any():
        raise InvalidInputError("ohlcv['close'] holds no finite value: there is nothing to plot")
    return frame


def _check_index(index: pd.Index, what: str) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        raise InvalidInputError(
            f"{what} must be indexed by a pandas DatetimeIndex (bar time), got {type(index).__name__}; "
            f"e.g. {what}.set_index('timestamp')"
        )
    if index.tz is None:
        raise InvalidInputError(
            f"{what} has a naive DatetimeIndex; localize it to UTC first: "
            f"{what}.tz_localize('UTC') (or tz_convert('UTC') if it is in another zone)"
        )
    if index.hasnans:
        raise InvalidInputError(f"{what}'s index contains NaT")
    return index.tz_convert("UTC")


def _resolve_kind(kind: Any, frame: pd.DataFrame) -> str:
    if kind not in ("auto", "candle", "line"):
        raise InvalidInputError(f"kind must be 'auto', 'candle' or 'line', got {kind!r}")
    if kind == "auto":
        kind = "line" if len(frame) > AUTO_LINE_BARS else "candle"
        logger.debug("plot_indicators: %d bars, kind=%r", len(frame), kind)
    if kind == "candle":
        missing = tuple(c for c in ("open", "high", "low") if c not in frame.columns)
        if missing:
            raise MissingColumnsError(
                f"candles need columns {', '.join(missing)} which ohlcv lacks; "
                "pass kind='line' to plot the close price only",
                missing=missing,
            )
    return kind


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_figsize(figsize: Any) -> tuple[float, float] | None:
    if figsize is None:
        return None
    try:
        w, h = (float(v) for v in figsize)
    except (TypeError, ValueError):
        raise InvalidInputError(f"figsize must be (width, height) in inches, got {figsize!r}") from None
    if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
        raise InvalidInputError(f"figsize must be two positive numbers, got {figsize!r}")
    return (w, h)


# ----------------------------------------------------------------------------- column selection


def _variant(column: str) -> str:
    return column.split(".", 1)[0]


def _family(column: str) -> str:
    variant = _variant(column)
    try:
        return parse_variant(variant).indicator
    except InvalidVariantError:
        match = _NUMERIC_SUFFIX.match(variant)
        return (match.group(1) if match and match.group(1) else variant).upper()


def _is_variant(column: str) -> bool:
    try:
        parse_variant(_variant(column))
    except InvalidVariantError:
        return False
    return True


def _is_overlay(column: str) -> bool:
    family = _family(column)
    return family in _OVERLAY_FAMILIES or family.startswith("VWAP")


def _numeric(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if isinstance(c, str)
        and c not in _OHLCV
        and pd.api.types.is_numeric_dtype(frame[c].dtype)
        and not pd.api.types.is_bool_dtype(frame[c].dtype)
    ]


def _indicator_pool(frame: pd.DataFrame, indicators: Any) -> tuple[pd.DataFrame, list[str]]:
    """All plottable columns on the bars' index, and those auto-detection may use."""
    own = _numeric(frame)
    pool = frame[own].astype("float64")
    auto = [c for c in own if _is_variant(c)]
    if indicators is None:
        return pool, auto
    if isinstance(indicators, pd.Series):
        indicators = indicators.to_frame()
    if not isinstance(indicators, pd.DataFrame):
        raise InvalidInputError(f"indicators must be a pandas DataFrame, got {type(indicators).__name__}")
    idx = _check_index(indicators.index, "indicators")
    if idx.has_duplicates:
        raise InvalidInputError(f"indicators has duplicated timestamps, first {idx[idx.duplicated()][0]}")
    ind = indicators.set_axis(idx, axis=0)
    cols = _numeric(ind)
    skipped = [c for c in ind.columns if c not in cols]
    if skipped:
        logger.debug("plot_indicators: ignoring non-numeric or OHLCV indicator columns %s", skipped)
    overlap = frame.index.intersection(idx)
    if overlap.empty:
        raise InvalidInputError(
            f"the indicators' index ({_span(idx)}) does not overlap the bars' index ({_span(frame.index)})"
        )
    if len(overlap) < len(frame.index):
        logger.info(
            "plot_indicators: indicators cover %d of %d bars; the rest is blank", len(overlap), len(frame)
        )
    aligned = ind[cols].reindex(frame.index).astype("float64")
    pool = pd.concat([pool.drop(columns=[c for c in cols if c in pool.columns]), aligned], axis=1)
    return pool, [c for c in auto if c not in cols] + cols


def _span(idx: pd.DatetimeIndex) -> str:
    if idx.empty:
        return "empty"
    return f"{idx.min():%Y-%m-%d %H:%M} to {idx.max():%Y-%m-%d %H:%M} UTC"


def _resolve(names: Sequence[str], pool: pd.DataFrame, role: str) -> list[str]:
    """Column names for ``overlays=``/``oscillators=``: exact columns or variant names."""
    if isinstance(names, str):
        names = [names]
    columns = [str(c) for c in pool.columns]
    by_upper: dict[str, list[str]] = {}
    for c in columns:
        by_upper.setdefault(c.upper(), []).append(c)
        by_upper.setdefault(_variant(c).upper(), []).append(c)
    out: list[str] = []
    unknown: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise InvalidInputError(f"{role} must hold strings (variant or column names), got {name!r}")
        if name in columns:
            found = [name]
        else:
            found = by_upper.get(name.strip().upper(), [])
            if not found:
                try:
                    found = by_upper.get(parse_variant(name).name.upper(), [])
                except InvalidVariantError:
                    found = []
        if not found:
            unknown.append(name)
        out.extend(c for c in dict.fromkeys(found) if c not in out)
    if unknown:
        available = ", ".join(columns) if columns else "none (pass indicators=...)"
        raise InvalidInputError(f"{role}: unknown {unknown}; available columns: {available}")
    return out


def _select(
    pool: pd.DataFrame,
    auto: list[str],
    overlays: Sequence[str] | None,
    oscillators: Sequence[str] | None,
) -> tuple[list[str], list[str]]:
    over = _resolve(overlays, pool, "overlays") if overlays is not None else None
    osc = _resolve(oscillators, pool, "oscillators") if oscillators is not None else None
    usable = []
    for c in auto:
        if pool[c].notna().any():
            usable.append(c)
        elif (over is None or c not in over) and (osc is None or c not in osc):
            logger.warning("plot_indicators: %s is all NaN on these bars; not plotted", c)
    for chosen in (over or []) + (osc or []):
        if not pool[chosen].notna().any():
            logger.warning("plot_indicators: %s is all NaN on these bars", chosen)
    if over is None:
        over = [c for c in usable if _is_overlay(c) and (osc is None or c not in osc)]
    if osc is None:
        osc = [c for c in usable if not _is_overlay(c) and c not in over]
    return over, osc


def _group(columns: list[str]) -> list[_Panel]:
    """Oscillator panels, in order of first appearance: one per family, one per MACD variant."""
    panels: dict[str, _Panel] = {}
    for c in columns:
        family = _family(c)
        if family == "MACD":
            key = _variant(c)
        elif family in _DMI:
            key = family = "DMI"
        else:
            key = family
        panels.setdefault(key, _Panel(key, family)).columns.append(c)
    return list(panels.values())


# ----------------------------------------------------------------------------- drawing


def _date_numbers(index: pd.DatetimeIndex) -> np.ndarray:
    return mdates.date2num(index.tz_convert("UTC").tz_localize(None).to_numpy())


def _bar_width(x: np.ndarray) -> float:
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
        verts,
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
    return np.where(up, _UP, _DOWN)


def _draw_price(ax: Axes, frame: pd.DataFrame, x: np.ndarray, width: float, kind: str) -> None:
    close = pd.to_numeric(frame["close"], errors="coerce").to_numpy(dtype=float)
    if kind == "line":
        if {"high", "low"} <= set(frame.columns):
            high = pd.to_numeric(frame["high"], errors="coerce").to_numpy(dtype=float)
            low = pd.to_numeric(frame["low"], errors="coerce").to_numpy(dtype=float)
            ax.fill_between(x, low, high, color=_PRICE, alpha=0.15, linewidth=0, label="high-low")
        ax.plot(x, close, color=_PRICE, linewidth=0.9, label="close")
        return
    o, h, lo = (
        pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in ("open", "high", "low")
    )
    ok = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(close)
    if not ok.all():
        logger.debug("plot_indicators: %d bars with NaN prices not drawn", int((~ok).sum()))
    o, h, lo, c, xs = o[ok], h[ok], lo[ok], close[ok], x[ok]
    colors = _up_colors(c >= o)
    wicks = LineCollection(
        np.stack([np.column_stack([xs, lo]), np.column_stack([xs, h])], axis=1),
        colors=colors,
        linewidths=0.7,
    )
    wicks.set_gid("candle-wicks")
    ax.add_collection(wicks, autolim=True)
    _boxes(ax, xs, np.minimum(o, c), np.maximum(o, c), width, colors, gid="candle-bodies")
    ax.autoscale_view()


def _draw_overlays(ax: Axes, pool: pd.DataFrame, columns: list[str], x: np.ndarray) -> None:
    colors = iter(_PALETTE * 4)
    done: set[str] = set()
    for col in columns:
        if col in done:
            continue
        variant = _variant(col)
        if _family(col) == "BBANDS":
            parts = {c.rsplit(".", 1)[-1]: c for c in columns if _variant(c) == variant}
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


def _draw_panel(ax: Axes, panel: _Panel, pool: pd.DataFrame, x: np.ndarray, width: float) -> None:
    limits, guides = _GUIDES.get(panel.family, (None, ()))
    colors = iter(_PALETTE * 4)
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
            dashed = panel.family in _STOCHS and c.endswith(".d")
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
        ax.axhline(y, color=_GUIDE, linewidth=0.7, linestyle=":" if y == 0 else "--", zorder=1)
    if len(guides) == 2 and panel.family != "MACD":
        ax.axhspan(guides[0], guides[1], color=_GUIDE, alpha=0.06, linewidth=0, zorder=0)
    if panel.family in ("OBV", "AD") or _large(pool[panel.columns]):
        ax.yaxis.set_major_formatter(FuncFormatter(_compact))


def _draw_volume(ax: Axes, frame: pd.DataFrame, x: np.ndarray, width: float) -> None:
    vol = pd.to_numeric(frame["volume"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(vol)
    if {"open", "close"} <= set(frame.columns):
        o = pd.to_numeric(frame["open"], errors="coerce").to_numpy(dtype=float)
        c = pd.to_numeric(frame["close"], errors="coerce").to_numpy(dtype=float)
        colors = _up_colors((c >= o)[ok])
    else:
        colors = np.full(int(ok.sum()), _PRICE)
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


def _headroom(ax: Axes, share: float = 0.1) -> None:
    """Extra space above the data so the upper-left legend covers less of it."""
    if ax.get_legend() is None:
        return
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + share * (hi - lo))


def _legend(ax: Axes) -> None:
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


def _time_axis(ax: Axes, x: np.ndarray, width: float) -> None:
    locator = mdates.AutoDateLocator(tz="UTC", minticks=4, maxticks=12)
    formatter = mdates.ConciseDateFormatter(locator, tz="UTC")
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlim(x[0] - width, x[-1] + width)
    ax.set_xlabel("time (UTC)", fontsize=9)


def _default_title(frame: pd.DataFrame) -> str:
    parts: list[str] = []
    for col in ("symbol", "session_id"):
        if col in frame.columns:
            values = frame[col].dropna().unique()
            if len(values) == 1:
                parts.append(str(values[0]))
    interval = _interval(frame.index)
    if interval:
        parts.append(f"{interval} bars")
    idx = frame.index
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
