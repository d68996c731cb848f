"""A qemu-x86_64 whose estimate instructions use a table: built once from Debian's source, cached.

Stock qemu computes ``rsqrtps``/``rcpps`` exactly, as no CPU does (``repromatrix.estimates``).
This builds Debian's qemu source package (the suite's, SHA-256-checked against its signed
Release like every other Debian file here) with Debian's own patches and
``resources/qemu/estimates.patch``, for ``x86_64-linux-user`` only, statically linked. The
binary reads the table named by ``REPROMATRIX_QEMU_ESTIMATES``; without it, it computes as stock
qemu does.

Needs no root: a C compiler, ``patch``, ``pkg-config`` and ninja from the machine; GLib's and
PCRE2's static libraries from Debian's ``-dev`` packages, unpacked into the cache; meson from
PATH, else installed into the cache with uv or pip. A missing tool is one line naming it.

Cache layout (under ``cache_root()``)::

    qemu-estimates/<key>/qemu-x86_64   the binary, key = source files + patch + flags
    qemu-estimates/<key>/build.json     what it was built from, written last
    qemu-estimates/build.log            the last build's output
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TextIO

from repromatrix.errors import ToolError

FORMAT = 1  # bump when the build's inputs change in a way the key does not see
SOURCE_PACKAGE = "qemu"
# Static libraries qemu's linux-user build links (glib-2.0 requires libpcre2-8).
BUILD_PACKAGES = ("libglib2.0-dev", "libpcre2-dev")
CONFIGURE_FLAGS = ("--target-list=x86_64-linux-user", "--static", "--disable-system",
                   "--disable-tools", "--disable-docs", "--disable-werror")
TARGET = "qemu-x86_64"
MESON_MINIMUM = (0, 61, 5)  # qemu 7.2's configure refuses older
MESON_PIN = "meson==1.0.1"  # what Debian 12 builds qemu 7.2 with
TOOL_HINT = ("to build the patched qemu without root: install {what} (Debian/Ubuntu: "
             "apt-get install {package}); or set REPROMATRIX_QEMU_ESTIMATING to such a qemu")
VARIABLE = "REPROMATRIX_QEMU_ESTIMATING"  # a qemu-x86_64 with the estimates patch, built elsewhere


SOURCE_SUITE = "bookworm"  # Debian 12: qemu 7.2, which the patch's context is
SOURCE_VERSION = "1:7.2"  # the upstream version the patch applies to
DEBIAN = "http://deb.debian.org/debian"


def build_sources(environ: Mapping[str, str]) -> list:
    """Where qemu's source and GLib's static libraries come from: REPROMATRIX_DEBIAN_MIRROR if set,
    else the machine's bookworm entries, else deb.debian.org's bookworm (another release's qemu
    would not take the patch)."""
    from repromatrix.emulation.debian.sources import (
        DEBIAN_KEYRING,
        MIRROR_VARIABLE,
        Source,
        configured_sources,
    )

    if environ.get(MIRROR_VARIABLE, "").strip():
        return configured_sources(environ)
    try:
        configured = configured_sources(environ)
    except ToolError:
        configured = []
    bookworm = [s for s in configured if s.suite == SOURCE_SUITE]
    if bookworm:
        return bookworm
    keyring = Path("/") / DEBIAN_KEYRING
    return [Source(DEBIAN, SOURCE_SUITE, ("main",), (str(keyring),) if keyring.is_file() else (),
                   where="repromatrix's default for the qemu build")]


def find_source(environ: Mapping[str, str]):
    """Debian's qemu 7.2 source package; ToolError (one line) for another version."""
    from repromatrix.emulation.debian.archive import find_source_package

    source = find_source_package(build_sources(environ), SOURCE_PACKAGE)
    if not source.version.startswith(SOURCE_VERSION + "+"):
        raise ToolError(f"the estimates patch is for qemu 7.2 (Debian 12 bookworm), and the "
                        f"archive offers qemu {source.version}: set REPROMATRIX_DEBIAN_MIRROR="
                        f"{DEBIAN} and REPROMATRIX_DEBIAN_SUITE={SOURCE_SUITE}")
    return source


def patch_bytes() -> bytes:
    return resources.files("repromatrix.resources").joinpath("qemu").joinpath("estimates.patch").read_bytes()


def patch_sha256() -> str:
    return hashlib.sha256(patch_bytes()).hexdigest()


@dataclass(frozen=True)
class Built:
    """A patched qemu ready to run: its path and what it was built from."""

    path: str
    version: str  # the Debian source version, or "provided" for REPROMATRIX_QEMU_ESTIMATING
    patch: str  # the patch's SHA-256

    def describe(self) -> str:
        return f"{self.path} (Debian's qemu {self.version} + estimates patch {self.patch[:12]})"


def folder(environ: Mapping[str, str]) -> Path:
    from repromatrix.emulation.debian.cache import cache_root

    return cache_root(environ) / "qemu-estimates"


def build_key(files: tuple[tuple[str, str, int], ...]) -> str:
    """The cache key: the source files' checksums, the patch, the flags and FORMAT."""
    text = json.dumps({"format": FORMAT, "files": [list(f) for f in files],
                       "patch": patch_sha256(), "flags": list(CONFIGURE_FLAGS)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached(environ: Mapping[str, str] = os.environ) -> Built | None:
    """A patched qemu built earlier (any source version, this patch), or the provided one."""
    provided = environ.get(VARIABLE, "").strip()
    if provided:
        if not os.access(provided, os.X_OK):
            raise ToolError(f"{VARIABLE}={provided!r} is not an executable file")
        return Built(provided, "provided", patch_sha256())
    base = folder(environ)
    if not base.is_dir():
        return None
    for record_path in sorted(base.glob("*/build.json")):
        if record_path.parent.name.startswith("."):
            continue  # a build being staged, not yet renamed into place
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            files = tuple((str(n), str(h), int(z)) for n, h, z in record["files"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        binary = record_path.parent / TARGET
        # The key from the record's sources and today's patch, flags and FORMAT: a build made
        # with other flags or an older FORMAT is not this one.
        if record_path.parent.name == build_key(files) and binary.is_file() and \
                _sha256(binary) == record.get("sha256"):
            return Built(str(binary), record.get("version", "?"), patch_sha256())
    return None


def _sha256(path: Path) -> str:
    from repromatrix.emulation.debian.download import sha256_file

    return sha256_file(path)


@dataclass(frozen=True)
class Tools:
    cc: str
    patch: str
    # None: not on PATH (or too old), installed from PyPI into the cache when the build starts
    pkg_config: str | None
    ninja: str | None
    meson: str | None

    def from_pypi(self) -> list[str]:
        """The PyPI distributions the build will install for what PATH lacks."""
        return [pin for pin, have in ((PYPI_TOOLS["meson"], self.meson),
                                      (PYPI_TOOLS["ninja"], self.ninja),
                                      (PYPI_TOOLS["pkg-config"], self.pkg_config)) if not have]


# Build tools PyPI has (pure Python, or wheels with the binary), installed into the cache with
# uv or pip when PATH has none; versions as resolved on 2026-12-02.
PYPI_TOOLS = {"meson": MESON_PIN, "ninja": "ninja==1.13.2", "pkg-config": "pkgconf==2.4.3.post2"}


def missing_tools(which=shutil.which) -> Tools:
    """The build's tools from PATH; ToolError naming the first one that PyPI cannot replace."""
    found = {}
    for key, names, package in (("cc", ("cc", "gcc", "clang"), "gcc"),
                                ("patch", ("patch",), "patch")):
        path = next((p for p in map(which, names) if p), None)
        if path is None:
            raise ToolError(TOOL_HINT.format(what=names[0], package=package))
        found[key] = path
    meson = which("meson")
    if meson is not None and _meson_version(meson) < MESON_MINIMUM:
        meson = None
    pkg_config = which("pkg-config") or which("pkgconf")
    ninja = which("ninja") or which("ninja-build")
    return Tools(pkg_config=pkg_config, ninja=ninja, meson=meson, **found)


def _meson_version(meson: str) -> tuple[int, ...]:
    completed = subprocess.run([meson, "--version"], capture_output=True, text=True, check=False)
    parts = completed.stdout.strip().split(".")
    return tuple(int(p) for p in parts if p.isdigit()) or (0,)


def availability(environ: Mapping[str, str] = os.environ,
                 which=shutil.which) -> tuple[bool, str]:
    """(ready or buildable, one line) for preflight: nothing is downloaded or built; the
    Sources index is read to name what would be built."""
    try:
        found = cached(environ)
        if found is not None:
            return True, found.describe()
        tools = missing_tools(which)
        source = find_source(environ)
    except ToolError as error:
        return False, str(error)
    size = sum(file_size for _, _, file_size in source.files)
    pypi = tools.from_pypi()
    extra = f"; from PyPI into the cache: {', '.join(pypi)}" if pypi else ""
    return True, (f"built on first use from Debian's {source.describe()} ({size / 1e6:.0f} MB; "
                  f"Release {source.signature}) with {tools.cc}{extra}")


@contextlib.contextmanager
def _locked(base: Path) -> Iterator[None]:
    import fcntl  # POSIX only: the patched qemu is a Linux build (preflight imports this module)

    base.mkdir(parents=True, exist_ok=True)
    with (base / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two lab cells, one build
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure(environ: Mapping[str, str] = os.environ, stream: TextIO = sys.stderr) -> Built:
    """The patched qemu: cached, else built now (a few minutes, once)."""
    found = cached(environ)
    if found is not None:
        return found
    base = folder(environ)
    with _locked(base):
        found = cached(environ)  # another process may have built it while this one waited
        if found is not None:
            return found
        return _build(environ, base, stream)


def _say(stream: TextIO, text: str) -> None:
    print(f"repromatrix: {text}", file=stream, flush=True)


def _build(environ: Mapping[str, str], base: Path, stream: TextIO) -> Built:
    tools = missing_tools()
    source = find_source(environ)
    key = build_key(source.files)
    started = time.monotonic()
    _say(stream, f"building qemu-x86_64 with table-driven estimates from Debian's "
                 f"{source.describe()}, once (about 1-3 minutes on 2 cores); log: "
                 f"{base / 'build.log'}")
    downloads = base / "source"
    for name, sha256, size in source.files:
        _download(source.url(name), sha256, size, downloads / name, stream)
    work = Path(tempfile.mkdtemp(prefix=".build.", dir=base))
    try:
        with (base / "build.log").open("w", encoding="utf-8") as log:
            tree = _unpack(source.files, downloads, work / "src")
            _apply_patches(tools.patch, tree, log)
            prefix = _dev_packages(environ, work / "deps", stream)
            tools = _complete(tools, base / "tools", log)
            assert tools.meson and tools.ninja and tools.pkg_config
            meson = tools.meson
            build = work / "build"
            build.mkdir()
            env = {**os.environ,
                   "PKG_CONFIG_PATH": str(prefix / "usr/lib/x86_64-linux-gnu/pkgconfig"),
                   "PKG_CONFIG_SYSROOT_DIR": str(prefix), "PKG_CONFIG": tools.pkg_config}
            env["PATH"] = os.pathsep.join([str(Path(tool).parent) for tool in
                                           (meson, tools.ninja, tools.pkg_config)]
                                          + [env.get("PATH", "")])
            version = f"Debian {source.version}, repromatrix estimates {patch_sha256()[:12]}"
            _say(stream, "qemu: configure")
            _step([str(tree / "configure"), *CONFIGURE_FLAGS, f"--meson={meson}",
                   f"--ninja={tools.ninja}", f"--cc={tools.cc}", f"--with-pkgversion={version}"],
                  build, env, log, "configure")
            _say(stream, "qemu: compiling (the longest part)")
            _step([tools.ninja, "-j", str(os.cpu_count() or 2), TARGET], build, env, log, "ninja")
            final = base / key
            staging = base / f".{key}.new"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            shutil.copy2(build / TARGET, staging / TARGET)
            record = {"format": FORMAT, "version": source.version, "patch": patch_sha256(),
                      "key": key,
                      "sha256": _sha256(staging / TARGET), "files": [list(f) for f in source.files],
                      "signature": source.signature, "flags": list(CONFIGURE_FLAGS)}
            (staging / "build.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n",
                                                encoding="utf-8")
            shutil.rmtree(final, ignore_errors=True)
            os.replace(staging, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _say(stream, f"qemu: built in {time.monotonic() - started:.0f} s, cached in {final}")
    return Built(str(final / TARGET), source.version, patch_sha256())


def _download(url: str, sha256: str, size: int, destination: Path, stream: TextIO) -> None:
    from repromatrix.emulation.debian.download import fetch_verified

    if destination.is_file() and _sha256(destination) == sha256:
        return
    fetch_verified(url, sha256, size, destination, destination.name, stream)


def _unpack(files: tuple[tuple[str, str, int], ...], downloads: Path, tree: Path) -> Path:
    """Debian's source tree: the upstream tarball with debian/ from the packaging tarball."""
    names = [name for name, _, _ in files]
    upstream = next((n for n in names if ".orig.tar." in n), None)
    packaging = next((n for n in names if ".debian.tar." in n), None)
    if upstream is None or packaging is None:
        raise ToolError(f"Debian's qemu source has no .orig and .debian tarballs ({names})")
    tree.mkdir(parents=True)
    _extract(downloads / upstream, tree, strip=True)
    _extract(downloads / packaging, tree, strip=False)  # its members start with debian/
    return tree


def _extract(archive: Path, destination: Path, strip: bool) -> None:
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.name.startswith("/"):
                continue  # never outside the tree
            name = member.name.split("/", 1)[1] if strip and "/" in member.name else member.name
            if strip and "/" not in member.name:
                continue  # the top folder itself
            parts = Path(name).parts
            if not parts or name.startswith("/") or ".." in parts:
                continue
            if not (member.isfile() or member.isdir() or member.issym()):
                continue
            if member.issym() and (member.linkname.startswith("/")
                                   or ".." in Path(member.linkname).parts):
                continue  # a link out of the tree would let a later member write through it
            member.name = name
            if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+: refuses escapes too
                tar.extract(member, destination, set_attrs=member.isfile(), filter="data")
            else:
                tar.extract(member, destination, set_attrs=member.isfile())


def _apply_patches(patch: str, tree: Path, log: TextIO) -> None:
    series = tree / "debian" / "patches" / "series"
    names = [line.split()[0] for line in series.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")] if series.exists() else []
    for name in names:
        _step([patch, "-p1", "-N", "-s", "-i", str(tree / "debian" / "patches" / name)], tree,
              dict(os.environ), log, f"Debian's patch {name}")
    own = tree / "repromatrix-estimates.patch"
    own.write_bytes(patch_bytes())
    _step([patch, "-p1", "-N", "-s", "-i", str(own)], tree, dict(os.environ), log,
          "the estimates patch (does this qemu version differ from 7.2?)")


def _dev_packages(environ: Mapping[str, str], prefix: Path, stream: TextIO) -> Path:
    """GLib's and PCRE2's headers, static libraries and .pc files, unpacked from Debian."""
    from repromatrix.emulation.debian.archive import find_package
    from repromatrix.emulation.debian.cache import Store, cache_root
    from repromatrix.emulation.debian.deb import extract

    store = Store(cache_root(environ), "amd64", stream)
    sources = build_sources(environ)
    indexes: dict = {}
    for name in BUILD_PACKAGES:
        package = find_package(sources, name, "amd64", indexes)
        deb = store.download(package)
        extract(deb, lambda path: path.startswith("usr/"), prefix)
    return prefix


def _complete(tools: Tools, folder: Path, log: TextIO) -> Tools:
    """``tools`` with what PATH lacked installed from PyPI into ``folder`` (once; uv, else pip)."""
    wanted = tools.from_pypi()
    library, scripts = folder / "lib", folder / "bin"
    marker = folder / "installed.json"
    try:
        installed = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        installed = []
    if wanted and not set(wanted) <= set(installed):
        uv = shutil.which("uv")
        command = ([uv, "pip", "install", "--quiet", "--target", str(library), "--python",
                    sys.executable] if uv else
                   [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(library)])
        completed = subprocess.run([*command, *sorted(set(wanted) | set(installed))], stdout=log,
                                   stderr=subprocess.STDOUT, check=False)
        if completed.returncode != 0:
            raise ToolError(f"installing {', '.join(wanted)} from PyPI failed (exit "
                            f"{completed.returncode}; see {getattr(log, 'name', 'the build log')}): "
                            + TOOL_HINT.format(what="meson, ninja and pkg-config",
                                               package="meson ninja-build pkg-config"))
        marker.write_text(json.dumps(sorted(set(wanted) | set(installed))), encoding="utf-8")
    scripts.mkdir(parents=True, exist_ok=True)
    # Wrappers that find the installed packages: meson re-runs itself through sys.argv[0] (a real
    # file, not `python -c`); pkgconf's entry point is a Python script; ninja is a binary.
    main = scripts / "meson.py"
    main.write_text(f"import sys\nsys.path.insert(0, {str(library)!r})\n"
                    "from mesonbuild.mesonmain import main\nsys.exit(main())\n", encoding="utf-8")
    python, quoted = shlex.quote(sys.executable), shlex.quote(str(library))
    wrappers = {"meson": f'exec {python} {shlex.quote(str(main))} "$@"',
                "pkg-config": f'PYTHONPATH={quoted} exec {python} -m pkgconf "$@"',
                "ninja": f'exec {shlex.quote(str(library / "bin" / "ninja"))} "$@"'}
    paths = {}
    for name, body in wrappers.items():
        script = scripts / name
        script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        script.chmod(0o755)
        paths[name] = str(script)
    return Tools(cc=tools.cc, patch=tools.patch, meson=tools.meson or paths["meson"],
                 ninja=tools.ninja or paths["ninja"], pkg_config=tools.pkg_config or paths["pkg-config"])


def _step(command: list[str], cwd: Path, env: Mapping[str, str], log: TextIO, what: str) -> None:
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    completed = subprocess.run(command, cwd=cwd, env=dict(env), stdout=log,
                               stderr=subprocess.STDOUT, check=False)
    if completed.returncode != 0:
        raise ToolError(f"building the patched qemu failed at {what} (exit "
                        f"{completed.returncode}); its output is in {getattr(log, 'name', 'the log')}")
