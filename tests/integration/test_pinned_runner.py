"""The real pinned stack (Python 3.9, TensorFlow 2.12) through `repromatrix run`.

These are the checks the issue names: the report's published before-training sums reproduced
exactly, byte-identical results on a second run, one process giving the same digests as one
process per variant, and bad data ending in one line with exit code 2.
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from host_env import pinned_host_env

pytestmark = pytest.mark.slow

# The report's before-training sums as printed (float32 shortest repr).
PUBLISHED_BEFORE = ["-9.959677", "0.0", "-5.590966", "0.0", "-1.1521256", "0.0"]


def f32_bits(text: str) -> str:
    return "0x" + struct.pack(">f", float(text)).hex()


def run_cell(python: str, root: Path, output: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "repromatrix", "run", "--matrix", str(root / "matrix.toml"),
                           "--output", str(output), *extra],
                          cwd=root, env=pinned_host_env(), capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def runs(pinned_python: str, root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three full runs of the default cell: twice in one process each, once per-variant processes."""
    folder = tmp_path_factory.mktemp("runs")
    results: dict[str, Any] = {}
    for name, extra in (("first", []), ("second", []), ("split", ["--process-per-variant"])):
        completed = run_cell(pinned_python, root, folder / f"{name}.json", "--cell", "it", *extra)
        assert completed.returncode == 0, completed.stderr[-3000:]
        results[name] = (folder / f"{name}.json").read_bytes()
        results[f"{name}-stderr"] = completed.stderr
    return results


def cut_timing(raw: bytes) -> bytes:
    """The artifact's bytes without its top-level ``"timing"`` member (indent 1: members start
    with a newline and one space)."""
    start = raw.index(b'\n "timing": ')
    end = raw.index(b'\n "', start + 1)
    cut = raw[:start] + raw[end:]
    assert b'"timing"' not in cut and b'"started_utc"' not in cut
    return cut


def without_timing(raw: bytes) -> dict[str, Any]:
    document = json.loads(raw)
    document.pop("timing")
    return document


class TestFidelity:
    def test_before_training_sums_match_the_report(self, runs: dict[str, Any]) -> None:
        """Seed 42 and 41 features give exactly the published float32 before-training sums."""
        document = json.loads(runs["first"])
        expected = [f32_bits(t) for t in PUBLISHED_BEFORE]
        for name in ("default-optimizer", "adam"):
            assert document["variants"][name]["weight_sums"]["before_bits"] == expected

    def test_variants_differ_after_training(self, runs: dict[str, Any]) -> None:
        """The two optimizers really train differently (a run that trained nothing would not)."""
        variants = json.loads(runs["first"])["variants"]
        assert variants["default-optimizer"]["digest"] != variants["adam"]["digest"]
        assert variants["adam"]["weight_sums"]["after"] != variants["adam"]["weight_sums"]["before"]

    def test_trail_and_op_set(self, runs: dict[str, Any]) -> None:
        """One trail entry per step plus the start; the default optimizer's train step uses Rsqrt."""
        variants = json.loads(runs["first"])["variants"]
        for name, record in variants.items():
            trail = record["trail"]
            assert trail["steps"] == 1000 and len(trail["digest"]) == len(trail["sum"]) == 1001
            assert len(set(trail["digest"])) > 990, name  # the weights change at (nearly) every step
        assert "Rsqrt" in variants["default-optimizer"]["train_step_ops"]
        assert "Rsqrt" not in variants["adam"]["train_step_ops"]
        assert "Sqrt" in variants["adam"]["train_step_ops"]

    def test_fingerprint_and_drift(self, runs: dict[str, Any]) -> None:
        document = json.loads(runs["first"])
        fingerprint = document["fingerprint"]
        assert fingerprint["packages"]["tensorflow"] == "2.12.0"
        assert fingerprint["tensorflow"]["version"] == "2.12.0"
        python_drift = [d for d in document["drift"] if d["name"] == "python"]
        if fingerprint["python"]["version"] == "3.9.2":
            assert python_drift == []
        else:
            assert python_drift == [{"name": "python", "pinned": "3.9.2",
                                     "found": fingerprint["python"]["version"]}]

    def test_every_installed_distribution_is_recorded(self, runs: dict[str, Any],
                                                      pinned_python: str) -> None:
        """Not only the pins: every distribution of the pinned venv, as its own Python's
        importlib.metadata lists it (on 3.9), with the wheel build it came from."""
        recorded = json.loads(runs["first"])["fingerprint"]["distributions"]
        listed = json.loads(subprocess.run(
            [pinned_python, "-c", "import json; from importlib import metadata; print(json.dumps("
             "{d.metadata['Name'].lower().replace('_', '-'): d.version "
             "for d in metadata.distributions()}))"],
            capture_output=True, text=True, check=True, timeout=120).stdout)
        assert {name: entry["version"] for name, entry in recorded.items()} == listed
        assert {"scipy", "protobuf", "ml-dtypes", "tensorflow"} <= set(recorded)  # transitive too
        assert recorded["tensorflow"]["source"].startswith("wheel cp39-cp39-")
        assert json.loads(runs["first"])["fingerprint"]["installer"].startswith(("uv ", "pip "))

    def test_probe_names_ops(self, runs: dict[str, Any]) -> None:
        ops = {item["op"] for item in json.loads(runs["first"])["probe"]}
        assert {"Rsqrt", "Sqrt", "RealDiv", "Exp", "Tanh", "Sigmoid", "MatMul", "Sum"} <= ops
        cases = [item["case"] for item in json.loads(runs["first"])["probe"] if item["op"] == "MatMul"]
        assert len(cases) >= 2


class TestDeterminism:
    def test_second_run_is_byte_identical_except_timing(self, runs: dict[str, Any]) -> None:
        """The files' bytes are equal once the top-level timing member is cut out."""
        assert cut_timing(runs["first"]) == cut_timing(runs["second"])

    def test_one_process_equals_process_per_variant(self, runs: dict[str, Any]) -> None:
        """Sharing one process changes nothing: same digests, trails and sums per variant."""
        shared, split = json.loads(runs["first"])["variants"], json.loads(runs["split"])["variants"]
        for name in shared:
            for key in ("digest", "trail", "weight_sums", "tensors", "loss_bits", "train_step_ops"):
                assert shared[name][key] == split[name][key], (name, key)

    def test_progress_is_shown(self, runs: dict[str, Any]) -> None:
        stderr = runs["first-stderr"]
        assert "importing TensorFlow" in stderr and "training default-optimizer (1000 steps" in stderr


def test_trail_recording_changes_no_weight(pinned_python: str, root: Path) -> None:
    """Training with the in-graph trail recorder gives the same weights as training without it."""
    script = (
        "from repromatrix.cell.data import load_dataset\n"
        "from repromatrix.config.matrix import load_matrix\n"
        "from repromatrix.cell.experiment import run_variant\n"
        f"m = load_matrix({str(root / 'matrix.toml')!r})\n"
        "d = load_dataset('builtin', rows=200)\n"
        "for name in ('default-optimizer', 'adam'):\n"
        "    a = run_variant(m.variants[name], d, 42, record_trail=True)\n"
        "    b = run_variant(m.variants[name], d, 42, record_trail=False)\n"
        "    print(name, a['digest'] == b['digest'], 'trail' in a, 'trail' in b)\n"
    )
    completed = subprocess.run([pinned_python, "-c", script], capture_output=True, text=True, cwd=root,
                               env=pinned_host_env())
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split("\n")[:2] == ["default-optimizer True True False", "adam True True False"]


def test_the_graph_hash_and_sum_are_trail_pys_numpy_twins(pinned_python: str, root: Path) -> None:
    """The recorder joins consecutive variables of one dtype before converting them: its hash
    must still be trail.trail_hash of the variables in their order, whatever their dtypes, and
    its float64 sum their sum (integer values, so exact in any reduction order)."""
    script = (
        "import numpy as np, tensorflow as tf\n"
        "from repromatrix.cell import trail\n"
        "class Model:  # all TrailRecorder reads of a Keras 2 model\n"
        "    def __init__(self, weights): self.weights, self.train_step = weights, None\n"
        "rng = np.random.RandomState(7)\n"
        "layout = [('float32', (37, 5)), ('float32', (3,)), ('float64', (4, 2)), ('float16', (5,)),\n"
        "          ('float32', (2, 2)), ('bool', (3,)), ('int64', (6,)), ('int8', (4,))]\n"
        "arrays = [np.round(rng.randn(*shape) * 100).astype(dtype) for dtype, shape in layout]\n"
        "for chosen in (arrays, arrays[:2], arrays[2:3], arrays[::-1]):\n"
        "    recorder = trail.TrailRecorder(Model([tf.Variable(a) for a in chosen]), steps=1)\n"
        "    row = recorder._rows.numpy()[0]\n"
        "    mine, twin = trail.hash_hex(int(row[0])), trail.hash_hex(trail.trail_hash(chosen))\n"
        "    assert mine == twin, [a.dtype for a in chosen]\n"
        "    exact = sum(float(x) for a in chosen for x in a.astype(np.float64).ravel())\n"
        "    assert row[1:].view(np.float64)[0] == exact, [a.dtype for a in chosen]\n"
        "print('twins agree')\n")
    completed = subprocess.run([pinned_python, "-c", script], capture_output=True, text=True,
                               cwd=root, env=pinned_host_env())
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.splitlines()[-1] == "twins agree"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such data file"),
        ("a\n1\n", "expected a header with feature columns and a target"),
        (",".join(f"f{i}" for i in range(41)) + ",target\n" + ",".join(["1"] * 40) + ",oops,0.5\n",
         "column 'f40' is not a number: 'oops'"),
        (",".join(f"f{i}" for i in range(41)) + ",target\n" + ",".join(["1"] * 41) + ",nan\n",
         "column 'target' is nan"),
    ],
)
def test_bad_data_one_line_exit_2(pinned_python: str, root: Path, tmp_path: Path,
                                  content: str | None, message: str) -> None:
    """Bad --data ends with exit code 2 and one error line, no traceback, and no artifact."""
    data = tmp_path / "user.csv"
    if content is not None:
        data.write_text(content)
    output = tmp_path / "out.json"
    completed = run_cell(pinned_python, root, output, "--data", str(data))
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("repromatrix: error: ") and message in lines[0]
    assert "Traceback" not in completed.stderr and not output.exists()
