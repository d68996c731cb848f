"""The local cross-CPU lab, for real: native vs qemu-emulated CPU on the pinned stack.

Asserts the pattern of the original report (default optimizer diverges, Adam bit-identical, Rsqrt
blamed) from real runs; the numbers themselves are not hard-coded.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from host_env import pinned_host_env

pytestmark = pytest.mark.slow


# The default lab, with one more variant: default-onednn-off has an environment of its own, so
# a cell runs it in a worker process, which under qemu must be emulated too. Only the other vendor's
# cell runs it (a second TensorFlow import under qemu costs about two minutes of a core).
WORKER_VARIANT = "default-onednn-off"
WORKER_CELL = "lab-qemu-other"


def lab_section(root: Path) -> str:
    """The default lab's cells as matrix.toml's [lab], the worker variant only in WORKER_CELL."""
    from repromatrix.config.matrix import load_matrix

    lab = load_matrix(root / "matrix.toml").lab
    assert lab is not None and WORKER_CELL in [cell.id for cell in lab.cells]
    lines = ["", "[lab]", f"rows = {lab.rows}",
             "env = {" + ", ".join(f'{k} = "{v}"' for k, v in sorted(lab.env.items())) + "}",
             "variants = " + json.dumps([*lab.variants, WORKER_VARIANT])]
    for cell in lab.cells:
        lines += ["", "[[lab.cells]]", f'id = "{cell.id}"']
        lines += [f'{key} = "{value}"' for key, value in
                  (("emulate", cell.emulate), ("arch", cell.arch), ("estimates", cell.estimates))
                  if value]
        if cell.env:
            lines.append("env = {" + ", ".join(f'{k} = "{v}"' for k, v in cell.env.items()) + "}")
        if cell.id != WORKER_CELL:
            lines.append("variants = " + json.dumps(list(lab.variants)))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def lab(pinned_python: str, root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("lab")
    source = (root / "matrix.toml").read_text(encoding="utf-8")
    assert "[lab]" not in source, "matrix.toml has a [lab] of its own: this test writes one"
    matrix = folder / "matrix.toml"
    matrix.write_text(source + lab_section(root), encoding="utf-8")
    completed = subprocess.run(
        [pinned_python, "-m", "repromatrix", "lab", "--matrix", str(matrix),
         "--output-dir", str(folder / "artifacts"), "--format", "json"],
        cwd=root, env=pinned_host_env(), capture_output=True, text=True, timeout=1500,
        check=False)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return {"report": json.loads(completed.stdout), "stderr": completed.stderr,
            "folder": folder / "artifacts"}


def comparison_with(verdict: dict[str, Any], cell: str) -> dict[str, Any]:
    """The comparison of the group that ``cell`` represents against the reference."""
    found = [c for c in verdict["comparisons"].values() if c["representative"] == cell]
    assert len(found) == 1, sorted(verdict["comparisons"])
    return found[0]


def assert_onednn_blamed(verdict: dict[str, Any]) -> None:
    """The native oneDNN-on cell: a matrix product with identical inputs, likely cause oneDNN."""
    onednn = comparison_with(verdict, "lab-native-onednn")
    assert onednn["first_divergent_step"] == 1
    root = onednn["root_cause"]
    assert root is not None and "MatMul" in root["op_type"] and root["step"] == 1
    assert root["inputs_identical"] is True
    assert "oneDNN" in [cause["cause"] for cause in onednn["likely_causes"]]


class TestLab:
    def test_default_optimizer_diverges_with_rsqrt_root_cause(self, lab: dict[str, Any]) -> None:
        """The emulated CPU of the other vendor (Intel's table on an AMD host, AMD's on an Intel one)
        trains the default optimizer to other weights from step 1,
        and the op trace blames Rsqrt (its inputs agree, its output does not), proven by the
        differing estimate tables; oneDNN on vs off diverges too, at a matrix product."""
        verdict = lab["report"]["variants"]["default-optimizer"]
        assert verdict["diverges"] is True
        assert sorted(map(sorted, verdict["groups"].values())) == [
            ["lab-native", "lab-qemu-host"], ["lab-native-onednn"], ["lab-qemu-other"]]
        assert "Rsqrt" in verdict["suspect_ops"]
        assert verdict["first_divergent_step"] == 1
        intel = comparison_with(verdict, "lab-qemu-other")
        root = intel["root_cause"]
        assert root is not None and root["op_type"] == "Rsqrt" and root["step"] == 1
        assert root["inputs_identical"] is True and root["elements_differing"] > 0
        first = intel["likely_causes"][0]
        assert (first["cause"], first["key"]) == ("estimate tables (proven)", "cpu.estimates.sha256")
        assert first["other"].startswith("other-vendor: ")  # whichever vendor this host is not
        assert_onednn_blamed(verdict)

    def test_the_emulated_copy_of_this_cpu_is_bit_identical(self, lab: dict[str, Any]) -> None:
        """The faithfulness proof: qemu given this CPU's own table trains every variant to the
        native run's bits; Adam agrees with the other vendor's table too (no estimate in its update)."""
        for name in ("default-optimizer", "adam"):
            groups = [sorted(g) for g in lab["report"]["variants"][name]["groups"].values()]
            assert any({"lab-native", "lab-qemu-host"} <= set(g) for g in groups), (name, groups)
        adam = lab["report"]["variants"]["adam"]
        assert sorted(map(sorted, adam["groups"].values())) == [
            ["lab-native", "lab-qemu-host", "lab-qemu-other"], ["lab-native-onednn"]]
        assert_onednn_blamed(adam)

    def test_emulation_and_its_tables_are_recorded(self, lab: dict[str, Any]) -> None:
        """Each emulated cell names its qemu, the table it was given, and measured that table."""
        documents = {cell: json.loads((lab["folder"] / f"{cell}.json").read_text())
                     for cell in ("lab-native", "lab-qemu-host", "lab-qemu-other")}
        native = documents["lab-native"]["fingerprint"]["cpu"]["estimates"]
        assert native["measured"] is True and native["mismatches"] == 0
        for cell in ("lab-qemu-host", "lab-qemu-other"):
            cpu = documents[cell]["fingerprint"]["cpu"]
            assert cpu["emulated"] == "Haswell"
            assert cpu["qemu"]["source"] == "estimates-build"
            assert "estimates patch" in cpu["qemu"]["package"]
            assert cpu["qemu"]["estimates_sha256"] == cpu["estimates"]["sha256"]
            assert cpu["estimates"]["mismatches"] == 0
            assert documents[cell]["fingerprint"]["env"]["TF_ENABLE_ONEDNN_OPTS"] == "0"
            assert documents[cell]["experiment"]["data"]["rows"] == 64
        host = documents["lab-qemu-host"]["fingerprint"]["cpu"]
        assert host["estimates"]["sha256"] == native["sha256"]
        assert host["qemu"]["estimates"].startswith("this CPU (")
        intel = documents["lab-qemu-other"]["fingerprint"]["cpu"]
        assert intel["estimates"]["sha256"] != native["sha256"]

    def test_the_faithfulness_line(self, lab: dict[str, Any]) -> None:
        line = next(line for line in lab["stderr"].splitlines() if "faithfulness:" in line)
        assert "lab-qemu-host (this CPU's estimate table) vs lab-native:" in line
        assert "DIFFER" not in line and "bit-identical" in line

    def test_progress_is_shown(self, lab: dict[str, Any]) -> None:
        assert "started lab-qemu-other (qemu -cpu Haswell, estimates other-vendor)" in lab["stderr"]
        assert "lab-native done" in lab["stderr"]


def test_unknown_cpu_model_is_one_line(pinned_python: str, root: Path, tmp_path: Path) -> None:
    """A bad emulate model fails fast with exit 2 and a suggestion, before anything runs."""
    completed = subprocess.run(
        [pinned_python, "-m", "repromatrix", "run", "--matrix", str(root / "matrix.toml"),
         "--emulate", "Haswel", "--output", str(tmp_path / "x.json")],
        cwd=root, env=pinned_host_env(), capture_output=True, text=True, check=False)
    assert completed.returncode == 2
    # With an empty cache, qemu's fetch progress comes first; the error itself is one line.
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip().splitlines()[-1] == (
        "repromatrix: error: qemu knows no CPU model 'Haswel'; did you mean Haswell?")


def test_worker_processes_stay_emulated(lab: dict[str, Any]) -> None:
    """A variant that needs its own process (here: its own environment) also runs under qemu.

    Run natively, that worker's Rsqrt probe would differ from the emulated main process's, and the
    runner would attach it to the variant; under qemu both probes agree, so none is attached.
    """
    # The other vendor's cell: natively, the worker's Rsqrt would be this CPU's, not that table's.
    variants = json.loads((lab["folder"] / "lab-qemu-other.json").read_text())["variants"]
    assert variants[WORKER_VARIANT]["status"] == "ok"
    assert "probe" not in variants[WORKER_VARIANT]
    # the two variants differ only in oneDNN, which the cell has off: same weights
    assert variants[WORKER_VARIANT]["digest"] == variants["default-optimizer"]["digest"]


def test_remedy_verifies_onednn_off_for_adam(lab: dict[str, Any], pinned_python: str,
                                             root: Path) -> None:
    """The remedy search on the lab's Adam divergence (oneDNN on in one cell): the variant's
    TF_ENABLE_ONEDNN_OPTS=0 wins over that cell's =1, runs there only (the other cells have it
    off already: their Adam is reused), and makes all four cells bit-identical."""
    folder = lab["folder"].parent
    completed = subprocess.run(
        [pinned_python, "-m", "repromatrix", "remedy", str(lab["folder"]), "--matrix",
         str(folder / "matrix.toml"), "--variant", "adam", "--candidate", "onednn-off",
         "--output-dir",
         str(folder / "remedy")],
        cwd=root, env=pinned_host_env(), capture_output=True, text=True, timeout=900,
        check=False)
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "lab-native-onednn: 1 candidate variant: adam.onednn-off" in completed.stderr
    report = json.loads((folder / "remedy" / "remedy.json").read_text())
    [candidate] = report["variants"]["adam"]["candidates"]
    assert (candidate["id"], candidate["verdict"]) == ("onednn-off", "verified")
    assert candidate["reused"] == ["lab-native", "lab-qemu-host", "lab-qemu-other"]
    assert candidate["groups"] == [["lab-native", "lab-native-onednn", "lab-qemu-host",
                                    "lab-qemu-other"]]
    assert "[variants.adam-onednn-off]" in completed.stdout
    assert 'env = { TF_ENABLE_ONEDNN_OPTS = "0" }' in completed.stdout
