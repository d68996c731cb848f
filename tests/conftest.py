"""Shared fixtures. Integration tests (marker ``slow``) run the real pinned stack in subprocesses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pinned_python() -> str:
    """The pinned venv's interpreter; a missing one fails loudly rather than skipping."""
    python = os.environ.get("REPROMATRIX_PINNED_PYTHON")
    if not python or not Path(python).exists():
        pytest.fail("REPROMATRIX_PINNED_PYTHON is not set to the pinned venv's python: run the "
                    "tests with `nox -s tests` (or deselect with -m 'not slow')")
    return python


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
