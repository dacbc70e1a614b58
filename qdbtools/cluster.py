"""Many pairs at once on Dask: a lazy ``dask.dataframe`` of their bars, one partition per pair.

Needs the ``qdbtools[dask]`` extra. Each partition is one pair's :meth:`~qdbtools.Database.read_ohlcv`
(the fast columnar reader by default), run by whichever Dask worker computes it, through that
worker process's one :class:`~qdbtools.Database` (:func:`qdbtools.offline.worker_database`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from qdbtools.config import Settings
from qdbtools.exceptions import InvalidInputError
from qdbtools.io.market import OHLCV_DTYPES, check_interval, checked_pairs
from qdbtools.offline import worker_database

if TYPE_CHECKING:
    import dask.dataframe

    from qdbtools.database import Database

__all__ = ["read_ohlcv_dask"]


def _bars_of_pair(
    pair: tuple[str, str], settings: Settings, interval: str, start: Any, end: Any, engine: str
) -> pd.DataFrame:
    return worker_database(settings).read_ohlcv(
        pair[0],
        pair[1],
        interval,
        start,
        end,
        engine=engine,
        missing_ok=True,  # a pair without bars: no rows
    )


def _empty_bars() -> pd.DataFrame:
    index = pd.DatetimeIndex([], tz="UTC", name="timestamp").as_unit("us")
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in OHLCV_DTYPES.items()}, index=index)


def read_ohlcv_dask(
    db: Database | Settings,
    pairs: Iterable[tuple[str, str]],
    interval: str = "1m",
    start: Any = None,
    end: Any = None,
    *,
    engine: str = "auto",
) -> dask.dataframe.DataFrame:
    """Bars of many (session_id, symbol) pairs as a lazy Dask DataFrame, one partition per pair.

    Parameters
    ----------
    db : Database or Settings
        Where the bars are; only its settings travel to the workers.
    pairs : iterable of (str, str)
        The (session_id, symbol) pairs, one partition each, in this order.
    interval, start, end, engine
        As in :meth:`qdbtools.Database.read_ohlcv`.

    Returns
    -------
    dask.dataframe.DataFrame
        Partitions shaped as ``read_ohlcv`` frames (index ``timestamp``, UTC; ``session_id``
        and ``symbol`` columns); nothing is read until it is computed.

    Examples
    --------
    >>> pairs = [("s1", "BTC_USDT"), ("s1", "ETH_USDT")]                    # doctest: +SKIP
    >>> bars = qdbtools.cluster.read_ohlcv_dask(db, pairs)                  # doctest: +SKIP
    >>> bars.groupby("symbol")["close"].mean().compute()                    # doctest: +SKIP
    """
    try:
        import dask.dataframe as dd
    except ImportError as exc:
        raise InvalidInputError("read_ohlcv_dask needs Dask: pip install 'qdbtools[dask]'") from exc
    settings = db if isinstance(db, Settings) else db.settings
    checked = checked_pairs(pairs)
    if not checked:
        raise InvalidInputError("read_ohlcv_dask needs at least one (session_id, symbol) pair")
    bars: dask.dataframe.DataFrame = dd.from_map(
        _bars_of_pair,
        checked,
        settings=settings,
        interval=check_interval(interval),
        start=start,
        end=end,
        engine=engine,
        meta=_empty_bars(),
        label="qdbtools-ohlcv",
        enforce_metadata=False,
    )
    return bars
