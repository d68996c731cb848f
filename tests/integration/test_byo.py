"""Bring your own experiment, on the real pinned stack: the digits CNN example end to end, the
errors a user hits (one line, exit 2), and preflight against the real PyPI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from host_env import pinned_host_env

pytestmark = pytest.mark.slow

EXAMPLE = Path("examples") / "digits-cnn" / "matrix.toml"


def run(python: str, root: Path, matrix: Path, output: Path, *extra: str
        ) -> subprocess.CompletedProcess[str]:
    """A cell in the environment of tests/conftest.py: no host variable that changes numbers."""
    return subprocess.run([python, "-m", "repromatrix", "run", "--matrix", str(matrix),
                           "--output", str(output), *extra],
                          cwd=root, env=pinned_host_env(), capture_output=True, text=True,
                          check=False)


@pytest.fixture(scope="module")
def example(pinned_python: str, root: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, Any]:
    """The example with its two variants plus the one that needs its own process (env)."""
    output = tmp_path_factory.mktemp("digits") / "digits.json"
    completed = run(pinned_python, root, root / EXAMPLE, output, "--cell", "digits",
                    "--variant", "adam", "--variant", "sgd", "--variant", "adam-onednn-off")
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(output.read_text())


class TestExample:
    def test_experiment_block(self, example: dict[str, Any]) -> None:
        assert example["status"] == "ok"
        assert example["experiment"]["name"] == "experiment.py:build"
        assert example["experiment"]["data"] is None  # the function loads its own data
        assert example["fingerprint"]["packages"]["scikit-learn"] == "1.2.2"

    def test_digests_trail_and_ops(self, example: dict[str, Any]) -> None:
        for name, record in example["variants"].items():
            assert record["status"] == "ok", (name, record.get("error"))
            assert re.fullmatch(r"[0-9a-f]{64}", record["digest"])
            assert all(re.fullmatch(r"[0-9a-f]{64}", t["sha256"]) for t in record["tensors"])
            # 1,440 rows, batch 32, 5 epochs: 225 optimizer steps, plus the state before training
            assert record["fit"]["steps"] == record["trail"]["steps"] == 225
            assert len(record["trail"]["digest"]) == 226
            assert len(set(record["trail"]["digest"])) > 200
            assert {"Conv2D", "Conv2DBackpropFilter", "MaxPool"} <= set(record["train_step_ops"])
        variants = example["variants"]
        assert "Sqrt" in variants["adam"]["train_step_ops"]
        assert "Sqrt" not in variants["sgd"]["train_step_ops"]
        assert variants["adam"]["digest"] != variants["sgd"]["digest"]
        # same seed, same initial weights, whatever the optimizer
        assert variants["adam"]["weight_sums"]["before_bits"] == \
            variants["sgd"]["weight_sums"]["before_bits"]

    def test_aggregates(self, example: dict[str, Any], root: Path, tmp_path: Path) -> None:
        """The real artifact, and a copy of it under another cell id, compare as identical in
        every variant by their whole-model digests."""
        (tmp_path / "digits.json").write_text(json.dumps(example))
        (tmp_path / "digits-copy.json").write_text(json.dumps({**example, "cell": "digits-copy"}))
        completed = subprocess.run([sys.executable, "-m", "repromatrix", "aggregate",
                                    str(tmp_path), "--format", "json"], cwd=root,
                                   capture_output=True, text=True, check=False,
                                   env={**pinned_host_env(), "PYTHONPATH": str(root / "src")})
        assert completed.returncode == 0, completed.stderr
        report = json.loads(completed.stdout)
        verdicts = report["variants"]
        assert sorted(verdicts) == sorted(example["variants"]) and not report["problems"]
        for name, verdict in verdicts.items():
            assert verdict["compared_by"] == "digest", name
            assert verdict["summary"] == "bit-identical on all 2 cells", name


MATRIX = """\
[experiment]
entry = "{entry}"
seed = 1
[pins]
python = "3.9.2"
[pins.packages]
tensorflow = "2.12.0"
[variants.only]
"""

GOOD_MODEL = """\
import numpy as np
import tensorflow as tf
from repromatrix.contract import TrainingPlan

def model(compiled=True):
    m = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(4,))])
    if compiled:
        m.compile(optimizer="sgd", loss="mse")
    return m
"""

CASES = {
    "missing module": ("no_such_module_xyz.experiments:build", "", "no module named"),
    "missing function": ("exp.py:buidl", "def build(context):\n    pass\n",
                         "defines no 'buidl'; did you mean 'build'"),
    "wrong return": ("exp.py:build", GOOD_MODEL + "def build(context):\n"
                     "    return model(), np.zeros((8, 4)), np.zeros((8, 2))\n",
                     "returned a tuple of 3; expected a repromatrix.contract.TrainingPlan"),
    "not compiled": ("exp.py:build", GOOD_MODEL + "def build(context):\n"
                     "    return TrainingPlan(model(False), np.zeros((8, 4)), np.zeros((8, 2)))\n",
                     "the model is not compiled"),
    "wrong shape": ("exp.py:build", GOOD_MODEL + "def build(context):\n"
                    "    return TrainingPlan(model(), np.zeros((8, 5)), np.zeros((8, 2)))\n",
                    "x has shape (8, 5) but the model's input is (None, 4)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_user_errors_one_line_exit_2(case: str, pinned_python: str, root: Path,
                                     tmp_path: Path) -> None:
    entry, source, message = CASES[case]
    (tmp_path / "matrix.toml").write_text(MATRIX.format(entry=entry))
    if source:
        (tmp_path / "exp.py").write_text(textwrap.dedent(source))
    output = tmp_path / "out.json"
    completed = run(pinned_python, root, tmp_path / "matrix.toml", output)
    assert completed.returncode == 2, completed.stderr[-3000:]
    errors = [line for line in completed.stderr.splitlines() if line.startswith("repromatrix: error")]
    assert len(errors) == 1 and message in errors[0], completed.stderr[-2000:]
    assert "Traceback" not in completed.stderr and not output.exists()
    if case in ("missing module", "missing function"):  # caught before TensorFlow is imported
        assert "importing TensorFlow" not in completed.stderr


def python_with_pip(pinned_python: str) -> str:
    """preflight needs pip >= 22.2 somewhere (uv-made venvs have none); any interpreter will do."""
    for candidate in (sys.executable, pinned_python, shutil.which("python3"), shutil.which("python")):
        if not candidate:
            continue
        version = subprocess.run([candidate, "-m", "pip", "--version"], capture_output=True,
                                 text=True, check=False).stdout
        found = re.match(r"pip (\d+)\.(\d+)", version)
        if found and (int(found.group(1)), int(found.group(2))) >= (22, 2):
            return candidate
    pytest.fail("no interpreter with pip >= 22.2 found for preflight")
    raise AssertionError  # unreachable


def test_preflight_on_the_default_matrix(pinned_python: str, root: Path) -> None:
    """Real pip, real PyPI: every runner resolves; windows-11-arm is flagged (and excluded);
    macOS arm64 resolves through tensorflow-macos and plain tensorflow would not."""
    completed = subprocess.run(
        [sys.executable, "-m", "repromatrix", "preflight", "--matrix", str(root / "matrix.toml"),
         "--pip-python", python_with_pip(pinned_python)],
        cwd=root, capture_output=True, text=True, check=False, timeout=1500,
        env={**pinned_host_env(), "PYTHONPATH": str(root / "src")})
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    out = completed.stdout
    assert "windows-11-arm: no wheel for tensorflow==2.12.0 on win_arm64" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isalpha()}
    assert "fails (excluded, expected)" in rows["windows-11-arm"]
    assert " resolves " in rows["macos-15"] and "tensorflow-macos 2.12.0" in rows["macos-15"]
    assert "tensorflow-macos==2.12.0 replaces tensorflow==2.12.0: needed" in rows["macos-15"]
    assert "pulls tensorflow-intel 2.12.0" in rows["windows-2025"]
    for label in ("ubuntu-24.04", "ubuntu-24.04-arm", "windows-2025", "macos-15-intel"):
        assert " resolves " in rows[label], rows[label]
    assert "[1/" in completed.stderr  # progress


# Three ways a variant's code can end the process, one variant each, between two that succeed:
# one run shows each cause and that the process started again after it, twice in a row.
CRASHES = {
    "exits": ("sys.exit(3)", "SystemExit: the experiment called sys.exit(3)"),
    "ends": ("os._exit(0)", "the process running ends exited with code 0 before it finished"),
    "segfaults": ("ctypes.string_at(0)", "the process running segfaults was killed by SIGSEGV"),
}

CRASHING = """\
import ctypes, os, sys
import numpy as np
import tensorflow as tf
from repromatrix.contract import TrainingPlan

def build(context):
""" + "".join(f"    if context.variant.name == {name!r}:\n        {code}\n"
              for name, (code, _) in CRASHES.items()) + """\
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(4,))])
    model.compile(optimizer="sgd", loss="mse")
    x = np.arange(32, dtype="float32").reshape(8, 4) / 32
    return TrainingPlan(model, x, x[:, :1], {"batch_size": 4, "shuffle": False})
"""

CRASH_VARIANTS = ("first", *CRASHES, "last")
CRASH_MATRIX = MATRIX.replace("[variants.only]\n", "".join(f"[variants.{name}]\n"
                                                           for name in CRASH_VARIANTS))


def test_a_variant_ending_the_process_loses_no_other(pinned_python: str, root: Path,
                                                     tmp_path: Path) -> None:
    """In the default shared process, a variant that exits or crashes is one failed variant with
    its cause; the variants before and after it are kept, the artifact is written, exit 1."""
    (tmp_path / "matrix.toml").write_text(CRASH_MATRIX.format(entry="exp.py:build"))
    (tmp_path / "exp.py").write_text(CRASHING)
    output = tmp_path / "out.json"
    chosen = [arg for name in CRASH_VARIANTS for arg in ("--variant", name)]
    completed = run(pinned_python, root, tmp_path / "matrix.toml", output, *chosen)
    assert completed.returncode == 1, completed.stderr[-3000:]
    variants = json.loads(output.read_text())["variants"]
    assert variants["first"]["status"] == variants["last"]["status"] == "ok"
    assert variants["first"]["digest"] == variants["last"]["digest"]  # same seed, same model
    for name, (_, cause) in CRASHES.items():
        assert variants[name]["status"] == "error", name
        assert variants[name]["error"]["message"].startswith(cause), variants[name]["error"]
        assert f"{name} FAILED: {cause}" in completed.stderr
    # the Python stack of the crash is in the log tail
    assert "in build" in variants["segfaults"]["error"]["log_tail"]


FLOAT64 = """\
import os
import numpy as np
import tensorflow as tf
from repromatrix.contract import TrainingPlan


class Nudge(tf.keras.callbacks.Callback):
    \"\"\"After the second step, move one weight by 1e-13: far below float32 resolution.\"\"\"

    def on_train_batch_end(self, batch, logs=None):
        if batch == 1 and os.environ.get("NUDGE"):
            kernel = self.model.layers[0].kernel  # shape (4, 1)
            kernel.assign_add(tf.constant([[1e-13], [0.0], [0.0], [0.0]], tf.float64))


def build(context):
    tf.keras.backend.set_floatx("float64")
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(4,))])
    model.compile(optimizer="sgd", loss="mse")
    x = np.arange(64, dtype="float64").reshape(16, 4) / 64
    return TrainingPlan(model, x, x[:, :1], {"batch_size": 2, "shuffle": False,
                                             "callbacks": [Nudge()]})
"""


def test_float64_weights_below_float32_resolution(pinned_python: str, root: Path,
                                                  tmp_path: Path) -> None:
    """The issue's false "bit-identical": float64 weights that differ by 1e-13 after step 2 are two
    groups, diverging at step 3, with ULP distances in float64 units; tensors say float64."""
    (tmp_path / "matrix.toml").write_text(MATRIX.format(entry="exp.py:build"))
    (tmp_path / "exp.py").write_text(FLOAT64)
    folder = tmp_path / "artifacts"
    for cell, extra in (("plain", []), ("nudged", ["--env", "NUDGE=1"])):
        completed = run(pinned_python, root, tmp_path / "matrix.toml", folder / f"{cell}.json",
                        "--cell", cell, *extra)
        assert completed.returncode == 0, completed.stderr[-3000:]
    record = json.loads((folder / "plain.json").read_text())["variants"]["only"]
    assert {t["dtype"] for t in record["tensors"]} == {"float64"}
    assert record["trail"]["steps"] == 8
    completed = subprocess.run([sys.executable, "-m", "repromatrix", "aggregate", str(folder),
                                "--format", "json"], cwd=root, capture_output=True, text=True,
                               check=False, env={**pinned_host_env(), "PYTHONPATH": str(root / "src")})
    assert completed.returncode == 0, completed.stderr
    verdict = json.loads(completed.stdout)["variants"]["only"]
    assert verdict["groups"] == {"A": ["nudged"], "B": ["plain"]} or \
        verdict["groups"] == {"A": ["plain"], "B": ["nudged"]}
    comparison = verdict["comparisons"]["B"]
    assert comparison["first_divergent_step"] == 3
    # 1e-13 on a weight of magnitude < 1 is hundreds of float64 steps (and 0 float32 steps)
    assert 50 <= comparison["max_ulp"] < 10**6
    assert comparison["differing_tensors"][0]["dtype"] == "float64"
