"""Running a cell under qemu-user, emulating another x86_64 CPU on this machine.

qemu's TCG computes approximate instructions (rsqrtps, rcpps) its own way, not as any real chip
does: an emulated cell stands for "another vendor", not a faithful copy of the named model.
Only x86_64 hosts are supported: TensorFlow's x86 wheel needs AVX, which qemu-x86_64 emulates
(models Haswell and newer) since qemu 7.2.

Which qemu: ``REPROMATRIX_QEMU`` if set, else ``qemu-x86_64`` (or ``qemu-x86_64-static``) on
PATH, else Debian's statically linked build, fetched once into the cache (``repromatrix.emulation.debian``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from repromatrix.errors import ToolError

if TYPE_CHECKING:
    from repromatrix.emulation.debian.archive import Package
    from repromatrix.emulation.debian.cache import Store

QEMU = "qemu-x86_64"
QEMU_VARIABLE = "REPROMATRIX_QEMU"
INSTALL_HINT = ("install qemu-user (Debian/Ubuntu: sudo apt-get install qemu-user-static) "
                f"or set {QEMU_VARIABLE} to a qemu-x86_64 binary")
# Set (with qemu's -E) in the emulated process, whose fingerprint records where qemu came from.
ORIGIN_VARIABLES = {"source": "REPROMATRIX_QEMU_SOURCE", "package": "REPROMATRIX_QEMU_PACKAGE",
                    "version": "REPROMATRIX_QEMU_VERSION", "binary": "REPROMATRIX_QEMU_BINARY",
                    "sysroot": "REPROMATRIX_QEMU_SYSROOT",
                    "estimates": "REPROMATRIX_QEMU_ESTIMATES_LABEL",
                    "estimates_sha256": "REPROMATRIX_QEMU_ESTIMATES_SHA256"}
# Read by the patched qemu (emulation/qemu_build.py): the estimate table file it computes from.
ESTIMATES_VARIABLE = "REPROMATRIX_QEMU_ESTIMATES"
# Set in an emulated process: the command prefix (JSON list) that runs a child process the same
# way (an arm64 python cannot be exec'd by the host kernel; an x86_64 one would run natively).
PREFIX_VARIABLE = "REPROMATRIX_QEMU_PREFIX"
# Host machine names -> Debian architectures that build qemu-user-static.
DEBIAN_ARCHITECTURES = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
    "armv7l": "armhf", "i386": "i386", "i686": "i386", "ppc64le": "ppc64el",
    "s390x": "s390x", "riscv64": "riscv64", "mips64": "mips64el",
}


@dataclass(frozen=True)
class Located:
    """A qemu binary and where it came from (recorded in the emulated cell's fingerprint)."""

    path: str
    source: str  # "PATH", "REPROMATRIX_QEMU" or "debian"
    package: str | None = None  # the Debian package and version, when fetched
    version: str = "unknown"

    def describe(self) -> str:
        if self.source == "debian":
            return f"{self.path} (from Debian's {self.package}, cached)"
        if self.source == "estimates-build":
            return f"{self.path} ({self.package}, built here, cached)"
        return f"{self.path} (from {self.source})"


_located: dict[str, Located] = {}  # path -> how find_qemu found it, for qemu_command


def parse_cpu_models(help_text: str) -> list[str]:
    """CPU model names from ``qemu-x86_64 -cpu help`` ("x86 Haswell   Intel Core ...") or
    ``qemu-aarch64 -cpu help`` ("Available CPUs:" then one indented name a line)."""
    models = []
    listing = False
    for line in help_text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "x86":
            models.append(parts[1])
        elif line.strip() == "Available CPUs:":
            listing = True
        elif listing and len(parts) == 1 and line[:1].isspace():
            models.append(parts[0])
        else:
            listing = False
    return sorted(set(models))


def parse_version(text: str) -> str:
    """``qemu-x86_64 version 7.2.18 (Debian 1:7.2+dfsg-7+deb12u18)`` -> ``7.2.18 (Debian ...)``."""
    first = (text.strip().splitlines() or [""])[0]
    _, sep, version = first.partition(" version ")
    return version.strip() if sep else (first.strip() or "unknown")


def debian_architecture(machine: str) -> str:
    try:
        return DEBIAN_ARCHITECTURES[machine.lower()]
    except KeyError:
        raise ToolError(f"Debian builds no qemu for this machine's architecture ({machine}): "
                        f"{INSTALL_HINT}") from None


def dependency_names(depends: str) -> list[str]:
    """Package names of a Depends field (``a (>= 1), b | c``)."""
    return [alternative.split()[0] for part in depends.split(",")
            for alternative in part.split("|") if alternative.split()]


def _debian_candidates(target: str) -> tuple[tuple[str, str], ...]:
    """(package, member) pairs: Debian's static qemu-<target>, old name then new.

    Until Debian 12 the static binaries are in qemu-user-static (``qemu-x86_64-static``); from
    Debian 13 that package is a transitional one depending on qemu-user, whose binaries are
    static themselves (``qemu-x86_64``).
    """
    return (("qemu-user-static", f"usr/bin/qemu-{target}-static"),
            ("qemu-user", f"usr/bin/qemu-{target}"))


def cached_from_debian(target: str, architecture: str,
                       environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(path, "package version (arch)") of a qemu-<target> fetched earlier, re-verified; no network."""
    from repromatrix.emulation.debian.cache import Store, cache_root

    store = Store(cache_root(environ), architecture)
    with store.locked():
        return _cached(store, target)


def _cached(store: Store, target: str) -> tuple[str, str] | None:
    for package, member in _debian_candidates(target):
        cached = store.lookup(package, [member])
        if cached is not None:
            return str(cached.path(member)), cached.describe()
    return None


def debian_package(target: str, architecture: str,
                   environ: Mapping[str, str]) -> tuple[Package, str]:
    """(the index entry, the member) Debian gives qemu-<target> in: reads the index, no package."""
    from repromatrix.emulation.debian.archive import find_package
    from repromatrix.emulation.debian.sources import configured_sources

    candidates = _debian_candidates(target)
    sources = configured_sources(environ)
    indexes: dict = {}
    found = find_package(sources, candidates[0][0], architecture, indexes)
    member = candidates[0][1]
    if candidates[1][0] in dependency_names(found.depends):
        found = find_package(sources, candidates[1][0], architecture, indexes)
        member = candidates[1][1]
    return found, member


def fetch_from_debian(target: str, architecture: str,
                      environ: Mapping[str, str]) -> tuple[str, str]:
    """(path, "package version (arch)") of Debian's static qemu-<target>, cached."""
    from repromatrix.emulation.debian.cache import Store, cache_root

    store = Store(cache_root(environ), architecture)
    with store.locked():
        cached = _cached(store, target)
        if cached is not None:
            return cached
        found, member = debian_package(target, architecture, environ)
        print(f"repromatrix: qemu-{target} is not installed: fetching it from Debian "
              f"({found.describe()}, {found.size / 1e6:.0f} MB, once; the index's Release "
              f"signature: {found.signature})", file=store.stream, flush=True)
        cached_now = store.fetch(found, [member])
        return str(cached_now.path(member)), cached_now.describe()


def variable_for(target: str) -> str:
    """REPROMATRIX_QEMU names qemu-x86_64; REPROMATRIX_QEMU_AARCH64 qemu-aarch64, and so on."""
    return QEMU_VARIABLE if target == "x86_64" else f"{QEMU_VARIABLE}_{target.upper()}"


def installed(target: str = "x86_64",
              which: Callable[[str], str | None] = shutil.which,
              environ: Mapping[str, str] = os.environ) -> Located | None:
    """The qemu-<target> the user provides (its variable, else PATH); None if neither."""
    name = f"qemu-{target}"
    variable = variable_for(target)
    explicit = environ.get(variable, "").strip()
    if explicit:
        path = which(explicit)
        if path is None:
            raise ToolError(f"{variable}={explicit!r} is not an executable file")
        return Located(path, variable)
    for candidate in (name, f"{name}-static"):
        path = which(candidate)
        if path is not None:
            return Located(path, "PATH")
    return None


def debian_host(target: str, system: str | None = None, machine: str | None = None) -> str:
    """The Debian architecture to fetch qemu-<target> for; ToolError off Linux."""
    system = system or platform.system()
    if system != "Linux":
        raise ToolError(f"qemu-{target} not found on PATH, and qemu's user-mode emulation runs on "
                        f"Linux only (this is {system}): run the lab on a Linux x86_64 machine")
    return debian_architecture(machine or platform.machine())


def locate(target: str = "x86_64",
           which: Callable[[str], str | None] = shutil.which,
           environ: Mapping[str, str] = os.environ,
           system: str | None = None,
           machine: str | None = None) -> Located:
    """The qemu-<target> to use: REPROMATRIX_QEMU, PATH, else Debian's build (fetched once)."""
    found = installed(target, which, environ)
    if found is not None:
        return found
    architecture = debian_host(target, system, machine)
    try:
        path, package = fetch_from_debian(target, architecture, environ)
    except ToolError as error:
        raise ToolError(f"qemu-{target} not found on PATH and fetching it from Debian failed: "
                        f"{error}; {INSTALL_HINT}") from None
    return Located(path, "debian", package)


@dataclass(frozen=True)
class Availability:
    """What find_qemu would use, found without fetching: a binary, or the package to fetch."""

    located: Located | None  # present: the variable's, PATH's, or Debian's in the cache
    fetchable: str = ""  # else: "qemu-user-static 1:7.2... (amd64), 63 MB" (fetched on first use)


def availability(model: str, target: str = "x86_64",
                 which: Callable[[str], str | None] = shutil.which,
                 environ: Mapping[str, str] = os.environ,
                 system: str | None = None,
                 machine: str | None = None,
                 help_text: Callable[[str], str] | None = None) -> Availability:
    """find_qemu's answer without downloading anything (preflight): the same checks and errors,
    but a qemu that would be fetched from Debian is only looked up in the archive's index."""
    machine = _check_host(machine)
    found = installed(target, which, environ)
    if found is None:
        architecture = debian_host(target, system, machine)
        cached = cached_from_debian(target, architecture, environ)
        if cached is None:
            try:
                package, _ = debian_package(target, architecture, environ)
            except ToolError as error:
                raise ToolError(f"qemu-{target} not found on PATH, nor in repromatrix's cache, and "
                                f"Debian's index cannot offer it: {error}; {INSTALL_HINT}") from None
            return Availability(None, f"{package.describe()}, {package.size / 1e6:.0f} MB")
        found = Located(cached[0], "debian", cached[1])
    _check_model(found.path, model, target, help_text)
    return Availability(found)


def find_qemu(
    model: str,
    which: Callable[[str], str | None] = shutil.which,
    machine: str | None = None,
    help_text: Callable[[str], str] | None = None,
    environ: Mapping[str, str] = os.environ,
    system: str | None = None,
    version_text: Callable[[str], str] | None = None,
    target: str = "x86_64",
) -> str:
    """Path of qemu-<target> after checking the host and the model name; ToolError otherwise."""
    machine = _check_host(machine)
    located = locate(target, which, environ, system, machine)
    binary = located.path
    _check_model(binary, model, target, help_text)
    version = parse_version((version_text or _version)(binary))
    _located[binary] = Located(binary, located.source, located.package, version)
    return binary


def _check_host(machine: str | None) -> str:
    """The host's machine name, lower-cased; ToolError unless x86_64 (see the module's doc)."""
    machine = (machine or platform.machine()).lower()
    if machine not in ("x86_64", "amd64"):
        raise ToolError(f"CPU emulation needs an x86_64 host (this one is {machine})")
    return machine


def _check_model(binary: str, model: str, target: str,
                 help_text: Callable[[str], str] | None) -> None:
    models = parse_cpu_models((help_text or _cpu_help)(binary))
    if model not in models:
        import difflib

        # One suggestion: with several, ties (Haswell-v1..v4) come back in no stable order.
        close = difflib.get_close_matches(model, models, n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; see `qemu-{target} -cpu help`"
        raise ToolError(f"qemu knows no CPU model {model!r}{hint}")


def adopt(binary: str, model: str, source: str, package: str,
          help_text: Callable[[str], str] | None = None,
          version_text: Callable[[str], str] | None = None) -> str:
    """Use ``binary`` (a qemu built here, e.g. the estimates build) as find_qemu would: the
    model checked, and where it came from recorded for qemu_command."""
    _check_model(binary, model, "x86_64", help_text)
    version = parse_version((version_text or _version)(binary))
    _located[binary] = Located(binary, source, package, version)
    return binary


def located(binary: str) -> Located | None:
    """How find_qemu found ``binary`` in this process (None if it did not)."""
    return _located.get(binary)


def _cpu_help(binary: str) -> str:
    completed = subprocess.run([binary, "-cpu", "help"], capture_output=True, text=True, check=False)
    return completed.stdout


def _version(binary: str) -> str:
    completed = subprocess.run([binary, "-version"], capture_output=True, text=True, check=False)
    return completed.stdout


def qemu_command(binary: str, model: str, python: str, arguments: Sequence[str],
                 sysroot: str | None = None, sysroot_label: str = "",
                 estimates: tuple[str, str] = ("", "")) -> list[str]:
    """The command line that runs ``python arguments...`` on the emulated CPU.

    ``-E`` hands the emulated process where this qemu came from, for its fingerprint (qemu
    splits -E values at commas, hence none in them). ``sysroot``: the folder qemu's ``-L``
    finds a foreign architecture's loader and libraries in (the arm64 cell's). ``estimates``:
    the (label, SHA-256) of the estimate table a patched qemu was given, for the fingerprint.
    """
    found = _located.get(binary) or Located(binary, "unknown")
    origin = {"source": found.source, "package": found.package or "", "version": found.version,
              "binary": os.path.basename(binary).replace("-static", ""),
              "sysroot": sysroot_label, "estimates": estimates[0],
              "estimates_sha256": estimates[1]}
    settings = []
    for key, variable in sorted(ORIGIN_VARIABLES.items()):
        settings += ["-E", f"{variable}={origin[key].replace(',', ';')}"]
    root = ["-L", sysroot] if sysroot else []
    return [binary, *root, "-cpu", model, *settings, python, *arguments]


def emulated_command(model: str, python: str, arguments: Sequence[str],
                     environ: Mapping[str, str] = os.environ) -> list[str]:
    """How an emulated process starts a child (a worker) on the same emulated CPU.

    The process that started this one under qemu left the exact prefix in the environment (an
    arm64 cell's includes ``-L SYSROOT``); without it, qemu-x86_64 is looked up as before.
    """
    prefix = environ.get(PREFIX_VARIABLE)
    if prefix:
        return [*json.loads(prefix), python, *arguments]
    return qemu_command(find_qemu(model), model, python, arguments)


def fingerprint_fields(environ: Mapping[str, str]) -> dict:
    """The ``cpu.qemu`` fingerprint entry of an emulated process: version, source, package."""
    return {key: (environ.get(variable) or None) for key, variable in sorted(ORIGIN_VARIABLES.items())}
