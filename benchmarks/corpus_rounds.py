"""What the per-step benchmarks of the Keras 3 style corpus (tests/integration/keras3_styles)
share: their arguments, the corpus loaded inside the Keras 3 venv at a chosen number of steps, and
the run of a snippet there whose last line of output is its figures as JSON."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "integration" / "keras3_styles" / "experiment.py"

# The first lines of every snippet: `corpus` (its STYLES, BATCH, FIT), `rounds` and `steps`, the
# corpus's data sized to `steps` optimizer steps (its own 24 rows are too few to time).
PRELUDE = r"""
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("corpus", sys.argv[1])
corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(corpus)
rounds, steps = int(sys.argv[2]), int(sys.argv[3])
corpus.ROWS = steps * corpus.BATCH
"""

# The TensorFlow snippets' environment: oneDNN off, as the test cells run, and TensorFlow quiet.
TENSORFLOW = {"KERAS_BACKEND": "tensorflow", "TF_ENABLE_ONEDNN_OPTS": "0",
              "TF_CPP_MIN_LOG_LEVEL": "2"}


def arguments(doc: str | None, rounds: int) -> argparse.Namespace:
    """--python (the Keras 3 venv's interpreter), --rounds and --steps."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", required=True, help="the Keras 3 venv's interpreter")
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--steps", type=int, default=200)
    return parser.parse_args()


def run(args: argparse.Namespace, snippet: str, env: dict[str, str]) -> Any:
    """PRELUDE + ``snippet`` in the venv with ``env`` added (KERAS_BACKEND at least): its JSON."""
    done = subprocess.run([args.python, "-c", PRELUDE + snippet, str(CORPUS), str(args.rounds),
                           str(args.steps)], cwd=ROOT, check=False, capture_output=True, text=True,
                          env={**os.environ, **env, "PYTHONPATH": str(ROOT / "src")})
    if done.returncode != 0:  # the venv's own traceback, not the snippet echoed back
        raise SystemExit(f"the benchmark's snippet failed (exit {done.returncode}):\n"
                         f"{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_direct(results: dict[str, list[list[float]]], what: str) -> None:
    """The direct benchmarks' lines: per style, the step's seconds and ``what`` is added to it
    (its seconds per step), and the per-round ratio (step + added) / step."""
    for style, rounds in results.items():
        ratios = [(step + added) / step for step, added in rounds]
        print(f"   {style}: step {statistics.median(s for s, _ in rounds) * 1e3:.2f} ms, {what} "
              f"{statistics.median(a for _, a in rounds) * 1e6:.0f} us, ratio median "
              f"{statistics.median(ratios):.3f} (rounds {', '.join(f'{r:.3f}' for r in ratios)})")
