"""Finding the exact pinned Python (say 3.9.2) on this machine, honestly.

nox looks only on PATH, and its download asks for "3.9" and gets the newest 3.9: either way a
different patch release could silently stand in for the pinned one. This module looks where
Pythons really live (PATH, pyenv, uv-managed builds, GitHub's tool cache, the Windows ``py``
launcher), prefers the exact version, and otherwise returns the newest of the same minor version
marked as drift, so the caller can warn, record it, or refuse (strict mode).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from repromatrix.errors import ToolError

STRICT_ENV = "REPROMATRIX_STRICT_PYTHON"
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_PROBE = "import platform; print(platform.python_version())"
_PY_LAUNCHER_LINE = re.compile(r"^\s*-V:(\S+)\s+(?:\*\s+)?(.+?\.exe)\s*$", re.IGNORECASE)
_SOURCE_RANK = {"toolcache": 0, "uv": 1, "pyenv": 2, "py-launcher": 3, "PATH": 4}

@dataclass(frozen=True, order=True)
class Interpreter:
    version: tuple[int, int, int]
    path: str
    source: str  # where it was found: PATH, pyenv, uv, toolcache, py-launcher

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


@dataclass(frozen=True)
class Choice:
    interpreter: Interpreter
    wanted: str

    @property
    def exact(self) -> bool:
        return self.interpreter.version_text == self.wanted

    def warning(self) -> str | None:
        if self.exact:
            return None
        return (f"Python {self.wanted} not found; using {self.interpreter.version_text} "
                f"({self.interpreter.source}: {self.interpreter.path}). Results may differ from "
                f"{self.wanted}'s; the artifact records this drift. Install the exact version "
                f"(`uv python install {self.wanted}` or `pyenv install {self.wanted}`), or set "
                f"{STRICT_ENV}=1 to refuse drift.")


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.match(text.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def _run_version(command: list[str]) -> str | None:
    try:
        completed = subprocess.run(command + ["-c", _PROBE], capture_output=True, text=True,
                                   timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def _python_in(folder: Path, windows: bool) -> Path:
    return folder / "python.exe" if windows else folder / "bin" / "python3"


def from_pyenv(env: Mapping[str, str], home: Path, windows: bool) -> Iterable[tuple[str, Path, str]]:
    """pyenv (and pyenv-win) keep one folder per exact version, named by it."""
    roots = [Path(env["PYENV_ROOT"])] if env.get("PYENV_ROOT") else [home / ".pyenv"]
    if windows:
        roots.append(home / ".pyenv" / "pyenv-win")
    for root in roots:
        versions = root / "versions"
        if versions.is_dir():
            for folder in sorted(versions.iterdir()):
                yield folder.name, _python_in(folder, windows), "pyenv"


def from_uv(env: Mapping[str, str], home: Path, windows: bool) -> Iterable[tuple[str, Path, str]]:
    """uv-managed builds: folders like ``cpython-3.9.2-linux-x86_64-gnu``."""
    if env.get("UV_PYTHON_INSTALL_DIR"):
        root = Path(env["UV_PYTHON_INSTALL_DIR"])
    elif windows:
        root = Path(env.get("APPDATA", str(home))) / "uv" / "data" / "python"
    else:
        root = Path(env.get("XDG_DATA_HOME", str(home / ".local" / "share"))) / "uv" / "python"
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            parts = folder.name.split("-")
            if len(parts) >= 2 and parts[0] == "cpython":
                yield parts[1], _python_in(folder, windows), "uv"


def from_toolcache(env: Mapping[str, str], windows: bool) -> Iterable[tuple[str, Path, str]]:
    """GitHub runners' tool cache, where actions/setup-python installs: Python/<version>/<arch>."""
    cache = env.get("RUNNER_TOOL_CACHE") or env.get("AGENT_TOOLSDIRECTORY")
    root = Path(cache) / "Python" if cache else None
    if root and root.is_dir():
        for folder in sorted(root.iterdir()):
            for arch in sorted(p for p in folder.iterdir() if p.is_dir()):
                yield folder.name, _python_in(arch, windows), "toolcache"


def from_path(which: Callable[[str], str | None], minor: str) -> Iterable[tuple[str | None, Path, str]]:
    """Names on PATH: the version is unknown until the interpreter is asked."""
    seen = set()
    for name in (f"python{minor}", "python3", "python"):
        found = which(name)
        if found and found not in seen:
            seen.add(found)
            yield None, Path(found), "PATH"


def from_py_launcher(run: Callable[[list[str]], str], minor: str) -> Iterable[tuple[str | None, Path, str]]:
    """The Windows ``py`` launcher lists registered interpreters with ``py -0p``."""
    listing = run(["py", "-0p"]) or ""
    for line in listing.splitlines():
        # " -V:3.9 *        C:\Program Files\Python39\python.exe": the path may hold spaces.
        match = _PY_LAUNCHER_LINE.match(line)
        if match and (match[1] == minor or match[1].startswith(minor + "-")):
            yield None, Path(match[2]), "py-launcher"


def _listing(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def find_interpreters(
    wanted: str,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    windows: bool | None = None,
    which: Callable[[str], str | None] = shutil.which,
    version_of: Callable[[list[str]], str | None] = _run_version,
    listing: Callable[[list[str]], str] = _listing,
) -> list[Interpreter]:
    """Every interpreter of ``wanted``'s minor version found on this machine, best first."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    windows = sys.platform == "win32" if windows is None else windows
    target = parse_version(wanted)
    if target is None:
        raise ToolError(f"pinned Python {wanted!r} is not an exact version like 3.9.2")
    minor = f"{target[0]}.{target[1]}"
    found: dict[str, Interpreter] = {}
    named = [*from_pyenv(env, home, windows), *from_uv(env, home, windows),
             *from_toolcache(env, windows)]
    asked = [*from_path(which, minor), *(from_py_launcher(listing, minor) if windows else [])]
    for claimed, path, source in [*named, *asked]:
        if not path.exists() or str(path) in found:
            continue
        if claimed is not None:
            version = parse_version(claimed)
            if version is None or version[:2] != target[:2]:
                continue  # skip other minors without running them
        reported = version_of([str(path)])  # the folder name could lie; the interpreter cannot
        version = parse_version(reported or "")
        if version and version[:2] == target[:2]:
            found[str(path)] = Interpreter(version=version, path=str(path), source=source)
    # Exact version first, then newest; then real install folders before PATH entries (which may
    # be shims that change meaning with the current folder), then by path so the choice is stable.
    return sorted(found.values(), key=lambda i: (i.version != target, tuple(-v for v in i.version),
                                                  _SOURCE_RANK.get(i.source, 9), i.path))


def choose(wanted: str, interpreters: list[Interpreter], strict: bool) -> Choice:
    """The exact pinned version, else the newest of its minor (drift), else a ToolError."""
    if not interpreters:
        minor = ".".join(wanted.split(".")[:2])
        raise ToolError(
            f"no Python {minor} interpreter found (looked on PATH, in pyenv, uv-managed Pythons, "
            f"the GitHub tool cache and the py launcher); install {wanted} with "
            f"`uv python install {wanted}` or `pyenv install {wanted}`")
    choice = Choice(interpreter=interpreters[0], wanted=wanted)
    if strict and not choice.exact:
        raise ToolError(f"Python {wanted} is pinned but only "
                        f"{', '.join(sorted({i.version_text for i in interpreters}))} found, and "
                        f"strict mode ({STRICT_ENV}=1 or --strict-python) refuses drift")
    return choice


def strict_requested(env: Mapping[str, str], args: Iterable[str]) -> bool:
    return env.get(STRICT_ENV, "").lower() in ("1", "true", "yes") or "--strict-python" in args
