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

import io
import logging
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Literal

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from qdbtools.plotting._draw import (
    add_headroom,
    add_legend,
    bar_width,
    date_numbers,
    default_title,
    draw_overlays,
    draw_panel,
    draw_price,
    draw_volume,
    time_axis,
)
from qdbtools.plotting._layout import FIGURE_WIDTH, MAX_PANELS, OSC_HEIGHT, PRICE_HEIGHT, VOLUME_HEIGHT
from qdbtools.plotting._select import (
    bar_index,
    check_figsize,
    check_ohlcv,
    check_positive_int,
    group_panels,
    indicator_pool,
    resolve_kind,
    select_columns,
)

__all__ = ["ChartFigure", "plot_indicators"]

log = logging.getLogger(__name__)


class ChartFigure(Figure):
    """A matplotlib ``Figure`` that Jupyter shows inline by itself (no ``%matplotlib inline``).

    Built with the object-oriented API, a figure is not known to pyplot, so IPython's
    inline backend never displays it; this one gives IPython its PNG directly.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


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
    frame = check_ohlcv(ohlcv)
    kind = resolve_kind(kind, frame)
    dpi = check_positive_int(dpi, "dpi")
    max_panels = check_positive_int(max_panels, "max_panels")
    figsize = check_figsize(figsize)

    pool, from_indicators = indicator_pool(frame, indicators)
    over_cols, osc_cols = select_columns(pool, from_indicators, overlays, oscillators)
    panels = group_panels(osc_cols)

    has_volume = bool(volume) and "volume" in frame.columns
    if volume and not has_volume:
        log.debug("plot_indicators: no 'volume' column, no volume panel")
    room = max_panels - 1 - int(has_volume)
    if room < 0:
        has_volume, room = False, max_panels - 1
        log.warning("plot_indicators: max_panels=%d leaves no room for the volume panel", max_panels)
    if len(panels) > room:
        left_out = [c for p in panels[room:] for c in p.columns]
        log.warning(
            "plot_indicators: %d panels needed, max_panels=%d; left out: %s "
            "(choose with oscillators=[...] or raise max_panels)",
            1 + int(has_volume) + len(panels),
            max_panels,
            ", ".join(left_out),
        )
        panels = panels[:room]

    heights = [PRICE_HEIGHT] + [OSC_HEIGHT] * len(panels) + ([VOLUME_HEIGHT] if has_volume else [])
    if figsize is None:
        figsize = (FIGURE_WIDTH, round(sum(heights) + 1.0, 2))
    fig = ChartFigure(figsize=figsize, dpi=dpi, layout="constrained")
    axes = fig.subplots(len(heights), 1, sharex=True, squeeze=False, height_ratios=heights)[:, 0]

    x = date_numbers(bar_index(frame))
    width = bar_width(x)

    price_ax = axes[0]
    price_ax.set_label("price")
    draw_price(price_ax, frame, x, width, kind)
    draw_overlays(price_ax, pool, over_cols, x)
    price_ax.set_ylabel("Price")
    price_ax.yaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    add_legend(price_ax)
    add_headroom(price_ax)

    for ax, panel in zip(axes[1 : 1 + len(panels)], panels, strict=True):
        ax.set_label(panel.key)
        draw_panel(ax, panel, pool, x, width)
        ax.set_ylabel(panel.label)
        add_legend(ax)

    if has_volume:
        vol_ax = axes[-1]
        vol_ax.set_label("volume")
        draw_volume(vol_ax, frame, x, width)
        vol_ax.set_ylabel("Volume")

    for ax in axes:
        ax.grid(True, color="#e0e0e0", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.tick_params(labelsize=8)
        ax.yaxis.label.set_size(9)
    time_axis(axes[-1], x, width)
    fig.suptitle(title if title is not None else default_title(frame), fontsize=12)

    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target, dpi=dpi, format=None if target.suffix else "png", facecolor="white")
        log.info("plot_indicators: saved %s", target)
    return fig
