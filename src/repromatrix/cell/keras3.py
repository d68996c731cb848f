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

from repromatrix.cell.keras3_state import trail_variables
from repromatrix.cell.trail import TrailRecorder


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


def active_backend() -> str | None:
    """Keras 3's backend in this process ("tensorflow", "jax", "torch"); None on Keras 2."""
    return backend_name() if is_keras3() else None


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


def variant_fields() -> dict[str, Any]:
    """What a variant's record adds about its own process's backend (the cell's fingerprint comes
    from the first process, usually TensorFlow's): on torch, its threads, CPU kernels and
    libraries; on jax, its versions, numerics options, XLA_FLAGS and device; nothing otherwise."""
    from repromatrix.cell import backends  # deferred like the rest: numpy, only when asked

    name = active_backend()
    backend = backends.lookup(name)
    return {name: backend.fingerprint_fields()} if backend is not None and name else {}


def model_fields(model: Any) -> dict[str, Any]:
    """What a Keras 3 variant's record says of its compiled model (``keras``): whether its step
    is XLA-compiled (``jit_compile``, resolved by compile: "auto" is off on a CPU), which decides
    whether XLA_FLAGS can change a TensorFlow variant's numbers. Nothing on Keras 2."""
    if not is_keras3():
        return {}
    return {"keras": {"jit_compile": bool(getattr(model, "jit_compile", False))}}


class Keras3TrailRecorder(TrailRecorder):
    """trail.TrailRecorder inside Keras 3's compiled TensorFlow train step. What differs: it
    hashes ``trail_variables`` (the weights, then seed and metric state), it counts the steps
    itself (``optimizer.iterations`` does not count a step that a mixed-precision
    LossScaleOptimizer skipped), and ``train_step`` may be Keras' own method rather than an
    attribute."""

    def __init__(self, model: Any, steps: int) -> None:
        import tensorflow as tf

        # An instance attribute, or Keras' own method: restore() puts back exactly what was there.
        self._had_own = "train_step" in vars(model)
        self._steps = tf.Variable(0, dtype=tf.int64, trainable=False)
        super().__init__(model, steps)

    def _variables(self) -> list[Any]:
        return trail_variables(self._model)

    def _step_number(self) -> Any:
        return self._steps.assign_add(1)

    def steps_done(self) -> int:
        return int(self._steps.numpy())

    def restore(self) -> None:
        """Give the model its own train step back (for tracing its op set)."""
        if self._had_own:
            self._model.train_step = self._original_train_step
        else:
            del self._model.train_step
        # Keras 3 caches the compiled function; the op-set trace calls train_step directly.


def optimizer_label(model: Any) -> str:
    """The optimizer the experiment's function compiled, by Keras' class name ("Adam")."""
    optimizer = getattr(model, "optimizer", None)
    return type(optimizer).__name__ if optimizer is not None else "none (not compiled)"
