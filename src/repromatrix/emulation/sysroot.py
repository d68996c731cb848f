"""An arm64 root folder with Debian's Python interpreter, for running Python under qemu-aarch64.

qemu-user runs a foreign binary when its ELF interpreter and libraries are found under the
folder given with ``-L``; no installation, no binfmt and no root are needed. This builds that
folder from Debian's arm64 packages: the interpreter's package and its dependency closure,
resolved from the suite's arm64 ``Packages`` index, downloaded and verified by
``repromatrix.emulation.debian`` (the machine's apt configuration is only read), and unpacked without dpkg.

Which suite: the one whose Python has the pinned minor version (bullseye's 3.9.2 for the
report's 3.9.2), else the nearest; the interpreter's version is recorded, and a difference from
the pin shows as drift like any other. ``REPROMATRIX_DEBIAN_SUITE`` overrides the choice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from repromatrix.emulation.debian.archive import Index, Package
from repromatrix.emulation.debian.sources import SUITE_VARIABLE, configured_sources
from repromatrix.errors import ToolError

ARCHITECTURE = "arm64"
FORMAT = 1  # bump when the folder's layout or the closure rules change: a new cache key
# Debian's Python 3 per suite, for arm64 (deb.debian.org, checked 2026-11): the interpreter's
# package is python<minor>. bullseye (Debian 11, LTS) has exactly the report's 3.9.2.
SUITE_PYTHONS: tuple[tuple[str, str], ...] = (
    ("bullseye", "3.9"), ("bookworm", "3.11"), ("trixie", "3.13"),
)
# Not in the interpreter's package closure but needed by TensorFlow's and NumPy's wheels
# (manylinux wheels use the system's C++ runtime), and distutils (a separate package in Debian,
# imported by the TensorFlow 2.12 stack). Missing ones are skipped (no distutils after 3.11).
EXTRA_ROOTS = ("libstdc++6", "libgcc-s1", "python3-distutils")
# Packages a dependency names that only matter to dpkg's maintainer scripts, never to running
# Python: not unpacked (their own dependencies neither).
SKIPPED = frozenset({
    "debconf", "debconf-2.0", "dpkg", "perl-base", "install-info", "tar", "coreutils",
    "debianutils", "lsb-base", "sensible-utils", "base-files", "libc-bin", "init-system-helpers",
})


@dataclass(frozen=True)
class Choice:
    suite: str
    minor: str  # the Python minor version that suite has, e.g. "3.9"


def choose_suite(pinned_minor: str, environ: Mapping[str, str] = os.environ) -> Choice:
    """The suite with the pinned minor Python, else the nearest (ties: the newer)."""
    forced = environ.get(SUITE_VARIABLE, "").strip()
    known = dict(SUITE_PYTHONS)
    if forced:  # a suite we know the Python of, else the pinned minor is looked for in it
        return Choice(forced, known.get(forced, pinned_minor))
    wanted = _minor_number(pinned_minor)
    suite, minor = min(SUITE_PYTHONS,
                       key=lambda item: (abs(_minor_number(item[1]) - wanted),
                                         -_minor_number(item[1])))
    return Choice(suite, minor)


def _minor_number(minor: str) -> int:
    parts = minor.split(".")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def alternatives(field: str) -> list[list[str]]:
    """A Depends field as groups of alternative package names (version and arch qualifiers dropped)."""
    groups = []
    for part in field.split(","):
        names = [alt.split()[0].split(":")[0] for alt in part.split("|") if alt.split()]
        if names:
            groups.append(names)
    return groups


@dataclass(frozen=True)
class Plan:
    """What the sysroot is made of: the chosen suite and the packages, sorted by name."""

    choice: Choice
    interpreter: Package
    packages: tuple[Package, ...]

    @property
    def python_version(self) -> str:
        """The upstream version of Debian's interpreter package (``3.9.2-1`` -> ``3.9.2``)."""
        return _upstream(self.interpreter.version)

    @property
    def glibc(self) -> str:
        libc = next((p for p in self.packages if p.name == "libc6"), None)
        return _upstream(libc.version) if libc else ""


def _upstream(version: str) -> str:
    version = version.split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def resolve_closure(find, roots: Sequence[str], optional: Sequence[str] = ()) -> list[Package]:
    """Packages of ``roots`` plus their Depends/Pre-Depends closure (first available alternative).

    ``find(name) -> Package | None``: the index lookup. A root that does not exist raises; an
    optional root that does not exist is skipped; a dependency none of whose alternatives
    exists (a virtual package) is skipped, since unpacking needs files, not promises.
    """
    found: dict[str, Package] = {}
    queue = [(name, True) for name in roots] + [(name, False) for name in optional]
    while queue:
        name, required = queue.pop(0)
        if name in found or name in SKIPPED:
            continue
        package = find(name)
        if package is None:
            if required:
                raise ToolError(f"no Debian package {name} for {ARCHITECTURE}")
            continue
        found[name] = package
        for group in alternatives(package.depends) + alternatives(package.pre_depends):
            if any(alternative in found or alternative in SKIPPED for alternative in group):
                continue
            choice = next((alt for alt in group if find(alt) is not None), None)
            if choice is not None:
                queue.append((choice, False))
    return sorted(found.values(), key=lambda p: p.name)


def plan(pinned_minor: str, environ: Mapping[str, str] = os.environ,
         root: Path = Path("/")) -> Plan:
    """Read the chosen suite's arm64 index (no package is downloaded) and resolve the closure."""
    choice = choose_suite(pinned_minor, environ)
    sources = configured_sources({**environ, SUITE_VARIABLE: choice.suite}, root)
    indexes = [Index(source, ARCHITECTURE) for source in sources]
    lookups: dict[str, Package | None] = {}

    def find(name: str) -> Package | None:
        if name not in lookups:
            lookups[name] = _first(indexes, name)
        return lookups[name]

    interpreter_name = f"python{choice.minor}"
    if find(interpreter_name) is None:
        where = ", ".join(f"{s.uri} {s.suite}" for s in sources)
        raise ToolError(f"no Debian package {interpreter_name} for {ARCHITECTURE} in {where}: "
                        f"the arm64 cell needs Debian's interpreter (set {SUITE_VARIABLE} to "
                        "a suite that has it)")
    packages = resolve_closure(find, [interpreter_name], EXTRA_ROOTS)
    interpreter = next(p for p in packages if p.name == interpreter_name)
    return Plan(choice, interpreter, tuple(packages))


def _first(indexes: Sequence[Index], name: str) -> Package | None:
    errors = []
    for index in indexes:
        try:
            found = index.find(name)
        except ToolError as error:  # another source (e.g. the security suite) may not exist
            errors.append(error)
            continue
        if found is not None:
            return found
    if errors and len(errors) == len(indexes):
        raise errors[0]
    return None


# --- the folder ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sysroot:
    folder: Path
    manifest: dict

    @property
    def python(self) -> str:
        return str(self.folder / "usr" / "bin" / f"python{self.manifest['python_minor']}")

    @property
    def python_version(self) -> str:
        return str(self.manifest["python_version"])

    def describe(self) -> str:
        return (f"Debian {self.manifest['suite']} {self.manifest['interpreter']} "
                f"({len(self.manifest['packages'])} packages)")


def cache_key(choice: Choice) -> str:
    """The folder's name: what decides its content before the index is read."""
    recipe = {"format": FORMAT, "architecture": ARCHITECTURE, "suite": choice.suite,
              "python": choice.minor, "extra": list(EXTRA_ROOTS), "skipped": sorted(SKIPPED)}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    return f"sysroot-{ARCHITECTURE}-{choice.suite}-py{choice.minor}-{digest}"


def cached(folder: Path) -> Sysroot | None:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    sysroot = Sysroot(folder, manifest)
    return sysroot if Path(sysroot.python).is_file() else None


def build(the_plan: Plan, folder: Path, environ: Mapping[str, str] = os.environ,
          stream: TextIO = sys.stderr) -> Sysroot:
    """Download (verified, via the Debian cache) and unpack every package of the plan."""
    from repromatrix.emulation.debian.cache import Store, cache_root
    from repromatrix.emulation.debian.deb import extract

    store = Store(cache_root(environ), ARCHITECTURE, stream)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    files: dict[str, str] = {}
    try:
        total = len(the_plan.packages)
        for number, package in enumerate(the_plan.packages, 1):
            print(f"repromatrix: arm64 sysroot [{number}/{total}] {package.describe()}",
                  file=stream, flush=True)
            with store.locked():
                deb = store.download(package)
            files.update(extract(deb, lambda name: True, staging))
        relink_absolute(staging)
        manifest = {
            "format": FORMAT, "architecture": ARCHITECTURE, "suite": the_plan.choice.suite,
            "python_minor": the_plan.choice.minor, "python_version": the_plan.python_version,
            "interpreter": the_plan.interpreter.describe(), "glibc": the_plan.glibc,
            "signature": the_plan.interpreter.signature,
            "packages": [{"name": p.name, "version": p.version, "sha256": p.sha256}
                         for p in the_plan.packages],
            "files": dict(sorted(files.items())),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True)
                                               + "\n", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)  # last: an interrupted build leaves no half sysroot
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Sysroot(folder, manifest)


def relink_absolute(folder: Path) -> None:
    """Absolute symbolic links point into the sysroot instead of the host (qemu's -L does not
    apply to links the host kernel follows)."""
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            target = os.readlink(path)
            if target.startswith("/"):
                inside = folder / target.lstrip("/")
                path.unlink()
                os.symlink(os.path.relpath(inside, path.parent), path)


def provide(pinned_minor: str, base: Path, environ: Mapping[str, str] = os.environ,
            stream: TextIO = sys.stderr) -> Sysroot:
    """The cached sysroot for the pinned Python (no network), else built from Debian."""
    choice = choose_suite(pinned_minor, environ)
    folder = base / cache_key(choice)
    found = cached(folder)
    if found is not None:
        return found
    print(f"repromatrix: building the arm64 sysroot from Debian {choice.suite} "
          f"(python{choice.minor}) into {folder}", file=stream, flush=True)
    return build(plan(pinned_minor, environ), folder, environ, stream)


