"""The original report's experiment, faithful line by line, plus what repromatrix records of it.

Runs inside the pinned venv (Python 3.9, TensorFlow 2.12): import TensorFlow only through
``tensorflow_module()`` (keras_session.py) so that the rest of the package stays importable
without it. The model is report41.py's; a user experiment's plan comes from user_plan.py.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Optional

import numpy as np

from repromatrix.cell import backends, optrace, user_plan
from repromatrix.cell.data import Dataset
from repromatrix.cell.keras_session import (  # noqa: F401 - also the runner's and tests' names
    fresh_session,
    keras_version,
    reset_seeds,
    seed_keras3,
    tensorflow_module,
)
from repromatrix.cell.progress import Progress, optimizer_step_reader
from repromatrix.cell.report41 import build_model, compile_model
from repromatrix.cell.trail import TrailRecorder, tensor_records, weights_digest
from repromatrix.contract import TrainedModel
from repromatrix.floats import float32_bits, float32_value
from repromatrix.model import Variant


def weight_sums(model: Any) -> list[np.float32]:
    """The report's figure: the float32 sum of each weight array (kernel, bias per layer)."""
    return [np.float32(w.sum()) for w in model.get_weights()]


def train_step_ops(model: Any, n_features: int) -> list[str]:
    """The TensorFlow op types of the model's compiled train step, nested functions included.

    Traced again from the unmodified ``train_step`` (the trail recorder's own ops must not
    appear here, or they would be blamed). Tracing runs no op, so the model is not changed.
    """
    tf = tensorflow_module()
    return traced_op_types(model, (tf.TensorSpec([None, n_features], tf.float32),
                                   tf.TensorSpec([None], tf.float32)))


def traced_op_types(model: Any, specs: tuple[Any, Any]) -> list[str]:
    """Sorted op types of ``model.train_step`` traced for these (x, y) specs, nested functions too."""
    tf = tensorflow_module()
    graph = tf.function(model.train_step).get_concrete_function(specs).graph.as_graph_def()
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops.update(node.op for node in function.node_def)
    return sorted(ops)


def result_fields(before: list[np.float32] | None, after: list[np.float32],
                  weights: list[tuple[str, np.ndarray]], loss: np.float32 | None) -> dict[str, Any]:
    """The sums, tensors, digest and loss of a trained model: what every variant record holds."""
    def values(sums: list[np.float32] | None) -> list[float] | None:
        return None if sums is None else [float32_value(v) for v in sums]

    def bits(sums: list[np.float32] | None) -> list[str] | None:
        return None if sums is None else [float32_bits(v) for v in sums]

    return {
        "weight_sums": {"before": values(before), "before_bits": bits(before),
                        "after": values(after), "after_bits": bits(after)},
        "tensors": tensor_records(weights),
        "digest": weights_digest(weights),
        "loss": None if loss is None else float32_value(loss),
        "loss_bits": None if loss is None else float32_bits(loss),
    }


Log = Optional[Callable[[str], None]]


def training_progress(model: Any, steps: int, log: Log) -> Any:
    """Progress lines for ``model.fit`` (steps, rate, time left) when ``log`` is given."""
    if log is None:
        return contextlib.nullcontext()
    return Progress(optimizer_step_reader(model.optimizer), steps, log)


def run_variant(variant: Variant, data: Dataset, seed: int, record_trail: bool = True,
                log: Log = None, trace: Any = None) -> dict[str, Any]:
    """Train one variant exactly as the report did and describe the result; ``log`` receives
    progress lines during a long training, ``trace`` asks for the short traced pass."""
    # A fresh Keras graph state per variant, so that running variants one after another in one
    # process gives the same weights as running each in its own process (tested).
    fresh_session(seed)
    model = build_model(data.features)
    before = weight_sums(model)
    compile_model(model, variant.optimizer)
    recorder = trail_recorder(model, steps=data.rows) if record_trail else None
    with training_progress(model, data.rows, log):
        history = model.fit(x=data.x, y=data.y, batch_size=1, epochs=1, verbose=0, shuffle=False)
    after = weight_sums(model)
    weights = [(_weight_name(w), w.numpy()) for w in model.weights]
    loss = np.float32(history.history["loss"][-1])
    record: dict[str, Any] = {
        "status": "ok",
        "settings": variant.settings(),
        **result_fields(before, after, weights, loss),
        "train_step_ops": train_step_ops_of(model, recorder, data.features),
        "error": None,
    }
    if recorder is not None:
        record["trail"] = recorder.result()
    if trace is not None:  # an optrace.TraceRequest: the short traced pass, after the main run
        record["op_trace"] = optrace.builtin_trace(variant, data, seed, trace, record.get("trail"))
    return record


def trail_recorder(model: Any, steps: int) -> Any:
    """Keras 2's recorder, or Keras 3's (``keras3.py``); both wrap the compiled train step."""
    from repromatrix.cell import keras3

    major = keras3.keras_major(keras_version())
    backend = keras3.backend_name() if major >= 3 else None
    other = backends.lookup(backend)
    if other is not None:
        return other.trail_recorder(model, steps)
    if major >= 3:
        return keras3.Keras3TrailRecorder(model, steps=steps)
    return TrailRecorder(model, steps=steps)


def train_step_ops_of(model: Any, recorder: Any, n_features: int) -> list[str]:
    if recorder is not None:
        recorder.restore()  # trace the report's own train step, not the recording wrapper
    return train_step_ops(model, n_features)


# --- a user's own experiment (docs/experiments.md) ----------------------------------------------
# The built-in path above stays untouched (its artifacts must not change by a byte); a user
# experiment gets the same seeding, fingerprint, trail, op set and digests through the contract.


def run_user_variant(function: Any, entry: str, variant: Variant, data: Dataset | None, seed: int,
                     rows: int | None = None, log: Log = None, trace: Any = None) -> dict[str, Any]:
    """Call the user's function for one variant and train (or take) its model like the built-in."""
    outcome = user_plan.prepare(function, entry, variant, data, seed, rows)
    if isinstance(outcome, TrainedModel):
        return _user_record(variant, outcome.model, before=None, loss=None, ops=None,
                            trail=None, trail_absent="the experiment trained the model itself "
                            "(it returned a trained model, not a TrainingPlan)", fit=None)
    plan = outcome
    with user_plan.labelled_failure(variant, plan.model):
        return _train_plan(function, entry, variant, plan, data, seed, rows, log, trace)


def _train_plan(function: Any, entry: str, variant: Variant, plan: Any, data: Dataset | None,
                seed: int, rows: int | None, log: Log, trace: Any) -> dict[str, Any]:
    model = plan.model
    before = weight_sums(model)
    recorder, trail_absent = _start_trail(model, plan.optimizer_steps())
    with training_progress(model, plan.optimizer_steps(), log):
        history = model.fit(plan.x, plan.y, **{"verbose": 0, **plan.fit_kwargs})
    losses = history.history.get("loss") or [float("nan")]
    trail = recorder.result() if recorder is not None else None
    if recorder is not None:
        recorder.restore()  # trace the user's own train step, not the recording wrapper
    record = _user_record(variant, model, before=before, loss=np.float32(losses[-1]),
                          ops=_user_train_step_ops(model, plan.x, plan.y, recorder), trail=trail,
                          trail_absent=trail_absent, fit=plan.fit_record())
    if trace is not None:  # an optrace.TraceRequest: the short traced pass, after the main run
        record["op_trace"] = optrace.user_trace(function, entry, variant, data, seed, rows, trace,
                                                trail)
    return record


def _start_trail(model: Any, steps: int) -> tuple[Any, str | None]:
    """The recorder, or why there is none (e.g. a Keras it cannot wrap, string variables)."""
    try:
        return trail_recorder(model, steps=steps), None
    except Exception as error:  # noqa: BLE001 - a missing trail must not cost the whole result
        return None, f"trail recorder unavailable: {type(error).__name__}: {error}".splitlines()[0]


def _user_train_step_ops(model: Any, x: Any, y: Any, recorder: Any = None) -> dict[str, Any]:
    """The op set traced with the real x and y specs; {"ops": [...]} or {"absent": reason}."""
    try:
        from repromatrix.cell import keras3

        backend = keras3.active_backend()
        other = backends.lookup(backend)
        if other is not None:
            return other.train_step_ops(model, x, y, recorder)
        tf = tensorflow_module()
        return {"ops": traced_op_types(model, (_spec(tf, x), _spec(tf, y)))}
    except Exception as error:  # noqa: BLE001 - e.g. a Keras whose train_step cannot be traced so
        return {"absent": f"train step not traceable: {type(error).__name__}: {error}"
                .splitlines()[0]}


def _spec(tf: Any, array: Any) -> Any:
    # Keras' data adapter casts floating numpy input to floatx before the train step sees it.
    dtype = tf.keras.backend.floatx() if np.issubdtype(array.dtype, np.floating) else array.dtype
    return tf.TensorSpec([None, *array.shape[1:]], tf.as_dtype(dtype))


def _user_record(variant: Variant, model: Any, *, before: list[np.float32] | None,
                 loss: np.float32 | None, ops: dict[str, Any] | None, trail: dict[str, Any] | None,
                 trail_absent: str | None, fit: dict[str, Any] | None) -> dict[str, Any]:
    after = weight_sums(model)
    weights = [(_weight_name(w), np.asarray(w.numpy())) for w in model.weights]
    record: dict[str, Any] = {
        "status": "ok",
        "settings": user_plan.user_settings(variant, model),
        **result_fields(before, after, weights, loss),
        "trail": trail,
        "fit": fit,
        "error": None,
    }
    if trail is None:
        record["trail_absent"] = trail_absent or "not recorded"
    from repromatrix.cell.keras3 import model_fields, variant_fields

    record.update(variant_fields())  # e.g. torch's threads and kernels, from this process
    record.update(model_fields(model))  # Keras 3: jit_compile
    if ops is not None and "ops" in ops:
        record["train_step_ops"] = ops["ops"]
    elif ops is not None:
        record["train_step_ops_absent"] = ops["absent"]
    else:
        record["train_step_ops_absent"] = "the experiment trained the model itself"
    return record


def _weight_name(variable: Any) -> str:
    # Keras 3 variables have a short ``name`` and a unique ``path``; Keras 2 names are unique.
    return str(getattr(variable, "path", None) or variable.name)
