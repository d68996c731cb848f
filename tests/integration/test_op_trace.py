"""The traced pass on the real pinned stack: does it reproduce the main run's trail?"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_traced_pass_reproduces_the_main_trail_where_the_graph_is_not_rewritten(
        pinned_python: str, root: Path, tmp_path: Path) -> None:
    output = tmp_path / "trace.json"
    completed = subprocess.run(
        [pinned_python, "-m", "repromatrix", "run", "--matrix", str(root / "matrix.toml"),
         "--rows", "8", "--trace-steps", "2", "--output", str(output),
         "--env", "TF_ENABLE_ONEDNN_OPTS=0"],
        cwd=root, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    variants = json.loads(output.read_text())["variants"]
    for name, record in variants.items():
        trace = record["op_trace"]
        main = record["trail"]["digest"][:3]
        assert trace["steps"] == [1, 2] and trace["calls"] == 2
        assert trace["reproduces_main_trail"] == (trace["trail"] == main)
        ops = {r["op_type"] for r in trace["records"]}
        assert {"MatMul", "BiasAdd", "Sigmoid", "Tanh"} <= ops
        assert len({r["step"] for r in trace["records"]}) == 2
    # Adam: bit for bit. The default optimizer's RMSprop update is rewritten by grappler's
    # arithmetic optimizer in the main run, which the debugger's inserted ops prevent: measured
    # here (turning arithmetic_optimization off in the main run gives the traced pass's bits).
    assert variants["adam"]["op_trace"]["reproduces_main_trail"] is True
    assert variants["adam"]["op_trace"]["trail"] == variants["adam"]["trail"]["digest"][:3]
    assert variants["default-optimizer"]["op_trace"]["trail"][0] == \
        variants["default-optimizer"]["trail"]["digest"][0]  # same initial weights
