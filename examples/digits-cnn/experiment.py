"""A small convolutional network on scikit-learn's 8x8 digits: a second experiment for repromatrix.

load_digits ships inside scikit-learn (no download at run time). 1,797 images, the first 1,440
for training: batch size 32 and 5 epochs give 225 optimizer steps, a few seconds on a CPU.
The variant's name picks the optimizer (repromatrix passes the variant in the context; the
matrix's `optimizer` key is for the built-in experiment only).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

from repromatrix.contract import ExperimentContext, TrainingPlan

TRAIN_ROWS = 1440
# variant name -> optimizer; variants that only change the environment reuse a base name.
OPTIMIZERS = {"adam": "adam", "sgd": "sgd"}


def digits() -> tuple[np.ndarray, np.ndarray]:
    """Images scaled to [0, 1] as (rows, 8, 8, 1) float32, labels as int32."""
    bunch = load_digits()
    x = (bunch.images[:TRAIN_ROWS] / 16.0).astype(np.float32)[..., np.newaxis]
    return x, bunch.target[:TRAIN_ROWS].astype(np.int32)


def build(context: ExperimentContext) -> TrainingPlan:
    """The repromatrix entry point: a compiled model and what to fit it on."""
    x, y = digits()
    model = tf.keras.Sequential([
        tf.keras.layers.Conv2D(8, 3, activation="relu", input_shape=(8, 8, 1)),
        tf.keras.layers.MaxPooling2D(2),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(32, activation="tanh"),
        tf.keras.layers.Dense(10, activation="softmax"),
    ])
    base = context.variant.name.split("-")[0]  # "adam-onednn-off" trains like "adam"
    model.compile(optimizer=OPTIMIZERS.get(base, "adam"), loss="sparse_categorical_crossentropy")
    return TrainingPlan(model, x, y, {"batch_size": 32, "epochs": 5, "shuffle": False})
