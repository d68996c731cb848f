"""Keras 3 on PyTorch without torch (the tests venv has none; the real stack is in
tests/integration/test_keras3.py): the op names, the probe's vocabulary, and the hooks that pick
the torch recorder, op set, probe and fields in a torch process."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

from repromatrix.cell import experiment, keras3, probe, torch_backend


@pytest.mark.parametrize("packet, name", [
    ("aten._foreach_sqrt_", "aten._foreach_sqrt"),  # RMSprop's in-place sqrt: Adam's name
    ("aten.copy_", "aten.copy"),
    ("aten.mm", "aten.mm"),
    ("aten.__and__", "aten.__and__"),  # a dunder is not an in-place mark
])
def test_op_name_drops_only_the_in_place_mark(packet: str, name: str) -> None:
    assert torch_backend.op_name(packet) == name


def test_the_torch_probe_covers_the_issues_ops_in_the_op_sets_vocabulary() -> None:
    cases = torch_backend.probe_cases()
    ops = {op for op, _, _ in cases}
    assert {"aten.rsqrt", "aten.sqrt", "aten.div", "aten.exp", "aten.log", "aten.tanh",
            "aten.sigmoid", "aten.mm", "aten.sum", "aten._foreach_sqrt"} <= ops
    assert all(torch_backend.op_name(op) == op for op in ops)  # names an op set can contain
    names = [case for _, case, _ in cases]
    assert len(set(names)) == len(names)
    assert not set(names) & {case.case for case in probe._cases()}  # never a TensorFlow case
    assert sum(op == "aten.mm" for op, _, _ in cases) == 3  # matmul at three shapes


def keras3_on(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    monkeypatch.setattr(keras3, "installed_keras_version", lambda: "3.15.1")
    monkeypatch.setattr(experiment, "keras_version", lambda: "3.15.1")
    monkeypatch.setattr(keras3, "backend_name", lambda: backend)


def test_a_torch_process_records_with_the_torch_recorder(monkeypatch: pytest.MonkeyPatch) -> None:
    keras3_on(monkeypatch, "torch")

    class Recorder:
        def __init__(self, model: Any, steps: int) -> None:
            self.args = (model, steps)

    monkeypatch.setattr(torch_backend, "TorchTrailRecorder", Recorder)
    recorder = experiment.trail_recorder("model", steps=5)
    assert isinstance(recorder, Recorder) and recorder.args == ("model", 5)


def test_a_torch_op_set_is_the_recorders_first_step(monkeypatch: pytest.MonkeyPatch) -> None:
    keras3_on(monkeypatch, "torch")

    class Watched:
        ops = ["aten.mm", "aten.sigmoid"]

    assert experiment._user_train_step_ops(None, None, None, Watched()) == {
        "ops": ["aten.mm", "aten.sigmoid"]}
    absent = experiment._user_train_step_ops(None, None, None, None)
    assert set(absent) == {"absent"} and "no trail" in absent["absent"]


def test_a_torch_process_probes_through_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    keras3_on(monkeypatch, "torch")
    outputs = [("aten.tanh", "torch aten.tanh[x]", np.array([0.5], np.float32)),
               ("aten.exp", "torch aten.exp[x]", np.array([2.0], np.float64))]
    monkeypatch.setattr(torch_backend, "run_probe", lambda: outputs)
    assert probe.run_probe() == [  # sorted by case; hashed as float32 bytes, as TensorFlow's
        {"op": "aten.exp", "case": "torch aten.exp[x]",
         "sha256": hashlib.sha256(np.array([2.0], "<f4").tobytes()).hexdigest()},
        {"op": "aten.tanh", "case": "torch aten.tanh[x]",
         "sha256": hashlib.sha256(np.array([0.5], "<f4").tobytes()).hexdigest()}]


def test_only_a_torch_process_adds_torch_to_the_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch_backend, "fingerprint_fields", lambda: {"version": "2.13.0+cpu"})
    keras3_on(monkeypatch, "torch")
    assert keras3.variant_fields() == {"torch": {"version": "2.13.0+cpu"}}
    keras3_on(monkeypatch, "tensorflow")
    assert keras3.variant_fields() == {}
    monkeypatch.setattr(keras3, "installed_keras_version", lambda: "2.12.0")
    assert keras3.variant_fields() == {}
