"""The pinned layer is self-contained: a cell runs from a resolved request with the host's layers
(config, emulation, host, report, ci, cli) unimportable, on the real pinned stack.

A ``sitecustomize`` on PYTHONPATH installs an import blocker in the cell's process and, because
the workers inherit the environment, in every worker it starts. The request is resolved here, on
the host side, as ``repromatrix run`` resolves it.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from host_env import pinned_host_env

from repromatrix.config.request import resolve_request
from repromatrix.model import CellRequest, Pins

pytestmark = pytest.mark.slow

FORBIDDEN = ("config", "emulation", "host", "report", "ci", "cli")

BLOCKER = f"""\
import sys

FORBIDDEN = tuple("repromatrix." + name for name in {FORBIDDEN!r})


class Blocker:
    \"\"\"Refuses the host's layers: the cell must never need them.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
            raise ImportError(f"{{name}} is blocked in the cell (test_cell_isolation)")
        return None


sys.meta_path.insert(0, Blocker())
"""

# The cell's entry as a host hands it a resolved request: no CLI, no matrix file.
RUN_CELL = """\
import os, sys
from repromatrix.model import CellRequest
from repromatrix.cell.runner import run_cell
request = CellRequest.from_json(open(sys.argv[1], encoding="utf-8").read())
os.environ.update(request.env)
sys.exit(run_cell(request))
"""

EXPERIMENT = """\
import numpy as np
import tensorflow as tf
from repromatrix.contract import TrainingPlan

def build(context):
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(4,))])
    model.compile(optimizer="sgd", loss="mse")
    x = np.arange(32, dtype="float32").reshape(8, 4) / 32
    return TrainingPlan(model, x, x[:, :1], {"batch_size": 4, "shuffle": False})
"""

PINNED_ENV = {"TF_ENABLE_ONEDNN_OPTS": "0"}


def blocked_env(folder: Path) -> dict[str, str]:
    (folder / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    return {**pinned_host_env(), **PINNED_ENV, "PYTHONPATH": str(folder)}


def run_request(python: str, request: CellRequest, folder: Path) -> subprocess.CompletedProcess[str]:
    blocker = folder / "blocker"
    blocker.mkdir()
    path = folder / "request.json"
    path.write_text(request.to_json(), encoding="utf-8")
    return subprocess.run([python, "-c", RUN_CELL, str(path)], cwd=folder,
                          env=blocked_env(blocker), capture_output=True, text=True, check=False)


def test_the_blocker_blocks(pinned_python: str, tmp_path: Path) -> None:
    """Without this the other tests would prove nothing."""
    for name in FORBIDDEN:
        completed = subprocess.run([pinned_python, "-c", f"import repromatrix.{name}"],
                                   env=blocked_env(tmp_path), capture_output=True, text=True,
                                   check=False)
        assert completed.returncode != 0 and "is blocked in the cell" in completed.stderr, name


def test_builtin_experiment_runs_isolated(pinned_python: str, root: Path, tmp_path: Path) -> None:
    output = tmp_path / "builtin.json"
    request = resolve_request(root / "matrix.toml", cell="isolated", output=str(output),
                              variants=("default-optimizer", "adam"), rows=8, env=PINNED_ENV)
    completed = run_request(pinned_python, request, tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    document: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    assert document["status"] == "ok" and document["experiment"]["name"] == "report-41"
    assert sorted(document["variants"]) == ["adam", "default-optimizer"]
    assert all(v["status"] == "ok" for v in document["variants"].values())
    assert document["experiment"]["env"] == PINNED_ENV


def test_user_experiment_runs_isolated(pinned_python: str, root: Path, tmp_path: Path) -> None:
    (tmp_path / "experiment.py").write_text(textwrap.dedent(EXPERIMENT), encoding="utf-8")
    pins = resolve_request(root / "matrix.toml", cell="pins", output="unused.json").pins
    output = tmp_path / "user.json"
    request = CellRequest(cell="user", variants=resolve_request(
        root / "matrix.toml", cell="v", output="unused.json", variants=("default-optimizer",)
    ).variants, pins=Pins(pins.python, dict(pins.packages), dict(pins.platforms)), seed=7,
        data="none", target=0, output=str(output), entry="experiment.py:build",
        entry_root=str(tmp_path), env=PINNED_ENV)
    completed = run_request(pinned_python, request, tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    document: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    assert document["status"] == "ok" and document["experiment"]["name"] == "experiment.py:build"
    assert document["variants"]["default-optimizer"]["status"] == "ok"
