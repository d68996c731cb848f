"""Shared fixtures. Integration tests (marker ``slow``) run the real pinned stack in subprocesses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The slow modules, longest first (their serial times on a 2-core AMD EPYC, 2026-12: the lab
# 320 s with its two emulated cells, the Keras 3 stack 190 s, bring-your-own 180 s, arm64 145 s,
# the Keras 3 styles 100 s, the lock 100 s (mostly waiting on the package index), then 70, 40,
# 25 s). The workers take modules in this order, so the longest start first and the short
# fast-tier ones fill the gaps at the end. Only the wall time depends on it: a stale order is
# slower, not wrong.
SLOW_MODULES_FIRST = ("test_lab.py", "test_keras3.py", "test_byo.py", "test_arm64.py",
                      "test_keras3_styles.py", "test_pinned_lock.py", "test_pinned_runner.py",
                      "test_op_trace.py",
                      "test_cell_isolation.py", "test_adopt.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slow modules first, in SLOW_MODULES_FIRST's order, the rest as collected."""
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOW_MODULES_FIRST.index(name) if name in SLOW_MODULES_FIRST else len(
            SLOW_MODULES_FIRST)

    items.sort(key=rank)  # stable: within a rank, the collection order


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
