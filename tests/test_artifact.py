"""Artifact writing: canonical bytes, drift, error artifacts."""

from __future__ import annotations

import json
from pathlib import Path

from repromatrix import artifact
from repromatrix.config.matrix import Pins, Platform
from repromatrix.floats import float32_bits, float32_value

PINS = Pins(python="3.9.2", packages={"tensorflow": "2.12.0", "numpy": "1.23.5"},
            platforms={"macos-arm64": Platform(key="macos-arm64", replace={"tensorflow": "tensorflow-macos"})})


class TestCanonical:
    def test_same_content_same_bytes(self, tmp_path: Path) -> None:
        """Key order in memory does not reach the file: keys are sorted, the file ends in a newline."""
        artifact.write(tmp_path / "a.json", {"b": 1, "a": [1.5, {"z": 0, "y": None}]})
        artifact.write(tmp_path / "b.json", {"a": [1.5, {"y": None, "z": 0}], "b": 1})
        assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
        assert (tmp_path / "a.json").read_text().endswith("}\n")

    def test_non_finite_become_strings(self, tmp_path: Path) -> None:
        """A diverged loss is written as "nan"/"inf" strings, keeping the file valid JSON."""
        artifact.write(tmp_path / "a.json", {"loss": float("nan"), "sums": [float("-inf"), 1.0]})
        assert json.loads((tmp_path / "a.json").read_text()) == {"loss": "nan", "sums": ["-inf", 1.0]}

    def test_no_temporary_left(self, tmp_path: Path) -> None:
        artifact.write(tmp_path / "sub" / "a.json", {"a": 1})
        assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.json"]


class TestFloats:
    def test_published_sum_bits(self) -> None:
        """The report's printed -9.959677 is float32 0xc11f5ad6; its float64 value is exact."""
        assert float32_bits(-9.959677) == "0xc11f5ad6"
        assert float32_value(-9.959677) == -9.959676742553711
        assert float32_bits(0.0) == "0x00000000" and float32_bits(-0.0) == "0x80000000"


class TestDrift:
    def test_exact_stack_has_no_drift(self) -> None:
        assert artifact.drift(PINS, "linux-x86_64", "3.9.2",
                              {"tensorflow": "2.12.0", "numpy": "1.23.5"}) == []

    def test_python_and_package_drift_sorted(self) -> None:
        found = artifact.drift(PINS, "linux-x86_64", "3.9.18", {"tensorflow": "2.12.0", "numpy": None})
        assert found == [{"name": "numpy", "pinned": "1.23.5", "found": None},
                         {"name": "python", "pinned": "3.9.2", "found": "3.9.18"}]

    def test_platform_replacement_is_what_is_checked(self) -> None:
        """On macOS arm64 the pinned tensorflow is checked as tensorflow-macos."""
        found = artifact.drift(PINS, "macos-arm64", "3.9.2",
                               {"tensorflow-macos": "2.12.0", "numpy": "1.23.5"})
        assert found == []


class TestErrorArtifact:
    def test_keeps_first_message_line_and_log_tail(self) -> None:
        log = "\n".join(f"line {i}" for i in range(100))
        document = artifact.error_document("c1", "ubuntu-24.04", "install failed\nmore", log)
        assert document["status"] == "error" and document["error"]["message"] == "install failed"
        assert document["error"]["log_tail"].splitlines() == [f"line {i}" for i in range(40, 100)]
        assert document["schema"] == artifact.SCHEMA and document["variants"] == {}

    def test_is_cell_artifact(self, tmp_path: Path) -> None:
        good, bad = tmp_path / "good.json", tmp_path / "bad.json"
        artifact.write(good, artifact.error_document("c", None, "x", ""))
        bad.write_text("{truncated")
        assert artifact.is_cell_artifact(good)
        assert not artifact.is_cell_artifact(bad) and not artifact.is_cell_artifact(tmp_path / "none")


class TestWriteErrors:
    """Errors name the artifact's path, never the temporary file beside it."""

    def test_disk_full_names_the_output(self, tmp_path: Path, monkeypatch, capsys) -> None:
        import errno
        import io
        import os

        from repromatrix.cli import main as cli

        class Full(io.StringIO):
            def write(self, text: str) -> int:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a real write: no name

        def fdopen(handle: int, *args: object, **kwargs: object) -> Full:
            os.close(handle)
            return Full()

        monkeypatch.setattr(artifact.os, "fdopen", fdopen)
        output = tmp_path / "cell.json"
        assert cli.main(["error-artifact", "--cell", "c", "--output", str(output)]) == 2
        assert capsys.readouterr().err == \
            f"repromatrix: error: {output}: {os.strerror(errno.ENOSPC)}\n"
        assert list(tmp_path.iterdir()) == []  # no temporary left behind

    def test_replace_error_names_the_output(self, tmp_path: Path, monkeypatch) -> None:
        import os

        import pytest

        def refuse(source: str, target: object) -> None:
            raise PermissionError(13, "Permission denied", source, str(target))

        monkeypatch.setattr(artifact.os, "replace", refuse)
        output = tmp_path / "cell.json"
        with pytest.raises(OSError) as caught:
            artifact.write(output, {"a": 1})
        assert caught.value.filename == str(output) and caught.value.filename2 is None
        assert caught.value.errno == 13 and ".tmp" not in str(caught.value)
        assert os.listdir(tmp_path) == []
