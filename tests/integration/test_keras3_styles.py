"""Keras 3 models as people write them (issue 25), on the real stack: every model-building style
of `keras3_styles/experiment.py` (Sequential, functional with residual adds, a subclassed model
with lazily built custom layers and a SeedGenerator, BatchNormalization + Dropout + compiled
metrics, Embedding + LSTM/GRU, Conv2D + pooling, mixed_float16, an overridden train_step) on each
backend (TensorFlow, JAX, PyTorch), in one cell: one process per backend, 6 steps each.

Guards, per style and backend: the variant trains; its trail has steps + 1 entries; the
before-training sums exist (the model was built from x first); the op set is recorded; the label
names the optimizer the function compiled; on TensorFlow the op trace reproduces the main trail.
On TensorFlow and PyTorch, whose trail hash is trail.py's numpy twin: a model whose state is only
its weights still hashes exactly its weights (its trail did not change), while the styles with
seed-generator or metric state hash that state too. The aggregate reads the artifact without a
problem.

The stack is the Keras 3 example's pins, built by `nox -s pinned` in a temporary repository (a
few seconds with uv's cache warm, as test_keras3.py's); `-s` prints the figures.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from test_keras3 import decoded, pinned_copy, run

pytestmark = pytest.mark.slow

CORPUS = Path("tests") / "integration" / "keras3_styles"
STYLES = ("sequential", "functional", "subclassed", "state", "rnn", "conv", "mixed",
          "custom-step")
BACKENDS = ("tf", "jax", "torch")
STEPS = 6  # experiment.py: 24 rows, batch size 4
OPTIMIZERS = {"sequential": "Adam", "functional": "SGD", "subclassed": "SGD", "state": "RMSprop",
              "rnn": "Adam", "conv": "Adam", "mixed": "LossScaleOptimizer", "custom-step": "Adam"}
# Styles whose step changes state beside the weights: seed generators (Dropout, LSTM/GRU's
# cells, the custom SeededDropout) or compiled metrics.
EXTRA_STATE = ("subclassed", "state", "rnn", "custom-step")


@pytest.fixture(scope="module")
def cell(root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    repo = tmp_path_factory.mktemp("keras3-styles")
    python, env, venv = pinned_copy(root, root / CORPUS, repo)
    output = repo / "artifacts" / "styles.json"
    start = time.perf_counter()
    run([python, "-m", "repromatrix", "run", "--matrix", "matrix.toml", "--cell", "styles",
         "--output", str(output)], repo, env)
    print(f"\nKeras 3 styles: pinned venv {venv:.1f} s, one cell of {len(STYLES) * len(BACKENDS)} "
          f"variants {time.perf_counter() - start:.1f} s")
    return {"repo": repo, "python": python, "output": output,
            "document": json.loads(output.read_text(encoding="utf-8"))}


def variants() -> list[tuple[str, str]]:
    return [(style, backend) for style in STYLES for backend in BACKENDS]


@pytest.mark.parametrize(("style", "backend"), variants())
def test_every_style_gets_trail_sums_ops_and_label(cell: dict[str, Any], style: str,
                                                   backend: str) -> None:
    record = cell["document"]["variants"][f"{style}-{backend}"]
    assert record["status"] == "ok", record.get("error")
    trail = record.get("trail")
    assert trail is not None, record.get("trail_absent")
    assert trail["steps"] == STEPS and len(trail["digest"]) == STEPS + 1
    if style != "mixed":  # a LossScaleOptimizer skips the steps whose float16 gradients overflow
        assert len(set(trail["digest"])) == STEPS + 1
    before = record["weight_sums"]["before"]
    assert isinstance(before, list) and len(before) == len(record["tensors"]) > 0
    assert record.get("train_step_ops"), record.get("train_step_ops_absent")
    assert record["settings"]["optimizer"] == OPTIMIZERS[style]
    # compile's jit_compile="auto": XLA on JAX, off for TensorFlow on a CPU and for torch
    assert record["keras"] == {"jit_compile": backend == "jax"}
    if backend == "tf":
        trace = record["op_trace"]
        assert trace.get("reproduces_main_trail") is True, trace.get("absent")
    else:
        assert record["settings"]["backend"] == {"jax": "jax", "torch": "torch"}[backend]


@pytest.mark.parametrize("backend", ("tf", "torch"))
@pytest.mark.parametrize("style", STYLES)
def test_the_trail_hashes_the_weights_and_the_state_beside_them(cell: dict[str, Any], style: str,
                                                                backend: str) -> None:
    """TensorFlow's and torch's trail hash is trail.trail_hash: the last entry of a weights-only
    model is the hash of its stored weights (as before issue 25); with seed or metric state it
    is not (that state is hashed too)."""
    from repromatrix.cell import trail

    record = cell["document"]["variants"][f"{style}-{backend}"]
    weights_only = trail.hash_hex(trail.trail_hash(decoded(record)))
    if style in EXTRA_STATE:
        assert record["trail"]["digest"][-1] != weights_only
    else:
        assert record["trail"]["digest"][-1] == weights_only


def test_the_aggregate_reads_every_variant_without_a_problem(cell: dict[str, Any]) -> None:
    completed = subprocess.run(
        [cell["python"], "-m", "repromatrix", "aggregate", str(cell["output"]), "--format",
         "json"], cwd=cell["repo"], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    found = json.loads(completed.stdout)
    assert found["problems"] == [], found["problems"]
    assert sorted(found["variants"]) == sorted(f"{s}-{b}" for s, b in variants())
