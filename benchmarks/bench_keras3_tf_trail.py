"""The Keras 3 TensorFlow trail's cost split in two: what it adds once (the recorder's setup, the
hash of the weights before training, and tracing a train step that carries the hash) and what it
adds per step, for every model-building style of the slow test corpus
(tests/integration/keras3_styles). Prints figures; asserts nothing.

    python benchmarks/bench_keras3_tf_trail.py --python PATH/TO/KERAS3/VENV/bin/python
                                               [--rounds 3] [--steps 200]

PATH is a venv with the pins of examples/report-keras3 (the same as bench_keras3_styles.py's).
Each round builds the style twice, as a run builds it (``user_plan.build``), and trains both in
one process: the plain model and the recorded one each train two steps first (the first fit
traces the step: that time, less the plain model's, is the fixed cost), then ``--steps`` steps
each, plain and recorded alternately (the per-step ratio). CPU seconds of the process beside wall
seconds, as in bench_keras3_styles.py. oneDNN off, as the test cells run.
"""

from __future__ import annotations

import statistics

from corpus_rounds import TENSORFLOW, arguments, run

SNIPPET = r"""
from repromatrix.cell import user_plan
from repromatrix.cell.keras3 import Keras3TrailRecorder
FIT = {**corpus.FIT, "verbose": 0}
def timed(call):
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return [time.perf_counter() - wall, time.process_time() - cpu]
results = {}
for style, make in corpus.STYLES.items():
    for _ in range(rounds):
        plain, (x, y) = make(42)
        user_plan.build(plain, x, y)
        first_plain = timed(lambda: plain.fit(x[:8], y[:8], **FIT))
        recorded, _ = make(42)
        user_plan.build(recorded, x, y)
        holder = {}
        def start():
            holder["recorder"] = Keras3TrailRecorder(recorded, steps)
            recorded.fit(x[:8], y[:8], **FIT)
        first_recorded = timed(start)
        recorder = holder["recorder"]
        recorder._steps.assign(0)  # the buffer holds `steps` steps: count this fit from zero
        plain_run = timed(lambda: plain.fit(x, y, **FIT))
        recorder._steps.assign(0)
        recorded_run = timed(lambda: recorded.fit(x, y, **FIT))
        results.setdefault(style, []).append([first_plain, first_recorded, plain_run,
                                              recorded_run])
print(json.dumps(results))
"""


def main() -> None:
    args = arguments(__doc__, rounds=3)
    results = run(args, SNIPPET, TENSORFLOW)
    print(f"Keras 3 trail on TensorFlow: fixed cost and per-step ratio, {args.steps} steps, "
          f"{args.rounds} rounds (budget 1.15 on a whole run)")
    for style, rounds in results.items():
        fixed = [(b[0] - a[0], b[1] - a[1]) for a, b, _, _ in rounds]
        per_step = [(d[0] / c[0], d[1] / c[1]) for _, _, c, d in rounds]
        step_ms = statistics.median(c[0] for _, _, c, _ in rounds) / args.steps * 1e3
        print(f"   {style}: fixed {statistics.median(f[0] for f in fixed):+.2f} s wall, "
              f"{statistics.median(f[1] for f in fixed):+.2f} s CPU; per step "
              f"{statistics.median(p[0] for p in per_step):.3f} wall, "
              f"{statistics.median(p[1] for p in per_step):.3f} CPU (plain step {step_ms:.2f} ms; "
              f"rounds {', '.join(f'{p[1]:.2f}' for p in per_step)})")


if __name__ == "__main__":
    main()
