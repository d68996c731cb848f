"""Fixtures for tests that load matrix text: tests/config's and tests/ci's conftest.py import them
(one definition; the project root is tests/conftest.py's ``root``)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from repromatrix.config.matrix import Matrix, load_matrix
from repromatrix.errors import ConfigError


@pytest.fixture
def write_matrix(tmp_path: Path) -> Callable[[str], Path]:
    """Write matrix text to a fresh file and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "matrix.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_text(write_matrix: Callable[[str], Path]) -> Callable[[str], Matrix]:
    return lambda text: load_matrix(write_matrix(text))


@pytest.fixture
def problems_of(write_matrix: Callable[[str], Path]) -> Callable[[str], list[str]]:
    """The problems a matrix text is refused with; fails the test if it is accepted."""

    def problems(text: str) -> list[str]:
        with pytest.raises(ConfigError) as caught:
            load_matrix(write_matrix(text))
        return caught.value.problems

    return problems
