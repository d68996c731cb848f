"""Per-step trail of the weights, and digests of the final weights.

The trail answers "at which training step did two machines first differ?". Reading the weights
back to Python after every batch (a Keras callback) made training 2.5x slower in a measurement
here, because it forces a sync per step; instead the recorder wraps the model's ``train_step`` so
that, inside the same graph and right after the optimizer update, it writes two numbers per step
into preallocated variables:

- a 64-bit linear hash of the weights' bit patterns: sum over i of word[i] * m[i] modulo 2**64,
  with fixed odd multipliers m[i]. Each weight's word is its own bit pattern (a float64 weight
  gives all 64 bits, a float16 one 16 bits; bool weights give 0 or 1), sign-extended to 64 bits.
  Integer addition is associative, so the hash does not depend on the reduction order a CPU picks;
  and since every m[i] is odd, a change of any one weight always changes it;
- the float64 sum of all weights, for charting how far apart two runs drift (its reduction
  order may depend on the CPU, so it is never used to decide identity).

Every tensor is recorded, hashed and digested in its own dtype and bytes (little-endian): float64
weights that differ below float32 resolution give different digests. ``trail_hash`` is the numpy
twin of the in-graph hash (the tests check one against the other).
"""

from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

_MULTIPLIER_SEED = 0x5EED
_MASK64 = 0xFFFFFFFFFFFFFFFF
# float32 tensors keep the digest header of the first artifacts ("name|shape|"), so float32
# models' digests did not change when dtypes were added; every other dtype names itself in it.
_LEGACY_DTYPE = "float32"


def dtype_name(array: np.ndarray) -> str:
    """The tensor's true dtype name: float64, float16, bfloat16, int64, bool, ..."""
    return str(np.asarray(array).dtype.name)


def little_endian_bytes(array: np.ndarray) -> bytes:
    """The tensor's bytes in its own dtype, little-endian, C order."""
    contiguous = np.ascontiguousarray(array)
    order = contiguous.dtype.byteorder
    if order == ">" or (order == "=" and sys.byteorder == "big"):
        contiguous = contiguous.byteswap()
    return contiguous.tobytes()


def tensor_records(weights: Sequence[tuple[str, np.ndarray]]) -> list[dict[str, Any]]:
    """Name, shape, dtype, SHA-256 and the exact little-endian bytes of each weight tensor."""
    records = []
    for name, array in weights:
        raw = little_endian_bytes(array)
        records.append(
            {
                "name": name,
                "shape": list(np.shape(array)),
                "dtype": dtype_name(array),
                "sha256": hashlib.sha256(raw).hexdigest(),
                "data": base64.b64encode(raw).decode("ascii"),
            }
        )
    return records


def weights_digest(weights: Sequence[tuple[str, np.ndarray]]) -> str:
    """SHA-256 over every tensor's name, shape, dtype and bytes, in model order: the whole-model
    digest. (A float32 tensor's header leaves its dtype implicit, as it always did.)"""
    digest = hashlib.sha256()
    for name, array in weights:
        dtype = dtype_name(array)
        header = f"{name}|{list(np.shape(array))}|" + ("" if dtype == _LEGACY_DTYPE else f"{dtype}|")
        digest.update(header.encode())
        digest.update(little_endian_bytes(array))
    return digest.hexdigest()


def multipliers(size: int) -> np.ndarray:
    """Fixed odd 63-bit multipliers; the same on every machine (legacy RandomState stream)."""
    rng = np.random.RandomState(_MULTIPLIER_SEED)
    return rng.randint(1, 2**62, size=size, dtype=np.int64) | 1


def hash_hex(value: int) -> str:
    """A signed int64 hash as 16 lowercase hex digits (two's complement)."""
    return f"{value & _MASK64:016x}"


def word_width(itemsize: int) -> int:
    """Bytes per hash word for an element of ``itemsize`` bytes (wider elements, complex128,
    give several 8-byte words)."""
    if itemsize not in (1, 2, 4, 8, 16):
        raise ValueError(f"cannot hash elements of {itemsize} bytes")
    return min(itemsize, 8)


def hash_words(array: np.ndarray) -> np.ndarray:
    """The int64 words the trail hash multiplies: each element's bit pattern, sign-extended."""
    flat = np.ascontiguousarray(array).reshape(-1)
    if flat.dtype.kind == "b":
        return flat.view(np.int8).astype(np.int64)
    width = word_width(flat.dtype.itemsize)
    return flat.view(np.dtype(f"i{width}")).astype(np.int64).reshape(-1)


def dtype_offset(dtypes: Sequence[str]) -> int:
    """A constant that makes the trail hash depend on the tensors' dtypes, not only their bits
    (an int16 and a float16 tensor of the same bits hash apart); 0 for float32-only models, whose
    hashes are those of the first artifacts. As a signed int64."""
    total = 0
    for index, name in enumerate(dtypes):
        if name != _LEGACY_DTYPE:
            tag = int.from_bytes(hashlib.sha256(f"{index}|{name}".encode()).digest()[:8], "little")
            total = (total + tag) & _MASK64
    return total - (1 << 64) if total >= 1 << 63 else total


def trail_hash(arrays: Sequence[np.ndarray]) -> int:
    """The trail's hash of these weights, computed with numpy (the recorder computes it in-graph)."""
    words = [hash_words(a) for a in arrays]
    flat = np.concatenate(words) if words else np.zeros(0, np.int64)
    # int64 products and sums wrap modulo 2**64 in numpy as in TensorFlow: that is the hash.
    total = int(np.sum(flat * multipliers(flat.size), dtype=np.int64))
    return total + dtype_offset([dtype_name(a) for a in arrays])


class TrailRecorder:
    """Records a hash and a sum of all weights before training and after every optimizer step."""

    def __init__(self, model: Any, steps: int) -> None:
        import tensorflow as tf

        self._tf = tf
        self._model = model
        self._original_train_step = model.train_step
        # tf.as_dtype: Keras 3 variables name their dtype as a string, Keras 2's as a tf.DType.
        variables = self._variables()
        dtypes = [tf.as_dtype(v.dtype) for v in variables]
        widths = [word_width(d.size) for d in dtypes]  # ValueError: no trail
        size = sum(int(np.prod(v.shape)) * d.size // w
                   for v, d, w in zip(variables, dtypes, widths))
        self._multipliers = tf.constant(multipliers(size))
        self._offset = tf.constant(dtype_offset([d.name for d in dtypes]), tf.int64)
        # Row 0 is the state before training, row k the state after step k: [hash, bits of sum].
        # One buffer and one scatter per step: every op added here runs a thousand times.
        self._rows = tf.Variable(tf.zeros([steps + 1, 2], tf.int64), trainable=False)
        self._rows[0].assign(self._measure())
        model.train_step = self._train_step

    def _variables(self) -> list[Any]:
        """What is hashed: Keras 2's weights (Keras 3's recorder adds the state beside them)."""
        return list(self._model.weights)

    def _words(self, values: Any) -> Any:
        """``hash_words`` in the graph: the bits of a flat tensor as signed ints of its own width,
        widened to int64 (an element wider than 8 bytes gives several words, in order)."""
        tf = self._tf
        dtype = values.dtype
        if dtype == tf.bool:
            ints = tf.cast(values, tf.int8)
        else:
            target = {1: tf.int8, 2: tf.int16, 4: tf.int32, 8: tf.int64}[word_width(dtype.size)]
            ints = tf.bitcast(values, target) if dtype != target else values
        return tf.reshape(tf.cast(ints, tf.int64), [-1])

    def _runs(self) -> list[Any]:
        """Every variable read once and flattened, consecutive variables of one dtype joined into
        one flat tensor. The words and values come out in the same order as variable by
        variable, so the hash and the sum are the same; but the conversions run once per dtype
        instead of once per variable (seven ops per variable before, two now), and every op here
        runs after every step."""
        tf = self._tf
        runs: list[list[Any]] = []
        for variable in self._variables():
            flat = tf.reshape(tf.convert_to_tensor(variable), [-1])
            if runs and runs[-1][0].dtype == flat.dtype:
                runs[-1].append(flat)
            else:
                runs.append([flat])
        return [run[0] if len(run) == 1 else tf.concat(run, axis=0) for run in runs]

    def _measure(self) -> Any:
        """[hash, float64 sum reinterpreted as int64] of all weights, as one int64 pair."""
        tf = self._tf
        runs = self._runs()
        words = tf.concat([self._words(run) for run in runs], axis=0)
        weight_hash = tf.reduce_sum(words * self._multipliers) + self._offset
        values = tf.concat([tf.cast(run, tf.float64) for run in runs], axis=0)
        weight_sum = tf.reduce_sum(values)
        return tf.stack([weight_hash, tf.bitcast(weight_sum, tf.int64)])

    def _train_step(self, data: Any) -> Any:
        logs = self._original_train_step(data)
        # optimizer.iterations was incremented by the update above, so it is this step's number;
        # automatic control dependencies order these reads after the update.
        self._rows.scatter_nd_update([[self._step_number()]], [self._measure()])
        return logs

    def _step_number(self) -> Any:
        return self._model.optimizer.iterations

    def steps_done(self) -> int:
        return int(np.asarray(self._model.optimizer.iterations))

    def restore(self) -> None:
        """Give the model its own train step back (for tracing its op set)."""
        self._model.train_step = self._original_train_step

    def result(self) -> dict[str, Any]:
        return trail_result(self.steps_done(), self._rows.numpy())


def trail_result(steps: int, rows: Any) -> dict[str, Any]:
    """The artifact's trail object from an int64 [steps + 1, 2] array of [hash, sum bits]."""
    rows = np.asarray(rows, dtype=np.int64)[: steps + 1]
    return {"steps": steps,
            "digest": [hash_hex(int(h)) for h in rows[:, 0]],
            "sum": [float(s) for s in rows[:, 1].copy().view(np.float64)]}
