"""The package's layers hold: each layer imports only from the layers below it.

Read from the source with ``ast`` (lazy imports inside functions count; imports under
``if TYPE_CHECKING:`` do not, since they never run), so a new upward import fails here rather than
turning into an import cycle later. The order is the one documented in repromatrix/__init__.py.

The layers allow a cycle inside one layer, so the whole graph is also checked for cycles: there
every import counts, function-level and ``TYPE_CHECKING`` ones too, since a cycle a type checker
or a lazy import hides still ties the modules together (and breaks as soon as one import moves).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "repromatrix"

# Lowest first. "shared" is the package's own top-level modules (leaves); the entry points may
# import anything.
ORDER = ["shared", "config", "emulation", "cell", "report", "host", "ci", "cli"]
ENTRY_POINTS = {"__main__", "sessions"}


def layer_of(module: str) -> str:
    """'repromatrix.cell.trail' -> 'cell'; 'repromatrix.errors' -> 'shared'."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] not in ORDER:
        return "entry" if len(parts) > 1 and parts[1] in ENTRY_POINTS else "shared"
    return parts[1]


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(tree: ast.AST, module: str, type_checking: bool = False) -> set[str]:
    """The repromatrix modules ``tree`` imports at run time, and with ``type_checking`` also those
    imported for type checkers only (``from x import y`` counts x.y too, since y may be a
    module)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if not type_checking and isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against this module's package
                package = module.split(".")[: -node.level] if not module.endswith("__init__") else []
                base = ".".join([*package, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name == "repromatrix" or name.startswith("repromatrix.")}


def all_modules(type_checking: bool = False) -> dict[str, set[str]]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules[name] = imported_modules(tree, name, type_checking)
    return modules


MODULES = all_modules()


def module_graph(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """Module -> the package's modules it imports. ``from x import y`` was recorded as x and x.y;
    only the names that are modules stay. A package's own __init__ is left out as a target: every
    submodule's import runs it, so it would tie each package to its children."""
    return {module: {t for t in imports if t in modules and t != module
                     and not module.startswith(t + ".")}
            for module, imports in modules.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The cycles of ``graph``, one per strongly connected component of more than one module
    (Tarjan's algorithm), each as a path that returns to its start: [a, b, a]."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_through(graph, component) for component in components]


def _cycle_through(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """One cycle inside a strongly connected component, from its first module (breadth-first, so
    the shortest way back): what the failure message names."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle in {sorted(component)}")


def upward_imports(module: str, imports: set[str]) -> list[str]:
    mine = layer_of(module)
    if mine == "entry":
        return []
    bad = []
    for target in sorted(imports):
        if target == "repromatrix":
            continue
        theirs = layer_of(target)
        if target in MODULES and theirs == "entry":
            bad.append(target)
        elif theirs in ORDER and ORDER.index(theirs) > ORDER.index(mine):
            bad.append(target)
    return bad


class TestLayers:
    def test_layers_exist(self) -> None:
        """Every layer named in the order is a subpackage (a rename would silently pass)."""
        for layer in ORDER[1:]:
            assert f"repromatrix.{layer}" in MODULES, layer

    @pytest.mark.parametrize("module", sorted(MODULES))
    def test_no_upward_import(self, module: str) -> None:
        """A module imports only from its own layer and the layers below."""
        assert upward_imports(module, MODULES[module]) == []

    def test_shared_leaves_import_no_layer(self) -> None:
        """The top-level modules other than the entry points import only each other."""
        for module, imports in MODULES.items():
            if layer_of(module) == "shared":
                assert {layer_of(t) for t in imports if t != "repromatrix"} <= {"shared"}, module

    def test_detects_an_upward_import(self) -> None:
        """The check itself: a config module importing the cell layer is reported."""
        tree = ast.parse("def f():\n    from repromatrix.cell import trail\n")
        imports = imported_modules(tree, "repromatrix.config.matrix")
        assert upward_imports("repromatrix.config.matrix", imports) == [
            "repromatrix.cell", "repromatrix.cell.trail"]

    def test_no_import_cycle(self) -> None:
        """No cycle among the package's modules, counting imports inside functions and under
        ``if TYPE_CHECKING:``."""
        cycles = import_cycles(module_graph(all_modules(type_checking=True)))
        assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)

    def test_detects_a_cycle(self) -> None:
        """The check itself: a lazy import back and a TYPE_CHECKING one both close a cycle."""
        sources = {
            "repromatrix.a": "import repromatrix.b\n",
            "repromatrix.b": "def f():\n    from repromatrix import c\n",
            "repromatrix.c": "from typing import TYPE_CHECKING\n"
                             "if TYPE_CHECKING:\n    from repromatrix.a import x\n",
            "repromatrix.d": "import repromatrix.a\n",
        }
        modules = {name: imported_modules(ast.parse(text), name, type_checking=True)
                   for name, text in sources.items()}
        assert import_cycles(module_graph(modules)) == [
            ["repromatrix.a", "repromatrix.b", "repromatrix.c", "repromatrix.a"]]

    def test_type_checking_imports_do_not_count(self) -> None:
        """Imports that only exist for type checkers never run, so they create no dependency."""
        tree = ast.parse("from typing import TYPE_CHECKING\n"
                         "if TYPE_CHECKING:\n    from repromatrix.cli.main import main\n")
        assert imported_modules(tree, "repromatrix.errors") == set()
