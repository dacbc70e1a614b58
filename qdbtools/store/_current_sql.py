"""SQL of one session's current values for SQL tools (Grafana, psql, the console).

The view ``indicators_current`` computes every variant's current values and only then applies
a query's WHERE (QuestDB does not push it through the view's ``LATEST ON``): ~5 s per query on
a table of 10M values. The same rules with the session's filters inside the query find its
commit markers through their session index and read only its value rows: ~0.1 s there.
"""

from __future__ import annotations

from typing import Any

from qdbtools.io.literals import key_text, render_params
from qdbtools.schema import CURRENT_VALUES_TEMPLATE, MARKER_SESSION_COLUMN, marker_session_key

__all__ = ["current_values_sql"]


def current_values_sql(session_id: str, symbol: str | None = None) -> str:
    """A query of the current values of one session (and symbol), as ``indicators_current`` has them.

    Parameters
    ----------
    session_id : str
        The session; any text (it is rendered as an escaped SQL literal).
    symbol : str, optional
        Only this symbol's variants.

    Returns
    -------
    str
        One ``SELECT`` with the view's columns, to paste into a SQL tool; wrap it to filter
        further (``SELECT timestamp, value FROM (...) WHERE indicator_id = 'RSI_14'``).

    Examples
    --------
    >>> "WHERE v.commit_mode::varchar IS NULL AND v.session_id = 's1'" in current_values_sql("s1")
    True
    """
    params: dict[str, Any] = {
        "key": marker_session_key(key_text("session_id", session_id)),
        "s": session_id,
    }
    markers = f"{MARKER_SESSION_COLUMN} = :key AND session_id = :s"
    values = "v.commit_mode::varchar IS NULL AND v.session_id = :s"
    if symbol is not None:
        params["y"] = key_text("symbol", symbol)
        markers += " AND symbol = :y"
        values += " AND v.symbol = :y"
    template = CURRENT_VALUES_TEMPLATE.format(markers=markers, values=values)
    return render_params(template, params).strip()
