"""The baseline for bench_repro.py: the report's experiment with nothing of repromatrix around it.

Imports TensorFlow, reads the built-in CSV with NumPy, and trains the two default variants
(default optimizer, adam) exactly as the report did, printing the six after-training sums.
Run it with the pinned venv's Python.
"""

import os
import random
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

DATA = Path(__file__).resolve().parent.parent / "src" / "repromatrix" / "resources" / "report41.csv"


def reset_seeds(seed: int) -> None:
    os.environ["PYTHONHASHSEED"] = str(seed)
    np.random.seed(seed)
    random.seed(seed)
    tf.random.set_seed(seed)


def main() -> None:
    table = np.loadtxt(DATA, delimiter=",", skiprows=1, dtype=np.float32)
    x, y = table[:, :-1], table[:, -1]
    for optimizer in (None, "adam"):
        tf.keras.backend.clear_session()
        reset_seeds(42)
        model = tf.keras.models.Sequential()
        model.add(tf.keras.layers.Dense(64, input_shape=(x.shape[1],), activation="sigmoid"))
        model.add(tf.keras.layers.Dense(16, activation="tanh"))
        model.add(tf.keras.layers.Dense(1, activation="sigmoid"))
        if optimizer is None:
            model.compile(loss="mae")
        else:
            model.compile(optimizer=optimizer, loss="mae")
        model.fit(x=x, y=y, batch_size=1, epochs=1, verbose=0, shuffle=False)
        print(optimizer or "default", [w.sum() for w in model.get_weights()], file=sys.stderr)


if __name__ == "__main__":
    main()
