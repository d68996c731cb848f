"""Per-step trail of the weights, and digests of the final weights.

The trail answers "at which training step did two machines first differ?". Reading the weights
back to Python after every batch (a Keras callback) made training 2.5x slower in a measurement
here, because it forces a sync per step; instead the recorder wraps the model's ``train_step`` so
that, inside the same graph and right after the optimizer update, it writes two numbers per step
into preallocated variables:

- a 64-bit linear hash of the weights' bit patterns: sum over i of bits[i] * m[i] modulo 2**64,
  with fixed odd multipliers m[i]. Integer addition is associative, so the hash does not depend on
  the reduction order a CPU picks, and any change of one weight by fewer than 2**32 ulps changes it;
- the float64 sum of all weights, for charting how far apart two runs drift (its reduction
  order may depend on the CPU, so it is never used to decide identity).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Sequence

import numpy as np

_MULTIPLIER_SEED = 0x5EED


def tensor_records(weights: Sequence[tuple[str, np.ndarray]]) -> list[dict[str, Any]]:
    """Name, shape, SHA-256 and the exact little-endian float32 bytes of each weight tensor."""
    records = []
    for name, array in weights:
        raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
        records.append(
            {
                "name": name,
                "shape": list(array.shape),
                "dtype": "float32",
                "sha256": hashlib.sha256(raw).hexdigest(),
                "data": base64.b64encode(raw).decode("ascii"),
            }
        )
    return records


def weights_digest(weights: Sequence[tuple[str, np.ndarray]]) -> str:
    """SHA-256 over every tensor's name, shape and bytes, in model order: the whole-model digest."""
    digest = hashlib.sha256()
    for name, array in weights:
        digest.update(f"{name}|{list(array.shape)}|".encode())
        digest.update(np.ascontiguousarray(array, dtype="<f4").tobytes())
    return digest.hexdigest()


def multipliers(size: int) -> np.ndarray:
    """Fixed odd 63-bit multipliers; the same on every machine (legacy RandomState stream)."""
    rng = np.random.RandomState(_MULTIPLIER_SEED)
    return rng.randint(1, 2**62, size=size, dtype=np.int64) | 1


def hash_hex(value: int) -> str:
    """A signed int64 hash as 16 lowercase hex digits (two's complement)."""
    return f"{value & 0xFFFFFFFFFFFFFFFF:016x}"


class TrailRecorder:
    """Records a hash and a sum of all weights before training and after every optimizer step."""

    def __init__(self, model: Any, steps: int) -> None:
        import tensorflow as tf

        self._tf = tf
        self._model = model
        self._original_train_step = model.train_step
        size = sum(int(np.prod(v.shape)) for v in model.weights)
        self._multipliers = tf.constant(multipliers(size))
        # Row 0 is the state before training, row k the state after step k: [hash, bits of sum].
        # One buffer and one scatter per step: every op added here runs a thousand times.
        self._rows = tf.Variable(tf.zeros([steps + 1, 2], tf.int64), trainable=False)
        self._rows[0].assign(self._measure())
        model.train_step = self._train_step

    def _measure(self) -> Any:
        """[hash, float64 sum reinterpreted as int64] of all weights, as one int64 pair."""
        tf = self._tf
        flat = tf.concat([tf.reshape(v, [-1]) for v in self._model.weights], axis=0)
        bits = tf.cast(tf.bitcast(flat, tf.int32), tf.int64)
        weight_hash = tf.reduce_sum(bits * self._multipliers)
        weight_sum = tf.reduce_sum(tf.cast(flat, tf.float64))
        return tf.stack([weight_hash, tf.bitcast(weight_sum, tf.int64)])

    def _train_step(self, data: Any) -> Any:
        logs = self._original_train_step(data)
        # optimizer.iterations was incremented by the update above, so it is this step's number;
        # automatic control dependencies order these reads after the update.
        self._rows.scatter_nd_update([[self._model.optimizer.iterations]], [self._measure()])
        return logs

    def restore(self) -> None:
        """Give the model its own train step back (for tracing its op set)."""
        self._model.train_step = self._original_train_step

    def result(self) -> dict[str, Any]:
        steps = int(self._model.optimizer.iterations.numpy())
        rows = self._rows.numpy()[: steps + 1]
        return {
            "steps": steps,
            "digest": [hash_hex(int(h)) for h in rows[:, 0]],
            "sum": [float(s) for s in rows[:, 1].view(np.float64)],
        }
