"""An arm64 cell for real: Linux arm64's TensorFlow 2.12 (tensorflow-cpu-aws) under qemu-aarch64.

One run of the built-in experiment's two variants on a few rows, aggregated with a native cell.
The verdict is whatever the real run gives (reported in the README); what is asserted is that the
cell is a normal one: arm64, emulated, its pulled build recorded, probe and trail present, and
its worker processes run on arm64 too.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from host_env import pinned_host_env

pytestmark = pytest.mark.slow
ROWS = "8"


def test_arm64_cell_aggregates_with_a_native_cell(pinned_python: str, root: Path,
                                                  tmp_path: Path) -> None:
    common = ["--matrix", str(root / "matrix.toml"), "--rows", ROWS, "--variant",
              "default-optimizer", "--variant", "adam", "--env", "TF_ENABLE_ONEDNN_OPTS=0"]
    arm = subprocess.run(
        # --process-per-variant: each variant in a worker, which the host kernel could not exec
        # (an arm64 python) unless started under the same qemu-aarch64 and sysroot.
        [pinned_python, "-m", "repromatrix", "run", "--cell", "arm64", "--emulate-arch", "arm64",
         "--process-per-variant", "--output", str(tmp_path / "arm64.json"), *common],
        cwd=root, env=pinned_host_env(), capture_output=True, text=True, timeout=3000, check=False)
    assert arm.returncode == 0, arm.stderr[-4000:]
    native = subprocess.run(
        [pinned_python, "-m", "repromatrix", "run", "--cell", "native",
         "--output", str(tmp_path / "native.json"), *common],
        cwd=root, env=pinned_host_env(), capture_output=True, text=True, timeout=1500, check=False)
    assert native.returncode == 0, native.stderr[-4000:]

    document = json.loads((tmp_path / "arm64.json").read_text())
    fingerprint = document["fingerprint"]
    assert fingerprint["arch"] == "arm64" and fingerprint["platform"] == "linux-arm64"
    assert fingerprint["cpu"]["emulated"] == "neoverse-n1"
    assert fingerprint["cpu"]["qemu"]["binary"] == "qemu-aarch64"
    assert fingerprint["cpu"]["qemu"]["sysroot"].startswith("Debian ")
    assert fingerprint["cpu"]["host_model"]  # the machine that really ran it
    assert fingerprint["packages"]["tensorflow-cpu-aws"] == "2.12.0"  # the pulled build
    assert document["probe"] and all(v["status"] == "ok" for v in document["variants"].values())
    assert all(v.get("trail") for v in document["variants"].values())

    table = subprocess.run(
        [pinned_python, "-m", "repromatrix", "aggregate", str(tmp_path / "arm64.json"),
         str(tmp_path / "native.json"), "--format", "json"],
        env=pinned_host_env(), capture_output=True, text=True, check=False)
    assert table.returncode == 0, table.stderr
    report = json.loads(table.stdout)
    assert {c["cell"]: c["arch"] for c in report["cells"]} == {"arm64": "arm64",
                                                               "native": "x86_64"}
    for name in ("default-optimizer", "adam"):  # a verdict either way, on both cells
        groups = report["variants"][name]["groups"]
        assert sorted(cell for cells in groups.values() for cell in cells) == ["arm64", "native"]
    # The verdict is the real run's: shown with `pytest -s` (README, "An arm64 cell").
    print({name: (v["diverges"], v.get("first_divergent_step"))
           for name, v in sorted(report["variants"].items())})
