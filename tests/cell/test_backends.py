"""Keras 3 support without Keras: version parsing, the trail's artifact form, the fingerprint
additions (none on Keras 2, so its artifacts keep their bytes) and a user variant's label."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from repromatrix.cell import keras3, trail
from repromatrix.config.matrix import Variant


@pytest.mark.parametrize("version, major", [("2.12.0", 2), ("", 2), ("3.15.1", 3), ("3.0.0rc1", 3),
                                            ("1.1", 2), ("nightly", 2)])
def test_keras_major(version: str, major: int) -> None:
    assert keras3.keras_major(version) == major


def test_trail_result_reads_hash_and_float64_sum_bits() -> None:
    sums = np.array([1.5, -2.25, 7.0], dtype=np.float64).view(np.int64)
    rows = np.stack([np.array([1, -1, 2**40], dtype=np.int64), sums], axis=1)
    result = trail.trail_result(steps=1, rows=rows)  # a buffer longer than the steps taken
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
    from repromatrix.cell.user_plan import user_settings

    class Adam:
        pass

    settings = user_settings(Variant(name="fast"), SimpleNamespace(optimizer=Adam()))
    assert settings["optimizer"] == "Adam"
    uncompiled = user_settings(Variant(name="fast"), SimpleNamespace(optimizer=None))
    assert uncompiled["optimizer"] != "default"


def test_a_failed_user_variant_keeps_the_optimizer_its_function_compiled() -> None:
    """A failure once the model is compiled (in the build, the trail, fit) carries its label."""
    from repromatrix.cell.runner import failed_variant
    from repromatrix.cell.user_plan import labelled_failure

    class SGD:
        pass

    variant = Variant(name="subclassed-jax", backend="jax")
    with pytest.raises(TypeError) as caught:
        with labelled_failure(variant, SimpleNamespace(optimizer=SGD())):
            raise TypeError("mul got incompatible shapes for broadcasting: (74258,), (2,).")
    record = failed_variant(variant, caught.value)
    assert record["settings"] == {**variant.settings(), "optimizer": "SGD"}
    assert record["error"]["message"].startswith("TypeError: mul got incompatible shapes")
    # a failure before any model exists keeps the variant's own settings
    assert failed_variant(variant, ValueError("no"))["settings"] == variant.settings()


# --- the backend setting (matrix.toml) ------------------------------------------------------------

KERAS3_MATRIX = """\
[experiment]
entry = "experiment.py:build"
[pins]
python = "3.11.7"
[pins.packages]
{packages}
[variants.a]
[variants.j]
backend = "{backend}"
"""


def load(tmp_path: Any, packages: str, backend: str = "jax", entry: bool = True) -> Any:
    from repromatrix.config.matrix import load_matrix

    text = KERAS3_MATRIX.format(packages=packages, backend=backend)
    if not entry:
        text = text.replace('entry = "experiment.py:build"\n', "")
    path = tmp_path / "matrix.toml"
    path.write_text(text, encoding="utf-8")
    return load_matrix(path)


def test_backend_is_recorded_and_gets_its_own_process(tmp_path: Any) -> None:
    matrix = load(tmp_path, 'tensorflow = "2.21.0"\nkeras = "3.15.1"')
    plain, jax = matrix.variants["a"], matrix.variants["j"]
    assert "backend" not in plain.settings()  # artifacts without a backend keep their bytes
    assert jax.settings()["backend"] == "jax"
    assert jax.process_env() == {"KERAS_BACKEND": "jax"}
    assert plain.process_key() != jax.process_key()


@pytest.mark.parametrize("packages", ['tensorflow = "2.12.0"\nkeras = "2.12.0"',
                                      'tensorflow = "2.15.1"'])
def test_backend_on_keras2_pins_is_a_matrix_error(tmp_path: Any, packages: str) -> None:
    from repromatrix.errors import ConfigError

    with pytest.raises(ConfigError, match=r"variants\.j\.backend.*Keras 2"):
        load(tmp_path, packages)


def test_unknown_backend_and_builtin_experiment_are_refused(tmp_path: Any) -> None:
    from repromatrix.errors import ConfigError

    with pytest.raises(ConfigError, match="'mxnet' is not one of tensorflow, jax, torch"):
        load(tmp_path, 'keras = "3.15.1"', backend="mxnet")
    with pytest.raises(ConfigError, match="needs your own experiment"):
        load(tmp_path, 'keras = "3.15.1"', entry=False)


def test_a_missing_backend_library_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from repromatrix.errors import UsageError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: None if name == "jax" else real(name) or object())
    with pytest.raises(UsageError, match="backend 'jax', but the pinned venv has no 'jax'"):
        keras3.check_backend_installed(Variant(name="j", backend="jax"))
    keras3.check_backend_installed(Variant(name="t"))  # no backend: nothing to check
