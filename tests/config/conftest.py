"""Fixtures for the matrix.toml loader tests: a small valid matrix (ci_samples) to break."""

from matrix_fixtures import load_text, problems_of, write_matrix  # noqa: F401 - the fixtures
