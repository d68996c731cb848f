"""ruff and mypy are clean: a finding fails the fast tests, not only a CI step someone may skip.

Both run as subprocesses of this interpreter (``python -m``), with the configuration in
pyproject.toml, from the project root so that their paths are the ones that file names.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *arguments], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def test_ruff_is_clean() -> None:
    completed = _run("ruff", "check", "src", "tests", "scripts", "noxfile.py")
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_mypy_is_clean() -> None:
    completed = _run("mypy", "src")
    assert completed.returncode == 0, completed.stdout + completed.stderr
