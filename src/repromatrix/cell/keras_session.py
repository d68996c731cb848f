"""TensorFlow, imported late, and a fresh, seeded Keras session: how every pass of a cell starts.

Runs inside the pinned venv (Python 3.9, TensorFlow 2.12): import TensorFlow only through
``tensorflow_module()`` so that the rest of the package stays importable without it. Apart from
experiment.py because the op trace (optrace.py) starts its traced pass the same way, and
experiment.py calls the trace: shared here, neither imports the other back.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np


def tensorflow_module() -> Any:
    import tensorflow as tf  # deferred: seconds to import, and absent outside the pinned venv

    return tf


def reset_seeds(seed: int) -> None:
    """The report's ``reset_seeds``, called right before building the model."""
    tf = tensorflow_module()
    os.environ["PYTHONHASHSEED"] = str(seed)
    np.random.seed(seed)
    random.seed(seed)
    tf.random.set_seed(seed)


def keras_version() -> str:
    """The version of the Keras that ``tf.keras`` is (Keras 3 from TensorFlow 2.16 on)."""
    return str(getattr(tensorflow_module().keras, "__version__", ""))


def seed_keras3(seed: int) -> None:
    """Keras 3 draws initial weights from its own seed generator, which tf.random.set_seed does not
    reach; seed it too (nothing to do on Keras 2, where reset_seeds already covers it)."""
    if keras_version().split(".")[0] not in ("", "1", "2"):
        tensorflow_module().keras.utils.set_random_seed(seed)


def fresh_session(seed: int) -> None:
    """A fresh Keras graph state, seeded: variants (and the traced pass) sharing a process stay
    independent of what ran before them."""
    tensorflow_module().keras.backend.clear_session()
    reset_seeds(seed)
    seed_keras3(seed)
