"""Keras 3 on TensorFlow 2.21, on the real stack: `examples/report-keras3/` installed into its own
pinned venv by the project's own `nox -s pinned` (a copy of the example in a temporary
repository, so this checkout's pinned venv stays the report's), then run on the first rows.

Guards: the trail is recorded inside Keras 3's compiled train step (steps + 1 entries), the op
set and the probe are present, Keras is in the fingerprint, the labels name the optimizer the
function compiled, reruns are byte-identical, and a changed knob (XLA auto-clustering) is
located.
The figures (`-s` shows them) are the stack's install time and disk size the README quotes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

EXAMPLE = Path("examples") / "report-keras3"
ROWS = "64"  # enough steps to locate a divergence; 1,000 would only cost time


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                               timeout=1800, check=False)
    assert completed.returncode == 0, (argv, completed.stdout[-3000:], completed.stderr[-3000:])
    return completed


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


@pytest.fixture(scope="module")
def stack(root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The example's pinned venv, built by the sessions a repository registers, and three runs."""
    repo = tmp_path_factory.mktemp("keras3")
    for name in ("matrix.toml", "experiment.py"):
        shutil.copy(root / EXAMPLE / name, repo / name)
    (repo / "noxfile.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(root / 'src')!r})\n"
        "from repromatrix import sessions\n"
        f"sessions.register(install={'-e ' + str(root)!r}, project=None)\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REPROMATRIX_", "NOX_", "VIRTUAL_ENV", "PYTHONPATH", "KERAS_"))}
    nox = Path(sys.executable).parent / "nox"
    start = time.perf_counter()
    run([str(nox if nox.exists() else "nox"), "-s", "pinned"], repo, env)
    seconds = time.perf_counter() - start
    python = (repo / ".nox" / "pinned-python.txt").read_text(encoding="utf-8").strip()
    print(f"\nKeras 3 stack: pinned venv in {seconds:.1f} s, "
          f"{folder_size(repo / '.nox' / 'pinned') / 1e6:.0f} MB")

    def cell(name: str, *extra: str) -> Path:
        output = repo / "artifacts" / f"{name}.json"
        run([python, "-m", "repromatrix", "run", "--matrix", "matrix.toml", "--cell", name,
             "--rows", ROWS, "--output", str(output), *extra], repo, env)
        return output

    variants = ("--variant", "default-optimizer", "--variant", "adam", "--variant", "jax")
    first, again = cell("native", *variants), cell("native-again", *variants)
    # XLA auto-clustering fuses the step's ops differently: other bits from step 1 on. (oneDNN
    # off would not do: TensorFlow 2.21 leaves it off on a CPU without AVX512_VNNI, as here.)
    knob = cell("xla", "--variant", "default-optimizer", "--env",
                "TF_XLA_FLAGS=--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit")
    return {"repo": repo, "python": python, "first": first, "again": again, "knob": knob}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


class TestKeras3OnTensorFlow:
    def test_trail_ops_probe_and_fingerprint(self, stack: dict[str, Any]) -> None:
        document = load(stack["first"])
        assert document["fingerprint"]["packages"]["keras"] == "3.15.1"
        assert document["fingerprint"]["keras"]["backend"] == "tensorflow"
        assert {p["op"] for p in document["probe"]} >= {"Sqrt", "Rsqrt", "MatMul"}
        for name, record in document["variants"].items():
            assert record["status"] == "ok", (name, record.get("error"))
            trail = record["trail"]
            assert trail["steps"] == int(ROWS) and len(trail["digest"]) == int(ROWS) + 1
            assert len(set(trail["digest"])) == int(ROWS) + 1  # every step changes the weights
            if name != "jax":
                assert {"MatMul", "Sigmoid", "Tanh", "Sqrt"} <= set(record["train_step_ops"])
        jax = document["variants"]["jax"]  # Keras 3 on JAX: its own process, jaxpr primitives
        assert jax["settings"]["backend"] == "jax"
        assert {"dot_general", "logistic", "tanh", "sqrt"} <= set(jax["train_step_ops"])
        # Keras 3's RMSprop divides by sqrt: no rsqrt left in the report's default optimizer
        assert "Rsqrt" not in document["variants"]["default-optimizer"]["train_step_ops"]
        assert document["variants"]["default-optimizer"]["settings"]["optimizer"] == "RMSprop"
        assert document["variants"]["adam"]["settings"]["optimizer"] == "Adam"

    def test_rerun_is_byte_identical(self, stack: dict[str, Any]) -> None:
        first, again = load(stack["first"]), load(stack["again"])
        for document in (first, again):
            document.pop("timing")
            document.pop("cell")
        assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)

    def test_a_changed_knob_is_located(self, stack: dict[str, Any], root: Path) -> None:
        """XLA changes the default optimizer's weights; the aggregator finds the first step."""
        first, knob = load(stack["first"]), load(stack["knob"])
        native = first["variants"]["default-optimizer"]
        other = knob["variants"]["default-optimizer"]
        assert native["digest"] != other["digest"], "XLA on/off gave the same bits"
        step = next(i for i, (a, b) in enumerate(zip(native["trail"]["digest"],
                                                     other["trail"]["digest"])) if a != b)
        completed = subprocess.run(
            [stack["python"], "-m", "repromatrix", "aggregate", str(stack["first"]),
             str(stack["knob"]), "--format", "json"], cwd=stack["repo"], capture_output=True,
            text=True, check=False)
        assert completed.returncode == 0, completed.stderr[-2000:]
        assert f'"first_divergent_step": {step}' in completed.stdout
