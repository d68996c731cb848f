"""An arm64 cell on an x86_64 machine: Linux arm64's TensorFlow build under qemu-aarch64.

Three parts, each cached under ``arm64/`` in the user's cache (``base_folder``) and keyed by what decides its content:

- the sysroot: Debian's arm64 Python and its libraries (``repromatrix.emulation.sysroot``);
- the site-packages: the matrix's pins as Linux arm64 installs them, resolved by the host's pip
  for the ``manylinux_*_aarch64`` tags the sysroot's glibc accepts (``--platform``,
  ``--python-version``, ``--only-binary=:all:``), then installed with ``--no-deps --target``
  exactly as resolved. pip evaluates dependency markers for the host, so the ``tensorflow``
  shim's Linux arm64 build (``tensorflow-cpu-aws``, from the defaults' platform facts) is named
  explicitly; preflight's resolver adds any other dependency whose marker the host skipped;
- the runner: this very repromatrix package, copied (pure Python), so the arm64 cell runs the
  same code as the host's cells.

``prepare`` checks everything that can be missing (qemu-aarch64, Debian's interpreter, an arm64
wheel for each pin) before any package is downloaded, and says what it fetches as it goes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

import repromatrix
from repromatrix.config.matrix import Pins
from repromatrix.emulation import sysroot
from repromatrix.errors import ToolError

ARCH = "arm64"
PLATFORM = "linux-arm64"
QEMU_TARGET = "aarch64"
DEFAULT_MODEL = "neoverse-n1"  # AWS Graviton2's core; qemu 7.2 and newer know it
FORMAT = 1
# The runner's own pure-Python dependencies, pinned to the versions the host runner uses.
RUNNER_DEPENDENCIES = ("tabulate", "tomli")


def base_folder(environ: Mapping[str, str] = os.environ) -> Path:
    """``arm64/`` in the user's repromatrix cache, beside the Debian packages it is built from.

    Not the repository's ``.nox/``: every part is keyed by what decides its content and replaced
    atomically, so clones and repositories with the same pins share one 1.7 GB build instead of
    each unpacking its own."""
    from repromatrix.emulation.debian.cache import cache_root

    return Path(environ.get("REPROMATRIX_ARM64_DIR") or cache_root(environ) / "arm64")


# --- site-packages ------------------------------------------------------------------------------


def requirements(pins: Pins) -> list[str]:
    """The pins as Linux arm64 installs them, with the packages they pull named explicitly.

    A pulled build (``tensorflow-cpu-aws``) takes the version of the pin it stands behind: the
    shim ``tensorflow==2.12.0`` requires ``tensorflow-cpu-aws==2.12.0`` on Linux arm64.
    """
    lines = pins.requirements(PLATFORM)
    platform = pins.platforms.get(PLATFORM)
    pulled = [name for name in (platform.pulls if platform else ())
              if not any(line.split("==")[0] == name for line in lines)]
    tensorflow = pins.packages.get("tensorflow")
    for name in pulled:
        lines.append(f"{name}=={tensorflow}" if tensorflow else name)
    return lines


def runner_requirements(minor: str) -> list[str]:
    """tabulate (and tomli before 3.11) at the host runner's versions."""
    from importlib import metadata

    lines = []
    for name in RUNNER_DEPENDENCIES:
        if name == "tomli" and sysroot._minor_number(minor) >= 11:
            continue
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(name)
    return lines


def wheel_tags(glibc: str) -> tuple[str, ...]:
    """The ``manylinux`` aarch64 tags a sysroot with this glibc runs, newest first."""
    from repromatrix.platform_facts import PLATFORM_TAGS

    parts = glibc.split(".")
    mine = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 17
    tags = []
    for tag in PLATFORM_TAGS[PLATFORM]:
        if tag.startswith("manylinux_2_") and int(tag.split("_")[2]) > mine:
            continue  # needs a newer glibc than the sysroot's
        tags.append(tag)
    return tuple(tags)


def site_key(lines: Sequence[str], minor: str, tags: Sequence[str]) -> str:
    recipe = {"format": FORMAT, "requirements": sorted(lines), "python": minor,
              "tags": list(tags)}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    return f"site-{ARCH}-py{minor}-{digest}"


def find_pip(candidates: Sequence[str] | None = None) -> tuple[str, ...]:
    """``python -m pip`` of this interpreter, else of ``python3`` on PATH (uv's venvs have none)."""
    from repromatrix.host.resolution import pip_available

    pythons = list(candidates) if candidates is not None else [
        sys.executable, shutil.which("python3") or "python3"]
    for python in pythons:
        try:
            return pip_available(python)
        except ToolError:
            continue
    raise ToolError("the arm64 cell needs pip 22.2 or newer on the host to fetch arm64 wheels: "
                    "`python3 -m pip install -U pip`")


def resolve(lines: Sequence[str], minor: str, tags: Sequence[str], pip: tuple[str, ...],
            run: Callable | None = None) -> list[str]:
    """Exact ``name==version`` lines for the target, or one ToolError naming the missing wheel."""
    from repromatrix.host import preflight  # the resolution that adds marker-selected packages
    from repromatrix.host.resolution import PipSettings, Target

    target = Target(platform=PLATFORM, tags=tuple(tags), python_minor=minor)
    settings = PipSettings(pip, cert=os.environ.get("PIP_CERT") or None)
    if run is None:  # preflight's own pip call
        resolution = preflight.resolve(settings, target, lines, python=minor)
    else:
        resolution = preflight.resolve(settings, target, lines, python=minor, run=run)
    if not resolution.ok:
        if resolution.missing:
            raise ToolError(f"no Linux arm64 wheel of {resolution.missing[0]} for Python {minor} "
                            f"({target.short_tags()}): the arm64 cell cannot install the pins")
        raise ToolError(f"pip cannot resolve the pins for Linux arm64 (Python {minor}): "
                        f"{resolution.message}")
    return sorted(f"{i.name}=={i.version}" for i in resolution.installs)


def install_command(pip: tuple[str, ...], lock: Sequence[str], minor: str,
                    tags: Sequence[str], folder: Path) -> list[str]:
    """Install exactly the resolved set, arm64 wheels only, into ``folder`` (nothing compiled
    with the host's Python: the arm64 Python writes its own bytecode elsewhere)."""
    command = [*pip, "--isolated", "install", "--no-deps", "--only-binary=:all:", "--no-compile",
               "--target", str(folder), "--python-version", minor, "--implementation", "cp",
               "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    for tag in tags:
        command += ["--platform", tag]
    for abi in (f"cp{minor.replace('.', '')}", "abi3", "none"):
        command += ["--abi", abi]
    return command + list(lock)


@dataclass(frozen=True)
class SitePackages:
    folder: Path
    lock: tuple[str, ...]


def cached_site(folder: Path) -> SitePackages | None:
    try:
        manifest = json.loads((folder / ".repromatrix-site.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return SitePackages(folder, tuple(manifest["lock"]))


def build_site(lock: Sequence[str], minor: str, tags: Sequence[str], pip: tuple[str, ...],
               folder: Path, stream: TextIO = sys.stderr) -> SitePackages:
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        print(f"repromatrix: installing {len(lock)} arm64 wheels into {folder} "
              f"(pip, Python {minor}, {tags[0]}...)", file=stream, flush=True)
        completed = subprocess.run(install_command(pip, lock, minor, tags, staging / "site"),
                                   stdout=stream, stderr=subprocess.STDOUT, check=False)
        if completed.returncode != 0:
            raise ToolError(f"pip could not install the arm64 wheels (exit {completed.returncode})")
        site = staging / "site"
        files = sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file())
        manifest = {"format": FORMAT, "lock": list(lock), "python": minor, "tags": list(tags),
                    "files": files}
        (site / ".repromatrix-site.json").write_text(json.dumps(manifest, indent=1) + "\n",
                                                     encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(site, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return SitePackages(folder, tuple(lock))


# --- the runner ---------------------------------------------------------------------------------


def sync_runner(base: Path) -> Path:
    """A copy of this repromatrix package for the arm64 Python (replaced when it changed)."""
    package = Path(repromatrix.__file__).resolve().parent  # the whole package, not host/
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    folder = base / f"runner-{digest.hexdigest()[:12]}"
    if not (folder / "repromatrix" / "__init__.py").is_file():
        staging = Path(tempfile.mkdtemp(prefix=".runner.", dir=base))
        shutil.copytree(package, staging / "repromatrix",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    return folder


# --- everything together ------------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    """What an arm64 cell runs with: qemu, the sysroot, the site-packages and the runner."""

    qemu: str  # the qemu-aarch64 binary (qemu.located() says where it came from)
    sysroot: sysroot.Sysroot
    site: SitePackages
    runner: Path
    model: str
    pycache: Path

    def command(self, arguments: Sequence[str]) -> list[str]:
        return [*self.prefix(), self.sysroot.python, *arguments]

    def prefix(self) -> list[str]:
        """qemu-aarch64 and its options: run an arm64 program from the sysroot."""
        from repromatrix.emulation import qemu

        return qemu.qemu_command(self.qemu, self.model, "", [], sysroot=str(self.sysroot.folder),
                                 sysroot_label=self.sysroot.describe())[:-1]

    def environ(self, base: Mapping[str, str]) -> dict:
        """The arm64 Python's environment: only our folders on its path, bytecode kept apart."""
        from repromatrix.emulation import qemu

        # Bytecode is written (into the pycache folder): the arm64 Python compiling TensorFlow's
        # modules again at every start would cost minutes under emulation.
        env = {k: v for k, v in base.items()
               if k not in ("PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")}
        env["PYTHONPATH"] = os.pathsep.join([str(self.runner), str(self.site.folder)])
        env["PYTHONNOUSERSITE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = str(self.pycache)  # the cached folders' files stay as built
        env[qemu.PREFIX_VARIABLE] = json.dumps(self.prefix())  # for the cell's worker processes
        return env


@dataclass(frozen=True)
class SysrootState:
    """The sysroot the pins need: built already (cached), else Debian's plan for it."""

    choice: sysroot.Choice
    folder: Path
    built: sysroot.Sysroot | None
    plan: sysroot.Plan | None  # read from the suite's index when not built

    @property
    def glibc(self) -> str:
        if self.built is not None:
            return str(self.built.manifest.get("glibc", ""))
        return self.plan.glibc if self.plan is not None else ""


def sysroot_state(pins: Pins, base: Path, environ: Mapping[str, str] = os.environ,
                  stream: TextIO = sys.stderr) -> SysrootState:
    """The cached sysroot, else Debian's index says now whether the interpreter exists (the index
    is read; no package is downloaded). ToolError (one line) if it does not."""
    choice = sysroot.choose_suite(pins.python_minor, environ)
    folder = base / sysroot.cache_key(choice)
    built = sysroot.cached(folder)
    if built is not None:
        return SysrootState(choice, folder, built, None)
    print(f"repromatrix: arm64: reading Debian {choice.suite}'s arm64 index "
          f"(python{choice.minor})", file=stream, flush=True)
    return SysrootState(choice, folder, None, sysroot.plan(pins.python_minor, environ))


@dataclass(frozen=True)
class SiteState:
    """The wheels the pins need for the sysroot's Python and glibc, and their cached folder."""

    lines: tuple[str, ...]
    minor: str
    tags: tuple[str, ...]
    folder: Path
    built: SitePackages | None


def site_state(pins: Pins, minor: str, glibc: str, base: Path) -> SiteState:
    tags = wheel_tags(glibc)
    lines = tuple(requirements(pins) + runner_requirements(minor))
    folder = base / site_key(lines, minor, tags)
    return SiteState(lines, minor, tags, folder, cached_site(folder))


def resolve_site(wanted: SiteState, pip: tuple[str, ...], stream: TextIO = sys.stderr,
                 run: Callable | None = None) -> list[str]:
    print(f"repromatrix: arm64: resolving {len(wanted.lines)} pins for Linux arm64, Python "
          f"{wanted.minor} with pip", file=stream, flush=True)
    return resolve(wanted.lines, wanted.minor, wanted.tags, pip, run)


def prepare(pins: Pins, model: str = DEFAULT_MODEL, environ: Mapping[str, str] = os.environ,
            stream: TextIO = sys.stderr, pip: tuple[str, ...] | None = None) -> Environment:
    """Check, then fetch (once) everything an arm64 cell needs; cached runs need no network."""
    from repromatrix.emulation import qemu

    base = base_folder(environ)
    base.mkdir(parents=True, exist_ok=True)
    # 1. qemu-aarch64 (PATH, REPROMATRIX_QEMU_AARCH64, else Debian's, cached), and its CPU model.
    binary = qemu.find_qemu(model, target=QEMU_TARGET, environ=environ)
    # 2. The sysroot: cached, else Debian's index says now whether the interpreter exists.
    root_state = sysroot_state(pins, base, environ, stream)
    # 3. The wheels: pip's resolver answers for every pin before any wheel is downloaded.
    wanted = site_state(pins, root_state.choice.minor, root_state.glibc, base)
    lock = None
    if wanted.built is None:
        pip = pip or find_pip()
        lock = resolve_site(wanted, pip, stream)
    # Everything is known to exist: now download.
    root = root_state.built
    if root is None:
        assert root_state.plan is not None
        root = sysroot.build(root_state.plan, root_state.folder, environ, stream)
    site = wanted.built
    if site is None:
        assert lock is not None and pip is not None
        site = build_site(lock, wanted.minor, wanted.tags, pip, wanted.folder, stream)
    runner = sync_runner(base)
    return Environment(binary, root, site, runner, model, base / "pycache")


# --- preflight: the same checks, nothing downloaded ---------------------------------------------


@dataclass(frozen=True)
class Check:
    """One thing an arm64 cell needs, as found without downloading anything."""

    what: str  # "qemu-aarch64", "interpreter" or "wheels"
    ok: bool | None  # None: not checked (it needs what an earlier check did not find)
    text: str  # where it is or what would be fetched; else the problem, one line


def check(pins: Pins, model: str = DEFAULT_MODEL, environ: Mapping[str, str] = os.environ,
          pip: tuple[str, ...] | None = None, run: Callable | None = None,
          stream: TextIO = sys.stderr, machine: str | None = None) -> list[Check]:
    """``prepare``'s three checks, each answered even when another fails, with no download:
    qemu is looked for but not fetched, Debian's index is read (a sysroot's plan), and pip
    resolves the wheels without installing them. Cached parts are reported as cached."""
    from repromatrix.emulation import qemu

    checks = []
    try:
        found = qemu.availability(model, QEMU_TARGET, environ=environ, machine=machine)
        text = (found.located.describe() if found.located is not None else
                f"not installed: fetched from Debian on first use ({found.fetchable})")
        checks.append(Check(f"qemu-{QEMU_TARGET}", True, f"-cpu {model}: {text}"))
    except ToolError as error:
        checks.append(Check(f"qemu-{QEMU_TARGET}", False, str(error)))
    base = base_folder(environ)
    try:
        root_state = sysroot_state(pins, base, environ, stream)
    except ToolError as error:
        return checks + [Check("interpreter", False, str(error)),
                         Check("wheels", None, "not checked: the interpreter's Python and glibc "
                               "decide which wheels")]
    checks.append(Check("interpreter", True, _describe_sysroot(root_state, pins)))
    wanted = site_state(pins, root_state.choice.minor, root_state.glibc, base)
    if wanted.built is not None:
        checks.append(Check("wheels", True, f"cached: {len(wanted.built.lock)} wheels in "
                            f"{wanted.folder}"))
        return checks
    try:
        lock = resolve_site(wanted, pip or find_pip(), stream, run)
    except ToolError as error:
        checks.append(Check("wheels", False, str(error)))
        return checks
    names = {line.split("==")[0] for line in wanted.lines}
    named = [line.replace("==", " ") for line in lock if line.split("==")[0] in names
             and "tensorflow" in line]
    checks.append(Check("wheels", True, f"{len(lock)} wheels resolve for Python {wanted.minor} on "
                        f"{wanted.tags[0]} and older" + (f" ({', '.join(named)})" if named else "")
                        + "; fetched on first use"))
    return checks


def _describe_sysroot(state: SysrootState, pins: Pins) -> str:
    if state.built is not None:
        version = state.built.python_version
        text = f"cached: {state.built.describe()}"
    else:
        assert state.plan is not None
        version = state.plan.python_version
        size = sum(p.size for p in state.plan.packages)
        text = (f"Debian {state.choice.suite} {state.plan.interpreter.describe()}, "
                f"{len(state.plan.packages)} packages ({size / 1e6:.1f} MB), fetched on first use")
    if version != pins.python:
        text += f"; Python {version} stands in for the pinned {pins.python} (drift)"
    return text


def describe(environment: Environment) -> str:
    return (f"qemu-aarch64 -cpu {environment.model}, {environment.sysroot.describe()}, "
            f"{len(environment.site.lock)} arm64 wheels")


def run_emulated(argv: Sequence[str], cell: str, model: str, output: str, pins: Pins) -> int:
    """``repromatrix run --emulate-arch arm64``: the same command, under qemu-aarch64."""
    environment = prepare(pins, model)
    child = ["-m", "repromatrix", *argv, "--emulated", model, "--output", output]
    print(f"repromatrix: {cell}: running under {describe(environment)} (emulation is slow; "
          "TensorFlow alone takes a minute or more to load)", file=sys.stderr, flush=True)
    return subprocess.run(environment.command(child), env=environment.environ(os.environ),
                          check=False).returncode
