"""Where the Debian archive is: the machine's apt configuration, else REPROMATRIX_DEBIAN_MIRROR.

No archive host is written into the code: a Debian or Ubuntu machine already names its mirror
(``/etc/apt/sources.list`` one-line entries and ``/etc/apt/sources.list.d/*.sources`` deb822
stanzas), and anywhere else the user names one. Only the configuration is read; nothing is changed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from repromatrix.emulation.debian.control import parse_stanzas, words
from repromatrix.errors import ToolError

MIRROR_VARIABLE = "REPROMATRIX_DEBIAN_MIRROR"
SUITE_VARIABLE = "REPROMATRIX_DEBIAN_SUITE"
KEYRING_VARIABLE = "REPROMATRIX_DEBIAN_KEYRING"
# Where Debian's archive keyring lives when the package debian-archive-keyring is installed.
DEBIAN_KEYRING = "usr/share/keyrings/debian-archive-keyring.gpg"
SCHEMES = ("http://", "https://", "file:")


@dataclass(frozen=True)
class Source:
    """One ``deb URI SUITE COMPONENT...`` entry: where a suite's indexes and pool live."""

    uri: str  # without a trailing slash
    suite: str
    components: tuple[str, ...]
    keyrings: tuple[str, ...] = ()  # files to check the Release signature with
    trusted: bool = False  # apt's trusted=yes: the user has waived the signature check
    where: str = ""  # the file that configured it, for messages

    def url(self, path: str) -> str:
        return f"{self.uri}/{path}"


def _source(uri: str, suite: str, components: list[str], keyrings: tuple[str, ...],
            trusted: bool, where: str) -> Source | None:
    # Flat repositories (suite ending in '/') and transports urllib cannot speak are skipped.
    if not uri.startswith(SCHEMES) or suite.endswith("/") or not components:
        return None
    return Source(uri.rstrip("/"), suite, tuple(components), keyrings, trusted, where)


def parse_one_line(text: str, where: str = "", root: Path = Path("/")) -> list[Source]:
    """``deb [opt=value ...] URI SUITE COMPONENT...`` lines of a ``.list`` file."""
    sources = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        options: dict = {}
        match = re.match(r"^(\S+)\s+\[([^\]]*)\]\s*(.*)$", line)
        if match:
            kind, option_text, rest = match.groups()
            for option in option_text.split():
                name, _, value = option.partition("=")
                options[name.lower()] = value
            fields = [kind, *rest.split()]
        else:
            fields = line.split()
        if len(fields) < 3 or fields[0] != "deb":
            continue
        keyrings = _keyrings(options.get("signed-by", ""), root)
        source = _source(fields[1], fields[2], fields[3:], keyrings,
                         options.get("trusted", "").lower() == "yes", where)
        if source:
            sources.append(source)
    return sources


def parse_deb822(text: str, where: str = "", root: Path = Path("/")) -> list[Source]:
    """Stanzas of a ``.sources`` file (Types, URIs, Suites, Components, Signed-By, Enabled)."""
    sources = []
    for stanza in parse_stanzas(text, comments=True):
        if "deb" not in words(stanza.get("types", "")):
            continue
        if stanza.get("enabled", "yes").strip().lower() == "no":
            continue
        keyrings = _keyrings(stanza.get("signed-by", ""), root)
        trusted = stanza.get("trusted", "").strip().lower() == "yes"
        for uri in words(stanza.get("uris", "")):
            for suite in words(stanza.get("suites", "")):
                source = _source(uri, suite, words(stanza.get("components", "")), keyrings,
                                 trusted, where)
                if source:
                    sources.append(source)
    return sources


def _keyrings(signed_by: str, root: Path) -> tuple[str, ...]:
    """Signed-By as keyring files; an inline armored key is kept as text (``archive`` writes it)."""
    if "BEGIN PGP PUBLIC KEY BLOCK" in signed_by:
        return (signed_by,)
    return tuple(str(root / path.lstrip("/")) for path in signed_by.replace(",", " ").split()
                 if path.startswith("/"))


def apt_sources(root: Path = Path("/")) -> list[Source]:
    """The machine's apt sources in apt's order: sources.list, then sources.list.d by name."""
    apt = root / "etc" / "apt"
    files = [apt / "sources.list"]
    folder = apt / "sources.list.d"
    if folder.is_dir():
        files += sorted(p for p in folder.iterdir() if p.suffix in (".list", ".sources"))
    sources: list[Source] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        parse = parse_deb822 if path.suffix == ".sources" else parse_one_line
        sources += parse(text, str(path), root)
    return sources


def default_keyrings(root: Path) -> tuple[str, ...]:
    """What apt trusts when a source has no Signed-By: trusted.gpg and trusted.gpg.d."""
    apt = root / "etc" / "apt"
    found = [apt / "trusted.gpg"] if (apt / "trusted.gpg").is_file() else []
    folder = apt / "trusted.gpg.d"
    if folder.is_dir():
        found += sorted(p for p in folder.iterdir() if p.suffix in (".gpg", ".asc"))
    return tuple(str(p) for p in found)


def configured_sources(environ: Mapping[str, str] = os.environ,
                       root: Path = Path("/")) -> list[Source]:
    """The sources to search, best first; ToolError (one line) if there are none.

    REPROMATRIX_DEBIAN_MIRROR (with REPROMATRIX_DEBIAN_SUITE, component main) wins over apt, so a
    user can point at another mirror or suite without touching the machine's configuration.
    """
    mirror = environ.get(MIRROR_VARIABLE, "").strip()
    suite = environ.get(SUITE_VARIABLE, "").strip()
    if mirror:
        if not mirror.startswith(SCHEMES):
            raise ToolError(f"{MIRROR_VARIABLE}={mirror!r}: use an http://, https:// or file: URL")
        if not suite:
            raise ToolError(f"{MIRROR_VARIABLE} is set: also set {SUITE_VARIABLE} "
                            "(a Debian suite such as bookworm)")
        keyring = environ.get(KEYRING_VARIABLE)
        if keyring is None:
            keyrings: tuple[str, ...] = (str(root / DEBIAN_KEYRING),)
        elif keyring.strip().lower() == "none":
            keyrings = ()
        else:
            keyrings = tuple(k for k in keyring.split(os.pathsep) if k)
        return [Source(mirror.rstrip("/"), suite, ("main",), keyrings,
                       trusted=not keyrings, where=MIRROR_VARIABLE)]
    sources = apt_sources(root)
    if suite:  # the machine's mirrors, another suite (e.g. bookworm on an older release)
        sources = [Source(s.uri, suite, s.components, s.keyrings, s.trusted, s.where)
                   for s in sources]
        sources = list(dict.fromkeys(sources))
    defaults = default_keyrings(root)
    sources = [s if s.keyrings or s.trusted else
               Source(s.uri, s.suite, s.components, defaults, s.trusted, s.where) for s in sources]
    if not sources:
        raise ToolError(f"no Debian archive configured on this machine (no usable deb entry in "
                        f"{root / 'etc/apt'}): set {MIRROR_VARIABLE} to a Debian mirror URL and "
                        f"{SUITE_VARIABLE} to a suite")
    return sources
