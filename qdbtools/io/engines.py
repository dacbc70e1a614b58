"""Read engines: run one read-only query and return a raw DataFrame.

``sqlalchemy``
    ``pd.read_sql`` over the questdb-connect dialect on PG wire, values as bind parameters.
``fast``
    The server's HTTP export endpoint in Parquet (``/exp?fmt=parquet``): columnar, no
    per-row Python work. Values are rendered as literals by :mod:`qdbtools.io.literals`.
    (QWP query streaming needs QuestDB 10.0, which Maven Central does not serve yet.)
``auto``
    ``fast`` when the server answers Parquet exports, else ``sqlalchemy``; probed once per
    database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from qdbtools.exceptions import InvalidInputError
from qdbtools.io.errors import sql_errors
from qdbtools.io.literals import render_params

if TYPE_CHECKING:
    from qdbtools.io.connection import Connection

__all__ = ["ENGINES", "read_frame", "resolve_engine"]

ENGINES = ("auto", "fast", "sqlalchemy")


def resolve_engine(conn: Connection, engine: str) -> str:
    if engine not in ENGINES:
        raise InvalidInputError(f"unrecognized engine {engine!r}, must be one of {', '.join(ENGINES)}")
    if engine != "auto":
        return engine
    return "fast" if conn.supports_parquet_export() else "sqlalchemy"


def read_frame(conn: Connection, query: str, params: Mapping[str, Any], engine: str) -> pd.DataFrame:
    """Run ``query`` with ``params`` through the named engine (not ``auto``)."""
    if engine == "sqlalchemy":
        return read_sqlalchemy(conn, query, params)
    return read_parquet_export(conn, render_params(query, params))


def read_sqlalchemy(conn: Connection, query: str, params: Mapping[str, Any]) -> pd.DataFrame:
    import sqlalchemy as sa

    with conn.connection() as pooled, conn.bounded(pooled), sql_errors(conn.settings, query):
        return pd.read_sql(sa.text(query), pooled, params=dict(params))


def read_parquet_export(conn: Connection, sql: str) -> pd.DataFrame:
    table = read_arrow(conn, sql)
    dtypes: dict[pa.DataType, pd.api.extensions.ExtensionDtype] = {
        pa.string(): pd.StringDtype(na_value=np.nan)
    }
    return table.to_pandas(types_mapper=dtypes.get)


#: Below this many bytes a Parquet answer is decoded on the calling thread: handing a small
#: file to pyarrow's thread pool cost more than decoding it (10k values: 0.21 against 0.09 ms
#: on an idle machine, ~0.6 ms while the server is busy on the same cores).
_THREADED_DECODE_BYTES = 4 << 20


def read_arrow(conn: Connection, sql: str) -> pa.Table:
    """``sql``'s result as an Arrow table, through the server's Parquet export."""
    payload = export_parquet(conn, sql)
    threaded = len(payload) >= _THREADED_DECODE_BYTES
    return pq.ParquetFile(pa.BufferReader(payload)).read(use_threads=threaded)


def export_parquet(conn: Connection, sql: str) -> bytes:
    return conn.export_parquet(sql)
