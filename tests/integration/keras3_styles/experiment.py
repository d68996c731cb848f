"""Keras 3 models written the way Keras' own guides write them, one style per variant, for the
slow test `tests/integration/test_keras3_styles.py`. The variant's name is `<style>-<backend>`;
the backend comes from matrix.toml (`KERAS_BACKEND`, one process per backend). Small shapes and
a few steps each: what is tested is that every style gets the trail, the sums, the digests and
the op set, not the numbers.

The data is made here (seeded numpy), so the matrix names none.
"""

import keras
import numpy as np

from repromatrix.contract import ExperimentContext, TrainingPlan

ROWS, BATCH = 24, 4  # 6 optimizer steps
FIT = {"batch_size": BATCH, "epochs": 1, "shuffle": False}


def _data(seed: int, shape: tuple, classes: int = 0, tokens: int = 0):
    rng = np.random.RandomState(seed)
    x = (rng.randint(1, tokens, size=(ROWS, *shape)).astype("int32") if tokens
         else rng.standard_normal((ROWS, *shape)).astype("float32"))
    y = (rng.randint(0, classes, size=(ROWS,)).astype("int32") if classes
         else rng.standard_normal((ROWS, 1)).astype("float32"))
    return x, y


def sequential(seed):
    model = keras.Sequential([
        keras.Input(shape=(8,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    return model, _data(seed, (8,))


def functional(seed):
    """Residual adds (the functional API guide's toy ResNet, in Dense layers)."""
    inputs = keras.Input(shape=(8,))
    h = keras.layers.Dense(8, activation="relu")(inputs)
    h = keras.layers.add([h, inputs])
    g = keras.layers.Dense(8, activation="tanh")(h)
    g = keras.layers.add([g, h])
    outputs = keras.layers.Dense(1)(g)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model, _data(seed, (8,))


class Linear(keras.layers.Layer):
    """The "making new layers" guide's layer: weights created lazily in build()."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                 trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return keras.ops.matmul(inputs, self.w) + self.b


class SeededDropout(keras.layers.Layer):
    """A layer drawing from its own keras.random.SeedGenerator (uint32 state)."""

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs, training=False):
        if training:
            return keras.random.dropout(inputs, rate=self.rate, seed=self.seed_generator)
        return inputs


class MLP(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.linear_1 = Linear(16)
        self.dropout = SeededDropout(0.25)
        self.linear_2 = Linear(1)

    def call(self, inputs, training=False):
        h = keras.ops.relu(self.linear_1(inputs))
        return self.linear_2(self.dropout(h, training=training))


def subclassed(seed):
    """No input shape anywhere: the model is built from x before training."""
    model = MLP()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model, _data(seed, (8,))


def state(seed):
    """Non-trainable and integer state: BatchNormalization's moving statistics, Dropout's seed
    generator, compiled metrics."""
    model = keras.Sequential([
        keras.Input(shape=(8,)),
        keras.layers.Dense(16),
        keras.layers.BatchNormalization(),
        keras.layers.Activation("relu"),
        keras.layers.Dropout(0.3, seed=7),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.SparseCategoricalCrossentropy(name="xent")])
    return model, _data(seed, (8,), classes=3)


def rnn(seed):
    model = keras.Sequential([
        keras.Input(shape=(6,), dtype="int32"),
        keras.layers.Embedding(20, 8),
        keras.layers.LSTM(8, return_sequences=True),
        keras.layers.GRU(4),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    return model, _data(seed, (6,), tokens=20)


def conv(seed):
    model = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(4, 2, padding="same"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model, _data(seed, (8, 8, 1), classes=2)


def mixed(seed):
    """mixed_float16 as the mixed precision guide sets it; the global policy is put back so that
    the next variant in this process builds in float32. compile wraps the optimizer in a
    LossScaleOptimizer."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inputs = keras.Input(shape=(8,))
        h = keras.layers.Dense(16, activation="relu")(inputs)
        outputs = keras.layers.Activation("linear", dtype="float32")(keras.layers.Dense(1)(h))
        model = keras.Model(inputs, outputs)
    finally:
        keras.config.set_dtype_policy(previous)
    model.compile(optimizer="adam", loss="mse")
    return model, _data(seed, (8,))


class CustomStep(keras.Model):
    """The "customizing what happens in fit()" guide: train_step overridden, per backend."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(8, activation="tanh")
        self.out = keras.layers.Dense(1)

    def call(self, inputs, training=False):
        return self.out(self.hidden(inputs))

    def train_step(self, *args):
        backend = keras.backend.backend()
        if backend == "jax":
            return self._jax_step(*args)
        if backend == "torch":
            return self._torch_step(*args)
        return self._tf_step(*args)

    def _tf_step(self, data):
        import tensorflow as tf

        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update(x, y, y_pred, loss)

    def _torch_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        variables = self.trainable_weights
        import torch

        with torch.no_grad():
            self.optimizer.apply([v.value.grad for v in variables], variables)
        return self._update(x, y, y_pred, loss)

    def _update(self, x, y, y_pred, loss):
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def _jax_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_vars, metrics_vars = state
        x, y = data

        def loss_fn(trainable, non_trainable):
            y_pred, non_trainable = self.stateless_call(trainable, non_trainable, x,
                                                        training=True)
            return self.compute_loss(y=y, y_pred=y_pred), (y_pred, non_trainable)

        (loss, (y_pred, non_trainable)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            trainable, non_trainable)
        trainable, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads,
                                                                   trainable)
        logs, new_metrics, index = {}, [], 0
        for metric in self.metrics:
            count = len(metric.variables)
            mine = metrics_vars[index:index + count]
            index += count
            if metric.name == "loss":
                mine = metric.stateless_update_state(mine, loss)
            else:
                mine = metric.stateless_update_state(mine, y, y_pred)
            logs[metric.name] = metric.stateless_result(mine)
            new_metrics += mine
        return logs, (trainable, non_trainable, optimizer_vars, new_metrics)


def custom_step(seed):
    model = CustomStep()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model, _data(seed, (8,))


STYLES = {f.__name__: f for f in (sequential, functional, subclassed, state, rnn, conv, mixed,
                                  custom_step)}


def build(context: ExperimentContext) -> TrainingPlan:
    style = context.variant_name.rsplit("-", 1)[0].replace("-", "_")
    model, (x, y) = STYLES[style](context.seed)
    return TrainingPlan(model, x, y, FIT)
