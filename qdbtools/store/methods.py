"""The indicator store's methods of :class:`qdbtools.Database` (a mixin: the documented API).

Each method checks nothing itself and calls the store function of the same job with the
database; the store's modules hold the work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import pandas as pd

from qdbtools.store._rows import DEFAULT_VARIANT_TYPE
from qdbtools.telemetry import instrumented

if TYPE_CHECKING:
    from qdbtools.database import Database
    from qdbtools.store import PruneResult, SaveResult
    from qdbtools.telemetry import Telemetry

__all__ = ["IndicatorMethods"]


class IndicatorMethods:
    """Save, load, list, inspect and prune stored indicator values (mixed into ``Database``)."""

    telemetry: Telemetry

    def _database(self) -> Database:
        """This object as the :class:`~qdbtools.Database` that these methods are mixed into."""
        return cast("Database", self)  # Database is the one class that inherits this mixin

    @instrumented("save", table="indicators")
    def save_indicators(
        self,
        frame: pd.DataFrame,
        session_id: str,
        symbol: str,
        mode: Literal["append", "overwrite"] = "append",
        *,
        variant_type: str = DEFAULT_VARIANT_TYPE,
        scope: str | None = None,
        user_id: str | None = None,
        created_by: str | None = None,
        wait: bool = False,
        skip_unchanged: bool = False,
    ) -> SaveResult:
        """Store indicator values for one session and symbol.

        Parameters
        ----------
        frame : DataFrame
            *Wide*: tz-aware ``DatetimeIndex``, one column per variant id (``RSI_14``,
            ``MACD_12_26_9.macd``). *Long*: ``timestamp``, ``indicator_id``, ``value`` and
            optionally ``confidence``, ``indicator_name``, ``metadata`` (dict or JSON),
            ``indicator_type``, ``scope``, ``user_id``, ``created_by`` columns. NaN values
            (warm-up) are not stored.
        mode : {"append", "overwrite"}
            ``append`` adds values to each variant's current set; a value at a timestamp
            already stored replaces it. ``overwrite`` replaces each saved variant's whole set
            atomically: every reader sees the old set until it sees the new one, complete.
        variant_type : str
            The variant family (the legacy file prefix, e.g. ``momentum``); part of the key.
            Default ``custom``: not ``general``, the type the trading system's service and
            its migrated CSV files use, so a save from a notebook never replaces the
            system's values unless it names ``variant_type="general"``.
        wait : bool
            By default the save returns once the server has durably committed it (it
            survives a crash of the server); loads through this ``Database`` see it at once,
            other readers as soon as the server has applied it (milliseconds, longer under
            load). ``wait=True`` returns only when every reader can see it.
        skip_unchanged : bool
            Do not write a variant again when its latest save holds exactly these values
            (by checksum; for an overwrite, that save must be an overwrite): rerunning the
            same computation then adds no history. Costs one query before the write.

        Returns
        -------
        SaveResult
            Rows stored, generation per variant, content checksum per variant, and
            ``committed_at`` (its place in commit order, for ``as_of=``).

        Examples
        --------
        >>> db.save_indicators(bars.qdb.indicators(["RSI_14"]), "s1", "BTC_USDT")   # doctest: +SKIP
        """
        from qdbtools.store import save_indicators

        return save_indicators(
            self._database(),
            frame,
            session_id,
            symbol,
            mode,
            variant_type=variant_type,
            scope=scope,
            user_id=user_id,
            created_by=created_by,
            wait=wait,
            skip_unchanged=skip_unchanged,
        )

    @instrumented("load", table="indicators")
    def load_indicators(
        self,
        session_id: str,
        symbol: str,
        variant_id: str | Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        limit: int | None = None,
        as_of: Any = None,
        shape: Literal["wide", "long"] = "wide",
        *,
        variant_type: str | None = None,
        engine: str = "auto",
        missing_ok: bool = False,
    ) -> pd.DataFrame:
        """Load stored indicator values; exact variant matching (``RSI_14`` never ``RSI_140``).

        Parameters
        ----------
        variant_id : str or list of str, optional
            Variants to load; all when None. A multi-output base name that is not stored
            itself loads all its stored outputs: ``"MACD_12_26_9"`` gives the columns
            ``MACD_12_26_9.macd``, ``.signal`` and ``.hist``.
        start, end : timestamp-like, optional
            ``start <= timestamp < end`` (tz-aware).
        limit : int, optional
            The first ``limit`` rows; a negative number gives the last rows.
        as_of : timestamp-like, optional
            Load the generations that were current at that moment (history).
        shape : {"wide", "long"}
            Wide: one float column per variant. Long: one row per value with
            ``indicator_type, indicator_id, value, confidence, indicator_name, metadata,
            scope, user_id, created_by, generation``.
        variant_type : str, optional
            Restrict to one variant type (needed in wide shape when an id is stored under
            several types).
        engine : {"auto", "fast", "sqlalchemy"}
            The read path (as in :meth:`read_ticks`).
        missing_ok : bool
            By default a session, symbol or requested variant that is not stored raises
            :class:`~qdbtools.NoDataError`; ``True`` returns an empty frame (all-NaN columns
            for the variants not stored) instead.

        Returns
        -------
        DataFrame
            Indexed by UTC timestamp. A variant that is stored but has no values in
            ``[start, end)`` gives an empty frame, not an error.

        Raises
        ------
        NoDataError
            The session, the symbol or a requested variant is not stored (as of ``as_of``,
            of ``variant_type``); the message names the close matches that are stored.
        DatabaseError
            The database failed (never turned into ``NoDataError``).

        Examples
        --------
        >>> db.load_indicators("s1", "BTC_USDT", ["RSI_14", "MACD_12_26_9"])   # doctest: +SKIP
        >>> db.load_indicators("s1", "BTC_USDT", "RSI_14", missing_ok=True)   # doctest: +SKIP
        """
        from qdbtools.store import load_indicators

        return load_indicators(
            self._database(),
            session_id,
            symbol,
            variant_id,
            start,
            end,
            limit,
            as_of,
            shape,
            variant_type=variant_type,
            engine=engine,
            missing_ok=missing_ok,
        )

    @instrumented("load_across_sessions", table="indicators")
    def load_across_sessions(
        self,
        symbol: str,
        variant_id: str | Sequence[str],
        session_ids: Sequence[str] | None = None,
        *,
        variant_type: str | None = None,
        as_of: Any = None,
        engine: str = "auto",
    ) -> pd.DataFrame:
        """Values of variants of one symbol across sessions, in one call.

        Parameters
        ----------
        symbol : str
            The symbol, e.g. ``"BTC_USDT"``.
        variant_id : str or list of str
            Variants to load (exact matches).
        session_ids : list of str, optional
            Restrict to these sessions; every session that stores the variants when None.
        variant_type, as_of, engine
            As in :meth:`load_indicators`.

        Returns
        -------
        DataFrame
            Indexed by ``(session_id, timestamp)`` (UTC), one float column per variant; empty
            when nothing is stored.

        Examples
        --------
        >>> db.load_across_sessions("BTC_USDT", "RSI_14").loc["sess_2024_03_01"]   # doctest: +SKIP
        """
        from qdbtools.store import load_across_sessions

        return load_across_sessions(
            self._database(),
            symbol,
            variant_id,
            session_ids,
            variant_type=variant_type,
            as_of=as_of,
            engine=engine,
        )

    @instrumented("info", table="indicators")
    def indicator_info(
        self, session_id: str, symbol: str, variant_id: str, *, variant_type: str | None = None
    ) -> dict[str, Any]:
        """Exists, rows, first/last timestamp, path, storage, generation and (labelled) sizes."""
        from qdbtools.store import indicator_info

        return indicator_info(self._database(), session_id, symbol, variant_id, variant_type=variant_type)

    @instrumented("list", table="indicators")
    def list_indicators(
        self, session_id: str | None = None, symbol: str | None = None, *, as_frame: bool = True
    ) -> Any:
        """What is stored: one row per variant (ids, generation, commit time, rows, first/last).

        Columns are those of :data:`qdbtools.store.LISTING_COLUMNS`: ``session_id``,
        ``symbol``, ``indicator_type``, ``indicator_id``, ``generation``, ``committed_at``,
        ``rows``, ``first_timestamp``, ``last_timestamp`` (times UTC), sorted by ids with
        variants in natural order (``RSI_7`` before ``RSI_10``). Frames name the key as the
        ``indicators`` table does (``indicator_type``, ``indicator_id``: what SQL users see);
        parameters name it as the persistence service does (``variant_type``, ``variant_id``).
        ``as_frame=False``: the same facts as dicts (UTC datetimes), without building a DataFrame.
        """
        from qdbtools.store import list_indicators

        return list_indicators(self._database(), session_id, symbol, as_frame=as_frame)

    @instrumented("history", table="indicators")
    def indicator_history(
        self, session_id: str, symbol: str, variant_id: str, *, variant_type: str | None = None
    ) -> pd.DataFrame:
        """Every committed generation of one variant, oldest first (for ``as_of=``)."""
        from qdbtools.store import history

        return history(self._database(), session_id, symbol, variant_id, variant_type=variant_type)

    @instrumented("prune", table="indicators")
    def prune(
        self,
        session_id: str | None = None,
        symbol: str | None = None,
        *,
        keep_history: int = 0,
        orphan_grace: float = 3600.0,
        dry_run: bool = False,
    ) -> PruneResult:
        """Drop superseded indicator generations and abandoned orphans (see :func:`qdbtools.store.prune`).

        The current generation of every variant is never touched.
        """
        from qdbtools.store import prune

        return prune(
            self._database(),
            session_id,
            symbol,
            keep_history=keep_history,
            orphan_grace=orphan_grace,
            dry_run=dry_run,
        )
