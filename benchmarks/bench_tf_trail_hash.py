"""The Keras 3 TensorFlow trail's per-step cost, measured directly: what
``Keras3TrailRecorder._train_step`` adds to every compiled step (the step counter, the hash of the
state, the row it is stored in) against one train step, for every model-building style of the
slow test corpus (tests/integration/keras3_styles). Prints figures; asserts nothing.

    python benchmarks/bench_tf_trail_hash.py --python PATH/TO/KERAS3/VENV/bin/python
                                             [--rounds 5] [--steps 200]

PATH is a venv with the pins of examples/report-keras3 (the same as bench_keras3_styles.py's).
A whole-run ratio (bench_keras3_tf_trail.py) moves by 0.3 between rounds at these step times
(1.5 to 5 ms); this one times the recorder's ops alone, as graph ops: ``--steps`` of them inside
one ``tf.function`` loop, less the same loop without them, so that neither Python nor the
function's dispatch is counted (inside the train step there is neither). The step is a
``--steps``-step ``fit`` divided by ``--steps``, with the recorder detached. Alternating rounds in
one process; the figure is the median per-round ratio (step + recorder) / step, against the trail
budget of 1.15 (docs/performance.md). oneDNN off, as the test cells run.
"""

from __future__ import annotations

from corpus_rounds import TENSORFLOW, arguments, print_direct, run

SNIPPET = r"""
import tensorflow as tf
from repromatrix.cell import user_plan
from repromatrix.cell.keras3 import Keras3TrailRecorder
FIT = {**corpus.FIT, "verbose": 0}
def loop(body):  # tf.while_loop by hand: AutoGraph cannot read a `python -c` snippet's source
    @tf.function
    def run(n):
        start = (tf.constant(0), tf.constant(0, tf.int64))
        return tf.while_loop(lambda i, _: i < n, lambda i, total: (i + 1, total + body(i)),
                             start)[1]
    return run
empty = loop(lambda i: tf.cast(i, tf.int64))
results = {}
for style, make in corpus.STYLES.items():
    model, (x, y) = make(42)
    user_plan.build(model, x, y)
    recorder = Keras3TrailRecorder(model, steps)
    recorder.restore()  # the step is timed as Keras compiles it; the recorder's ops alone below
    def recorded(i):  # what the recorder adds to each step: count it, hash it, store the row
        recorder._rows.scatter_nd_update([[recorder._step_number()]], [recorder._measure()])
        return tf.cast(i, tf.int64)
    hashes = loop(recorded)
    model.fit(x[:8], y[:8], **FIT)  # traces the step
    recorder._steps.assign(0)
    hashes(tf.constant(1)), empty(tf.constant(1))  # traces both loops
    n = tf.constant(steps)
    for _ in range(rounds):
        start = time.perf_counter()
        model.fit(x, y, **FIT)
        step = (time.perf_counter() - start) / steps
        start = time.perf_counter()
        recorder._steps.assign(0)  # the rows hold `steps` steps: count this round from zero
        hashes(n).numpy()
        hashed = time.perf_counter() - start
        assert int(recorder._steps.numpy()) == steps  # the loop ran the recorder's ops
        start = time.perf_counter()
        empty(n).numpy()
        hashed = (hashed - (time.perf_counter() - start)) / steps
        results.setdefault(style, []).append([step, hashed])
print(json.dumps(results))
"""


def main() -> None:
    args = arguments(__doc__, rounds=5)
    results = run(args, SNIPPET, TENSORFLOW)
    print(f"Keras 3 trail on TensorFlow: the recorder's graph ops against the step, {args.steps} "
          f"steps, {args.rounds} alternating rounds (budget 1.15)")
    print_direct(results, "recorder")


if __name__ == "__main__":
    main()
