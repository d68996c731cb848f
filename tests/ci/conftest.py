"""Fixtures for the CI tests: a small valid matrix file (ci_samples.VALID_MATRIX) to break.

The samples and the matrix fixtures live with the matrix loader's tests in tests/config (no
__init__.py anywhere: its folder goes on sys.path here, so `from ci_samples import ...` works when
tests/ci runs alone)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "config"))

from matrix_fixtures import load_text, problems_of, write_matrix  # noqa: E402, F401 - the fixtures


@pytest.fixture(autouse=True)
def locked_folders(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """`init` would ask uv to resolve every platform (about a minute, over the network): here it
    records the folder instead. tests/integration/test_pinned_lock.py runs init's real lock."""
    from repromatrix.ci import scaffold

    folders: list[Path] = []
    monkeypatch.setattr(scaffold, "lock_repository", folders.append)
    return folders


@pytest.fixture(autouse=True)
def checked_specs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Path]]:
    """`init` asks uv whether --install resolves (over the network): here it records the spec.
    The running repromatrix counts as installed from the registry (this venv's is editable)."""
    from repromatrix import __version__
    from repromatrix.ci import scaffold

    specs: list[tuple[str, Path]] = []
    monkeypatch.setattr(scaffold, "check_spec_resolves", lambda spec, folder: specs.append(
        (spec, folder)))
    monkeypatch.setattr(scaffold, "installed_spec", lambda: (f"repromatrix=={__version__}", None))
    return specs
