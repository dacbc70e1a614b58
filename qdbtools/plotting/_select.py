"""Checking the inputs of a chart and choosing which columns go to which panel."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from qdbtools.exceptions import InvalidInputError, InvalidVariantError, MissingColumnsError
from qdbtools.indicators import parse_variant
from qdbtools.plotting._layout import (
    AUTO_LINE_BARS,
    DMI_FAMILY,
    NUMERIC_SUFFIX,
    OHLCV_COLUMNS,
    OVERLAY_FAMILIES,
    Panel,
)

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- validation


def check_ohlcv(ohlcv: Any) -> pd.DataFrame:
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
            f"{what} has a naive DatetimeIndex; localize it first: {what}.index = "
            f"{what}.index.tz_localize('UTC') if the times are UTC, or tz_localize(<their zone>)"
        )
    if index.hasnans:
        raise InvalidInputError(f"{what}'s index contains NaT")
    return index.tz_convert("UTC")


def bar_index(frame: pd.DataFrame) -> pd.DatetimeIndex:
    """The index of a frame :func:`check_ohlcv` returned: a UTC ``DatetimeIndex``."""
    index = frame.index
    assert isinstance(index, pd.DatetimeIndex), "check_ohlcv gives the bars a DatetimeIndex"
    return index


def resolve_kind(kind: Any, frame: pd.DataFrame) -> Literal["candle", "line"]:
    if kind not in ("auto", "candle", "line"):
        raise InvalidInputError(f"kind must be 'auto', 'candle' or 'line', got {kind!r}")
    resolved: Literal["candle", "line"]
    if kind == "auto":
        resolved = "line" if len(frame) > AUTO_LINE_BARS else "candle"
        log.debug("plot_indicators: %d bars, kind=%r", len(frame), resolved)
    else:
        resolved = kind
    if resolved == "candle":
        missing = tuple(c for c in ("open", "high", "low") if c not in frame.columns)
        if missing:
            raise MissingColumnsError(
                f"candles need columns {', '.join(missing)} which ohlcv lacks; "
                "pass kind='line' to plot the close price only",
                missing=missing,
            )
    return resolved


def check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_figsize(figsize: Any) -> tuple[float, float] | None:
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


def variant_of(column: str) -> str:
    return column.split(".", 1)[0]


def family_of(column: str) -> str:
    variant = variant_of(column)
    try:
        return parse_variant(variant).indicator
    except InvalidVariantError:
        match = NUMERIC_SUFFIX.match(variant)
        return (match.group(1) if match and match.group(1) else variant).upper()


def _is_variant(column: str) -> bool:
    try:
        parse_variant(variant_of(column))
    except InvalidVariantError:
        return False
    return True


def _is_overlay(column: str) -> bool:
    family = family_of(column)
    return family in OVERLAY_FAMILIES or family.startswith("VWAP")


def _numeric(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if isinstance(c, str)
        and c not in OHLCV_COLUMNS
        and pd.api.types.is_numeric_dtype(frame[c].dtype)
        and not pd.api.types.is_bool_dtype(frame[c].dtype)
    ]


def indicator_pool(frame: pd.DataFrame, indicators: Any) -> tuple[pd.DataFrame, list[str]]:
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
        log.debug("plot_indicators: ignoring non-numeric or OHLCV indicator columns %s", skipped)
    overlap = frame.index.intersection(idx)
    if overlap.empty:
        raise InvalidInputError(
            f"the indicators' index ({_span(idx)}) does not overlap the bars' index "
            f"({_span(bar_index(frame))})"
        )
    if len(overlap) < len(frame.index):
        log.info(
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
        by_upper.setdefault(variant_of(c).upper(), []).append(c)
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


def select_columns(
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
            log.warning("plot_indicators: %s is all NaN on these bars; not plotted", c)
    for chosen in (over or []) + (osc or []):
        if not pool[chosen].notna().any():
            log.warning("plot_indicators: %s is all NaN on these bars", chosen)
    if over is None:
        over = [c for c in usable if _is_overlay(c) and (osc is None or c not in osc)]
    if osc is None:
        osc = [c for c in usable if not _is_overlay(c) and c not in over]
    return over, osc


def group_panels(columns: list[str]) -> list[Panel]:
    """Oscillator panels, in order of first appearance: one per family, one per MACD variant."""
    panels: dict[str, Panel] = {}
    for c in columns:
        family = family_of(c)
        if family == "MACD":
            key = variant_of(c)
        elif family in DMI_FAMILY:
            key = family = "DMI"
        else:
            key = family
        panels.setdefault(key, Panel(key, family)).columns.append(c)
    return list(panels.values())
