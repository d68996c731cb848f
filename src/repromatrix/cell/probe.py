"""Single-op probe: fixed inputs through one TensorFlow op at a time, hashed.

Each case is named by the TensorFlow op type it exercises, so that the aggregator can match ops
whose results differ between two machines against the ops a variant's train step really uses.
Inputs come from fixed integer bit patterns or a legacy NumPy RandomState, so they are the same
bytes on every machine. A Keras 3 process on torch or jax runs the same inputs through its own
backend, under the op set's names (torch_backend.py, jax_backend.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from repromatrix.cell import backends, keras3
from repromatrix.cell.probe_inputs import (  # noqa: F401 - re-exported: probe.probe_inputs()
    ProbeInputs,
    floats_between,
    probe_inputs,
)


@dataclass(frozen=True)
class ProbeCase:
    op: str  # the TensorFlow op type
    case: str  # unique, human-readable name of the inputs
    run: Callable[[Any], Any]  # tf -> result tensor


def _cases() -> list[ProbeCase]:
    i = probe_inputs()
    roots, wide, positive, exps, summed = i.roots, i.wide, i.positive, i.exps, i.summed
    a_big, b_big, a_row, b_row, a_mid, b_mid, bias = (i.a_big, i.b_big, i.a_row, i.b_row,
                                                      i.a_mid, i.b_mid, i.bias)
    return [
        ProbeCase("Rsqrt", "Rsqrt[every 4th float32 in 1..4]", lambda tf: tf.math.rsqrt(roots)),
        ProbeCase("Sqrt", "Sqrt[every 4th float32 in 1..4]", lambda tf: tf.math.sqrt(roots)),
        ProbeCase("RealDiv", "RealDiv[1 / x, x in 1..4]", lambda tf: tf.math.divide(1.0, roots)),
        ProbeCase("RealDiv", "RealDiv[a / b, random]", lambda tf: tf.math.divide(wide, positive)),
        ProbeCase("Exp", "Exp[-20..20]", lambda tf: tf.math.exp(exps)),
        ProbeCase("Log", "Log[0.01..100]", lambda tf: tf.math.log(positive)),
        ProbeCase("Tanh", "Tanh[-8..8]", lambda tf: tf.math.tanh(wide)),
        ProbeCase("Sigmoid", "Sigmoid[-8..8]", lambda tf: tf.math.sigmoid(wide)),
        ProbeCase("Square", "Square[-8..8]", lambda tf: tf.math.square(wide)),
        ProbeCase("Mul", "Mul[random]", lambda tf: tf.math.multiply(wide, positive)),
        ProbeCase("AddV2", "AddV2[random]", lambda tf: tf.math.add(wide, positive)),
        ProbeCase("MatMul", "MatMul[1000x100 @ 100x100]", lambda tf: tf.linalg.matmul(a_big, b_big)),
        ProbeCase("MatMul", "MatMul[1x41 @ 41x64]", lambda tf: tf.linalg.matmul(a_row, b_row)),
        ProbeCase("MatMul", "MatMul[64x64 @ 64x16]", lambda tf: tf.linalg.matmul(a_mid, b_mid)),
        ProbeCase("BiasAdd", "BiasAdd[1000x64]", lambda tf: tf.nn.bias_add(
            tf.reshape(wide[: 1000 * 64], [1000, 64]), bias)),
        ProbeCase("Sum", "Sum[2^20 floats]", lambda tf: tf.math.reduce_sum(summed)),
        ProbeCase("Mean", "Mean[2^20 floats]", lambda tf: tf.math.reduce_mean(summed)),
    ]


def run_probe() -> list[dict[str, str]]:
    """Run every case once and hash its float32 result bytes; sorted by case name. In a Keras 3
    process on the torch or jax backend, the same ops run through that backend, named as its op
    set names them (``aten.rsqrt``, torch_backend.py; ``rsqrt``, jitted, jax_backend.py)."""
    backend = backends.lookup(keras3.active_backend())
    if backend is not None:
        outputs = backend.run_probe()
    else:
        import tensorflow as tf

        outputs = [(case.op, case.case, case.run(tf).numpy()) for case in _cases()]
    results = []
    for op, name, value in outputs:
        output = np.ascontiguousarray(value, dtype="<f4")
        results.append({"op": op, "case": name, "sha256": hashlib.sha256(output.tobytes()).hexdigest()})
    return sorted(results, key=lambda item: item["case"])

