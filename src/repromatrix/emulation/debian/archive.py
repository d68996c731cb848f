"""A suite's signed Release file, its Packages index, and the packages in it.

Chain of trust, as apt's: InRelease (or Release + Release.gpg) is checked with ``gpgv`` against
the source's keyring when both exist; the Release file names the SHA-256 of each Packages index;
the index names the SHA-256 of each ``.deb``. Without gpgv or a keyring the signature is not
checked (the caller is told, and records it): the checksums then only prove the files are the
ones the mirror's Release names, not that Debian published them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import lzma
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

from repromatrix.emulation.debian.control import Stanza, find_stanza, parse_stanzas
from repromatrix.emulation.debian.download import ChecksumError, NotFound, Unreachable, fetch_bytes
from repromatrix.emulation.debian.sources import Source
from repromatrix.errors import ToolError

# Index compressions the standard library reads, preferred first (smallest download).
COMPRESSIONS = ((".xz", lzma.decompress), (".gz", gzip.decompress), ("", lambda data: data))


@dataclass(frozen=True)
class Release:
    source: Source
    files: dict[str, tuple[str, int]]  # path under dists/SUITE -> (sha256, size)
    by_hash: bool
    signature: str  # "verified with KEYRING" or "not verified: REASON"


@dataclass(frozen=True)
class Package:
    """One stanza of a Packages index: enough to download and verify the ``.deb``."""

    name: str
    version: str
    architecture: str
    filename: str  # relative to the source's URI, e.g. pool/main/q/qemu/...deb
    sha256: str
    size: int
    depends: str
    source: Source
    signature: str
    pre_depends: str = ""

    @property
    def url(self) -> str:
        return self.source.url(self.filename)

    def describe(self) -> str:
        return f"{self.name} {self.version} ({self.architecture})"


def clearsigned_text(data: str) -> str:
    """The signed body of an OpenPGP cleartext message (dash-escaping undone), unverified."""
    lines = data.splitlines()
    try:
        start = lines.index("-----BEGIN PGP SIGNED MESSAGE-----")
    except ValueError:
        return data
    body_start = lines.index("", start) + 1  # after the armor headers (Hash: ...)
    end = lines.index("-----BEGIN PGP SIGNATURE-----", body_start)
    return "\n".join(line[2:] if line.startswith("- ") else line
                     for line in lines[body_start:end]) + "\n"


def dearmor(text: str) -> bytes:
    """An ASCII-armored key block as the binary keyring gpgv reads."""
    lines = [line.strip() for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("-----BEGIN PGP"))
    body_start = lines.index("", start) + 1
    body = []
    for line in lines[body_start:]:
        if line.startswith("=") or line.startswith("-----END"):
            break
        body.append(line)
    return base64.b64decode("".join(body))


def _usable_keyrings(keyrings: Sequence[str], folder: Path) -> list[str]:
    """Existing keyring files; armored ones (.asc, inline Signed-By) converted for gpgv."""
    usable = []
    for index, keyring in enumerate(keyrings):
        text = None
        if "BEGIN PGP PUBLIC KEY BLOCK" in keyring:
            text = keyring
        elif Path(keyring).is_file():
            if not keyring.endswith(".asc"):
                usable.append(keyring)
                continue
            text = Path(keyring).read_text(encoding="utf-8", errors="replace")
        if text is not None:
            converted = folder / f"key{index}.gpg"
            converted.write_bytes(dearmor(text))
            usable.append(str(converted))
    return usable


def verify_signature(source: Source, signed: bytes, detached: bytes | None) -> tuple[str, str]:
    """(the signed text, what was verified). ToolError if a signature check ran and failed."""
    text = signed.decode("utf-8", errors="replace")
    if source.trusted:
        return clearsigned_text(text), ("not verified: waived by the configuration (trusted=yes or "
                                       "REPROMATRIX_DEBIAN_KEYRING=none)")
    gpgv = shutil.which("gpgv")
    with tempfile.TemporaryDirectory(prefix="repromatrix-gpgv-") as folder:
        keyrings = _usable_keyrings(source.keyrings, Path(folder))
        if gpgv is None or not keyrings:
            reason = "gpgv is not installed" if gpgv is None else "no keyring found"
            return clearsigned_text(text), f"not verified: {reason}"
        data = Path(folder) / "Release"
        data.write_bytes(signed)
        output = Path(folder) / "signed"
        command = [gpgv, "--quiet"] + [f"--keyring={k}" for k in keyrings]
        if detached is None:
            command += ["--output", str(output), str(data)]
        else:
            signature = Path(folder) / "Release.gpg"
            signature.write_bytes(detached)
            command += [str(signature), str(data)]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            detail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            raise ToolError(f"{source.url('dists/' + source.suite)}: the Release signature does "
                            f"not verify against {', '.join(source.keyrings)} ({detail})")
        body = output.read_text(encoding="utf-8") if detached is None else text
        names = ", ".join(Path(k).name if not k.startswith("-----") else "inline key"
                          for k in source.keyrings)
        return body, f"verified with {names}"


def parse_release(text: str, source: Source, signature: str,
                  now: datetime | None = None) -> Release:
    stanza = next(parse_stanzas(text), {})
    until = stanza.get("valid-until")
    if until:
        try:
            expired = parsedate_to_datetime(until) < (now or datetime.now(timezone.utc))
        except (TypeError, ValueError):
            expired = False
        if expired:
            raise ToolError(f"{source.url('dists/' + source.suite)}: the Release file expired "
                            f"({until}); the mirror is stale")
    files: dict[str, tuple[str, int]] = {}
    for line in stanza.get("sha256", "").splitlines():
        parts = line.split()
        if len(parts) == 3:
            files[parts[2]] = (parts[0].lower(), int(parts[1]))
    if not files:
        raise ToolError(f"{source.url('dists/' + source.suite)}: the Release file lists no "
                        "SHA-256 checksums")
    return Release(source, files, stanza.get("acquire-by-hash", "").lower() == "yes", signature)


def read_release(source: Source) -> Release:
    """The suite's Release, signature checked where possible (InRelease, else Release.gpg)."""
    base = f"dists/{source.suite}"
    try:
        text, signature = verify_signature(source, fetch_bytes(source.url(f"{base}/InRelease")),
                                           None)
    except NotFound:
        release = fetch_bytes(source.url(f"{base}/Release"))
        try:
            detached: bytes | None = fetch_bytes(source.url(f"{base}/Release.gpg"))
        except NotFound:
            detached = None
        if detached is None:
            text, signature = release.decode("utf-8", errors="replace"), "not verified: unsigned"
            if not source.trusted and source.keyrings and shutil.which("gpgv"):
                # no InRelease was a normal answer, not the cause of this
                raise ToolError(f"{source.url(base)}: the Release file is not signed") from None
        else:
            text, signature = verify_signature(source, release, detached)
    return parse_release(text, source, signature)


def read_index(release: Release, component: str, architecture: str) -> str:
    """The Packages index of one component and architecture, SHA-256-checked against Release."""
    return _read_listed(release, f"{component}/binary-{architecture}", "Packages",
                        f"does the suite build {architecture}?")


def read_sources_index(release: Release, component: str) -> str:
    """The Sources index of one component (source packages), SHA-256-checked against Release."""
    return _read_listed(release, f"{component}/source", "Sources", "does the mirror carry sources?")


def _read_listed(release: Release, folder_in_suite: str, name: str, hint: str) -> str:
    base = f"{folder_in_suite}/{name}"
    for suffix, decompress in COMPRESSIONS:
        listed = release.files.get(base + suffix)
        if listed is None:
            continue
        sha256, size = listed
        folder = f"dists/{release.source.suite}/{folder_in_suite}"
        # by-hash names stay valid while the mirror updates, so the index cannot change under us.
        urls = ([release.source.url(f"{folder}/by-hash/SHA256/{sha256}")] if release.by_hash else [])
        urls.append(release.source.url(f"dists/{release.source.suite}/{base}{suffix}"))
        for url in urls:
            try:
                data = fetch_bytes(url)
            except NotFound:
                continue
            if hashlib.sha256(data).hexdigest() != sha256 or len(data) != size:
                raise ChecksumError(f"{url}: SHA-256 does not match the Release file's {sha256}")
            return decompress(data).decode("utf-8", errors="replace")
    raise NotFound(f"{release.source.url('dists/' + release.source.suite)}: no {base} index "
                   f"({hint})")


def package_from(stanza: Stanza, source: Source, signature: str) -> Package:
    try:
        return Package(name=stanza["package"], version=stanza["version"],
                       architecture=stanza.get("architecture", ""), filename=stanza["filename"],
                       sha256=stanza["sha256"].lower(), size=int(stanza["size"]),
                       depends=stanza.get("depends", ""), source=source, signature=signature,
                       pre_depends=stanza.get("pre-depends", ""))
    except (KeyError, ValueError) as error:
        raise ToolError(f"{source.url('dists/' + source.suite)}: the index entry of "
                        f"{stanza.get('package', '?')} lacks a usable {error}") from None


class Index:
    """The Packages indexes of one source and architecture, read once, searched many times."""

    def __init__(self, source: Source, architecture: str) -> None:
        self.source, self.architecture = source, architecture
        self._release: Release | None = None
        self._texts: dict[str, str] = {}

    @property
    def release(self) -> Release:
        if self._release is None:
            self._release = read_release(self.source)
        return self._release

    def _text(self, component: str) -> str:
        if component not in self._texts:
            try:
                self._texts[component] = read_index(self.release, component, self.architecture)
            except NotFound:
                self._texts[component] = ""
        return self._texts[component]

    def find(self, name: str) -> Package | None:
        for component in self.source.components:
            stanza = find_stanza(self._text(component), "Package", name)
            if stanza is not None:
                return package_from(stanza, self.source, self.release.signature)
        return None


def find_package(sources: Sequence[Source], name: str, architecture: str,
                 indexes: dict[tuple[Source, str], Index] | None = None) -> Package:
    """The package from the first source that has it (apt's order); ToolError if none has it."""
    indexes = {} if indexes is None else indexes
    errors: list[ToolError] = []
    for source in sources:
        index = indexes.setdefault((source, architecture), Index(source, architecture))
        try:
            found = index.find(name)
        except (NotFound, Unreachable) as error:  # the next source may have it
            errors.append(error)
            continue
        if found is not None:
            return found
    if errors and len(errors) == len(sources) and all(isinstance(e, Unreachable) for e in errors):
        raise errors[0]  # no network: say that, not "no such package"
    where = ", ".join(f"{s.uri} {s.suite}" for s in sources)
    detail = f" ({errors[0]})" if errors else ""
    raise ToolError(f"no {name} for {architecture} in {where}{detail}")


@dataclass(frozen=True)
class SourcePackage:
    """One stanza of a Sources index: the files of a source package and their SHA-256."""

    name: str
    version: str
    directory: str  # relative to the source's URI, e.g. pool/main/q/qemu
    files: tuple[tuple[str, str, int], ...]  # (file name, sha256, size)
    source: Source
    signature: str

    def url(self, file_name: str) -> str:
        return self.source.url(f"{self.directory}/{file_name}")

    def describe(self) -> str:
        return f"{self.name} {self.version} (source)"


def source_from(stanza: Stanza, source: Source, signature: str) -> SourcePackage:
    files = []
    for line in stanza.get("checksums-sha256", "").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            files.append((parts[2], parts[0].lower(), int(parts[1])))
    if not files or "version" not in stanza or "directory" not in stanza:
        raise ToolError(f"{source.url('dists/' + source.suite)}: the Sources entry of "
                        f"{stanza.get('package', '?')} lacks its version, directory or checksums")
    return SourcePackage(stanza["package"], stanza["version"], stanza["directory"],
                         tuple(sorted(files)), source, signature)


def find_source_package(sources: Sequence[Source], name: str) -> SourcePackage:
    """The source package from the first source whose Sources index has it (apt's order)."""
    errors: list[ToolError] = []
    for source in sources:
        try:
            release = read_release(source)
            for component in source.components:
                try:
                    text = read_sources_index(release, component)
                except NotFound as error:
                    errors.append(error)
                    continue
                stanza = find_stanza(text, "Package", name)
                if stanza is not None:
                    return source_from(stanza, source, release.signature)
        except (NotFound, Unreachable) as error:
            errors.append(error)
    if errors and all(isinstance(e, Unreachable) for e in errors):
        raise errors[0]
    where = ", ".join(f"{s.uri} {s.suite}" for s in sources)
    detail = f" ({errors[0]})" if errors else ""
    raise ToolError(f"no source package {name} in {where}{detail}")
