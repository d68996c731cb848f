"""Keras 3 on JAX without jax (the tests venv has none; the real stack is in
tests/integration/test_keras3.py): the probe's vocabulary and inputs, that every case runs jitted
with its inputs as arguments, the numerics fields, and the hooks that pick the jax probe and
fields in a jax process."""

from __future__ import annotations

import enum
import hashlib
import json
import sys
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from repromatrix.cell import jax_backend, keras3, probe, torch_backend


def test_the_jax_probe_covers_the_issues_ops_in_the_jaxprs_vocabulary() -> None:
    cases = jax_backend.probe_cases()
    ops = {case.op for case in cases}
    # the names jax.make_jaxpr prints (checked on jax 0.10.2; the integration test re-checks)
    assert {"rsqrt", "sqrt", "div", "exp", "log", "tanh", "logistic", "dot_general",
            "reduce_sum"} <= ops
    names = [case.case for case in cases]
    assert len(set(names)) == len(names) and all(name.startswith("jax ") for name in names)
    tensorflow, torch = probe._cases(), torch_backend.probe_cases()
    assert not set(names) & ({case.case for case in tensorflow} | {c for _, c, _ in torch})
    assert not ops & ({case.op for case in tensorflow} | {op for op, _, _ in torch})
    assert sum(case.op == "dot_general" for case in cases) == 3  # matmul at three shapes


def test_the_jax_probe_uses_the_probes_own_inputs() -> None:
    inputs = probe.probe_inputs()
    args = {case.case: case.args for case in jax_backend.probe_cases()}
    assert np.array_equal(args["jax rsqrt[every 4th float32 in 1..4]"][0], inputs.roots)
    assert np.array_equal(args["jax dot_general[1x41 @ 41x64]"][1], inputs.b_row)
    assert np.array_equal(args["jax reduce_sum[2^20 floats]"][0], inputs.summed)


def fake_jax(calls: list[tuple[Any, ...]]) -> Any:
    """jax's functions the probe calls, computed by numpy; ``jit`` records each compiled call."""
    def jit(function: Any) -> Any:
        def compiled(*args: Any) -> Any:
            calls.append(args)
            return function(*args)
        return compiled

    return SimpleNamespace(
        jit=jit,
        lax=SimpleNamespace(rsqrt=lambda x: np.float32(1) / np.sqrt(x)),
        nn=SimpleNamespace(sigmoid=lambda x: np.float32(1) / (np.float32(1) + np.exp(-x))),
        numpy=SimpleNamespace(sqrt=np.sqrt, divide=np.divide, exp=np.exp, log=np.log,
                              tanh=np.tanh, square=np.square, multiply=np.multiply, add=np.add,
                              matmul=np.matmul, sum=np.sum))


def test_every_jax_case_runs_jitted_with_its_inputs_as_arguments(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras jits its step: the probe must run what XLA compiles, and pass the inputs as
    arguments (constants closed over could be folded at compile time by another evaluator)."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setitem(sys.modules, "jax", fake_jax(calls))
    outputs = jax_backend.run_probe()
    cases = jax_backend.probe_cases()
    assert [(op, case) for op, case, _ in outputs] == [(c.op, c.case) for c in cases]
    assert len(calls) == len(cases)
    assert all(len(args) == len(case.args) and all(a is b or np.array_equal(a, b)
               for a, b in zip(args, case.args)) for args, case in zip(calls, cases))
    results = {case: value for _, case, value in outputs}
    roots = probe.probe_inputs().roots
    assert np.array_equal(results["jax sqrt[every 4th float32 in 1..4]"], np.sqrt(roots))
    assert np.array_equal(results["jax div[1 / x, x in 1..4]"], np.divide(1.0, roots))


def keras3_on(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    monkeypatch.setattr(keras3, "installed_keras_version", lambda: "3.15.1")
    monkeypatch.setattr(keras3, "backend_name", lambda: backend)


def test_a_jax_process_probes_through_jax(monkeypatch: pytest.MonkeyPatch) -> None:
    keras3_on(monkeypatch, "jax")
    outputs = [("tanh", "jax tanh[x]", np.array([0.5], np.float32)),
               ("exp", "jax exp[x]", np.array([2.0], np.float64))]
    monkeypatch.setattr(jax_backend, "run_probe", lambda: outputs)
    assert probe.run_probe() == [  # sorted by case; hashed as float32 bytes, as TensorFlow's
        {"op": "exp", "case": "jax exp[x]",
         "sha256": hashlib.sha256(np.array([2.0], "<f4").tobytes()).hexdigest()},
        {"op": "tanh", "case": "jax tanh[x]",
         "sha256": hashlib.sha256(np.array([0.5], "<f4").tobytes()).hexdigest()}]


def test_only_a_jax_process_adds_jax_to_the_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jax_backend, "fingerprint_fields", lambda: {"version": "0.10.2"})
    keras3_on(monkeypatch, "jax")
    assert keras3.variant_fields() == {"jax": {"version": "0.10.2"}}
    keras3_on(monkeypatch, "tensorflow")
    assert keras3.variant_fields() == {}
    monkeypatch.setattr(keras3, "installed_keras_version", lambda: "2.12.0")
    assert keras3.variant_fields() == {}


class Promotion(str, enum.Enum):  # as jax's NumpyDtypePromotion, a str enum
    STANDARD = "standard"


def test_jax_fields_record_versions_numerics_options_env_and_device(
        monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"jax_enable_x64": False, "jax_default_matmul_precision": "highest",
              "jax_default_prng_impl": "threefry2x32", "jax_threefry_partitionable": True,
              "jax_optimization_level": Promotion.STANDARD,  # any enum: by its value
              "jax_numpy_rank_promotion": "allow"}  # not numerics: not recorded
    device = SimpleNamespace(device_kind="cpu")
    jax = SimpleNamespace(__version__="0.10.2", config=SimpleNamespace(values=values),
                          devices=lambda: [device], default_backend=lambda: "cpu",
                          device_count=lambda: 1)
    monkeypatch.setitem(sys.modules, "jax", jax)
    monkeypatch.setitem(sys.modules, "jaxlib", SimpleNamespace(__version__="0.10.2"))
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_max_isa=SSE4_2")
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    fields = jax_backend.fingerprint_fields()
    json.dumps(fields)  # plain JSON
    assert fields["version"] == "0.10.2" and fields["jaxlib"] == "0.10.2"
    assert fields["env"] == {"JAX_PLATFORMS": None, "XLA_FLAGS": "--xla_cpu_max_isa=SSE4_2"}
    assert (fields["device_kind"], fields["backend"], fields["devices"]) == ("cpu", "cpu", 1)
    config = fields["config"]
    assert set(config) == set(jax_backend.NUMERICS_CONFIG)  # every option, None where absent
    assert config["jax_enable_x64"] is False and config["jax_threefry_partitionable"] is True
    assert config["jax_default_matmul_precision"] == "highest"
    assert config["jax_optimization_level"] == "standard"
    assert config["jax_softmax_custom_jvp"] is None
    assert "jax_numpy_rank_promotion" not in config
