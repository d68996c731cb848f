"""The pinned layer imports none of the host's layers, at module level or inside a function:
the cell runs from the resolved request alone (tests/integration/test_cell_isolation.py runs it
with them blocked)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CELL = Path(__file__).resolve().parent.parent / "src" / "repromatrix" / "cell"
FORBIDDEN = tuple(f"repromatrix.{name}" for name in
                  ("config", "emulation", "host", "report", "ci", "cli"))


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an import statement anywhere in the tree names, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):  # walk: function-level imports too
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            # "from repromatrix import config" names the package through its alias
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def is_forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


@pytest.mark.parametrize("path", sorted(CELL.glob("*.py")), ids=lambda p: p.name)
def test_cell_module_imports_no_host_layer(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [f"{path.name}:{line}: {module}" for line, module in imported_modules(tree)
           if is_forbidden(module)]
    assert not bad, bad


def test_the_check_sees_function_level_imports() -> None:
    tree = ast.parse("def f():\n    from repromatrix.emulation.qemu import x\n"
                     "def g():\n    from repromatrix import cli\n")
    lines = sorted({line for line, module in imported_modules(tree) if is_forbidden(module)})
    assert lines == [2, 4]


def test_the_model_is_stdlib_only() -> None:
    """repromatrix.model crosses into the pinned venv: no third-party or repromatrix import."""
    path = CELL.parent / "model.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tops = {module.split(".")[0] for _, module in imported_modules(tree)}
    assert tops <= {"__future__", "json", "re", "collections", "dataclasses", "typing"}, tops
