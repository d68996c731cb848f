"""The README's session table lists exactly the nox sessions the code defines: the package's
(``sessions.SESSIONS``, what ``register()`` defines) plus this repository's own in noxfile.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from repromatrix import sessions

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\| `nox -s ([\w-]+)")


def readme_sessions() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Sessions and commands", 1)[1].split("\n## ", 1)[0]
    return [m.group(1) for line in section.splitlines() if (m := ROW.match(line))]


def decorated_sessions(source: str) -> set[str]:
    """Names of the functions decorated with ``@nox.session`` (``name=`` wins) in a module."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if ast.unparse(target) != "nox.session":
                continue
            named = [k.value.value for k in (call.keywords if call else [])
                     if k.arg == "name" and isinstance(k.value, ast.Constant)]
            names.add(named[0] if named else node.name)
    return names


def test_register_defines_the_listed_sessions() -> None:
    source = (ROOT / "src" / "repromatrix" / "sessions.py").read_text(encoding="utf-8")
    assert decorated_sessions(source) == set(sessions.SESSIONS)


def test_readme_table_matches_the_code() -> None:
    own = decorated_sessions((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    listed = readme_sessions()
    assert len(listed) == len(set(listed)), "a session is listed twice"
    assert set(listed) == set(sessions.SESSIONS) | own


def test_the_table_is_found() -> None:
    assert "repro" in readme_sessions()
