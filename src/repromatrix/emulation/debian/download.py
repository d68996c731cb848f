"""HTTP(S)/file downloads with progress and a SHA-256 check; nothing unverified is kept."""

from __future__ import annotations

import hashlib
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, TextIO

from repromatrix.errors import ToolError

CHUNK = 1 << 16
TIMEOUT_SECONDS = 30
TERMINAL_INTERVAL = 0.2  # seconds between redraws of the progress line on a terminal
LOG_INTERVAL = 10.0  # seconds between progress lines in a log (CI, nox's captured output)


class NotFound(ToolError):
    """The server answered 404: the file is not there (try another name or source)."""


class Unreachable(ToolError):
    """No answer from the server (no network, DNS failure, refused connection, timeout)."""


class Progress:
    """Progress of one download: a redrawn line on a terminal, a line every 10 s in a log."""

    def __init__(self, label: str, total: int, stream: TextIO = sys.stderr,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.stream, self.clock = label, total, stream, clock
        self.terminal = bool(getattr(stream, "isatty", lambda: False)())
        self.started = self.last = clock()
        self.done = 0
        if not self.terminal:
            self._line(f"downloading {label} ({_mb(total)})")

    def advance(self, count: int) -> None:
        self.done += count
        now = self.clock()
        if now - self.last < (TERMINAL_INTERVAL if self.terminal else LOG_INTERVAL):
            return
        self.last = now
        percent = f" {100 * self.done // self.total}%" if self.total else ""
        text = f"{self.label}:{percent} ({_mb(self.done)} of {_mb(self.total)})"
        if self.terminal:
            self.stream.write(f"\rrepromatrix: {text}\033[K")
            self.stream.flush()
        else:
            self._line(text)

    def finish(self) -> None:
        if self.terminal:
            self.stream.write("\r\033[K")
        self._line(f"downloaded {self.label} ({_mb(self.done)}) in "
                   f"{self.clock() - self.started:.0f} s")

    def _line(self, text: str) -> None:
        self.stream.write(f"repromatrix: {text}\n")
        self.stream.flush()


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _open(url: str):
    try:
        return urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS)  # noqa: S310 (http/file only)
    except urllib.error.HTTPError as error:
        if error.code in (404, 410):
            raise NotFound(f"{url}: not found on the server ({error.code})") from None
        raise ToolError(f"{url}: the server answered {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise Unreachable(f"cannot reach {url} ({reason})") from None


def fetch_bytes(url: str) -> bytes:
    """A small file (Release, InRelease) in memory; its trust comes from the signature check."""
    with _open(url) as response:
        try:
            return response.read()
        except OSError as error:
            raise ToolError(f"{url}: download interrupted ({error})") from None


def fetch_verified(url: str, sha256: str, size: int | None, destination: Path,
                   label: str, stream: TextIO = sys.stderr) -> Path:
    """Download ``url`` to ``destination`` only if its SHA-256 (and size) match; else ToolError.

    The bytes go to a ``.part`` file that is renamed only after the check, so a crash or a
    mismatch never leaves a file at ``destination``.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    digest = hashlib.sha256()
    try:
        with _open(url) as response, partial.open("wb") as out:
            progress = Progress(label, size or int(response.headers.get("Content-Length") or 0),
                                stream)
            while True:
                try:
                    chunk = response.read(CHUNK)
                except OSError as error:
                    raise ToolError(f"{url}: download interrupted ({error})") from None
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                progress.advance(len(chunk))
            progress.finish()
        got = digest.hexdigest()
        if got != sha256.lower() or (size is not None and partial.stat().st_size != size):
            raise ChecksumError(f"{url}: SHA-256 {got} does not match the index's {sha256} "
                                "(file discarded)")
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return destination


class ChecksumError(ToolError):
    """Downloaded or cached bytes are not the ones the signed index names."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
