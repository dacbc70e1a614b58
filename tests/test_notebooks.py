"""The notebooks in notebooks/: built from their jupytext sources, executed top to bottom against
the plugin's QuestDB, and stored clean; and ``qdbtools.notebook``, their first cell.

Each notebook asserts its own results, so running it is the test: a failing cell raises
``nbclient.exceptions.CellExecutionError`` whose message shows the cell and its traceback.
The kernel inherits this process's environment, which points ``qdbtools.connect()`` at the
test server, gives every notebook a unique session prefix and puts this checkout's qdbtools
first on ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import nbformat
import pandas as pd
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import NoSuchKernel
from nbclient import NotebookClient

import qdbtools
from qdbtools.config import ENV_VARS
from qdbtools.database import Database
from qdbtools.exceptions import InvalidInputError
from qdbtools.notebook import PREFIX_VARIABLE, setup
from tests.market_data import make_ticks

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_quickstart.ipynb", "02_indicators.ipynb", "03_migrate_csv.ipynb", "04_regression.ipynb"]
SOURCES = [name.replace(".ipynb", ".py") for name in NAMES]


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
    monkeypatch.setenv(PREFIX_VARIABLE, unique_id)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # the kernel imports the qdbtools under test, never another installed copy
    checkout = str(Path(qdbtools.__file__).resolve().parents[1])
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(p for p in [checkout, os.environ.get("PYTHONPATH")] if p)
    )
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
    warnings = [
        o.get("text", "") for c in code_cells for o in c.get("outputs", []) if o.get("name") == "stderr"
    ]
    assert not [w for w in warnings if "Warning" in w], f"{name} shows warnings: {warnings}"
    # the notebook wrote under its own prefix, in the plugin's database
    sessions = qdb.sql(
        "SELECT DISTINCT session_id FROM tick_prices WHERE session_id LIKE :p", {"p": f"{notebook_env}_%"}
    )
    assert len(sessions) > 0


def test_every_notebook_is_tested() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES
    assert sorted(p.name for p in NOTEBOOKS.glob("*.py") if p.name != "_build.py") == SOURCES


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
    setup_lines = [line for line in code[0].source.splitlines() if line.strip()]
    assert f'setup("{name[:2]}")' in code[0].source and len(setup_lines) <= 5, "a few lines of setup"
    assert "nb.cleanup()" in code[-1].source, "end by cleaning up what the notebook wrote"


def test_notebooks_are_up_to_date_with_their_sources() -> None:
    builder = _load_builder()
    assert [p.name for p in builder.sources()] == SOURCES
    stale = [problem for source in builder.sources() for problem in builder.problems(source)]
    assert not stale, f"{stale}; run: python notebooks/_build.py"


def test_the_sources_are_paired_jupytext_percent_scripts() -> None:
    for name in SOURCES:
        text = (NOTEBOOKS / name).read_text(encoding="utf-8")
        header = text.split("# ---\n")[1]
        assert "#     formats: ipynb,py:percent\n" in header, name
        assert "jupytext_version" not in header, name
        assert "# %% [markdown]\n" in text and "\n# %%\n" in text, name


def test_the_check_command_exits_1_when_a_notebook_is_stale(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(NOTEBOOKS / "_build.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr

    builder = _load_builder()
    source = tmp_path / SOURCES[0]
    shutil.copy(NOTEBOOKS / SOURCES[0], source)
    shutil.copy(NOTEBOOKS / NAMES[0], source.with_suffix(".ipynb"))
    assert builder.problems(source) == []
    source.write_text(source.read_text(encoding="utf-8") + "\n# %%\nprint('a new cell')\n", encoding="utf-8")
    assert builder.problems(source) == [f"{NAMES[0]} differs from {SOURCES[0]}"]
    source.with_suffix(".ipynb").write_text(builder.render(source), encoding="utf-8")
    assert builder.problems(source) == []
    cells = builder.build(source).cells
    assert cells[-1].id == f"nb01-{len(cells) - 1:02d}" and cells[-1].source == "print('a new cell')"


# -- qdbtools.notebook: the notebooks' first cell ------------------------------------------------


@pytest.fixture
def restore_pandas_display() -> Iterator[None]:
    yield
    pd.reset_option("display.max_colwidth")


def test_setup_gives_the_database_samples_and_prefixed_session_ids(
    qdb: Database, unique_id: str, monkeypatch: pytest.MonkeyPatch, restore_pandas_display: None
) -> None:
    monkeypatch.setenv(PREFIX_VARIABLE, unique_id)
    nb = setup("07", db=qdb)
    assert nb.db is qdb and nb.prefix == unique_id and nb.server == qdb.server_version()
    assert (nb.data / "ticks.parquet").is_file()
    assert pd.get_option("display.max_colwidth") is None  # paths and session ids show whole
    assert nb.session_id("sess_a") == f"{unique_id}_07_sess_a"
    assert nb.session_id("sess_a") == f"{unique_id}_07_sess_a" and nb.sessions == [f"{unique_id}_07_sess_a"]
    assert f"{unique_id}_07_*" in repr(nb) and str(nb.data) in nb._repr_html_()
    with pytest.raises(InvalidInputError, match="session name ''"):
        nb.session_id("")
    with pytest.raises(InvalidInputError, match="notebook number 'a b'"):
        setup("a b", db=qdb)
    assert setup("07", db=qdb, prefix="mine").session_id("s") == "mine_07_s"


def test_cleanup_removes_scratch_folders_prunes_and_reports_what_stays(
    qdb: Database, unique_id: str, restore_pandas_display: None
) -> None:
    nb = setup("07", db=qdb, prefix=unique_id)
    scratch = nb.scratch_dir()
    (scratch / "chart.png").write_bytes(b"png")
    session, empty = nb.session_id("ticks"), nb.session_id("nothing")
    qdb.write_ticks(make_ticks(300), session_id=session, symbol="BTC_USDT")
    values = pd.DataFrame(
        {"RSI_14": [50.0, 51.0, 52.0]}, index=pd.date_range("2024-03-01", periods=3, freq="min", tz="UTC")
    )
    qdb.save_indicators(values, session, "BTC_USDT", "overwrite", variant_type="nb", wait=True)
    qdb.save_indicators(values + 1, session, "BTC_USDT", "overwrite", variant_type="nb", wait=True)

    left = nb.cleanup()
    assert not scratch.exists()
    assert list(left.index) == [session, empty]
    assert left.loc[session].to_dict() == {"ticks": 300, "bars": 0, "variants": 1, "values": 3, "pruned": 3}
    assert left.loc[empty].to_dict() == {"ticks": 0, "bars": 0, "variants": 0, "values": 0, "pruned": 0}
    loaded = qdb.load_indicators(session, "BTC_USDT", "RSI_14", variant_type="nb")
    assert loaded["RSI_14"].tolist() == [51.0, 52.0, 53.0]  # the current generation is kept
