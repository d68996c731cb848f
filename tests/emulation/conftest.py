"""A tiny Debian archive served on 127.0.0.1, built by the tests: Release, Packages, a .deb."""

from __future__ import annotations

import hashlib
import io
import lzma
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SUITE = "stable"
GOOD_VERSION = "9.9.9 (fake)"


def fake_qemu(marker: Path, tag: str = "good") -> bytes:
    """A shell script standing in for qemu: logs every run to ``marker``, answers -version/-cpu."""
    return (f"#!/bin/sh\necho {tag} \"$@\" >> '{marker}'\n"
            "case \"$1\" in\n"
            f"  -version) echo 'qemu-x86_64 version {GOOD_VERSION}';;\n"
            "  -cpu) [ \"$2\" = help ] && echo 'x86 Haswell   (alias configured by machine type)';;\n"
            "esac\n").encode()


def _tar(members: dict[str, bytes], compression: str = "xz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}" if compression else "w") as tar:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(f"./{name}")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_deb(members: dict[str, bytes], compression: str = "xz") -> bytes:
    """An ar archive as dpkg-deb builds it: debian-binary, control.tar.xz, data.tar.<comp>."""
    suffix = {"xz": ".xz", "gz": ".gz", "": ""}[compression]
    parts = [("debian-binary", b"2.0\n"),
             ("control.tar.xz", _tar({"control": b"Package: fake\n"})),
             (f"data.tar{suffix}", _tar(members, compression))]
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in parts:
        out.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode())
        out.write(data + (b"\n" if len(data) % 2 else b""))
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Archive:
    """The files an HTTP server serves (path -> bytes) and the requests it received."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def count(self, suffix: str) -> int:
        return sum(1 for r in self.requests if r.endswith(suffix))

    def publish(self, packages: list[dict[str, str]], debs: dict[str, bytes],
                listed: dict[str, bytes] | None = None, architecture: str = "amd64") -> None:
        """Write pool files, Packages.xz and an (unsigned) InRelease naming their SHA-256.

        ``listed``: bytes whose checksum the index states instead of the served .deb's (a
        tampered download)."""
        stanzas = []
        for stanza in packages:
            filename = stanza["Filename"]
            named = (listed or {}).get(filename, debs[filename])
            stanza = {**stanza, "Size": str(len(named)), "SHA256": sha(named)}
            stanzas.append("".join(f"{k}: {v}\n" for k, v in stanza.items()))
            self.files[filename] = debs[filename]
        index = lzma.compress("\n".join(stanzas).encode())
        path = f"main/binary-{architecture}/Packages.xz"
        self.files[f"dists/{SUITE}/{path}"] = index
        self.files[f"dists/{SUITE}/InRelease"] = (
            f"Suite: {SUITE}\nArchitectures: {architecture}\nComponents: main\nSHA256:\n"
            f" {sha(index)} {len(index)} {path}\n").encode()


@pytest.fixture
def archive() -> Iterator[Archive]:
    served = Archive()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.lstrip("/")
            served.requests.append(path)
            data = served.files.get(path)
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield served
    server.shutdown()
    server.server_close()


@pytest.fixture
def environ(archive: Archive, tmp_path: Path) -> dict[str, str]:
    """Settings pointing at the fake archive, with an empty cache and no qemu configured."""
    return {"REPROMATRIX_DEBIAN_MIRROR": archive.url, "REPROMATRIX_DEBIAN_SUITE": SUITE,
            "REPROMATRIX_DEBIAN_KEYRING": "none", "REPROMATRIX_CACHE": str(tmp_path / "cache"),
            "HOME": str(tmp_path)}
