"""The InRelease signature is checked with gpgv against the configured keyring."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Archive, fake_qemu, make_deb

from repromatrix.emulation.debian.archive import read_release
from repromatrix.emulation.debian.sources import configured_sources
from repromatrix.errors import ToolError

pytestmark = pytest.mark.skipif(not (shutil.which("gpg") and shutil.which("gpgv")),
                                reason="needs gpg to sign a test archive and gpgv to check it")
DEB = "pool/q.deb"


@pytest.fixture
def signed(archive: Archive, environ: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The fake archive with a clearsigned InRelease and the keyring that verifies it."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--quiet", "--passphrase", ""]
    subprocess.run([*gpg, "--quick-gen-key", "test@repromatrix.invalid", "ed25519", "sign", "0"],
                   check=True, capture_output=True)
    keyring = tmp_path / "test.gpg"
    subprocess.run([*gpg, "--output", str(keyring), "--export"], check=True)
    archive.publish([{"Package": "qemu-user-static", "Version": "1", "Architecture": "amd64",
                      "Filename": DEB}], {DEB: make_deb({"x": fake_qemu(tmp_path / "m")})})
    release = tmp_path / "Release"
    release.write_bytes(archive.files["dists/stable/InRelease"])
    subprocess.run([*gpg, "--pinentry-mode", "loopback", "--clearsign", "--output",
                    str(tmp_path / "InRelease"), str(release)], check=True, capture_output=True)
    archive.files["dists/stable/InRelease"] = (tmp_path / "InRelease").read_bytes()
    # gpg started an agent for this throwaway home: stop it, or it outlives the test run.
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False,
                   capture_output=True)
    return {**environ, "REPROMATRIX_DEBIAN_KEYRING": str(keyring)}


def test_good_signature_is_verified(signed: dict[str, str]) -> None:
    release = read_release(configured_sources(signed)[0])
    assert release.signature == "verified with test.gpg"
    assert "main/binary-amd64/Packages.xz" in release.files


def test_altered_release_is_refused(signed: dict[str, str], archive: Archive) -> None:
    text = archive.files["dists/stable/InRelease"]
    archive.files["dists/stable/InRelease"] = text.replace(b"Suite: stable", b"Suite: stablE")
    with pytest.raises(ToolError, match="the Release signature does not verify against"):
        read_release(configured_sources(signed)[0])
