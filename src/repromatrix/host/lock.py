"""The lock: every package of the pinned stack, resolved once per platform, with hashes.

matrix.toml pins a handful of packages; everything they pull in would otherwise resolve afresh on
each runner and each day (scipy 1.13.1 on one, 1.14.0 on another), and a reproducibility tool
needs a reproducible environment. ``repromatrix lock`` (``nox -s lock``) asks uv to resolve the
pins, plus repromatrix's own dependencies, for each platform the matrix runs on, into PEP 751
lock files next to matrix.toml: ``pylock.<os>-<arch>.toml``. One file per platform, because the
platforms install different distributions under different names (``[platforms.*] replace``),
which one file's markers would have to encode by hand; uv writes and installs the standard
format (``uv pip compile --format pylock.toml``, ``uv pip sync pylock.<name>.toml``; uv 0.13,
checked with ``--help`` and by use), and PEP 751 allows exactly this ``pylock.<name>.toml`` name.

What a lock was made from is written into its ``[tool.repromatrix]`` table (PEP 751's place for
tools), so a lock that no longer matches matrix.toml is found before anything is installed.

Each package whose files all come from PyPI also gets PEP 751's ``index`` key, which uv 0.13 does
not write. Without it ``uv pip sync`` fetches the lock's wheels as bare URLs under plain HTTP
caching, so on a network whose proxy strips files.pythonhosted.org's ``Cache-Control``, ``ETag``
and ``Last-Modified`` (a 2-core Intel Xeon host, 2026-12-03) every locked install downloaded the
whole stack again (559 MiB of TensorFlow, 14 s) and left another 2.2 GB of unpacked wheels in
uv's cache, until the disk filled. With ``index`` uv applies its own policy for PyPI's files
(immutable): on that host the second install of a lock took 1 s and downloaded nothing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from repromatrix.config.matrix import Matrix
from repromatrix.config.options import add_matrix_option
from repromatrix.errors import ReproError, ToolError, UsageError

# uv's --python-platform for each `<os>-<arch>` (uv pip compile --help lists them). The Linux
# targets are manylinux_2_28, which every wheel of the pinned stack (manylinux2014) satisfies.
UV_PLATFORMS: Mapping[str, str] = {
    "linux-x86_64": "x86_64-unknown-linux-gnu",
    "linux-arm64": "aarch64-unknown-linux-gnu",
    "macos-x86_64": "x86_64-apple-darwin",
    "macos-arm64": "aarch64-apple-darwin",
    "windows-x86_64": "x86_64-pc-windows-msvc",
    "windows-arm64": "aarch64-pc-windows-msvc",
}
STALE_HINT = "run `nox -s lock`"
PYPI_FILES = "https://files.pythonhosted.org/"
PYPI_INDEX = "https://pypi.org/simple"


@dataclass(frozen=True)
class LockInputs:
    """What one platform's lock is resolved from; recorded in the lock, compared on use."""

    platform: str
    python: str
    requirements: tuple[str, ...]

    def table(self) -> str:
        lines = ", ".join(f'"{line}"' for line in self.requirements)
        return (f'\n[tool.repromatrix]\nplatform = "{self.platform}"\npython = "{self.python}"\n'
                f"requirements = [{lines}]\n")


def lock_path(matrix_file: Path, platform: str) -> Path:
    return matrix_file.parent / f"pylock.{platform}.toml"


def platforms(matrix: Matrix) -> list[str]:
    """Every platform the matrix runs on: each CI runner's, and linux-arm64 for an arm64 lab cell."""
    found = {runner.platform for runner in matrix.runners}
    if matrix.lab is not None and any(cell.arch == "arm64" for cell in matrix.lab.cells):
        found.add("linux-arm64")
    return sorted(found)


def own_requirements() -> tuple[str, ...]:
    """repromatrix's own dependencies (tabulate, tomli on 3.9...), locked with the pins because
    the pinned venv installs repromatrix itself without dependencies. From the installed
    distribution's metadata, or, for a checkout imported from ``src/`` without being installed
    (this repository's noxfile), from its pyproject.toml: the same list either way."""
    from importlib import metadata

    try:
        found = metadata.requires("repromatrix") or []
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
        try:
            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        except (OSError, ValueError):
            project = {}
        found = project.get("dependencies", []) if project.get("name") == "repromatrix" else []
    # One spelling whoever wrote it (hatchling's metadata and pyproject.toml quote differently).
    return tuple(sorted(line.replace(" ", "").replace('"', "'") for line in found))


def inputs(matrix: Matrix, platform: str, extra: Sequence[str]) -> LockInputs:
    return LockInputs(platform, matrix.pins.python,
                      tuple(sorted({*matrix.pins.requirements(platform), *extra})))


def recorded_inputs(path: Path) -> LockInputs | None:
    """The inputs written into a lock, or None if it has none (not written by repromatrix)."""
    try:
        document: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    table = document.get("tool", {}).get("repromatrix")
    if not isinstance(table, dict):
        return None
    requirements = table.get("requirements")
    return LockInputs(str(table.get("platform")), str(table.get("python")),
                      tuple(requirements) if isinstance(requirements, list) else ())


def check(matrix_file: Path, expected: LockInputs) -> Path | None:
    """The lock to install for ``expected``'s platform; None when the repository has no lock at
    all (the pins install unlocked, as before locks existed). A lock that is missing for this
    platform, or made from other pins, raises the one line that says what to run."""
    path = lock_path(matrix_file, expected.platform)
    if not path.exists():
        if any(matrix_file.parent.glob("pylock.*.toml")):
            raise UsageError(f"{path.name} is missing (this platform is not locked): "
                             f"{STALE_HINT}")
        return None
    if recorded_inputs(path) != expected:
        raise UsageError(f"{path.name} no longer matches {matrix_file.name}: {STALE_HINT}")
    return path


def compile_command(uv: str, expected: LockInputs, output: Path) -> list[str]:
    if expected.platform not in UV_PLATFORMS:
        raise UsageError(f"cannot lock platform {expected.platform}: uv knows "
                         f"{', '.join(sorted(UV_PLATFORMS))}")
    return [uv, "pip", "compile", "-", "--format", "pylock.toml", "--quiet", "--no-header",
            "--python-platform", UV_PLATFORMS[expected.platform],
            "--python-version", expected.python, "--output-file", str(output)]


def write_lock(uv: str, matrix_file: Path, expected: LockInputs) -> Path:
    """Resolve one platform with uv into its lock file (replaced only when uv succeeded)."""
    path = lock_path(matrix_file, expected.platform)
    partial = path.with_name(f"pylock.{expected.platform}-partial.toml")  # uv wants pylock.*.toml
    try:
        done = subprocess.run(compile_command(uv, expected, partial),
                              input="\n".join(expected.requirements) + "\n",
                              capture_output=True, text=True, check=False, timeout=1800)
    except OSError as error:
        raise ToolError(f"cannot run uv ({uv}): {error.strerror or error}") from None
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise ToolError(f"uv could not lock {expected.platform}: {uv_reason(done.stderr)}")
    text = with_pypi_index(partial.read_text(encoding="utf-8")).rstrip("\n") + "\n" + \
        expected.table()
    partial.unlink()
    path.write_text(text, encoding="utf-8")
    return path


def with_pypi_index(text: str) -> str:
    """The lock ``text`` with ``index = "https://pypi.org/simple"`` after the version of each
    package whose every file (sdist and wheels) is on files.pythonhosted.org; packages from
    elsewhere (another index, a URL, a folder) and packages that already name an index are left
    as they are. Line edits, not a TOML rewrite: uv's layout stays, and the hashes with it."""
    blocks = re.split(r"(?m)^(?=\[\[packages\]\]$)", text)
    out = []
    for block in blocks:
        urls = re.findall(r'\burl = "([^"]+)"', block)
        if (block.startswith("[[packages]]") and urls and all(u.startswith(PYPI_FILES) for u in urls)
                and not re.search(r"(?m)^index = ", block)):
            block = re.sub(r'(?m)^(version = "[^"]*"\n)', rf'\1index = "{PYPI_INDEX}"\n', block,
                           count=1)
        out.append(block)
    return "".join(out)


def uv_reason(stderr: str, limit: int = 400) -> str:
    """uv's error in one line: it wraps its message (and its "cause:") to the terminal's width."""
    text = " ".join(stderr.split())
    text = text[len("error: "):] if text.startswith("error: ") else text
    return (text[:limit - 1] + "…" if len(text) > limit else text) or "no output"


def lock_all(uv: str, matrix: Matrix, extra: Sequence[str], log: Any = print) -> list[Path]:
    """Every platform's lock, resolved side by side (each is mostly waiting on the index)."""
    wanted = [inputs(matrix, platform, extra) for platform in platforms(matrix)]
    for expected in wanted:  # an unknown platform fails before any resolution starts
        compile_command(uv, expected, Path("unused"))
    with ThreadPoolExecutor(max_workers=len(wanted) or 1) as pool:
        futures = [pool.submit(write_lock, uv, matrix.path, expected) for expected in wanted]
        errors: list[ReproError] = []
        paths = []
        for expected, future in zip(wanted, futures):
            try:
                paths.append(future.result())
                log(f"repromatrix: locked {expected.platform} -> {paths[-1].name}")
            except ReproError as error:
                errors.append(error)
    if errors:
        raise errors[0]
    # A platform no longer in the matrix keeps no lock that could be mistaken for a current one.
    for stale in sorted(matrix.path.parent.glob("pylock.*.toml")):
        if stale not in paths:
            stale.unlink()
            log(f"repromatrix: removed {stale.name} (not a platform of {matrix.path.name})")
    return paths


def find_uv(env: Mapping[str, str]) -> str:
    """uv from $UV (nox's own, when a session passes it) or PATH."""
    import shutil

    found = env.get("UV") or shutil.which("uv")
    if not found:
        raise ToolError("uv is not installed: `pip install uv` (locks are written and installed "
                        "with uv)")
    return found


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lock",
        help="resolve the pinned stack of every platform into pylock.<os>-<arch>.toml (uv)",
        description="Resolve matrix.toml's pins, and everything they pull in, for every platform "
        "the matrix runs on (each CI runner's, the lab's arm64 cell) into PEP 751 lock files "
        "with hashes next to matrix.toml. `nox -s pinned` and CI install exactly them.",
    )
    add_matrix_option(parser)
    parser.add_argument("--check", action="store_true",
                        help="write nothing: exit 2 unless every platform's lock matches the matrix")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from repromatrix.config.matrix import load_matrix

    matrix = load_matrix(args.matrix)
    extra = own_requirements()
    if args.check:
        for platform in platforms(matrix):
            expected = inputs(matrix, platform, extra)
            if check(matrix.path, expected) is None:
                raise UsageError(f"{lock_path(matrix.path, platform).name} is missing: "
                                 f"{STALE_HINT}")
        print(f"repromatrix: the locks match {matrix.path.name}", file=sys.stderr)
        return 0
    uv = find_uv(os.environ)
    print(f"repromatrix: locking {', '.join(platforms(matrix))} with uv (a few seconds each, "
          "side by side)", file=sys.stderr, flush=True)
    lock_all(uv, matrix, extra, log=lambda line: print(line, file=sys.stderr, flush=True))
    return 0
