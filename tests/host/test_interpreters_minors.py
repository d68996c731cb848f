"""The interpreter finder with 3.10, 3.11 and 3.12 pins, as with 3.9.2: two-digit minors compare
as numbers (3.10 is not 3.1, and is newer than 3.9), exact first, else the newest of the minor."""

from __future__ import annotations

from pathlib import Path

import pytest

from repromatrix.host import interpreters

INSTALLED = ("3.1.5", "3.9.2", "3.10.4", "3.10.13", "3.11.7", "3.11.10", "3.12.1", "3.12.8",
             "3.13.0")


def pyenv_home(tmp_path: Path) -> Path:
    for version in INSTALLED:
        python = tmp_path / ".pyenv" / "versions" / version / "bin" / "python3"
        python.parent.mkdir(parents=True)
        python.write_text("")
    return tmp_path


def find(wanted: str, home: Path) -> list[str]:
    found = interpreters.find_interpreters(
        wanted, env={}, home=home, windows=False, which=lambda name: None,
        version_of=lambda command: Path(command[0]).parts[-3])  # the folder's version
    return [i.version_text for i in found]


@pytest.mark.parametrize(("wanted", "expected"), [
    ("3.10.13", ["3.10.13", "3.10.4"]),
    ("3.11.7", ["3.11.7", "3.11.10"]),
    ("3.12.1", ["3.12.1", "3.12.8"]),
    ("3.1.5", ["3.1.5"]),
])
def test_exact_first_then_the_same_minor_newest_first(tmp_path: Path, wanted: str,
                                                      expected: list[str]) -> None:
    assert find(wanted, pyenv_home(tmp_path)) == expected


@pytest.mark.parametrize(("wanted", "drift"), [("3.10.2", "3.10.13"), ("3.11.2", "3.11.10"),
                                               ("3.12.0", "3.12.8")])
def test_missing_patch_release_is_drift_to_the_newest(tmp_path: Path, wanted: str,
                                                      drift: str) -> None:
    found = interpreters.find_interpreters(
        wanted, env={}, home=pyenv_home(tmp_path), windows=False, which=lambda name: None,
        version_of=lambda command: Path(command[0]).parts[-3])
    choice = interpreters.choose(wanted, found, strict=False)
    assert choice.interpreter.version_text == drift and not choice.exact
    warning = choice.warning()
    assert warning is not None and f"{wanted} not found; using {drift}" in warning


def test_py_launcher_tells_3_10_from_3_1(tmp_path: Path) -> None:
    exe = tmp_path / "Python310" / "python.exe"
    exe.parent.mkdir()
    exe.write_text("")
    listing = f" -V:3.1           C:\\Python31\\python.exe\n -V:3.10 *        {exe}\n"
    found = interpreters.find_interpreters(
        "3.10.11", env={"APPDATA": str(tmp_path)}, home=tmp_path, windows=True,
        which=lambda name: None, version_of=lambda command: "3.10.11",
        listing=lambda command: listing)
    assert [(i.path, i.source) for i in found] == [(str(exe), "py-launcher")]

