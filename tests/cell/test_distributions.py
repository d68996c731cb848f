"""Every installed distribution in the fingerprint: name, version, and where it came from."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

from repromatrix.cell import fingerprint


class TestSource:
    def test_wheel_tags_name_the_build(self) -> None:
        wheel = ("Wheel-Version: 1.0\nGenerator: bdist_wheel (0.41)\nRoot-Is-Purelib: false\n"
                 "Tag: cp39-cp39-manylinux_2_17_x86_64\nTag: cp39-cp39-manylinux2014_x86_64\n")
        assert fingerprint.distribution_source(wheel, None) == \
            "wheel cp39-cp39-manylinux2014_x86_64.cp39-cp39-manylinux_2_17_x86_64"

    def test_vcs_commit(self) -> None:
        url = json.dumps({"url": "https://example.org/r.git",
                          "vcs_info": {"vcs": "git", "commit_id": "abc123"}})
        assert fingerprint.distribution_source("Tag: py3-none-any\n", url) == \
            "git https://example.org/r.git@abc123"

    def test_local_archive_keeps_its_hash_not_its_path(self) -> None:
        one = json.dumps({"url": "file:///home/a/dist/x-1.0-py3-none-any.whl",
                          "archive_info": {"hashes": {"sha256": "f00"}}})
        other = json.dumps({"url": "file:///tmp/b/x-1.0-py3-none-any.whl",
                            "archive_info": {"hash": "sha256=f00", "hashes": {"sha256": "f00"}}})
        assert fingerprint.distribution_source(None, one) == \
            fingerprint.distribution_source(None, other) == \
            "archive x-1.0-py3-none-any.whl sha256=f00"

    @pytest.mark.parametrize("editable, said", [(True, "local folder (editable)"),
                                                (False, "local folder")])
    def test_local_folder(self, editable: bool, said: str) -> None:
        url = json.dumps({"url": "file:///work/x", "dir_info": {"editable": editable}})
        assert fingerprint.distribution_source("Tag: py3-none-any\n", url) == said

    def test_nothing_known(self) -> None:
        assert fingerprint.distribution_source(None, "{bad") == "unknown (no WHEEL file)"


def test_every_distribution_of_this_interpreter() -> None:
    """This venv's own distributions: all of them, with importlib.metadata's versions; a
    registry wheel is named by its tags, the editable repromatrix as a local folder."""
    found = fingerprint.distributions()
    expected = {fingerprint.canonical_name(d.metadata["Name"]) for d in metadata.distributions()}
    assert set(found) == expected and list(found) == sorted(found)
    assert found["pytest"] == {"version": metadata.version("pytest"),
                               "source": "wheel py3-none-any"}
    assert found["repromatrix"]["source"] == "local folder (editable)"


def test_installer_is_read_from_the_venv(tmp_path: Path) -> None:
    assert fingerprint.installer(str(tmp_path)) is None
    (tmp_path / fingerprint.INSTALLER_FILE).write_text("uv 0.13.9\n", encoding="utf-8")
    assert fingerprint.installer(str(tmp_path)) == "uv 0.13.9"


def _fake_dist(folder: Path, name: str, version: str) -> None:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                                   encoding="utf-8")
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: py3-none-any\n", encoding="utf-8")


def test_vendored_copies_are_not_installed_distributions(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """setuptools puts its _vendor folder on sys.path when imported: those are its files."""
    _fake_dist(tmp_path / "site", "Extra_Pkg", "2.0")
    _fake_dist(tmp_path / "site" / "setuptools" / "_vendor", "jaraco.context", "6.1.0")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.syspath_prepend(str(tmp_path / "site" / "setuptools" / "_vendor"))
    found = fingerprint.distributions()
    assert found["extra-pkg"] == {"version": "2.0", "source": "wheel py3-none-any"}
    assert "jaraco-context" not in found
