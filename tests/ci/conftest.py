"""Fixtures for the CI tests: a small valid matrix file (ci_samples.VALID_MATRIX) to break.

The samples and the matrix fixtures live with the matrix loader's tests in tests/config (no
__init__.py anywhere: its folder goes on sys.path here, so `from ci_samples import ...` works when
tests/ci runs alone)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "config"))

from matrix_fixtures import load_text, problems_of, write_matrix  # noqa: E402, F401 - the fixtures
