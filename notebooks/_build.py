"""Build the notebooks of this folder from their jupytext sources, ``NN_name.py``.

Each ``NN_name.py`` is a jupytext percent script (``# %%`` code cells, ``# %% [markdown]``
cells) whose header pairs it with ``NN_name.ipynb`` (``formats: ipynb,py:percent``). The
``.py`` is the source; the ``.ipynb`` is generated from it without outputs, with cell ids
``nbNN-00``, ``nbNN-01``, ... and fixed metadata, so a rebuild gives identical bytes. Edit the
``.py`` (in an editor, or in JupyterLab with jupytext, where saving a paired notebook writes
both files), then rebuild:

    python notebooks/_build.py           # rewrite the .ipynb that differ from their .py
    python notebooks/_build.py --check   # exit 1 when an .ipynb differs from its .py

``tests/test_notebooks.py`` runs the check and executes every notebook against a real QuestDB.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
FORMATS = "ipynb,py:percent"
# keeps jupytext's version out of the .py headers, so that saving from another jupytext release
# changes nothing
METADATA_FILTER = "-jupytext.text_representation"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def sources() -> list[Path]:
    """The notebook sources: ``NN_name.py`` in this folder."""
    return sorted(HERE.glob("[0-9][0-9]_*.py"))


def build(source: Path) -> nbformat.NotebookNode:
    """The notebook of ``source``, without outputs."""
    nb = jupytext.read(source, fmt="py:percent")
    formats = nb.metadata.get("jupytext", {}).get("formats")
    if formats != FORMATS:
        raise ValueError(
            f"{source.name}: the jupytext header must pair it (formats: {FORMATS}), not {formats!r}"
        )
    nb.metadata = {
        "jupytext": {"formats": FORMATS, "notebook_metadata_filter": METADATA_FILTER},
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
    }
    stem = source.name.split("_")[0]
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"nb{stem}-{index:02d}"
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nbformat.validate(nb)
    return nb


def render(source: Path) -> str:
    """The ``.ipynb`` file text of ``source``."""
    return nbformat.writes(build(source)) + "\n"


def stale_notebook(source: Path) -> bool:
    """Whether the ``.ipynb`` of ``source`` is missing or differs from it."""
    notebook = source.with_suffix(".ipynb")
    return not notebook.exists() or notebook.read_text(encoding="utf-8") != render(source)


def unpaired_text(source: Path) -> bool:
    """Whether ``source`` differs from what jupytext writes for it (saving its pair would change it)."""
    text = source.read_text(encoding="utf-8")
    return jupytext.writes(jupytext.reads(text, fmt="py:percent"), fmt="py:percent") != text


def problems(source: Path) -> list[str]:
    """What is out of date about ``source``: its ``.ipynb``, or the ``.py`` itself."""
    found = []
    if stale_notebook(source):
        found.append(f"{source.with_suffix('.ipynb').name} differs from {source.name}")
    if unpaired_text(source):
        found.append(f"{source.name} is not as jupytext writes it: saving its notebook would change it")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale notebooks, write nothing")
    args = parser.parse_args(argv)
    if not args.check:
        written = []
        for source in sources():
            if stale_notebook(source):
                source.with_suffix(".ipynb").write_text(render(source), encoding="utf-8")
                written.append(source.with_suffix(".ipynb").name)
        print("written: " + (", ".join(written) or "none"))
    found = [problem for source in sources() for problem in problems(source)]
    for problem in found:
        print(problem)
    if found:
        if args.check:
            print("run: python notebooks/_build.py")
        return 1
    if args.check:
        print(f"{len(sources())} notebooks up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
