"""The lab's promises at its process boundary: exit code, error artifact, no stale results.

``lab.run`` starts one ``repromatrix run`` process per cell; here those processes are replaced by
small Python scripts (a cell that writes its artifact, one that fails without writing one, one
that fails after writing it), while the lab's own code and the aggregation it starts run for
real. No TensorFlow, no qemu: the lab's cells here are all native.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from repromatrix import artifact
from repromatrix.host import lab

ROOT = Path(__file__).resolve().parents[2]

LAB = """
[lab]
rows = 4
variants = ["adam"]

[[lab.cells]]
id = "lab-ok"

[[lab.cells]]
id = "lab-fail"

[[lab.cells]]
id = "lab-partial"
"""

# What each fake cell does: write its artifact (or not), print to its log, exit with a code.
FAKE_CELL = """
import json, sys
cell, output, write, code = sys.argv[1], sys.argv[2], sys.argv[3] == "write", int(sys.argv[4])
print("repromatrix: %s: training adam" % cell, flush=True)
if write:
    with open(output, "w", encoding="utf-8") as stream:
        json.dump({"schema": 1, "kind": "repromatrix-cell", "status": "ok", "cell": cell,
                   "runner_label": None, "variants": {}, "fresh": True}, stream)
if code:
    print("Traceback: the cell %s broke" % cell, file=sys.stderr, flush=True)
sys.exit(code)
"""
BEHAVIOUR = {"lab-ok": ("write", 0), "lab-fail": ("none", 3), "lab-partial": ("write", 1)}


@pytest.fixture
def matrix(tmp_path: Path) -> Path:
    text = (ROOT / "matrix.toml").read_text(encoding="utf-8")
    path = tmp_path / "matrix.toml"
    path.write_text(text.split("[lab]")[0] + LAB, encoding="utf-8")
    return path


@pytest.fixture
def cell_commands(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Replace each cell's `repromatrix run` process; every other process runs as it is."""
    real_popen = subprocess.Popen
    seen: list[list[str]] = []

    def popen(command, *args, **kwargs):  # type: ignore[no-untyped-def]
        if list(command[1:4]) == ["-m", "repromatrix", "run"]:
            seen.append(list(command))
            cell = command[command.index("--cell") + 1]
            output = command[command.index("--output") + 1]
            write, code = BEHAVIOUR[cell]
            command = [sys.executable, "-c", FAKE_CELL, cell, output, write, str(code)]
        return real_popen(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(lab, "HEARTBEAT_SECONDS", 0.1)  # exercise the progress lines too
    return seen


def test_failed_cell_gives_exit_1_an_error_artifact_and_no_stale_result(
        matrix: Path, tmp_path: Path, cell_commands: list[list[str]],
        capfd: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "lab"
    folder.mkdir()
    stale = {"schema": 1, "kind": "repromatrix-cell", "status": "ok", "cell": "x",
             "variants": {}, "stale": True}
    for cell in BEHAVIOUR:  # results of an earlier lab run
        (folder / f"{cell}.json").write_text(json.dumps(stale), encoding="utf-8")

    args = argparse.Namespace(matrix=str(matrix), rows=None, output_dir=str(folder), cells=None, estimates_from=None,
                              format="text")
    assert lab.run(args) == 1

    # the cells ran with the lab's settings, the matrix's rows and their own outputs
    assert sorted(c[c.index("--cell") + 1] for c in cell_commands) == sorted(BEHAVIOUR)
    for command in cell_commands:
        cell = command[command.index("--cell") + 1]
        assert command[command.index("--rows") + 1] == "4"
        assert command[command.index("--output") + 1] == str(folder / f"{cell}.json")
        assert command[command.index("--variant") + 1] == "adam"
        assert "--emulate" not in command

    documents = {cell: json.loads((folder / f"{cell}.json").read_text(encoding="utf-8"))
                 for cell in BEHAVIOUR}
    assert not any(d.get("stale") for d in documents.values())  # nothing from the earlier run
    assert documents["lab-ok"]["fresh"] and documents["lab-partial"]["fresh"]  # kept as written
    failed = documents["lab-fail"]
    assert (failed["status"], failed["cell"]) == ("error", "lab-fail")
    assert failed["error"]["message"] == "lab cell exited with 3"
    assert "Traceback: the cell lab-fail broke" in failed["error"]["log_tail"]
    assert "repromatrix: lab-fail: training adam" in (folder / "lab-fail.log").read_text()
    assert artifact.is_cell_artifact(folder / "lab-fail.json")

    out, err = capfd.readouterr()
    assert "lab-fail FAILED (exit 3)" in err and "lab-ok done" in err
    assert "cell lab-fail failed: lab cell exited with 3" in out  # the table shows the failure


def test_all_cells_done_is_exit_0(matrix: Path, tmp_path: Path, cell_commands: list[list[str]],
                                  monkeypatch: pytest.MonkeyPatch,
                                  capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(BEHAVIOUR, "lab-fail", ("write", 0))
    monkeypatch.setitem(BEHAVIOUR, "lab-partial", ("write", 0))
    args = argparse.Namespace(matrix=str(matrix), rows=2, output_dir=str(tmp_path / "lab"), cells=None, estimates_from=None,
                              format="json")
    assert lab.run(args) == 0
    assert all(c[c.index("--rows") + 1] == "2" for c in cell_commands)
    assert not list((tmp_path / "lab").glob("*.json.tmp"))
    capfd.readouterr()


def test_matrix_without_lab_cells_is_a_usage_error(tmp_path: Path) -> None:
    text = (ROOT / "matrix.toml").read_text(encoding="utf-8")
    path = tmp_path / "matrix.toml"
    # Without [lab] the package's default lab applies; `cells = []` is a lab with no cells.
    path.write_text(text.split("[lab]")[0] + "\n[lab]\ncells = []\n", encoding="utf-8")
    from repromatrix.errors import ConfigError

    with pytest.raises(ConfigError, match="the lab needs at least one"):
        lab.run(argparse.Namespace(matrix=str(path), rows=None, output_dir=str(tmp_path), cells=None, estimates_from=None,
                                   format="text"))
