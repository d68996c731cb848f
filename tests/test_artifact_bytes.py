"""The artifact's exact bytes and the error-artifact document, field by field.

Artifacts are compared byte for byte across machines ("same inputs, same bytes"), and the error
artifact is what the table shows for a failed cell: both are pinned down exactly here.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from repromatrix import artifact
from repromatrix.config.matrix import Pins


def test_canonical_text_exactly() -> None:
    """Sorted keys, one-space indentation, non-ASCII kept as is, a trailing newline."""
    text = artifact.dumps({"b": [1, 2.5], "a": {"model": "Ryzen™ é"}})
    assert text == '{\n "a": {\n  "model": "Ryzen™ é"\n },\n "b": [\n  1,\n  2.5\n ]\n}\n'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_dumps_refuses_non_finite(value: float) -> None:
    """dumps itself never writes NaN/Infinity (invalid JSON); write() converts them first."""
    with pytest.raises(ValueError):
        artifact.dumps({"loss": value})


def test_json_safe_keeps_everything_else() -> None:
    value = {"a": (1, float("nan")), "b": [{"c": float("inf")}], "d": -0.0, "e": "nan", "f": None}
    assert artifact.json_safe(value) == {"a": [1, "nan"], "b": [{"c": "inf"}], "d": -0.0,
                                         "e": "nan", "f": None}


def test_write_is_readable_by_others_and_utf8(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "c.json"
    artifact.write(path, {"model": "Ryzen™", "loss": float("nan")})
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_bytes() == artifact.dumps({"loss": "nan", "model": "Ryzen™"}).encode("utf-8")


def test_write_goes_through_a_temporary_in_the_same_folder(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Atomic replace needs the temporary beside the target (same file system), hidden, and
    distinct from the artifact itself."""
    replaced: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(source: str, target: Path) -> None:
        replaced.append((str(source), str(target)))
        assert Path(source).read_text(encoding="utf-8") == artifact.dumps({"a": 1})
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    artifact.write(tmp_path / "c.json", {"a": 1})
    [(source, target)] = replaced
    assert target == str(tmp_path / "c.json")
    assert Path(source).parent == tmp_path
    assert Path(source).name.startswith(".c.json.") and source.endswith(".tmp")


def test_failed_write_leaves_the_old_artifact_and_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.json"
    path.write_text("old", encoding="utf-8")

    def broken(source: str, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        artifact.write(path, {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]
    assert path.read_text(encoding="utf-8") == "old"


def test_error_document_exactly() -> None:
    log = "".join(f"l{i}\n" for i in range(artifact.LOG_TAIL_LINES + 5))
    assert artifact.error_document("c1", "ubuntu-24.04", "  \nboom\nmore", log) == {
        "schema": 1,
        "kind": "repromatrix-cell",
        "status": "error",
        "cell": "c1",
        "runner_label": "ubuntu-24.04",
        "error": {"message": "boom",
                  "log_tail": "\n".join(f"l{i}" for i in range(5, artifact.LOG_TAIL_LINES + 5))},
        "variants": {},
        "timing": {},
    }
    assert artifact.error_document("c", None, " \n ", "")["error"] == {"message": "failed",
                                                                      "log_tail": ""}
    assert artifact.log_tail("a\nb\nc", 2) == "b\nc"


def test_cell_document_status_follows_the_error() -> None:
    pins = Pins(python="3.9.2", packages={"numpy": "1.23.5"})
    common = dict(cell="c", runner_label=None, experiment={"seed": 1}, pins=pins, drift_items=[],
                  fingerprint={"arch": "x86_64"}, variants={"adam": {}}, probe=[],
                  timing={"seconds": 1})
    ok = artifact.cell_document(**common)
    assert ok == {"schema": 1, "kind": "repromatrix-cell", "status": "ok", "cell": "c",
                  "runner_label": None, "experiment": {"seed": 1},
                  "pins": {"python": "3.9.2", "packages": {"numpy": "1.23.5"}}, "drift": [],
                  "fingerprint": {"arch": "x86_64"}, "variants": {"adam": {}}, "probe": [],
                  "error": None, "timing": {"seconds": 1}}
    failed = artifact.cell_document(**common, error={"message": "m", "log_tail": "t"})
    assert failed["status"] == "error" and failed["error"] == {"message": "m", "log_tail": "t"}


@pytest.mark.parametrize(("text", "expected"), [
    ('{"schema": 1, "kind": "repromatrix-cell"}', True),
    ('{"schema": 1, "kind": "repromatrix-sums"}', False),
    ('{"schema": 2, "kind": "repromatrix-cell"}', False),
    ('{"kind": "repromatrix-cell"}', False),
    ('{"schema": 1}', False),
    ('[{"schema": 1, "kind": "repromatrix-cell"}]', False),
    ("", False),
])
def test_is_cell_artifact(tmp_path: Path, text: str, expected: bool) -> None:
    path = tmp_path / "c.json"
    path.write_text(text, encoding="utf-8")
    assert artifact.is_cell_artifact(path) is expected


def test_is_cell_artifact_reads_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(json.dumps({"schema": 1, "kind": "repromatrix-cell", "m": "é"},
                                ensure_ascii=False).encode("utf-8"))
    assert artifact.is_cell_artifact(path)
    path.write_bytes(b'{"schema": 1, "kind": "repromatrix-cell", "m": "\xff"}')
    assert not artifact.is_cell_artifact(path)  # not UTF-8: not ours, replaced
    assert not artifact.is_cell_artifact(tmp_path)  # a folder
