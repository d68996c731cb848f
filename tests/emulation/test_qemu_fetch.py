"""Fetching qemu from a Debian archive (a fake one on 127.0.0.1): verified, cached, never run
unverified; every failure one line."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GOOD_VERSION, Archive, fake_qemu, make_deb

from repromatrix.emulation import qemu
from repromatrix.emulation.debian.download import Progress
from repromatrix.errors import ToolError

BINARY = "usr/bin/qemu-x86_64-static"
DEB = "pool/main/q/qemu/qemu-user-static_1.0_amd64.deb"
STANZA = {"Package": "qemu-user-static", "Version": "1:1.0-1", "Architecture": "amd64",
          "Filename": DEB}


def find(environ: dict[str, str]) -> str:
    return qemu.find_qemu("Haswell", which=lambda name: None, machine="x86_64",
                          environ=environ, system="Linux")


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "runs.log"


def runs(marker: Path) -> str:
    return marker.read_text() if marker.exists() else ""


class TestFetch:
    def test_fetched_verified_then_used_from_cache_offline(
            self, archive: Archive, environ: dict[str, str], marker: Path) -> None:
        archive.publish([STANZA], {DEB: make_deb({BINARY: fake_qemu(marker)})})
        path = find(environ)
        assert path.startswith(environ["REPROMATRIX_CACHE"]) and path.endswith(BINARY)
        found = qemu.located(path)
        assert found is not None
        assert (found.source, found.package, found.version) == (
            "debian", "qemu-user-static 1:1.0-1 (amd64)", GOOD_VERSION)
        command = qemu.qemu_command(path, "Haswell", "/py", ["-m", "x"])
        assert "REPROMATRIX_QEMU_PACKAGE=qemu-user-static 1:1.0-1 (amd64)" in command
        assert "REPROMATRIX_QEMU_SOURCE=debian" in command
        # A second run needs no network at all.
        archive.files.clear()
        requests = len(archive.requests)
        assert find(environ) == path
        assert len(archive.requests) == requests

    def test_tampered_download_is_refused_fetched_again_and_never_run(
            self, archive: Archive, environ: dict[str, str], marker: Path) -> None:
        good = make_deb({BINARY: fake_qemu(marker)})
        evil = make_deb({BINARY: fake_qemu(marker, tag="evil")})
        archive.publish([STANZA], {DEB: evil}, listed={DEB: good})
        with pytest.raises(ToolError, match="SHA-256 .* does not match the index") as caught:
            find(environ)
        assert "\n" not in str(caught.value)
        assert archive.count(DEB) == 2  # refused, fetched once more, refused again
        assert runs(marker) == ""
        cache = Path(environ["REPROMATRIX_CACHE"])
        assert not [p for p in cache.rglob("*") if p.is_file() and p.name != ".lock"]

    def test_corrupted_cached_binary_is_replaced_before_any_run(
            self, archive: Archive, environ: dict[str, str], marker: Path) -> None:
        archive.publish([STANZA], {DEB: make_deb({BINARY: fake_qemu(marker)})})
        path = Path(find(environ))
        path.write_bytes(fake_qemu(marker, tag="evil"))
        assert find(environ) == str(path)
        assert path.read_bytes() == fake_qemu(marker)  # unpacked again from the verified .deb
        assert "evil" not in runs(marker)
        assert archive.count(DEB) == 1

    def test_corrupted_cache_and_package_are_downloaded_again(
            self, archive: Archive, environ: dict[str, str], marker: Path) -> None:
        archive.publish([STANZA], {DEB: make_deb({BINARY: fake_qemu(marker)})})
        path = Path(find(environ))
        path.write_bytes(fake_qemu(marker, tag="evil"))
        for deb in Path(environ["REPROMATRIX_CACHE"]).rglob("*.deb"):
            deb.write_bytes(b"garbage")
        assert find(environ) == str(path)
        assert path.read_bytes() == fake_qemu(marker)
        assert "evil" not in runs(marker)
        assert archive.count(DEB) == 2

    def test_tampered_index_is_refused(self, archive: Archive, environ: dict[str, str],
                                       marker: Path) -> None:
        archive.publish([STANZA], {DEB: make_deb({BINARY: fake_qemu(marker)})})
        archive.files["dists/stable/main/binary-amd64/Packages.xz"] += b"x"
        with pytest.raises(ToolError, match="Packages.xz: SHA-256 does not match the Release"):
            find(environ)
        assert archive.count(DEB) == 0

    def test_transitional_package_leads_to_qemu_user(
            self, archive: Archive, environ: dict[str, str], marker: Path) -> None:
        """Debian 13: qemu-user-static only depends on qemu-user, whose binaries are static."""
        user = "pool/main/q/qemu/qemu-user_2.0_amd64.deb"
        archive.publish(
            [{**STANZA, "Depends": "qemu-user (>= 1:2.0), qemu-user-binfmt"},
             {"Package": "qemu-user", "Version": "1:2.0", "Architecture": "amd64",
              "Filename": user}],
            {DEB: make_deb({"usr/share/doc/qemu-user-static/README": b"transitional"}),
             user: make_deb({"usr/bin/qemu-x86_64": fake_qemu(marker)})})
        path = find(environ)
        assert path.endswith("usr/bin/qemu-x86_64")
        assert qemu.located(path).package == "qemu-user 1:2.0 (amd64)"  # type: ignore[union-attr]
        assert archive.count(DEB) == 0


class TestOneLineErrors:
    def test_missing_package(self, archive: Archive, environ: dict[str, str]) -> None:
        archive.publish([], {})
        with pytest.raises(ToolError) as caught:
            find(environ)
        message = str(caught.value)
        assert message.startswith("qemu-x86_64 not found on PATH and fetching it from Debian "
                                  "failed: no qemu-user-static for amd64 in http://127.0.0.1")
        assert message.endswith(qemu.INSTALL_HINT) and "\n" not in message

    def test_no_network(self, environ: dict[str, str]) -> None:
        environ["REPROMATRIX_DEBIAN_MIRROR"] = "http://127.0.0.1:9"  # discard port: refused
        with pytest.raises(ToolError, match=r"cannot reach http://127\.0\.0\.1:9/dists/stable/"
                           r"InRelease .*; install qemu-user") as caught:
            find(environ)
        assert "\n" not in str(caught.value)

    def test_not_linux(self, environ: dict[str, str]) -> None:
        with pytest.raises(ToolError, match="^qemu-x86_64 not found on PATH, and qemu's user-mode "
                           r"emulation runs on Linux only \(this is Darwin\)"):
            qemu.find_qemu("Haswell", which=lambda name: None, machine="x86_64",
                           environ=environ, system="Darwin")

    def test_architecture_debian_does_not_build(self, environ: dict[str, str]) -> None:
        with pytest.raises(ToolError, match=r"^Debian builds no qemu for this machine's "
                           r"architecture \(sparc64\)"):
            qemu.locate("aarch64", which=lambda name: None, environ=environ, system="Linux",
                        machine="sparc64")

    def test_lab_without_network_exits_2_with_one_line(self, environ: dict[str, str],
                                                       tmp_path: Path) -> None:
        """The real command line: PATH without qemu, an unreachable mirror (a lab whose emulated
        cell uses stock qemu); the default lab's patched qemu then cannot be built either."""
        root = Path(__file__).resolve().parents[2]
        env = {**environ, "PATH": str(tmp_path), "REPROMATRIX_DEBIAN_MIRROR": "http://127.0.0.1:9",
               "PYTHONPATH": str(root / "src")}
        stock = tmp_path / "matrix.toml"
        stock.write_text((root / "matrix.toml").read_text(encoding="utf-8")
                         + '\n[lab]\n[[lab.cells]]\nid = "q"\nemulate = "Haswell"\n',
                         encoding="utf-8")
        for matrix, expected in ((stock, "qemu-x86_64 not found on PATH and fetching it from "
                                         "Debian failed: cannot reach"),
                                 (root / "matrix.toml", "to build the patched qemu without root: "
                                                        "install cc")):
            completed = subprocess.run(
                [sys.executable, "-m", "repromatrix", "lab", "--matrix", str(matrix),
                 "--output-dir", str(tmp_path / "lab")],
                capture_output=True, text=True, env=env, timeout=120, check=False)
            assert completed.returncode == 2
            assert completed.stderr.count("\n") == 1
            assert completed.stderr.startswith(f"repromatrix: error: {expected}")


class TestChoice:
    def test_explicit_setting_wins_and_must_exist(self, environ: dict[str, str]) -> None:
        environ["REPROMATRIX_QEMU"] = "/opt/q"
        found = qemu.locate(which=lambda name: name if name == "/opt/q" else None, environ=environ)
        assert (found.path, found.source) == ("/opt/q", "REPROMATRIX_QEMU")
        with pytest.raises(ToolError, match="REPROMATRIX_QEMU='/opt/q' is not an executable"):
            qemu.locate(which=lambda name: None, environ=environ)

    def test_path_static_name_is_used(self, environ: dict[str, str]) -> None:
        found = qemu.locate(which=lambda name: f"/usr/bin/{name}" if name.endswith("-static")
                            else None, environ=environ)
        assert (found.path, found.source) == ("/usr/bin/qemu-x86_64-static", "PATH")

    def test_fingerprint_fields_from_the_environment(self) -> None:
        assert qemu.fingerprint_fields({"REPROMATRIX_QEMU_SOURCE": "PATH",
                                        "REPROMATRIX_QEMU_VERSION": "7.2.0"}) == {
            "binary": None, "estimates": None, "estimates_sha256": None, "package": None,
            "source": "PATH", "sysroot": None, "version": "7.2.0"}


def test_progress_in_a_log_is_rate_limited() -> None:
    stream = io.StringIO()
    now = [0.0]
    progress = Progress("pkg", 1000, stream, clock=lambda: now[0])
    for _ in range(100):  # 100 chunks within 5 s: no line between start and end
        now[0] += 0.05
        progress.advance(10)
    now[0] += 10
    progress.advance(0)
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert lines == ["repromatrix: downloading pkg (0.0 MB)", "repromatrix: pkg: 100% (0.0 MB of 0.0 MB)",
                     "repromatrix: downloaded pkg (0.0 MB) in 15 s"]
