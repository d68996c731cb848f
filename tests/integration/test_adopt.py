"""End to end, the path a user takes: build the wheel, install it with nox into a fresh venv,
`repromatrix init` in a new repository that holds its own small Keras experiment, then
`nox -s repro` (an artifact and the table) and `nox -s plan` (the default runners); the
generated workflows pass actionlint and `zizmor --offline`, every action pinned by SHA.

The user's stack is the report's (init's default pins), so uv's cache is warm. The figures it
prints (`-s` shows them) are the adoption times the README quotes; nothing here is timed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from host_env import pinned_host_env

pytestmark = pytest.mark.slow

EXPERIMENT = '''\
"""A tiny regression on data this package ships: the user's own experiment."""

from pathlib import Path

import numpy as np
import tensorflow as tf

from repromatrix.contract import ExperimentContext, TrainingPlan

DATA = Path(__file__).resolve().parent / "houses.csv"


def build(context: ExperimentContext) -> TrainingPlan:
    table = np.loadtxt(DATA, delimiter=",", skiprows=1, dtype=np.float32)
    x, y = table[:, :-1], table[:, -1]
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(8, activation="relu", input_shape=(x.shape[1],)),
        tf.keras.layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    return TrainingPlan(model, x, y, {"batch_size": 4, "epochs": 2, "shuffle": False})
'''


def houses_csv() -> str:
    """16 rows of 3 features and a target, fixed numbers (no randomness to seed)."""
    rows = ["rooms,age,distance,price"]
    for i in range(16):
        rooms, age, distance = 1 + i % 5, (7 * i) % 40, (3 * i) % 11 / 2
        rows.append(f"{rooms},{age},{distance},{0.3 * rooms - 0.01 * age + 0.1 * distance:.4f}")
    return "\n".join(rows) + "\n"


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: int = 900
        ) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                               timeout=timeout, check=False)
    assert completed.returncode == 0, (argv, completed.stdout[-3000:], completed.stderr[-3000:])
    return completed


def linter(name: str) -> str:
    """A linter next to this test's Python (the nox tests session installs them) or on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (the nox tests session installs it)")
    return found


@pytest.fixture(scope="module")
def adopted(root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A new repository set up and run as the README tells a user to."""
    uv = shutil.which("uv") or pytest.fail("uv is not installed (the nox tests session has it)")
    base = tmp_path_factory.mktemp("adopt")
    env = {k: v for k, v in pinned_host_env().items()
           if not k.startswith(("REPROMATRIX_", "NOX_", "VIRTUAL_ENV", "PYTHONPATH"))}
    figures: dict[str, float] = {}

    start = time.perf_counter()
    run([uv, "build", "--wheel", "--out-dir", str(base / "dist"), str(root)], root, env)
    wheel = next((base / "dist").glob("repromatrix-*.whl"))
    figures["build wheel"] = time.perf_counter() - start

    start = time.perf_counter()
    host = base / "host"
    run([uv, "venv", "--python", sys.executable, str(host)], base, env)
    bin_dir = host / ("Scripts" if os.name == "nt" else "bin")
    run([uv, "pip", "install", "--python", str(bin_dir / "python"), str(wheel), "nox", "uv"],
        base, env)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    figures["host venv (wheel, nox)"] = time.perf_counter() - start

    repo = base / "repo"
    (repo / "housing").mkdir(parents=True)
    (repo / "housing" / "__init__.py").write_text("", encoding="utf-8")
    (repo / "housing" / "experiment.py").write_text(EXPERIMENT, encoding="utf-8")
    (repo / "housing" / "houses.csv").write_text(houses_csv(), encoding="utf-8")
    version = run([str(bin_dir / "repromatrix"), "--version"], repo, env).stdout

    start = time.perf_counter()
    # --no-lock: init's lock (a minute of resolving, mostly waiting on the index) is exercised by
    # test_pinned_lock.py; here the wheel's path from init to the first table is timed.
    run([str(bin_dir / "repromatrix"), "init", "--entry", "housing.experiment:build",
         "--install", str(wheel), "--no-lock"], repo, env)
    repro = run([str(bin_dir / "nox"), "-s", "repro"], repo, env)
    figures["init to first table"] = time.perf_counter() - start
    plan = run([str(bin_dir / "nox"), "-s", "plan"], repo, env)
    print("\nadoption figures (s): " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()))
    return {"repo": repo, "wheel": wheel, "version": version, "repro": repro, "plan": plan}


class TestAdopt:
    def test_version_from_the_wheel(self, adopted: dict[str, object]) -> None:
        from repromatrix import __version__

        assert adopted["version"] == f"repromatrix {__version__}\n"

    def test_repro_writes_an_artifact_and_prints_the_table(self, adopted: dict[str, object]
                                                           ) -> None:
        repo = adopted["repo"]
        assert isinstance(repo, Path)
        document = json.loads((repo / "artifacts" / "local.json").read_text(encoding="utf-8"))
        assert document["status"] == "ok"
        assert document["experiment"]["name"] == "housing.experiment:build"
        assert document["variants"]["default"]["status"] == "ok"
        output = adopted["repro"].stdout  # type: ignore[attr-defined]
        assert "repromatrix: 1 cell, 1 variant" in output
        assert re.search(r"^local\s", output, re.MULTILINE), output[-2000:]

    def test_pinned_venv_has_repromatrix_from_the_wheel(self, adopted: dict[str, object]) -> None:
        """The spec init recorded is what the pinned venv installed: the wheel, not a checkout."""
        repo, wheel = adopted["repo"], adopted["wheel"]
        assert isinstance(repo, Path) and isinstance(wheel, Path)
        assert f'install="{wheel}"' in (repo / "noxfile.py").read_text(encoding="utf-8")
        python = (repo / ".nox" / "pinned-python.txt").read_text(encoding="utf-8").strip()
        origin = subprocess.run([python, "-c", "import repromatrix; print(repromatrix.__file__)"],
                                capture_output=True, text=True, check=True, cwd=repo).stdout
        assert str(repo / ".nox" / "pinned") in origin

    def test_plan_lists_the_default_runners(self, adopted: dict[str, object]) -> None:
        include = json.loads(adopted["plan"].stdout.strip().splitlines()[-1])["include"]  # type: ignore[attr-defined]
        assert sorted({entry["runner"] for entry in include}) == [
            "macos-15", "macos-15-intel", "ubuntu-24.04", "ubuntu-24.04-arm", "windows-2025"]

    def test_workflows_lint_clean_and_pinned(self, adopted: dict[str, object]) -> None:
        repo = adopted["repo"]
        assert isinstance(repo, Path)
        workflows = sorted((repo / ".github" / "workflows").glob("*.yml"))
        assert [p.name for p in workflows] == ["repromatrix-comment.yml", "repromatrix.yml"]
        lint = subprocess.run([linter("actionlint"), "-no-color", *map(str, workflows)],
                              cwd=repo, capture_output=True, text=True, check=False)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        audit = subprocess.run([linter("zizmor"), "--offline", "--no-progress", "--format",
                                "json", str(repo / ".github" / "workflows")],
                               cwd=repo, capture_output=True, text=True, check=False)
        assert audit.returncode == 0 and json.loads(audit.stdout) == [], audit.stdout
        for path in workflows:
            uses = re.findall(r"uses:\s*(\S+)", path.read_text(encoding="utf-8"))
            assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses)

