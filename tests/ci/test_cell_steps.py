"""A CI cell whose setup failed: the error artifact names the step, carries its log's end and the
machine as the host sees it, and the aggregate counts the failed cell once. Run at the process
boundary, as the workflow's error-artifact step runs it (`python -m repromatrix error-artifact
--steps "$STEPS"` in the job's folder), with steps contexts shaped like GitHub's toJSON(steps)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from repromatrix.cell.fingerprint import platform_key
from repromatrix.ci import cell_steps


def _steps(**outcomes: str) -> str:
    """A steps context: every cell step, "skipped" unless given (GitHub's shape per step)."""
    return json.dumps({step.id: {"outputs": {}, "outcome": outcomes.get(step.id, "skipped"),
                                 "conclusion": outcomes.get(step.id, "skipped")}
                       for step in cell_steps.CELL_STEPS})


def _error_artifact(folder: Path, cell: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "repromatrix", "error-artifact", "--cell", cell,
         "--runner-label", "ubuntu-24.04", *extra, "--log", "repro.log",
         "--output", f"artifacts/{cell}.json"],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False)


def _read(folder: Path, cell: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (folder / "artifacts" / f"{cell}.json").read_text(encoding="utf-8"))
    return document


def test_failed_pinned_install_is_named_with_its_log(tmp_path: Path) -> None:
    (tmp_path / "pinned.log").write_text(
        "".join(f"resolving {i}\n" for i in range(100))
        + "error: no solution found: tensorflow==2.12.0 has no wheel for this platform\n",
        encoding="utf-8")
    steps = _steps(**{"pinned-python": "success", "uv": "success", "pinned": "failure"})
    done = _error_artifact(tmp_path, "c1", "--steps", steps)
    assert done.returncode == 0, done.stderr
    document = _read(tmp_path, "c1")
    assert document["error"]["message"] == \
        "the cell's setup failed: build the pinned venv (nox -s pinned)"
    assert document["error"]["step"] == "pinned"
    tail = document["error"]["log_tail"].splitlines()
    assert tail[-1].startswith("error: no solution found") and tail[0] == "resolving 41"
    # The host's view of the machine, not "-": OS, arch, platform key, CPU model and vendor.
    fingerprint = document["fingerprint"]
    assert fingerprint["arch"] in ("x86_64", "arm64")
    assert fingerprint["platform"] == platform_key()
    assert fingerprint["os"]["system"] == platform.system()
    if platform.system() == "Linux":
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        assert fingerprint["cpu"]["model"] and fingerprint["cpu"]["model"] in cpuinfo
        assert fingerprint["cpu"]["vendor"] in cpuinfo


@pytest.mark.parametrize("failed", ["pinned-python", "uv"])
def test_failed_action_says_where_its_log_is(tmp_path: Path, failed: str) -> None:
    """setup-python and setup-uv are actions: no log file, so the artifact says where it is."""
    done = _error_artifact(tmp_path, "c1", "--steps", _steps(**{failed: "failure"}))
    assert done.returncode == 0, done.stderr
    error = _read(tmp_path, "c1")["error"]
    step = next(s for s in cell_steps.CELL_STEPS if s.id == failed)
    assert error["step"] == failed and error["message"].endswith(step.name)
    assert error["log_tail"] == f"(no log here: {step.name} is an action; its log is on the run's page)"


def test_failed_run_keeps_the_repro_log(tmp_path: Path) -> None:
    (tmp_path / "repro.log").write_text("Traceback ...\nValueError: boom\n", encoding="utf-8")
    steps = _steps(**{"pinned-python": "success", "uv": "success", "pinned": "success",
                      "repro": "failure"})
    assert _error_artifact(tmp_path, "c1", "--steps", steps).returncode == 0
    error = _read(tmp_path, "c1")["error"]
    assert (error["step"], error["log_tail"].splitlines()[-1]) == ("repro", "ValueError: boom")
    assert error["message"] == "the cell's run (nox -s repro) failed before writing its artifact"


def test_bad_steps_json_is_one_line_exit_2(tmp_path: Path) -> None:
    done = _error_artifact(tmp_path, "c1", "--steps", "{not json")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "repromatrix: error: --steps: not JSON (pass the workflow's toJSON(steps))"]


def test_two_failed_cells_are_two_problems(tmp_path: Path) -> None:
    """Each failed cell is one problem ("cell ... failed"), not two with "fingerprint is
    missing"; an old error artifact without a fingerprint counts once too."""
    steps = _steps(**{"uv": "failure"})
    assert _error_artifact(tmp_path, "c1", "--steps", steps).returncode == 0
    old = {"schema": 1, "kind": "repromatrix-cell", "status": "error", "cell": "c2",
           "runner_label": None, "error": {"message": "died", "log_tail": ""},
           "variants": {}, "timing": {}}
    (tmp_path / "artifacts" / "c2.json").write_text(json.dumps(old), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "repromatrix", "aggregate", "artifacts",
                           "--format", "json"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    problems = json.loads(done.stdout)["problems"]
    assert problems == [
        "artifacts/c1.json: cell c1 failed: the cell's setup failed: install uv (setup-uv)",
        "artifacts/c2.json: cell c2 failed: died"]
