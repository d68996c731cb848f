"""A variant's switches reach the library before its first op (cell/switches.py)."""

from __future__ import annotations

import sys
import types

import pytest

from repromatrix.cell import switches


class FakeOptimizer:
    def __init__(self) -> None:
        self.options: dict[str, bool] = {}

    def set_experimental_options(self, options: dict[str, bool]) -> None:
        self.options.update(options)


def fake_tf() -> types.SimpleNamespace:
    return types.SimpleNamespace(config=types.SimpleNamespace(optimizer=FakeOptimizer()))


def test_grappler_arithmetic_optimisation_is_switched() -> None:
    tf = fake_tf()
    switches.apply(tf, {"grappler.arithmetic_optimization": False})
    assert tf.config.optimizer.options == {"arithmetic_optimization": False}
    untouched = fake_tf()
    switches.apply(untouched, {})
    assert untouched.config.optimizer.options == {}


def test_torch_mkldnn_is_switched(monkeypatch: pytest.MonkeyPatch) -> None:
    mkldnn = types.SimpleNamespace(enabled=True)
    torch = types.SimpleNamespace(backends=types.SimpleNamespace(mkldnn=mkldnn))
    monkeypatch.setitem(sys.modules, "torch", torch)
    switches.apply(fake_tf(), {"torch.mkldnn": False})
    assert mkldnn.enabled is False
