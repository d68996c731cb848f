"""Unpacking chosen members of a ``.deb`` in Python, without dpkg and without root.

A ``.deb`` is an ``ar`` archive holding ``debian-binary``, ``control.tar.*`` and ``data.tar.*``;
Debian compresses data.tar with xz (gzip and zstd also occur, zstd on Ubuntu). Python's tarfile
reads xz and gzip; zstd only from Python 3.14, so before that the ``zstd`` command decompresses.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Callable

from repromatrix.errors import ToolError

AR_MAGIC = b"!<arch>\n"
AR_HEADER = 60
Wanted = Callable[[str], bool]  # member path (no leading "./") -> extract it?


def ar_members(handle: IO[bytes]) -> Iterator[tuple[str, int, int]]:
    """(name, offset, size) of each member of an ``ar`` archive."""
    if handle.read(len(AR_MAGIC)) != AR_MAGIC:
        raise ToolError("not a Debian package (no ar header)")
    offset = len(AR_MAGIC)
    while True:
        handle.seek(offset)
        header = handle.read(AR_HEADER)
        if len(header) < AR_HEADER:
            return
        if header[58:60] != b"`\n":
            raise ToolError("damaged Debian package (bad ar member header)")
        name = header[:16].decode("ascii", errors="replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        yield name, offset + AR_HEADER, size
        offset += AR_HEADER + size + (size & 1)  # members are padded to an even offset


class _Slice:
    """A read-only window of a file: the data.tar member, streamed without copying it out."""

    def __init__(self, handle: IO[bytes], offset: int, size: int) -> None:
        self.handle, self.left = handle, size
        handle.seek(offset)

    def read(self, count: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        count = self.left if count < 0 else min(count, self.left)
        data = self.handle.read(count)
        self.left -= len(data)
        return data


def _open_tar(name: str, stream: _Slice) -> tuple[tarfile.TarFile, Callable[[], None]]:
    """The data tarball as a streaming TarFile, and how to clean up after it."""
    suffix = name.rsplit(".", 1)[-1] if name.count(".") > 1 else ""
    modes = {"xz": "r|xz", "gz": "r|gz", "bz2": "r|bz2", "": "r|"}
    if suffix in modes:
        return tarfile.open(fileobj=stream, mode=modes[suffix]), lambda: None  # type: ignore
    if suffix == "zst":
        if sys.version_info >= (3, 14):
            return tarfile.open(fileobj=stream, mode="r|zst"), lambda: None  # type: ignore
        zstd = shutil.which("zstd")
        if zstd is None:
            raise ToolError("this package's data is zstd-compressed: install the zstd command "
                            "(or use Python 3.14+)")
        process = subprocess.Popen([zstd, "-dc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert process.stdin is not None and process.stdout is not None

        def feed() -> None:  # write the compressed bytes from a thread: pipes are bounded
            with process.stdin:  # type: ignore[union-attr]
                for chunk in iter(lambda: stream.read(1 << 16), b""):
                    try:
                        process.stdin.write(chunk)  # type: ignore[union-attr]
                    except BrokenPipeError:
                        return

        import threading

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()

        def close() -> None:
            process.kill()
            process.wait()

        return tarfile.open(fileobj=process.stdout, mode="r|"), close
    raise ToolError(f"unsupported data member {name!r} in the Debian package")


def _safe_path(name: str) -> str | None:
    """The member's path relative to the package root, or None if it would escape it."""
    path = PurePosixPath(name.lstrip("/"))
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def extract(deb: Path, wanted: Wanted, destination: Path,
            stop_after: int | None = None) -> dict[str, str]:
    """Unpack the wanted members of ``deb`` under ``destination``; {path: sha256 or '-> target'}.

    Regular files get their SHA-256 (the cache checks it before every use), symbolic links their
    target. ``stop_after``: stop reading once that many members were unpacked (the binaries of
    qemu-user-static sit in a 380 MB tarball; there is no index to seek to them).
    """
    found: dict[str, str] = {}
    with deb.open("rb") as handle:
        data = next(((name, offset, size) for name, offset, size in ar_members(handle)
                     if name.startswith("data.tar")), None)
        if data is None:
            raise ToolError(f"{deb.name}: no data.tar member")
        tar, close = _open_tar(data[0], _Slice(handle, data[1], data[2]))
        try:
            for member in tar:
                relative = _safe_path(member.name)
                if relative is None or not wanted(relative):
                    continue
                target = destination / relative
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_symlink() or target.exists():
                    target.unlink()
                if member.issym():
                    os.symlink(member.linkname, target)
                    found[relative] = f"-> {member.linkname}"
                elif member.islnk():
                    source = _safe_path(member.linkname)
                    if source is None or source not in found:
                        continue
                    shutil.copy2(destination / source, target)
                    found[relative] = found[source]
                elif member.isfile():
                    found[relative] = _write(tar, member, target)
                if stop_after is not None and len(found) >= stop_after:
                    break
        except (tarfile.TarError, EOFError, OSError) as error:
            raise ToolError(f"{deb.name}: cannot unpack ({error})") from None
        finally:
            tar.close()
            close()
    return found


def _write(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> str:
    source = tar.extractfile(member)
    assert source is not None
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            out.write(chunk)
            digest.update(chunk)
    os.chmod(target, member.mode & 0o755)  # never setuid; executables stay executable
    return digest.hexdigest()
