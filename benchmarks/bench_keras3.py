"""Per-step trail overhead on Keras 3, per backend. Prints figures; asserts nothing.

    python benchmarks/bench_keras3.py --python PATH/TO/KERAS3/VENV/bin/python [--backend jax|torch]
                                      [--repeats 5] [--rows 1000]

PATH is a venv with the pins of examples/report-keras3 and repromatrix installed (e.g. the
example's `nox -s pinned`). In one process, alternating rounds train the example's variants with
the trail and without it (the recorder switched off); the figure is the median of the per-round
ratios (budget: <= 1.15), beside the ratio of the fastest rounds (a loaded machine only adds
time), and the digests with and without must be equal.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MATRIX = ROOT / "examples" / "report-keras3" / "matrix.toml"

SNIPPET = r"""
import json, sys, time
from pathlib import Path
from repromatrix import contract
from repromatrix.cell import experiment
from repromatrix.cell.data import load_dataset
from repromatrix.config.matrix import load_matrix
matrix = load_matrix(sys.argv[1])
rounds, rows = int(sys.argv[2]), int(sys.argv[3])
entry = contract.parse_entry(matrix.experiment.entry)
function = contract.load_function(entry, matrix.path.parent)
data = load_dataset("builtin", rows=rows)
recording = experiment._start_trail
def run(name, trail):
    experiment._start_trail = recording if trail else (lambda model, steps: (None, "off"))
    start = time.perf_counter()
    record = experiment.run_user_variant(function, entry.text, matrix.variants[name], data, 42)
    return time.perf_counter() - start, record["digest"]
run("adam", True)  # warm-up: the first fit pays for tracing
results = {}
for _ in range(rounds):
    for name in ("default-optimizer", "adam"):
        for trail in (False, True):
            seconds, digest = run(name, trail)
            results.setdefault(f"{name}|{trail}", []).append(seconds)
            results.setdefault(f"digest|{name}|{trail}", digest)
print(json.dumps(results))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", required=True, help="the Keras 3 venv's interpreter")
    parser.add_argument("--backend", default="tensorflow", choices=("tensorflow", "jax", "torch"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    env = {**os.environ, "KERAS_BACKEND": args.backend, "PYTHONPATH": str(ROOT / "src")}
    output = subprocess.run([args.python, "-c", SNIPPET, str(MATRIX), str(args.repeats),
                             str(args.rows)], cwd=ROOT, env=env, check=True, capture_output=True,
                            text=True).stdout
    results = json.loads(output.strip().splitlines()[-1])
    print(f"Keras 3 trail overhead, backend {args.backend}, {args.rows} steps, "
          f"{args.repeats} alternating rounds")
    for name in ("default-optimizer", "adam"):
        off, on = results[f"{name}|False"], results[f"{name}|True"]
        ratios = [b / a for a, b in zip(off, on)]
        same = results[f"digest|{name}|False"] == results[f"digest|{name}|True"]
        print(f"   {name}: without {statistics.median(off):.2f} s, with "
              f"{statistics.median(on):.2f} s, ratio median {statistics.median(ratios):.3f} "
              f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}; budget 1.15); same digest: {same}")
        # A shared machine only ever adds time: the fastest round of each side is the least
        # disturbed estimate, a second figure beside the median of the paired ratios.
        print(f"   {name}: fastest rounds {min(off):.2f} s without, {min(on):.2f} s with, "
              f"ratio {min(on) / min(off):.3f}")


if __name__ == "__main__":
    main()
