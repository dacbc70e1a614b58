"""qdbtools: tick prices, OHLCV bars and technical indicators in QuestDB, from pandas.

Start here:

>>> import qdbtools
>>> with qdbtools.local_server() as db:          # a throwaway QuestDB    # doctest: +SKIP
...     print(db.server_version(), db.tables())
>>> db = qdbtools.connect()                      # the embedded default   # doctest: +SKIP
"""

import qdbtools.accessor  # noqa: F401  (registers the df.qdb accessor)
from qdbtools.config import Settings
from qdbtools.database import Database
from qdbtools.exceptions import (
    ConfigError,
    DatabaseError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    InvalidInputError,
    InvalidVariantError,
    JarNotFoundError,
    JavaNotFoundError,
    MigrationError,
    MissingColumnsError,
    NoDataError,
    QdbToolsError,
    QueryError,
    SchemaNotReadyError,
    ServerError,
    ServerStartError,
    TableSuspendedError,
    VisibilityError,
    WriteError,
)
from qdbtools.io.writer import WriteResult
from qdbtools.offline import EngineRun, OfflineIndicatorEngine
from qdbtools.server import QUESTDB_VERSION, LocalServer, ServerPorts
from qdbtools.session import connect, get_default_database, local_server
from qdbtools.store import PruneResult, SaveResult

__version__ = "0.1.0"

__all__ = [
    "QUESTDB_VERSION",
    "ConfigError",
    "Database",
    "DatabaseError",
    "DatabaseTimeoutError",
    "DatabaseUnavailableError",
    "EngineRun",
    "InvalidInputError",
    "InvalidVariantError",
    "JarNotFoundError",
    "JavaNotFoundError",
    "LocalServer",
    "MigrationError",
    "MissingColumnsError",
    "NoDataError",
    "OfflineIndicatorEngine",
    "PruneResult",
    "QdbToolsError",
    "QueryError",
    "SaveResult",
    "SchemaNotReadyError",
    "ServerError",
    "ServerPorts",
    "ServerStartError",
    "Settings",
    "TableSuspendedError",
    "VisibilityError",
    "WriteError",
    "WriteResult",
    "__version__",
    "connect",
    "get_default_database",
    "local_server",
]
