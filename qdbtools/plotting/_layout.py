"""What a chart is made of: panel families, their guide lines and labels, colours and sizes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

AUTO_LINE_BARS = 600
#: Default cap on the number of panels (price and volume included).
MAX_PANELS = 6

UP_COLOR = "#26a69a"
DOWN_COLOR = "#ef5350"
PRICE_COLOR = "#37474f"
GUIDE_COLOR = "#9e9e9e"
PALETTE = (
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

OHLCV_COLUMNS = ("open", "high", "low", "close", "volume")
OVERLAY_FAMILIES = frozenset({"EMA", "SMA", "WMA", "DEMA", "TEMA", "VWAP", "BBANDS"})
DMI_FAMILY = frozenset({"ADX", "DX", "PLUS_DI", "MINUS_DI"})
STOCH_FAMILIES = frozenset({"STOCH", "STOCHF", "STOCHRSI"})
NUMERIC_SUFFIX = re.compile(r"^(.*?)(?:_[+-]?[\d.]+)*$")

# Panel heights relative to each other (also used to derive the default figsize, in inches).
PRICE_HEIGHT = 3.4
OSC_HEIGHT = 1.35
VOLUME_HEIGHT = 0.9
FIGURE_WIDTH = 12.0

# family -> (y limits, horizontal guide lines)
GUIDES: dict[str, tuple[tuple[float, float] | None, tuple[float, ...]]] = {
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
LABELS = {
    "DMI": "ADX / DI",
    "STOCH": "Stoch",
    "STOCHF": "Stoch fast",
    "STOCHRSI": "Stoch RSI",
    "WILLR": "Williams %R",
}


@dataclass
class Panel:
    """One oscillator panel: a family of columns drawn in the same axes."""

    key: str
    family: str
    columns: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS.get(self.family, self.family)
