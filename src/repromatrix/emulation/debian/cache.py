"""The on-disk cache of files unpacked from Debian packages, keyed by package, version and arch.

Layout under the cache root (``$REPROMATRIX_CACHE``, else ``$XDG_CACHE_HOME/repromatrix``, else
``~/.cache/repromatrix``)::

    debian/<arch>/<package>.json              record: version, .deb checksum, files' SHA-256
    debian/<arch>/<package>_<version>/...     the unpacked members
    debian/debs/<name>_<version>_<arch>.deb   the verified package, to unpack more members offline

The record is written last and atomically, so an interrupted fetch leaves no entry. Every lookup
re-hashes the files it returns: a cached file that no longer matches its recorded SHA-256 is
deleted and fetched again, never handed out (and so never run).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from repromatrix.emulation.debian.archive import Package, find_package
from repromatrix.emulation.debian.deb import extract
from repromatrix.emulation.debian.download import ChecksumError, fetch_verified, sha256_file
from repromatrix.emulation.debian.sources import configured_sources
from repromatrix.errors import ToolError

CACHE_VARIABLE = "REPROMATRIX_CACHE"
DOWNLOAD_ATTEMPTS = 2  # a download whose checksum fails is fetched once more, then refused


def cache_root(environ: Mapping[str, str] = os.environ) -> Path:
    if environ.get(CACHE_VARIABLE):
        return Path(environ[CACHE_VARIABLE]).expanduser()
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]) / "repromatrix"
    return Path.home() / ".cache" / "repromatrix"


@dataclass(frozen=True)
class Cached:
    """Verified files of one package version, ready to use."""

    package: str
    version: str
    architecture: str
    folder: Path
    record: dict

    def path(self, member: str) -> Path:
        return self.folder / member

    def describe(self) -> str:
        return f"{self.package} {self.version} ({self.architecture})"


def _escape(version: str) -> str:
    return version.replace(":", "%3a")  # as apt names cached .debs: epochs have a colon


class Store:
    def __init__(self, root: Path, architecture: str, stream: TextIO = sys.stderr) -> None:
        self.base = root / "debian" / architecture
        self.debs = root / "debian" / "debs"
        self.architecture = architecture
        self.stream = stream

    def _record_path(self, package: str) -> Path:
        return self.base / f"{package}.json"

    def _say(self, text: str) -> None:
        print(f"repromatrix: {text}", file=self.stream, flush=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One process fetches at a time; the others wait and then find the cache filled."""
        self.base.mkdir(parents=True, exist_ok=True)
        with (self.base.parent / ".lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._say("waiting for another repromatrix process to finish fetching")
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def lookup(self, package: str, members: Sequence[str]) -> Cached | None:
        """The cached members, re-verified; None if absent or if a file was corrupted."""
        try:
            record = json.loads(self._record_path(package).read_text(encoding="utf-8"))
            folder = self.base / record["folder"]
            files: dict[str, str] = record["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        bad = [m for m in members if m not in files or not _intact(folder / m, files[m])]
        if not bad:
            return Cached(package, record["version"], self.architecture, folder, record)
        damaged = [m for m in bad if m in files]
        if damaged:
            self._say(f"cached {damaged[0]} of {package} {record.get('version')} does not match "
                      "its recorded SHA-256: discarding it")
        deb = self.debs / str(record.get("deb", {}).get("file", "-"))
        if deb.is_file() and sha256_file(deb) == record["deb"]["sha256"]:
            # The verified package is still here: unpack again from it, no network needed.
            unpacked = extract(deb, set(bad).__contains__, folder, stop_after=len(bad))
            if set(unpacked) >= set(bad):
                record["files"] = dict(sorted({**files, **unpacked}.items()))
                self._write_record(package, record)
                return Cached(package, record["version"], self.architecture, folder, record)
        self.forget(package)
        return None

    def forget(self, package: str, keep_deb: str = "") -> None:
        path = self._record_path(package)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        path.unlink(missing_ok=True)
        if isinstance(record, dict):
            if record.get("folder"):
                shutil.rmtree(self.base / record["folder"], ignore_errors=True)
            deb = record.get("deb")
            if isinstance(deb, dict) and deb.get("file") and deb["file"] != keep_deb:
                (self.debs / deb["file"]).unlink(missing_ok=True)

    def fetch(self, package: Package, members: Sequence[str]) -> Cached:
        """Download ``package`` (SHA-256-checked), unpack ``members`` and record them."""
        deb = self.debs / Path(package.filename).name
        self.forget(package.name, keep_deb=deb.name)  # another version's files and record
        self.download(package)
        self.base.mkdir(parents=True, exist_ok=True)
        folder_name = f"{package.name}_{_escape(package.version)}"
        staging = Path(tempfile.mkdtemp(prefix=f".{folder_name}.", dir=self.base))
        try:
            self._say(f"unpacking {', '.join(members)} from {deb.name}")
            files = extract(deb, set(members).__contains__, staging, stop_after=len(members))
            missing = [m for m in members if m not in files]
            if missing:
                raise ToolError(f"{package.describe()} contains no {missing[0]}")
            final = self.base / folder_name
            shutil.rmtree(final, ignore_errors=True)
            os.replace(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        record = {
            "package": package.name,
            "version": package.version,
            "architecture": package.architecture,
            "folder": folder_name,
            "deb": {"file": deb.name, "url": package.url, "sha256": package.sha256,
                    "size": package.size},
            "source": {"uri": package.source.uri, "suite": package.source.suite},
            "signature": package.signature,
            "files": dict(sorted(files.items())),
        }
        self._write_record(package.name, record)
        return Cached(package.name, package.version, self.architecture, final, record)

    def download(self, package: Package) -> Path:
        """The verified ``.deb`` in the cache: kept if its SHA-256 matches, else downloaded."""
        deb = self.debs / Path(package.filename).name
        if deb.is_file() and sha256_file(deb) == package.sha256:
            return deb
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                return fetch_verified(package.url, package.sha256, package.size, deb,
                                      f"{package.describe()} from {package.source.uri}",
                                      self.stream)
            except ChecksumError as error:
                if attempt == DOWNLOAD_ATTEMPTS:
                    raise
                self._say(f"{error}; downloading again")
        raise AssertionError("unreachable")

    def _write_record(self, package: str, record: dict) -> None:
        path = self._record_path(package)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, path)


def _intact(path: Path, expected: str) -> bool:
    if expected.startswith("-> "):
        return path.is_symlink() and os.readlink(path) == expected[3:]
    return path.is_file() and not path.is_symlink() and sha256_file(path) == expected


def provide(package: str, architecture: str, members: Sequence[str],
            environ: Mapping[str, str] = os.environ, root: Path = Path("/"),
            stream: TextIO = sys.stderr) -> Cached:
    """``members`` of Debian's ``package`` for ``architecture``: from the cache, else fetched."""
    store = Store(cache_root(environ), architecture, stream)
    with store.locked():
        cached = store.lookup(package, members)
        if cached is not None:
            return cached
        found = find_package(configured_sources(environ, root), package, architecture)
        return store.fetch(found, members)
