"""The notebooks in notebooks/: executed top to bottom against the plugin's QuestDB, and stored clean.

Each notebook asserts its own results, so running it is the test: a failing cell raises
``nbclient.exceptions.CellExecutionError`` whose message shows the cell and its traceback.
The kernel inherits this process's environment, which points ``qdbtools.connect()`` at the
test server and gives every notebook a unique session prefix.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import NoSuchKernel
from nbclient import NotebookClient

from qdbtools.config import ENV_VARS
from qdbtools.database import Database

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_quickstart.ipynb", "02_indicators.ipynb", "03_migrate_csv.ipynb", "04_regression.ipynb"]


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``python3`` when it runs this interpreter (ipykernel's spec does), else a temporary spec that does."""
    try:
        argv = KernelManager(kernel_name="python3").format_kernel_cmd()
    except NoSuchKernel:
        argv = []
    if argv and os.path.abspath(argv[0]) == os.path.abspath(sys.executable):
        return "python3"
    # e.g. a user-level python3 kernelspec of another interpreter: never run the notebooks there
    name = "qdbtools-tests"
    spec_dir = tmp_path / "jupyter" / "kernels" / name
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "qdbtools tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    paths = [str(tmp_path / "jupyter"), os.environ.get("JUPYTER_PATH")]
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join(p for p in paths if p))
    return name


@pytest.fixture
def notebook_env(qdb: Database, unique_id: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the kernel's ``qdbtools.connect()`` at the test server; returns the session prefix."""
    for name in ENV_VARS:  # nothing from the developer's shell may redirect the notebooks
        monkeypatch.delenv(name, raising=False)
    settings = qdb.settings
    monkeypatch.setenv("QDBTOOLS_HOST", settings.host)
    monkeypatch.setenv("QDBTOOLS_HTTP_PORT", str(settings.http_port))
    monkeypatch.setenv("QDBTOOLS_PG_PORT", str(settings.pg_port))
    monkeypatch.setenv("QDBTOOLS_ILP_PORT", str(settings.ilp_port))
    monkeypatch.setenv("QDBTOOLS_USER", settings.username)
    monkeypatch.setenv("QDBTOOLS_PASSWORD", settings.password)
    monkeypatch.setenv("QDBTOOLS_NOTEBOOK_PREFIX", unique_id)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return unique_id


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name: str, notebook_env: str, kernel_name: str, qdb: Database) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name=kernel_name, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()  # CellExecutionError (with the failing cell) propagates

    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    if any("plot" in c.source for c in code_cells):  # a chart must show inline, as an image
        images = [o for c in code_cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert images, f"{name} draws a chart but shows no image/png output"
    # the notebook wrote under its own prefix, in the plugin's database
    sessions = qdb.sql(
        "SELECT DISTINCT session_id FROM tick_prices WHERE session_id LIKE :p", {"p": f"{notebook_env}_%"}
    )
    assert len(sessions) > 0


def test_every_notebook_is_tested() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_clean(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "start with a markdown title"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [], f"cell {cell.id} has outputs"
        assert cell.execution_count is None, f"cell {cell.id} has an execution count"
    assert "assert " in "\n".join(c.source for c in code)


def test_notebooks_are_up_to_date_with_their_generator() -> None:
    builder = _load_builder()
    assert sorted(builder.NOTEBOOKS) == NAMES
    stale = [n for n in NAMES if (NOTEBOOKS / n).read_text(encoding="utf-8") != builder.render(n)]
    assert not stale, f"{stale} differ from notebooks/_build.py; run: python notebooks/_build.py"
