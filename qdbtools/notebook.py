"""The first cell of a notebook: the database, the sample data and the notebook's own session ids.

>>> from qdbtools.notebook import setup
>>> nb = setup("01")                            # doctest: +SKIP
>>> db = nb.db                                  # doctest: +SKIP
>>> nb.session_id("sess_2024_03_01")            # doctest: +SKIP
'nb_01_sess_2024_03_01'
>>> nb.cleanup()                                # doctest: +SKIP

Every session id a notebook writes starts with a prefix (``QDBTOOLS_NOTEBOOK_PREFIX``, default
``nb``; the tests give each run its own) and the notebook's number, so notebooks and test runs
never see each other's rows, and running a notebook again rewrites its own rows (ticks and bars
are idempotent, indicator saves overwrite). QuestDB has no row DELETE, so :meth:`Notebook.cleanup`
does what can be done cheaply: it prunes the superseded indicator generations of those sessions
(a re-run leaves one generation per variant), removes the notebook's scratch folders and reports
what stays in QuestDB. To leave nothing behind, point the notebook at a scratch server
(``QDBTOOLS_HOST`` / ``QDBTOOLS_*_PORT``, or ``setup(..., db=...)`` with a
:func:`qdbtools.local_server`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from qdbtools.database import Database
from qdbtools.demo import find_samples
from qdbtools.display import html_table
from qdbtools.exceptions import InvalidInputError
from qdbtools.session import connect

__all__ = ["DEFAULT_PREFIX", "PREFIX_VARIABLE", "Notebook", "setup"]

#: The environment variable that sets the session prefix (the tests set a unique one per run).
PREFIX_VARIABLE = "QDBTOOLS_NOTEBOOK_PREFIX"
DEFAULT_PREFIX = "nb"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass
class Notebook:
    """One notebook's database, sample data, session ids and scratch folders (see :func:`setup`).

    Attributes
    ----------
    number : str
        The notebook's number (``"01"``), part of each of its session ids.
    db : Database
        The database, migrated.
    data : Path
        The repository's ``data_samples`` folder.
    prefix : str
        The first part of each of its session ids.
    server : str
        The QuestDB release of ``db``.
    sessions : list of str
        The session ids handed out by :meth:`session_id`, in order.
    scratch_dirs : list of Path
        The folders made by :meth:`scratch_dir`; :meth:`cleanup` removes them.
    """

    number: str
    db: Database
    data: Path
    prefix: str
    server: str
    sessions: list[str] = field(default_factory=list)
    scratch_dirs: list[Path] = field(default_factory=list)

    def session_id(self, name: str) -> str:
        """This notebook's id for the session ``name``: ``{prefix}_{number}_{name}``.

        The id is remembered, and :meth:`cleanup` reports and prunes it.
        """
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidInputError(
                f"session name {name!r}: use letters, digits, '_', '.' or '-', e.g. 'sess_2024_03_01'"
            )
        session = f"{self.prefix}_{self.number}_{name}"
        if session not in self.sessions:
            self.sessions.append(session)
        return session

    def scratch_dir(self) -> Path:
        """A new empty temporary folder (``qdbtools-nb{number}-*``) that :meth:`cleanup` removes."""
        path = Path(tempfile.mkdtemp(prefix=f"qdbtools-nb{self.number}-"))
        self.scratch_dirs.append(path)
        return path

    def legacy_tree(self, work: Path) -> tuple[Path, dict[str, str]]:
        """Copy the sample legacy CSV tree to ``work / "data"``, each session under this notebook's id.

        Returns the tree and ``{this notebook's session id: the sample's session}``.
        """
        tree = work / "data"
        sessions = {}
        for source in sorted((self.data / "legacy").iterdir()):
            if source.is_dir():
                session = self.session_id(source.name)
                shutil.copytree(source, tree / session)
                sessions[session] = source.name
        return tree, sessions

    def cleanup(self) -> pd.DataFrame:
        """Remove the scratch folders, prune this notebook's sessions; what stays in QuestDB.

        Returns
        -------
        DataFrame
            One row per session id handed out: ``ticks`` (rows in ``tick_prices``), ``bars``
            (rows in ``aggregated_ohlcv``), ``variants`` and ``values`` (the indicators' current
            generations) and ``pruned`` (superseded indicator values removed now).
        """
        for path in self.scratch_dirs:
            shutil.rmtree(path, ignore_errors=True)
        rows = []
        for session in self.sessions:
            pruned = self.db.prune(session)
            listing = self.db.list_indicators(session)
            rows.append(
                {
                    "session_id": session,
                    "ticks": self._count("tick_prices", session),
                    "bars": self._count("aggregated_ohlcv", session),
                    "variants": len(listing),
                    "values": int(listing["rows"].sum()) if len(listing) else 0,
                    "pruned": pruned.rows_removed,
                }
            )
        columns = ["session_id", "ticks", "bars", "variants", "values", "pruned"]
        return pd.DataFrame(rows, columns=columns).set_index("session_id")

    def _count(self, table: str, session: str) -> int:
        rows = self.db.fetch_rows(f"SELECT count() FROM {table} WHERE session_id = :s", {"s": session})
        return int(rows[0][0])

    def _fields(self) -> dict[str, str]:
        return {
            "database": f"QuestDB {self.server} at {self.db.settings.address}",
            "session ids": f"{self.prefix}_{self.number}_*",
            "sample data": str(self.data),
        }

    def __repr__(self) -> str:
        text = ", ".join(f"{k}: {v}" for k, v in self._fields().items())
        return f"<Notebook {self.number}: {text}>"

    def _repr_html_(self) -> str:
        return html_table(f"notebook {self.number}", self._fields())


def setup(number: str, *, db: Database | None = None, prefix: str | None = None) -> Notebook:
    """Everything a notebook's first cell needs: a migrated database, the samples, its session ids.

    Parameters
    ----------
    number : str
        The notebook's number, e.g. ``"01"``; part of its session ids and scratch folder names.
    db : Database, optional
        Default :func:`qdbtools.connect`: the ``QDBTOOLS_*`` variables, else the embedded default.
    prefix : str, optional
        Default ``$QDBTOOLS_NOTEBOOK_PREFIX``, else ``"nb"``.

    The schema migrations are applied (idempotent), ``data_samples`` is looked for from the
    current directory upwards, and pandas' ``display.max_colwidth`` is lifted so that paths
    and session ids show whole.

    Examples
    --------
    >>> nb = setup("01")                        # doctest: +SKIP
    >>> nb.session_id("sess_2024_03_01")        # doctest: +SKIP
    'nb_01_sess_2024_03_01'
    """
    prefix = prefix or os.environ.get(PREFIX_VARIABLE) or DEFAULT_PREFIX
    for what, value in (("number", number), ("prefix", prefix)):
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise InvalidInputError(f"notebook {what} {value!r}: use letters, digits, '_', '.' or '-'")
    data = find_samples()
    db = db if db is not None else connect()
    db.migrate()
    pd.set_option("display.max_colwidth", None)
    return Notebook(number, db, data, prefix, db.server_version())
