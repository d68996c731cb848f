"""A user experiment's function called for one variant, its TrainingPlan made ready to fit.

The main run (experiment.run_user_variant) and the op trace's pass (optrace.user_trace) must
train the same model on the same rows from the same seed, so both get the plan from here.
"""

from __future__ import annotations

import dataclasses
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
    context = ExperimentContext(seed=seed, data=data, variant=variant, rows=rows)
    outcome = check_outcome(function(context), entry)  # ExperimentError: exit 2, before training
    if isinstance(outcome, TrainedModel):
        return outcome
    plan = trim(outcome, rows)
    build(plan.model, plan.x)
    return plan


def trim(plan: Any, rows: int | None) -> Any:
    """``--rows N`` (the lab, quick checks): train on the first N rows only."""
    if rows is None or rows >= plan.rows:
        return plan
    return dataclasses.replace(plan, x=plan.x[:rows], y=plan.y[:rows])


def build(model: Any, x: Any) -> None:
    """A model given no input shape has no weights until fit; build it from x's shape so that the
    before-training sums and the trail's row 0 exist (the initializers run as fit would run them)."""
    if model.weights:
        return
    try:
        model.build((None, *x.shape[1:]))
    except Exception:  # noqa: BLE001 - e.g. a subclassed model: fit builds it, the trail is absent
        pass
