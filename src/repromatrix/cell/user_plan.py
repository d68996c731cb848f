"""A user experiment's function called for one variant, its TrainingPlan made ready to fit.

The main run (experiment.run_user_variant) and the op trace's pass (optrace.user_trace) must
train the same model on the same rows from the same seed, so both get the plan from here.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from repromatrix.cell.data import Dataset
from repromatrix.cell.keras_session import fresh_session
from repromatrix.contract import ExperimentContext, TrainedModel, TrainingPlan, check_outcome
from repromatrix.model import Variant


def prepare(function: Any, entry: str, variant: Variant, data: Dataset | None, seed: int,
            rows: int | None) -> TrainingPlan | TrainedModel:
    """In a fresh seeded session, the function's outcome (ExperimentError if it is neither a
    TrainingPlan nor a TrainedModel); a plan is trimmed to ``rows`` and its model built."""
    fresh_session(seed)
    # A remedy candidate is shown to the function as its original variant (the name it branches on)
    seen = dataclasses.replace(variant, name=variant.base) if variant.base else variant
    context = ExperimentContext(seed=seed, data=data, variant=seen, rows=rows)
    outcome = check_outcome(function(context), entry)  # ExperimentError: exit 2, before training
    if isinstance(outcome, TrainedModel):
        return outcome
    plan = trim(outcome, rows)
    with labelled_failure(variant, plan.model):
        build(plan.model, plan.x, plan.y)
    return plan


def user_settings(variant: Variant, model: Any) -> dict[str, Any]:
    """The variant's settings with the optimizer the user's function compiled ("Adam"), not
    "default": repromatrix chose nothing there, and the table's label must not say it did."""
    from repromatrix.cell.keras3 import optimizer_label

    return {**variant.settings(), "optimizer": optimizer_label(model)}


SETTINGS_ATTRIBUTE = "repromatrix_settings"  # what a failure carries to runner.failed_variant


@contextlib.contextmanager
def labelled_failure(variant: Variant, model: Any) -> Iterator[None]:
    """A failure once the function has compiled its model carries the model's settings, so that
    the failed variant's label still names the optimizer it compiled."""
    try:
        yield
    except BaseException as error:
        with contextlib.suppress(Exception):  # e.g. an exception type without a __dict__
            setattr(error, SETTINGS_ATTRIBUTE, user_settings(variant, model))
        raise


def trim(plan: Any, rows: int | None) -> Any:
    """``--rows N`` (the lab, quick checks): train on the first N rows only."""
    if rows is None or rows >= plan.rows:
        return plan
    return dataclasses.replace(plan, x=plan.x[:rows], y=plan.y[:rows])


def build(model: Any, x: Any, y: Any = None) -> None:
    """A model given no input shape has no weights until fit; build it from x (and y) so that
    the before-training sums, the trail's row 0 and every variable the step changes exist before
    training (the initializers run as fit would run them).

    Keras 3: ``Trainer._symbolic_build``, the very call its ``fit`` makes first (on every
    backend), on one batch of symbolic inputs: it builds a subclassed model whose custom layers
    create their weights in ``build()``, the compiled metrics and loss, and the optimizer, and it
    runs no op on the data. Keras 2: ``model.build`` from x's shape, as before."""
    from repromatrix.cell import keras3

    if keras3.is_keras3() and hasattr(model, "_symbolic_build") and y is not None:
        model._symbolic_build(data_batch=(_fit_dtype(x[:1]), y[:1]))  # noqa: SLF001 - fit's own step
        return
    if model.weights:
        return
    try:
        model.build((None, *x.shape[1:]))
    except Exception:  # noqa: BLE001 - e.g. a subclassed model: fit builds it, the trail is absent
        pass


def _fit_dtype(array: Any) -> Any:
    """The batch as fit's data adapter hands it over: floating numpy input cast to floatx."""
    import keras
    import numpy as np

    if isinstance(array, np.ndarray) and np.issubdtype(array.dtype, np.floating):
        return array.astype(keras.config.floatx())
    return array
