"""The original report's experiment, faithful line by line, plus what repromatrix records of it.

Runs inside the pinned venv (Python 3.9, TensorFlow 2.12): import TensorFlow only through
``tensorflow_module()`` so that the rest of the package stays importable without it.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np

from repromatrix.data import Dataset
from repromatrix.floats import float32_bits, float32_value
from repromatrix.matrix import Variant
from repromatrix.trail import TrailRecorder, tensor_records, weights_digest


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


def build_model(n_features: int) -> Any:
    """The report's model: 41 inputs, Dense 64 sigmoid, Dense 16 tanh, Dense 1 sigmoid."""
    keras = tensorflow_module().keras
    model = keras.models.Sequential()
    model.add(keras.layers.Dense(64, input_shape=(n_features,), activation="sigmoid"))
    model.add(keras.layers.Dense(16, activation="tanh"))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    return model


def compile_model(model: Any, optimizer: str) -> None:
    """Compile as the report did; "default" is its exact line, ``compile(loss='mae')``."""
    tf = tensorflow_module()
    if optimizer == "default":
        model.compile(loss="mae")  # Keras 2.12 then picks the new RMSprop (tf.math.rsqrt)
    elif optimizer == "adam":
        model.compile(optimizer="adam", loss="mae")
    elif optimizer == "rmsprop":
        model.compile(optimizer="rmsprop", loss="mae")
    elif optimizer == "legacy-rmsprop":
        model.compile(optimizer=tf.keras.optimizers.legacy.RMSprop(), loss="mae")
    elif optimizer == "sgd":
        model.compile(optimizer="sgd", loss="mae")
    else:  # the matrix loader rejects other names; this guards direct callers
        raise ValueError(f"unknown optimizer {optimizer!r}")


def weight_sums(model: Any) -> list[np.float32]:
    """The report's figure: the float32 sum of each weight array (kernel, bias per layer)."""
    return [np.float32(w.sum()) for w in model.get_weights()]


def train_step_ops(model: Any, n_features: int) -> list[str]:
    """The TensorFlow op types of the model's compiled train step, nested functions included.

    Traced again from the unmodified ``train_step`` (the trail recorder's own ops must not
    appear here, or they would be blamed). Tracing runs no op, so the model is not changed.
    """
    tf = tensorflow_module()
    spec = (tf.TensorSpec([None, n_features], tf.float32), tf.TensorSpec([None], tf.float32))
    graph = tf.function(model.train_step).get_concrete_function(spec).graph.as_graph_def()
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops.update(node.op for node in function.node_def)
    return sorted(ops)


def run_variant(variant: Variant, data: Dataset, seed: int, record_trail: bool = True) -> dict[str, Any]:
    """Train one variant exactly as the report did and describe the result."""
    tf = tensorflow_module()
    # A fresh Keras graph state per variant, so that running variants one after another in one
    # process gives the same weights as running each in its own process (tested).
    tf.keras.backend.clear_session()
    reset_seeds(seed)
    model = build_model(data.features)
    before = weight_sums(model)
    compile_model(model, variant.optimizer)
    recorder = TrailRecorder(model, steps=data.rows) if record_trail else None
    history = model.fit(x=data.x, y=data.y, batch_size=1, epochs=1, verbose=0, shuffle=False)
    after = weight_sums(model)
    weights = [(w.name, w.numpy()) for w in model.weights]
    loss = np.float32(history.history["loss"][-1])
    record: dict[str, Any] = {
        "status": "ok",
        "settings": variant.settings(),
        "weight_sums": {
            "before": [float32_value(s) for s in before],
            "before_bits": [float32_bits(s) for s in before],
            "after": [float32_value(s) for s in after],
            "after_bits": [float32_bits(s) for s in after],
        },
        "tensors": tensor_records(weights),
        "digest": weights_digest(weights),
        "loss": float32_value(loss),
        "loss_bits": float32_bits(loss),
        "train_step_ops": train_step_ops_of(model, recorder, data.features),
        "error": None,
    }
    if recorder is not None:
        record["trail"] = recorder.result()
    return record


def train_step_ops_of(model: Any, recorder: TrailRecorder | None, n_features: int) -> list[str]:
    if recorder is not None:
        recorder.restore()  # trace the report's own train step, not the recording wrapper
    return train_step_ops(model, n_features)
