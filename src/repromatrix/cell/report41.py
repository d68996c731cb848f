"""The report's model and its compile line, faithful line by line.

Built by the main run (experiment.py) and again by the op trace's pass (optrace.py).
"""

from __future__ import annotations

from typing import Any

from repromatrix.cell.keras_session import tensorflow_module


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
