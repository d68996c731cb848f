"""Sample matrix inputs shared by the loader tests and tests/ci (conftest is not importable)."""

from __future__ import annotations

from pathlib import Path

import pytest

from repromatrix.config.matrix import Matrix, load_matrix
from repromatrix.errors import ConfigError

VALID_MATRIX = """\
[experiment]
seed = 42
data = "builtin"
target = "target"
variants = ["default-optimizer", "adam"]

[pins]
python = "3.9.2"

[pins.packages]
tensorflow = "2.12.0"
numpy = "1.23.5"

[platforms.macos-arm64]
replace = { tensorflow = "tensorflow-macos" }

[platforms.windows-x86_64]
pulls = ["tensorflow-intel"]

[variants.default-optimizer]
optimizer = "default"

[variants.adam]
optimizer = "adam"
env = { TF_ENABLE_ONEDNN_OPTS = "0" }

[[runners]]
label = "ubuntu-24.04"
os = "linux"
arch = "x86_64"
python = "uv"
repeat = 2

[[runners]]
label = "windows-2025"
os = "windows"
arch = "x86_64"
python = "setup-python"

[[runners]]
label = "macos-15"
os = "macos"
arch = "arm64"
python = "uv"

[[excluded]]
label = "windows-11-arm"
os = "windows"
arch = "arm64"
reason = "no tensorflow 2.12.0 wheel"

[lab]
rows = 8
variants = ["adam"]

[[lab.cells]]
id = "lab-native"
"""


def line_of(text: str, snippet: str, occurrence: int = 1) -> int:
    """1-based number of the line holding the ``occurrence``-th match of ``snippet``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if snippet in line]
    return hits[occurrence - 1]


def changed(old: str, new: str, text: str = VALID_MATRIX) -> str:
    """``text`` with the first ``old`` replaced; fails if ``old`` is not there."""
    result = text.replace(old, new, 1)
    assert result != text, old
    return result


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "matrix.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Matrix:
    return load_matrix(write(tmp_path, text))


def problems_of(tmp_path: Path, text: str) -> list[str]:
    """The problems, each without its "<path>:" prefix (checked by test_prefix_is_the_path)."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_matrix(path)
    prefix = f"{path}:"
    assert all(p.startswith(prefix) for p in caught.value.problems), caught.value.problems
    return [p[len(prefix):] for p in caught.value.problems]
