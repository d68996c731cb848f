"""Reading a file the user named, safely: a regular file only, and never more than a bound.

``/dev/zero`` would be read until memory runs out and a FIFO would block forever, so every
user-named file (matrix, data CSV, artifacts, PR-comment inputs, logs) is read through
``read_bounded``. The file is opened without blocking, its type checked on the open descriptor
(not by a separate ``stat`` that a swapped file could fool), and at most ``limit + 1`` bytes are
read, so the bound holds even for a file that grows, or lies about its size, while it is read.
Imports on Python 3.9: the runner reads its data inside the pinned venv.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MiB = 2**20


class UnreadableFile(Exception):
    """Why a file cannot be read, in a few words ("no such file", "larger than 64 MiB").

    ``kind`` lets a caller word the common cases its own way: "missing", "folder", "special"
    (a FIFO, a device), "too-large" or "error".
    """

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(reason)


def size_text(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit >= MiB and limit % MiB == 0 else f"{limit} bytes"


def read_bounded(path: str | Path, limit: int, tail: bool = False) -> bytes:
    """The bytes of the regular file ``path``; more than ``limit`` bytes is an error.

    With ``tail``, a larger file is not an error: its last ``limit`` bytes are returned (for a
    log, whose end is what matters).
    """
    # O_NONBLOCK: opening a FIFO for reading must not wait for a writer; no effect on files.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise UnreadableFile("missing", "no such file") from None
    except IsADirectoryError:
        raise UnreadableFile("folder", "is a folder, not a file") from None
    except OSError as error:
        raise UnreadableFile("error", f"cannot read: {error.strerror or error}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):  # Linux opens a folder read-only without complaint
            raise UnreadableFile("folder", "is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise UnreadableFile("special", f"not a regular file ({_kind(mode)})")
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            if tail:
                size = os.fstat(descriptor).st_size
                if size > limit:
                    handle.seek(size - limit)
                return handle.read(limit)
            data = handle.read(limit + 1)
    except OSError as error:
        raise UnreadableFile("error", f"cannot read: {error.strerror or error}") from None
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise UnreadableFile("too-large", f"larger than {size_text(limit)}")
    return data


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"
