"""The function's result checked with fake objects: no TensorFlow needed."""

from __future__ import annotations

import importlib
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from repromatrix.contract import TrainedModel, TrainingPlan, check_outcome, is_compiled
from repromatrix.errors import ExperimentError


@dataclass
class FakeModel:
    """Just the attributes the contract looks at."""

    input_shape: Any = (None, 8, 8, 1)
    _is_compiled: bool = True
    optimizer: Any = "adam"
    weights: list = field(default_factory=lambda: [np.zeros(3)])

    def fit(self, *a: Any, **k: Any) -> None: ...
    def compile(self, *a: Any, **k: Any) -> None: ...
    def get_weights(self) -> list: return []


def plan(**changes: Any) -> TrainingPlan:
    base: dict[str, Any] = dict(model=FakeModel(), x=np.zeros((10, 8, 8, 1), np.float32),
                                y=np.zeros(10, np.int32), fit_kwargs={"batch_size": 4})
    base.update(changes)
    return TrainingPlan(**base)


def test_plan_accepted_and_steps_counted() -> None:
    good = check_outcome(plan(fit_kwargs={"batch_size": 4, "epochs": 3}), "e")
    assert isinstance(good, TrainingPlan)
    assert good.optimizer_steps() == 3 * 3  # ceil(10 / 4) per epoch
    assert good.fit_record()["steps"] == 9


def test_keras_default_batch_and_steps_per_epoch() -> None:
    assert plan(x=np.zeros((100, 8, 8, 1)), y=np.zeros(100), fit_kwargs={}).optimizer_steps() == 4
    assert plan(fit_kwargs={"steps_per_epoch": 2, "epochs": 5}).optimizer_steps() == 10


def test_trained_model_accepted() -> None:
    model = FakeModel()
    assert check_outcome(model, "e") == TrainedModel(model)


@pytest.mark.parametrize("result", [None, (1, 2, 3), "model", {"model": 1}])
def test_wrong_return(result: Any) -> None:
    with pytest.raises(ExperimentError, match="expected a repromatrix.contract.TrainingPlan"):
        check_outcome(result, "exp.py:build")


def test_not_compiled() -> None:
    with pytest.raises(ExperimentError, match="the model is not compiled"):
        check_outcome(plan(model=FakeModel(_is_compiled=False)), "e")


def test_compiled_flags_of_keras_2_and_3() -> None:
    class Keras3:
        compiled = False
        optimizer = None

    class Bare:
        optimizer = None

    assert not is_compiled(Keras3()) and not is_compiled(Bare())
    assert is_compiled(FakeModel())


def test_not_a_model() -> None:
    with pytest.raises(ExperimentError, match="TrainingPlan.model is a str, not a Keras model"):
        check_outcome(plan(model="nope"), "e")


def test_wrong_input_shape() -> None:
    with pytest.raises(ExperimentError, match=r"x has shape \(10, 64\) but the model's input is "
                       r"\(None, 8, 8, 1\)"):
        check_outcome(plan(x=np.zeros((10, 64))), "e")


def test_unknown_input_shape_is_not_checked() -> None:
    class Unbuilt:
        _is_compiled = True
        weights: tuple = ()

        @property
        def input_shape(self) -> Any:
            raise AttributeError("not built")

        def fit(self) -> None: ...
        def compile(self) -> None: ...
        def get_weights(self) -> list: return []

    check_outcome(plan(model=Unbuilt(), x=np.zeros((10, 3))), "e")


def test_rows_must_agree() -> None:
    with pytest.raises(ExperimentError, match="x has 10 rows but y has 9"):
        check_outcome(plan(y=np.zeros(9)), "e")


def test_arrays_required() -> None:
    with pytest.raises(ExperimentError, match="TrainingPlan.x is a list"):
        check_outcome(plan(x=[[1.0]]), "e")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"x": 1}, "may not set x"),
    ({"validation_split": 0.2}, "may not set validation_split"),
    ({"batch_size": 0}, "must be a whole number >= 1"),
    ({"epochs": True}, "must be a whole number >= 1"),
])
def test_fit_kwargs(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ExperimentError, match=message):
        check_outcome(plan(fit_kwargs=kwargs), "e")


def test_contract_imports_without_tensorflow() -> None:
    """The contract module must not pull TensorFlow (users import it at module level)."""
    code = ("import sys, repromatrix.contract, repromatrix.host.preflight, repromatrix.cell.runner; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert importlib.import_module("repromatrix.contract").BUILTIN_NAME == "report-41"
