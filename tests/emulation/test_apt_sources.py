"""Finding the Debian archive from apt's configuration (both formats) or the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from repromatrix.emulation.debian.archive import clearsigned_text, dearmor
from repromatrix.emulation.debian.control import find_stanza
from repromatrix.emulation.debian.sources import (
    Source,
    configured_sources,
    parse_deb822,
    parse_one_line,
)
from repromatrix.errors import ToolError

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://example.invalid/disabled
Suites: bookworm
Components: main
Enabled: no
"""

ONE_LINE = """\
# the main archive
deb [arch=amd64 signed-by=/etc/apt/keyrings/mirror.gpg] https://mirror.example/debian/ bookworm main contrib
deb-src http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian-security bookworm-security main  # security
deb [trusted=yes] file:/srv/repo ./
deb cdrom:[Debian 12]/ bookworm main
"""


def test_deb822_stanzas() -> None:
    sources = parse_deb822(DEB822, "debian.sources", Path("/r"))
    keyring = ("/r/usr/share/keyrings/debian-archive-keyring.gpg",)
    assert sources == [
        Source("http://deb.debian.org/debian", "bookworm", ("main",), keyring, False, "debian.sources"),
        Source("http://deb.debian.org/debian", "bookworm-updates", ("main",), keyring, False,
               "debian.sources"),
    ]


def test_one_line_entries() -> None:
    sources = parse_one_line(ONE_LINE, "sources.list", Path("/"))
    assert [(s.uri, s.suite, s.components, s.keyrings) for s in sources] == [
        ("https://mirror.example/debian", "bookworm", ("main", "contrib"),
         ("/etc/apt/keyrings/mirror.gpg",)),
        ("http://deb.debian.org/debian-security", "bookworm-security", ("main",), ()),
    ]  # deb-src, a flat repository and a cdrom are skipped


def test_machine_configuration_in_apt_order(tmp_path: Path) -> None:
    apt = tmp_path / "etc" / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list").write_text(ONE_LINE)
    (apt / "sources.list.d" / "debian.sources").write_text(DEB822)
    (apt / "sources.list.d" / "old.list.disabled").write_text("deb http://x.invalid/ a main\n")
    (apt / "trusted.gpg.d").mkdir()
    (apt / "trusted.gpg.d" / "debian.asc").write_text("key")
    sources = configured_sources({}, tmp_path)
    assert [(s.uri, s.suite) for s in sources] == [
        ("https://mirror.example/debian", "bookworm"),
        ("http://deb.debian.org/debian-security", "bookworm-security"),
        ("http://deb.debian.org/debian", "bookworm"),
        ("http://deb.debian.org/debian", "bookworm-updates"),
    ]
    # An entry without Signed-By is checked with apt's trusted.gpg.d, as apt does.
    assert sources[1].keyrings == (str(apt / "trusted.gpg.d" / "debian.asc"),)


def test_setting_wins_over_apt(tmp_path: Path) -> None:
    sources = configured_sources({"REPROMATRIX_DEBIAN_MIRROR": "https://m.example/debian/",
                                  "REPROMATRIX_DEBIAN_SUITE": "trixie"}, tmp_path)
    assert sources == [Source("https://m.example/debian", "trixie", ("main",),
                              (str(tmp_path / "usr/share/keyrings/debian-archive-keyring.gpg"),),
                              False, "REPROMATRIX_DEBIAN_MIRROR")]


@pytest.mark.parametrize("environ, message", [
    ({}, "no Debian archive configured on this machine .*: set REPROMATRIX_DEBIAN_MIRROR"),
    ({"REPROMATRIX_DEBIAN_MIRROR": "http://m.example"}, "also set REPROMATRIX_DEBIAN_SUITE"),
    ({"REPROMATRIX_DEBIAN_MIRROR": "ftp://m", "REPROMATRIX_DEBIAN_SUITE": "x"}, "use an http"),
])
def test_no_archive_is_one_line(tmp_path: Path, environ: dict, message: str) -> None:
    with pytest.raises(ToolError, match=message) as caught:
        configured_sources(environ, tmp_path)
    assert "\n" not in str(caught.value)


def test_clearsigned_body_and_stanza_lookup() -> None:
    signed = ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSuite: stable\n- -dash\n"
              "-----BEGIN PGP SIGNATURE-----\nxyz\n-----END PGP SIGNATURE-----\n")
    assert clearsigned_text(signed) == "Suite: stable\n-dash\n"
    index = "Package: a\nVersion: 1\n\nArchitecture: amd64\nPackage: b\nVersion: 2\n"
    assert find_stanza(index, "Package", "b") == {"architecture": "amd64", "package": "b",
                                                  "version": "2"}
    assert find_stanza(index, "Package", "c") is None


def test_dearmor() -> None:
    armored = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\naGVsbG8=\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n"
    assert dearmor(armored) == b"hello"
