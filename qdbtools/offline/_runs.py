"""``EngineRun``: what one (session_id, symbol) pair of the offline engine did."""

from __future__ import annotations

from dataclasses import dataclass, field

from qdbtools.display import html_table
from qdbtools.names import natural_key

__all__ = ["EngineRun"]


@dataclass
class EngineRun:
    """Summary of one :meth:`OfflineIndicatorEngine.run`."""

    session_id: str
    symbol: str
    bars: int = 0
    source: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def failed(cls, session_id: str, symbol: str, exc: BaseException) -> EngineRun:
        """The run of a pair that failed with ``exc`` (``error`` names its class and message)."""
        return cls(session_id, symbol, error=f"{type(exc).__name__}: {exc}")

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        outcome = f"error={self.error!r}" if self.error else f"rows={sum(self.rows.values()):,}"
        return (
            f"EngineRun({self.session_id!r}, {self.symbol!r}, bars={self.bars:,}, "
            f"variants={len(self.rows)}, {outcome}, seconds={sum(self.seconds.values()):.2f})"
        )

    def _repr_html_(self) -> str:
        fields = {
            "session_id": self.session_id,
            "symbol": self.symbol,
            "bars": f"{self.bars:,}",
            "source": self.source or "-",
            "rows saved": ", ".join(
                f"{k}: {v:,}" for k, v in sorted(self.rows.items(), key=lambda item: natural_key(item[0]))
            )
            or "-",
            "seconds": ", ".join(f"{k}: {v:.3f}" for k, v in self.seconds.items()) or "-",
            "error": self.error or "-",
        }
        return html_table("EngineRun", fields)
