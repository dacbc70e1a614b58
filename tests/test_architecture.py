"""The layer picture of docs/architecture.md, checked against the imports of the package.

A module may import (at run time; ``if TYPE_CHECKING:`` imports are annotations only) from
its own part of the package and from parts of a lower layer, never from a higher one or
the same layer's other parts, and no module imports another's private (``_``) members.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "qdbtools"

#: Parts of the package (``qdbtools.<part>``) by layer, lowest first: docs/architecture.md.
LAYERS: list[set[str]] = [
    {"exceptions"},
    {"config", "display", "names", "telemetry"},
    {"checksum", "indicators", "io", "schema", "server"},
    {"store", "plotting"},
    {"legacy", "database"},
    {"session", "health"},
    {"accessor", "offline", "service"},
    {"cluster", "demo"},
    {"__init__"},
    {"cli", "testing", "notebook"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str:
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def _runtime_imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names, line) of every ``qdbtools`` import outside ``if TYPE_CHECKING:``."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qdbtools"):
            found.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found.extend((a.name, [], node.lineno) for a in node.names if a.name.startswith("qdbtools"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(_module(path)) for path in MODULES}
    assert parts == set(RANK), sorted(parts ^ set(RANK))


@pytest.mark.parametrize("path", MODULES, ids=[_module(p) for p in MODULES])
def test_imports_point_down_and_never_at_private_members(path):
    me = _module(path)
    for module, names, line in _runtime_imports(path):
        mine, theirs = _part(me), _part(module)
        if theirs != mine:
            assert RANK[theirs] < RANK[mine], f"{me}:{line} imports {module} from a layer above or beside it"
        private = [n for n in names if n.startswith("_") and n != "__version__"]
        if theirs != mine:  # a part's private modules and names are its own business
            assert not private, f"{me}:{line} imports private {private} from {module}"


def _targets(module: str, names: list[str]) -> set[str]:
    """What ``from module import names`` depends on: the submodules among the names, else module."""
    folder = PACKAGE.parent.joinpath(*module.split("."))
    submodules = {n for n in names if (folder / f"{n}.py").exists() or (folder / n).is_dir()}
    return {f"{module}.{n}" for n in submodules} | (
        {module} if set(names) - submodules or not names else set()
    )


def test_no_import_cycle_between_modules():
    graph = {_module(p): set().union(*(_targets(m, n) for m, n, _ in _runtime_imports(p))) for p in MODULES}
    visiting, done = set(), set()

    def walk(node: str, trail: list[str]) -> None:
        if node in done or node not in graph:
            return
        assert node not in visiting, " -> ".join([*trail, node])
        visiting.add(node)
        for target in sorted(graph[node]):
            walk(target, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for module in sorted(graph):
        walk(module, [])


def test_no_module_is_over_500_lines():
    long = {_module(p): n for p in MODULES if (n := len(p.read_text().splitlines())) > 500}
    assert not long, long


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=_module)
def test_loggers_are_named_after_their_module_and_used(path):
    text = path.read_text()
    if "getLogger(" not in text:
        return
    name = _module(path)
    assert "\nlog = logging.getLogger(__name__)\n" in text, f"{name}: use log = logging.getLogger(__name__)"
    assert text.count("getLogger(") == 1, f"{name} makes more than one logger"
    assert len(re.findall(r"\blog\b", text)) > 1, f"{name} defines a logger it never uses"
