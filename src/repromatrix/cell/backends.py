"""The Keras 3 backends other than TensorFlow, behind one protocol and one registry.

TensorFlow (Keras 2, or Keras 3 on its default backend) is the built-in path of experiment.py,
probe.py and keras3.py; a process whose Keras 3 runs on another backend asks ``lookup`` for the
module that knows that library, instead of each caller testing ``backend == "torch"`` itself.
A new backend is one module with these functions and one line in BACKENDS.

The backend modules import their library (torch, jax) only inside their functions, so this
registry imports without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from repromatrix.cell import jax_backend, torch_backend


class Backend(Protocol):
    """What a backend module provides (a module satisfies a Protocol of functions)."""

    def trail_recorder(self, model: Any, steps: int) -> Any:
        """A recorder wrapping the compiled train step (``result()``, ``restore()``)."""

    def train_step_ops(self, model: Any, x: Any, y: Any, recorder: Any) -> dict[str, Any]:
        """The train step's op set, {"ops": [...]}, or {"absent": reason}."""

    def run_probe(self) -> list[tuple[str, str, np.ndarray]]:
        """(op, case, result) of the probe's single ops run through this backend."""

    def fingerprint_fields(self) -> dict[str, Any]:
        """What a variant's record adds about this backend's library."""


# Keras 3's backend name (``keras.backend.backend()``) -> its module.
BACKENDS: Mapping[str, Backend] = {"jax": jax_backend, "torch": torch_backend}


def lookup(name: str | None) -> Backend | None:
    """The module of Keras 3 backend ``name``; None for TensorFlow's (the built-in path) or no
    Keras 3 at all."""
    return BACKENDS.get(name) if name is not None else None
