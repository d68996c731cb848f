"""Keras 3 support without Keras: version parsing, the trail's artifact form, the fingerprint
additions (none on Keras 2, so its artifacts keep their bytes) and a user variant's label."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from repromatrix import keras3
from repromatrix.matrix import Variant


@pytest.mark.parametrize("version, major", [("2.12.0", 2), ("", 2), ("3.15.1", 3), ("3.0.0rc1", 3),
                                            ("1.1", 2), ("nightly", 2)])
def test_keras_major(version: str, major: int) -> None:
    assert keras3.keras_major(version) == major


def test_trail_result_reads_hash_and_float64_sum_bits() -> None:
    sums = np.array([1.5, -2.25, 7.0], dtype=np.float64).view(np.int64)
    rows = np.stack([np.array([1, -1, 2**40], dtype=np.int64), sums], axis=1)
    result = keras3.trail_result(steps=1, rows=rows)  # a buffer longer than the steps taken
    assert result == {"steps": 1, "digest": ["0000000000000001", "ffffffffffffffff"],
                      "sum": [1.5, -2.25]}


def test_keras2_adds_nothing_to_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keras3, "installed_keras_version", lambda: "2.12.0")
    assert keras3.fingerprint_packages() == [] and keras3.fingerprint_fields() == {}


def test_keras3_records_keras_and_the_backends_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keras3, "installed_keras_version", lambda: "3.15.1")
    for backend, expected in (("tensorflow", ["keras", "tensorflow"]),
                              ("jax", ["keras", "jax", "jaxlib"]), ("torch", ["keras", "torch"])):
        monkeypatch.setattr(keras3, "backend_name", lambda b=backend: b)
        assert keras3.fingerprint_packages() == expected


def test_a_user_variant_is_labelled_with_the_optimizer_its_function_compiled() -> None:
    from repromatrix.experiment import user_settings

    class Adam:
        pass

    settings = user_settings(Variant(name="fast"), SimpleNamespace(optimizer=Adam()))
    assert settings["optimizer"] == "Adam"
    uncompiled = user_settings(Variant(name="fast"), SimpleNamespace(optimizer=None))
    assert uncompiled["optimizer"] != "default"
