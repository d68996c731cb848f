"""The package's layers hold: each layer imports only from the layers below it.

Read from the source with ``ast`` (lazy imports inside functions count; imports under
``if TYPE_CHECKING:`` do not, since they never run), so a new upward import fails here rather than
turning into an import cycle later. The order is the one documented in repromatrix/__init__.py.
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


def imported_modules(tree: ast.AST, module: str) -> set[str]:
    """The repromatrix modules ``tree`` imports at run time (``from x import y`` counts x.y too,
    since y may be a module)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
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


def all_modules() -> dict[str, set[str]]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        modules[name] = imported_modules(ast.parse(path.read_text(encoding="utf-8")), name)
    return modules


MODULES = all_modules()


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

    def test_type_checking_imports_do_not_count(self) -> None:
        """Imports that only exist for type checkers never run, so they create no dependency."""
        tree = ast.parse("from typing import TYPE_CHECKING\n"
                         "if TYPE_CHECKING:\n    from repromatrix.cli.main import main\n")
        assert imported_modules(tree, "repromatrix.errors") == set()
