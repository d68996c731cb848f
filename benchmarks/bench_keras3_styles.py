"""Per-step trail overhead of every Keras 3 model-building style (the slow test corpus,
tests/integration/keras3_styles/experiment.py), per backend. Prints figures; asserts nothing.

    python benchmarks/bench_keras3_styles.py --python PATH/TO/KERAS3/VENV/bin/python
                                             [--backend tensorflow|jax|torch] [--repeats 3]
                                             [--rows 400]

PATH is a venv with the pins of examples/report-keras3 and repromatrix installed. In one process,
alternating rounds train each style with the trail and without it (the recorder switched off),
on ``--rows`` rows (batch size 4: rows / 4 steps); the figure is the median of the per-round
ratios (budget: <= 1.15, docs/performance.md), and the digests with and without must be equal.
Each round is timed twice: wall-clock seconds, and the process's CPU seconds (all threads), which
another tenant's load on a shared machine moves far less than the wall clock.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MATRIX = ROOT / "tests" / "integration" / "keras3_styles" / "matrix.toml"

SNIPPET = r"""
import json, sys, time
from repromatrix import contract
from repromatrix.cell import experiment
from repromatrix.config.matrix import load_matrix
matrix = load_matrix(sys.argv[1])
rounds, rows, suffix = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
entry = contract.parse_entry(matrix.experiment.entry)
function = contract.load_function(entry, matrix.path.parent)
function.__globals__["ROWS"] = rows  # the corpus's 24 rows are too few steps to time
recording = experiment._start_trail
names = [n for n in matrix.variants if n.endswith("-" + suffix)]
def run(name, trail):
    experiment._start_trail = recording if trail else (lambda model, steps: (None, "off"))
    start, cpu = time.perf_counter(), time.process_time()
    record = experiment.run_user_variant(function, entry.text, matrix.variants[name], None, 42)
    return time.perf_counter() - start, time.process_time() - cpu, record["digest"]
results = {}
for name in names:
    run(name, True)  # warm-up
    for _ in range(rounds):
        for trail in (False, True):
            seconds, cpu, digest = run(name, trail)
            results.setdefault(f"{name}|{trail}", []).append(seconds)
            results.setdefault(f"cpu|{name}|{trail}", []).append(cpu)
            results.setdefault(f"digest|{name}|{trail}", digest)
print(json.dumps({"names": names, **results}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", required=True, help="the Keras 3 venv's interpreter")
    parser.add_argument("--backend", default="tensorflow", choices=("tensorflow", "jax", "torch"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=400)
    args = parser.parse_args()
    suffix = {"tensorflow": "tf"}.get(args.backend, args.backend)
    env = {**os.environ, "KERAS_BACKEND": args.backend, "PYTHONPATH": str(ROOT / "src")}
    output = subprocess.run([args.python, "-c", SNIPPET, str(MATRIX), str(args.repeats),
                             str(args.rows), suffix], cwd=ROOT, env=env, check=True,
                            capture_output=True, text=True).stdout
    results = json.loads(output.strip().splitlines()[-1])
    print(f"Keras 3 trail overhead per style, backend {args.backend}, {args.rows // 4} steps, "
          f"{args.repeats} alternating rounds (budget 1.15)")
    for name in results["names"]:
        off, on = results[f"{name}|False"], results[f"{name}|True"]
        ratios = [b / a for a, b in zip(off, on)]
        cpu = [b / a for a, b in zip(results[f"cpu|{name}|False"], results[f"cpu|{name}|True"])]
        same = results[f"digest|{name}|False"] == results[f"digest|{name}|True"]
        print(f"   {name}: without {statistics.median(off):.2f} s, with "
              f"{statistics.median(on):.2f} s, ratio median {statistics.median(ratios):.3f} "
              f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}; fastest {min(on) / min(off):.3f})"
              f"; CPU time ratio median {statistics.median(cpu):.3f} (rounds "
              f"{', '.join(f'{r:.2f}' for r in cpu)}); same digest: {same}")


if __name__ == "__main__":
    main()
