"""Unpacking members of a .deb in Python: the compressions Debian and Ubuntu ship, unsafe paths."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import _tar, make_deb, sha

from repromatrix.emulation.debian.deb import extract


@pytest.mark.parametrize("compression", ["xz", "gz", ""])
def test_members_unpacked_with_checksums(tmp_path: Path, compression: str) -> None:
    deb = tmp_path / "p.deb"
    deb.write_bytes(make_deb({"usr/bin/tool": b"binary", "usr/share/doc": b"doc"}, compression))
    files = extract(deb, {"usr/bin/tool"}.__contains__, tmp_path / "out")
    assert files == {"usr/bin/tool": sha(b"binary")}
    assert (tmp_path / "out/usr/bin/tool").read_bytes() == b"binary"
    assert not (tmp_path / "out/usr/share").exists()


@pytest.mark.skipif(shutil.which("zstd") is None, reason="needs the zstd command")
def test_zstd_data_member(tmp_path: Path) -> None:
    """Ubuntu compresses data.tar with zstd, which Python's tarfile reads only from 3.14."""
    plain = _tar({"usr/bin/tool": b"binary"}, "")
    packed = subprocess.run(["zstd", "-q", "-c"], input=plain, capture_output=True,
                            check=True).stdout
    deb = io.BytesIO()
    deb.write(b"!<arch>\n")
    for name, data in [("debian-binary", b"2.0\n"), ("data.tar.zst", packed)]:
        deb.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode())
        deb.write(data + (b"\n" if len(data) % 2 else b""))
    (tmp_path / "p.deb").write_bytes(deb.getvalue())
    assert extract(tmp_path / "p.deb", lambda name: True, tmp_path / "out") == {
        "usr/bin/tool": sha(b"binary")}


def test_paths_escaping_the_folder_are_skipped(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name in ("../evil", "./ok"):
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    deb = make_deb({})  # then swap its data member for the crafted one
    deb = deb[:deb.index(b"data.tar.xz")]
    deb += f"{'data.tar.xz':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(buffer.getvalue()):<10}`\n".encode()
    deb += buffer.getvalue()
    (tmp_path / "p.deb").write_bytes(deb)
    assert extract(tmp_path / "p.deb", lambda name: True, tmp_path / "out") == {"ok": sha(b"x")}
    assert not (tmp_path / "evil").exists()
