"""``df.qdb``: the pandas accessor. Stateless; validates and delegates to ``Database``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from qdbtools.database import Database
    from qdbtools.io.writer import WriteResult

__all__ = ["QdbAccessor"]


def _database(db: Database | None) -> Database:
    if db is not None:
        return db
    from qdbtools.session import get_default_database

    return get_default_database()


@pd.api.extensions.register_dataframe_accessor("qdb")
class QdbAccessor:
    """QuestDB methods on any DataFrame: ``df.qdb.write_ticks(...)``.

    Every method takes ``db=`` (a :class:`~qdbtools.Database`). Without it, the default
    database is used: the innermost active :func:`qdbtools.local_server`, else the one the
    latest :func:`qdbtools.connect` returned, else the embedded default.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._obj = frame

    def write_ticks(
        self,
        session_id: str | None = None,
        symbol: str | None = None,
        *,
        db: Database | None = None,
        wait: bool = True,
    ) -> WriteResult:
        """Write this frame of ticks to ``tick_prices`` (see :meth:`Database.write_ticks`).

        Examples
        --------
        >>> ticks.qdb.write_ticks(session_id="s1", symbol="BTC_USDT")      # doctest: +SKIP
        """
        return _database(db).write_ticks(self._obj, session_id, symbol, wait=wait)

    def write(
        self,
        table: str,
        *,
        at: str | None = None,
        symbols: Sequence[str] = (),
        db: Database | None = None,
        wait: bool = True,
    ) -> WriteResult:
        """Write this frame to ``table`` (see :meth:`Database.write_frame`)."""
        return _database(db).write_frame(self._obj, table, at=at, symbols=symbols, wait=wait)
