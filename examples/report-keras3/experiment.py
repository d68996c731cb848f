"""The report's model, ported to Keras 3 (works on its TensorFlow, JAX and PyTorch backends).

The same layers, seed and training as the built-in experiment (docs/experiments.md): 41 inputs,
Dense 64 sigmoid, Dense 16 tanh, Dense 1 sigmoid, mean absolute error, batch size 1, one epoch,
no shuffling. Keras 3 replaces ``input_shape=`` with an ``Input`` layer; ``compile(loss='mae')``
still means RMSprop, but Keras 3's RMSprop divides by ``sqrt`` where Keras 2.12's called ``rsqrt``.
The variant's name picks the optimizer (a user experiment compiles its own model).
"""

import keras

from repromatrix.contract import ExperimentContext, TrainingPlan


def build(context: ExperimentContext) -> TrainingPlan:
    data = context.data  # the matrix's data: the built-in 41-feature set
    model = keras.Sequential([
        keras.Input(shape=(data.features,)),
        keras.layers.Dense(64, activation="sigmoid"),
        keras.layers.Dense(16, activation="tanh"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    if context.variant_name.startswith("adam"):
        model.compile(optimizer="adam", loss="mae")
    else:
        model.compile(loss="mae")  # the report's line: RMSprop by default
    return TrainingPlan(model, data.x, data.y, {"batch_size": 1, "epochs": 1, "shuffle": False})
