"""How qdbtools' result objects show in Jupyter: a small HTML table of their fields."""

from __future__ import annotations

import html
from collections.abc import Mapping

__all__ = ["html_table"]


def html_table(title: str, fields: Mapping[str, str]) -> str:
    """A two-column HTML table, captioned ``title`` (for an object's ``_repr_html_``)."""
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in fields.items()
    )
    return f"<table><caption>{html.escape(title)}</caption>{rows}</table>"
