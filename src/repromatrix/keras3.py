"""Keras 3 on TensorFlow: the per-step trail inside the compiled train step, and what the
fingerprint records of Keras 3.

Keras 3's TensorFlow trainer (``keras/src/backend/tensorflow/trainer.py``) builds its train
function from ``self.train_step`` when ``fit`` first calls ``make_train_function``, and wraps it
in a ``tf.function`` (XLA only with ``jit_compile=True``; ``"auto"`` is off on a CPU). As on
Keras 2, an instance attribute ``train_step`` therefore ends up inside the compiled step, so the
recorder below adds its two numbers per step to the same graph: no per-batch Python callback.

What differs from Keras 2 (``trail.TrailRecorder``, kept as it is so that Keras 2 artifacts do
not change by a byte): ``optimizer.iterations`` is a Keras variable, which TensorFlow does not
convert inside a nested Python list, and weights may be of any float width. The hash is the same
linear hash over the bit patterns (``trail.multipliers``), widened to int64 per variable.

Runs inside the pinned venv (Python 3.9+): TensorFlow and Keras are imported lazily.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from repromatrix.trail import hash_hex, multipliers

# Integer types of the same width, for reinterpreting a float's bits (a bitcast, not a cast).
_BITS_OF_WIDTH = {2: "int16", 4: "int32", 8: "int64"}


def keras_major(version: str) -> int:
    """2 for "2.12.0", 3 for "3.15.1"; 2 for an unknown or empty version (tf.keras of old)."""
    head = version.split(".")[0]
    return int(head) if head.isdigit() and int(head) >= 3 else 2


def installed_keras_version() -> str:
    """The version of the installed ``keras`` distribution ("" if none)."""
    from importlib import metadata

    try:
        return metadata.version("keras")
    except metadata.PackageNotFoundError:
        return ""


def is_keras3() -> bool:
    return keras_major(installed_keras_version()) >= 3


def backend_name() -> str:
    """The backend Keras 3 was imported with (``KERAS_BACKEND``; TensorFlow by default)."""
    import keras

    return str(keras.backend.backend())


# Distributions whose versions the fingerprint records per backend, pinned or not.
BACKEND_PACKAGES = {
    "tensorflow": ("keras", "tensorflow"),
    "jax": ("keras", "jax", "jaxlib"),
    "torch": ("keras", "torch"),
}


def check_backend_installed(variant: Any) -> None:
    """A variant's backend needs its library in the pinned venv: one clear line if it is not."""
    import importlib.util

    from repromatrix.errors import UsageError

    if variant.backend is None:
        return
    for module in BACKEND_PACKAGES[variant.backend][:2]:  # keras, and the backend's library
        if importlib.util.find_spec(module) is None:
            raise UsageError(f"variant {variant.name!r} uses backend {variant.backend!r}, but "
                             f"the pinned venv has no {module!r}: add it to [pins.packages] "
                             f"(and run `nox -s pinned`)")


def fingerprint_packages() -> list[str]:
    """Extra distributions to record: nothing on Keras 2 (its artifacts stay as they were)."""
    if not is_keras3():
        return []
    return list(BACKEND_PACKAGES.get(backend_name(), ("keras",)))


def fingerprint_fields() -> dict[str, Any]:
    """The ``keras`` object of a Keras 3 fingerprint; nothing on Keras 2."""
    if not is_keras3():
        return {}
    import keras

    return {"keras": {"version": installed_keras_version(), "backend": backend_name(),
                      "floatx": str(keras.config.floatx())}}


class Keras3TrailRecorder:
    """Hash and float64 sum of all weights before training and after every optimizer step,
    recorded inside Keras 3's compiled TensorFlow train step (same interface as TrailRecorder)."""

    def __init__(self, model: Any, steps: int) -> None:
        import tensorflow as tf

        self._tf = tf
        self._model = model
        # An instance attribute, or Keras' own method: restore() puts back exactly what was there.
        self._had_own = "train_step" in vars(model)
        self._original_train_step = model.train_step
        self._variables = list(model.weights)
        sizes = [int(np.prod(v.shape)) for v in self._variables]
        self._multipliers = tf.constant(multipliers(sum(sizes)))
        # Row 0: before training; row k: after step k. [hash, float64 sum's bits], as on Keras 2.
        self._rows = tf.Variable(tf.zeros([steps + 1, 2], tf.int64), trainable=False)
        self._rows[0].assign(self._measure())
        model.train_step = self._train_step

    def _bits(self, variable: Any) -> Any:
        """The variable's values as int64: a float's bit pattern, an integer as it is."""
        tf = self._tf
        value = tf.reshape(tf.convert_to_tensor(variable), [-1])
        if value.dtype.is_floating:
            value = tf.bitcast(value, getattr(tf, _BITS_OF_WIDTH[value.dtype.size]))
        return tf.cast(value, tf.int64)

    def _measure(self) -> Any:
        tf = self._tf
        values = [tf.reshape(tf.convert_to_tensor(v), [-1]) for v in self._variables]
        bits = tf.concat([self._bits(v) for v in values], axis=0)
        weight_hash = tf.reduce_sum(bits * self._multipliers)
        weight_sum = tf.reduce_sum(tf.concat([tf.cast(v, tf.float64) for v in values], axis=0))
        return tf.stack([weight_hash, tf.bitcast(weight_sum, tf.int64)])

    def _train_step(self, data: Any) -> Any:
        logs = self._original_train_step(data)
        tf = self._tf
        # The update above incremented iterations: this is the step's number. Automatic control
        # dependencies order the reads in _measure after the update.
        step = tf.cast(tf.convert_to_tensor(self._model.optimizer.iterations), tf.int64)
        self._rows.scatter_nd_update(tf.reshape(step, [1, 1]), tf.expand_dims(self._measure(), 0))
        return logs

    def restore(self) -> None:
        """Give the model its own train step back (for tracing its op set)."""
        if self._had_own:
            self._model.train_step = self._original_train_step
        else:
            del self._model.train_step
        # Keras 3 caches the compiled function; the op-set trace calls train_step directly.

    def result(self) -> dict[str, Any]:
        return trail_result(int(np.asarray(self._model.optimizer.iterations)),
                            self._rows.numpy())


def trail_result(steps: int, rows: Any) -> dict[str, Any]:
    """The artifact's trail object from an int64 [steps + 1, 2] array of [hash, sum bits]."""
    rows = np.asarray(rows, dtype=np.int64)[: steps + 1]
    return {"steps": steps,
            "digest": [hash_hex(int(h)) for h in rows[:, 0]],
            "sum": [float(s) for s in rows[:, 1].copy().view(np.float64)]}


def optimizer_label(model: Any) -> str:
    """The optimizer the experiment's function compiled, by Keras' class name ("Adam")."""
    optimizer = getattr(model, "optimizer", None)
    return type(optimizer).__name__ if optimizer is not None else "none (not compiled)"
