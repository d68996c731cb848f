"""The Keras 3 PyTorch trail's per-step cost, measured directly: the recorder's hash of one step's
state (``TorchTrailRecorder._measure``, what runs after every step) against one train step, for
every model-building style of the slow test corpus (tests/integration/keras3_styles). Prints
figures; asserts nothing.

    python benchmarks/bench_torch_trail_hash.py --python PATH/TO/KERAS3/VENV/bin/python
                                                [--rounds 5] [--steps 200]

PATH is a venv with the pins of examples/report-keras3 (the same as bench_keras3_styles.py's).
On torch every op runs synchronously on the CPU, so the hash's own time is its whole cost to the
step; both are timed in one process, in alternating rounds, and the figure is the median per-round
ratio (step + hash) / step, against the trail budget of 1.15 (docs/performance.md). Whole-variant
timings (bench_keras3_styles.py) add the build and the op set and are far noisier.
"""

from __future__ import annotations

from corpus_rounds import arguments, print_direct, run

SNIPPET = r"""
from repromatrix.cell.torch_backend import TorchTrailRecorder
results = {}
for style, build in corpus.STYLES.items():
    model, (x, y) = build(42)
    model.fit(x, y, **{**corpus.FIT, "verbose": 0})  # builds the model and its optimizer
    recorder = TorchTrailRecorder(model, steps)
    recorder.restore()  # the step is timed as Keras runs it; the hash alone below
    for _ in range(rounds):
        start = time.perf_counter()
        model.fit(x, y, **{**corpus.FIT, "verbose": 0})
        step = (time.perf_counter() - start) / steps
        start = time.perf_counter()
        for _ in range(steps):
            recorder._measure()
        hashed = (time.perf_counter() - start) / steps
        results.setdefault(style, []).append([step, hashed])
print(json.dumps(results))
"""


def main() -> None:
    args = arguments(__doc__, rounds=5)
    results = run(args, SNIPPET, {"KERAS_BACKEND": "torch"})
    print(f"Keras 3 trail on PyTorch: the hash after each step against the step, {args.steps} "
          f"steps, {args.rounds} alternating rounds (budget 1.15)")
    print_direct(results, "hash")


if __name__ == "__main__":
    main()
