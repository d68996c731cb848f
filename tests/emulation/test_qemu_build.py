"""The patched qemu's build: its cache key, what counts as built, the tools it needs, the source
tree it unpacks (the build itself runs for real in tests/integration/test_lab.py)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from repromatrix.emulation import qemu_build as B
from repromatrix.errors import ToolError

FILES = (("qemu_7.2.orig.tar.xz", "a" * 64, 10), ("qemu_7.2-7.debian.tar.xz", "b" * 64, 5))


def test_the_patch_touches_every_estimate_helper() -> None:
    text = B.patch_bytes().decode()
    assert text.count("estimate_rsqrt_bits(s->ZMM_L(") == 2  # rsqrtps (xmm/ymm) and rsqrtss
    assert text.count("estimate_rcp_bits(s->ZMM_L(") == 2  # rcpps and rcpss
    assert "+++ b/target/i386/estimate.h" in text and "REPROMATRIX_QEMU_ESTIMATES" in text


def test_the_key_follows_the_sources_the_patch_and_the_flags(monkeypatch) -> None:
    key = B.build_key(FILES)
    assert key == B.build_key(FILES) and len(key) == 16
    assert B.build_key(FILES[:1]) != key
    monkeypatch.setattr(B, "CONFIGURE_FLAGS", B.CONFIGURE_FLAGS + ("--enable-debug",))
    assert B.build_key(FILES) != key
    monkeypatch.setattr(B, "patch_bytes", lambda: b"another patch")
    assert B.build_key(FILES) != key


def built(tmp_path: Path, name: str | None = None, content: bytes = b"\x7fELF qemu") -> Path:
    folder = tmp_path / "qemu-estimates" / (name or B.build_key(FILES))
    folder.mkdir(parents=True)
    (folder / B.TARGET).write_bytes(content)
    from repromatrix.emulation.debian.download import sha256_file

    (folder / "build.json").write_text(json.dumps({
        "format": B.FORMAT, "version": "1:7.2+dfsg-7+deb12u18", "patch": B.patch_sha256(),
        "files": [list(f) for f in FILES], "sha256": sha256_file(folder / B.TARGET)}),
        encoding="utf-8")
    return folder / B.TARGET


def test_cached_needs_this_key_and_an_intact_binary(tmp_path: Path) -> None:
    environ = {"REPROMATRIX_CACHE": str(tmp_path)}
    assert B.cached(environ) is None
    binary = built(tmp_path)
    found = B.cached(environ)
    assert found is not None and found.path == str(binary)
    assert "1:7.2+dfsg-7+deb12u18" in found.describe()
    binary.write_bytes(b"tampered")
    assert B.cached(environ) is None


def test_a_build_with_other_flags_or_patch_or_format_is_not_used(tmp_path: Path,
                                                                 monkeypatch) -> None:
    environ = {"REPROMATRIX_CACHE": str(tmp_path)}
    built(tmp_path)
    assert B.cached(environ) is not None
    for name, value in (("CONFIGURE_FLAGS", B.CONFIGURE_FLAGS + ("--enable-debug",)),
                        ("FORMAT", B.FORMAT + 1), ("patch_bytes", lambda: b"another patch")):
        with monkeypatch.context() as patched:
            patched.setattr(B, name, value)
            assert B.cached(environ) is None, name


def test_a_build_being_staged_is_not_used(tmp_path: Path) -> None:
    built(tmp_path, name=f".{B.build_key(FILES)}.new")
    assert B.cached({"REPROMATRIX_CACHE": str(tmp_path)}) is None


def test_a_provided_build_wins_and_must_be_executable(tmp_path: Path) -> None:
    program = tmp_path / "qemu"
    program.write_text("#!/bin/sh\n")
    with pytest.raises(ToolError, match="REPROMATRIX_QEMU_ESTIMATING=.* is not an executable"):
        B.cached({B.VARIABLE: str(program)})
    program.chmod(0o755)
    assert B.cached({B.VARIABLE: str(program)}).version == "provided"


@pytest.mark.parametrize(("missing", "package"), [("patch", "patch"), ("cc", "gcc")])
def test_a_missing_tool_is_one_line_naming_the_package(missing: str, package: str) -> None:
    gone = {"cc", "gcc", "clang"} if missing == "cc" else {missing}

    def which(name: str) -> str | None:
        return None if name in gone else f"/usr/bin/{name}"

    with pytest.raises(ToolError) as caught:
        B.missing_tools(which)
    message = str(caught.value)
    assert "\n" not in message and f"apt-get install {package}" in message


def test_what_pypi_has_is_installed_instead(monkeypatch) -> None:
    monkeypatch.setattr(B, "_meson_version", lambda path: (1, 0, 1))
    everything = B.missing_tools(lambda name: f"/usr/bin/{name}")
    assert everything.from_pypi() == [] and everything.meson == "/usr/bin/meson"
    bare = B.missing_tools(lambda name: f"/usr/bin/{name}" if name in ("cc", "patch") else None)
    assert bare.from_pypi() == ["meson==1.0.1", "ninja==1.13.2", "pkgconf==2.4.3.post2"]
    monkeypatch.setattr(B, "_meson_version", lambda path: (0, 59, 0))  # too old for qemu 7.2
    assert B.missing_tools(lambda name: f"/usr/bin/{name}").from_pypi() == ["meson==1.0.1"]


def tarball(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:xz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_link_out_of_the_tree_is_not_followed(tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    with tarfile.open(downloads / FILES[0][0], "w:xz") as tar:
        link = tarfile.TarInfo("qemu-7.2/link")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        tar.addfile(link)
        for name in ("qemu-7.2/link/x", "qemu-7.2/up"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"no"))
        up = tarfile.TarInfo("qemu-7.2/uplink")
        up.type, up.linkname = tarfile.SYMTYPE, "../../outside"
        tar.addfile(up)
    tarball(downloads / FILES[1][0], {"debian/patches/series": b""})
    try:
        B._unpack(FILES, downloads, tmp_path / "src")
    except (tarfile.TarError, OSError):
        pass  # refusing the archive is as good as skipping its bad members
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "src" / "link").is_symlink()
    assert not (tmp_path / "src" / "uplink").exists()


def test_only_qemu_7_2_is_built(monkeypatch) -> None:
    from repromatrix.emulation.debian import archive

    def offering(version: str):
        return lambda sources, name: archive.SourcePackage(name, version, "pool/main/q/qemu",
                                                           FILES, None, "verified")  # type: ignore[arg-type]

    monkeypatch.setattr(archive, "find_source_package", offering("1:10.0.2+ds-1"))
    with pytest.raises(ToolError, match="the estimates patch is for qemu 7.2 .* offers qemu "
                                        "1:10.0.2"):
        B.find_source({"REPROMATRIX_DEBIAN_MIRROR": "http://x", "REPROMATRIX_DEBIAN_SUITE": "y"})
    monkeypatch.setattr(archive, "find_source_package", offering("1:7.2+dfsg-7+deb12u18"))
    assert B.find_source({"REPROMATRIX_DEBIAN_MIRROR": "http://x",
                          "REPROMATRIX_DEBIAN_SUITE": "y"}).version == "1:7.2+dfsg-7+deb12u18"


def test_the_build_looks_in_bookworm_whatever_the_machine_runs(tmp_path: Path,
                                                               monkeypatch) -> None:
    from repromatrix.emulation.debian import sources

    trixie = sources.Source("http://deb.debian.org/debian", "trixie", ("main",))
    monkeypatch.setattr(sources, "apt_sources", lambda root=None: [trixie])
    found = B.build_sources({})
    assert [(s.uri, s.suite) for s in found] == [("http://deb.debian.org/debian", "bookworm")]
    bookworm = sources.Source("http://mirror.example/debian", "bookworm", ("main",))
    monkeypatch.setattr(sources, "apt_sources", lambda root=None: [trixie, bookworm])
    assert [(s.uri, s.suite) for s in B.build_sources({})] == [("http://mirror.example/debian",
                                                                  "bookworm")]


def test_the_source_tree_is_upstream_plus_debian_and_stays_inside(tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    tarball(downloads / FILES[0][0], {"qemu-7.2/configure": b"#!/bin/sh\n",
                                      "qemu-7.2/../../escape": b"no", "/etc/evil": b"no"})
    tarball(downloads / FILES[1][0], {"debian/patches/series": b"a.diff\n"})
    tree = B._unpack(FILES, downloads, tmp_path / "src")
    assert (tree / "configure").read_bytes() == b"#!/bin/sh\n"
    assert (tree / "debian/patches/series").is_file()
    assert not (tmp_path / "escape").exists() and not (tree / "etc").exists()


def test_patches_apply_in_series_order_then_ours(tmp_path: Path) -> None:
    import shutil

    if shutil.which("patch") is None:
        pytest.skip("needs patch(1)")
    tree = tmp_path / "src"
    (tree / "debian" / "patches").mkdir(parents=True)
    (tree / "f.txt").write_text("one\n")
    (tree / "debian/patches/series").write_text("# comment\nfirst.diff\n")
    (tree / "debian/patches/first.diff").write_text(
        "--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-one\n+two\n")
    with (tmp_path / "build.log").open("w") as log, \
            pytest.raises(ToolError, match="at the estimates patch"):
        B._apply_patches("patch", tree, log)  # ours needs qemu's tree: the error names it
    assert (tree / "f.txt").read_text() == "two\n"
