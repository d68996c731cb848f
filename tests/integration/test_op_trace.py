"""The traced pass on the real pinned stack: does it reproduce the main run's trail?"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from host_env import pinned_host_env

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("onednn", ["0", "1"])
def test_traced_pass_reproduces_the_main_trail_bit_for_bit(
        pinned_python: str, root: Path, tmp_path: Path, onednn: str) -> None:
    """Both optimizers, oneDNN off and on: grappler rewrites the main run's graph (MatMul+BiasAdd
    fusion, with oneDNN the activation too; RMSprop's multiplications reordered), and the traced
    pass leaves those intermediates unrecorded so that the same rewrites happen under the dump."""
    output = tmp_path / "trace.json"
    completed = subprocess.run(
        [pinned_python, "-m", "repromatrix", "run", "--matrix", str(root / "matrix.toml"),
         "--rows", "8", "--trace-steps", "2", "--output", str(output),
         "--env", f"TF_ENABLE_ONEDNN_OPTS={onednn}"],
        cwd=root, env=pinned_host_env(), capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    variants = json.loads(output.read_text())["variants"]
    assert set(variants) == {"adam", "default-optimizer"}
    for name, record in variants.items():
        trace = record["op_trace"]
        assert trace["steps"] == [1, 2] and trace["calls"] == 2
        assert trace["trail"] == record["trail"]["digest"][:3], name
        assert trace["reproduces_main_trail"] is True, name
        ops = {r["op_type"] for r in trace["records"]}
        assert {"Rsqrt" if name == "default-optimizer" else "Sqrt", "Sigmoid", "Tanh"} <= ops
        assert not ops & {"MatMul", "BiasAdd", "Mul"}  # left to grappler, not recorded
        sigmoid = next(r for r in trace["records"] if r["op_name"] == "sequential/dense/Sigmoid")
        assert sigmoid["through"] == ["MatMul", "BiasAdd"]
        assert all(isinstance(i, int) for i in sigmoid["inputs"])  # x, kernel, bias: recorded
        assert len({r["step"] for r in trace["records"]}) == 2


def test_a_user_experiment_that_returns_a_plan_gets_a_trace_too(
        pinned_python: str, root: Path, tmp_path: Path) -> None:
    """The digits CNN example: its function is called again, re-seeded, and the plan's first two
    steps traced; the traced pass reproduces the main run's trail."""
    output = tmp_path / "digits.json"
    completed = subprocess.run(
        [pinned_python, "-m", "repromatrix", "run", "--matrix",
         str(root / "examples" / "digits-cnn" / "matrix.toml"), "--variant", "adam",
         "--rows", "16", "--trace-steps", "2", "--output", str(output)],
        cwd=root, env=pinned_host_env(), capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    record = json.loads(output.read_text())["variants"]["adam"]
    trace = record["op_trace"]
    assert trace["steps"] == [1, 2] and trace["calls"] == 2
    assert trace["trail"] == record["trail"]["digest"][:3]
    assert trace["reproduces_main_trail"] is True
    assert {"Conv2D", "Relu", "Softmax"} <= {r["op_type"] for r in trace["records"]}
