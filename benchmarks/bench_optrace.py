"""What the op trace costs: extra time and artifact size per variant. Prints figures; asserts nothing.

    .nox/pinned/bin/python benchmarks/bench_optrace.py [--repeats 3] [--steps 2]

Runs in the pinned venv (Python 3.9, TensorFlow 2.12), on the built-in experiment (1,000 steps).
Per variant and repeat, in one process and alternating: the main run as `repromatrix run` does it
without a trace, then the traced pass alone (`optrace.builtin_trace`, K steps). Printed: the
median of (traced pass / main run) per variant (target: under 0.25 for K = 2), the median traced
pass and main run seconds, and the trace's size in the artifact (indent-1 JSON, target: under
1 MB per variant). The machine is shared: read ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from repromatrix.cell import experiment, optrace
from repromatrix.cell.data import load_dataset
from repromatrix.config.matrix import load_matrix


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--matrix", default="matrix.toml")
    args = parser.parse_args()
    matrix = load_matrix(args.matrix)
    data = load_dataset(matrix.data_path(), target=matrix.experiment.target)
    seed = matrix.experiment.seed
    for name in matrix.experiment.variants:
        variant = matrix.variants[name]
        ratios, traced, main_seconds, sizes = [], [], [], set()
        for _ in range(args.repeats):
            started = time.perf_counter()
            record = experiment.run_variant(variant, data, seed)
            main = time.perf_counter() - started
            started = time.perf_counter()
            trace = optrace.builtin_trace(variant, data, seed, optrace.TraceRequest(args.steps),
                                          record["trail"])
            extra = time.perf_counter() - started
            ratios.append(extra / main)
            traced.append(extra)
            main_seconds.append(main)
            sizes.add(len(json.dumps(trace, sort_keys=True, indent=1).encode()))
            reproduces = trace.get("reproduces_main_trail")
        print(f"{name}: traced pass / main run median {statistics.median(ratios):.2f} "
              f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}); traced pass median "
              f"{statistics.median(traced):.1f} s, main run median "
              f"{statistics.median(main_seconds):.1f} s; trace size "
              f"{', '.join(str(s) for s in sorted(sizes))} bytes; "
              f"{len(trace.get('records', []))} records; reproduces main trail: {reproduces}",
              flush=True)


if __name__ == "__main__":
    main()
