"""Finding the exact pinned Python: exact first, else newest of the minor marked as drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from repromatrix.errors import ToolError
from repromatrix.host import interpreters


def fake_python(folder: Path, windows: bool = False) -> Path:
    path = folder / "python.exe" if windows else folder / "bin" / "python3"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


def version_from_path(command: list[str]) -> str | None:
    """Stands in for running the interpreter: the version is the folder name's."""
    for part in Path(command[0]).parts:
        if part.startswith("cpython-"):
            return part.split("-")[1]
        if part[:1].isdigit():
            return part
    return None


class TestFind:
    def test_pyenv_and_uv_exact_wins(self, tmp_path: Path) -> None:
        """The exact 3.9.2 is chosen over a newer 3.9 and other minors are never run."""
        asked: list[str] = []

        def version_of(command: list[str]) -> str | None:
            asked.append(command[0])
            return version_from_path(command)

        home = tmp_path / "home"
        fake_python(home / ".pyenv" / "versions" / "3.9.18")
        fake_python(home / ".pyenv" / "versions" / "3.11.7")
        exact = fake_python(home / ".local" / "share" / "uv" / "python" / "cpython-3.9.2-linux-x86_64-gnu")
        found = interpreters.find_interpreters("3.9.2", env={}, home=home, windows=False,
                                               which=lambda name: None, version_of=version_of)
        assert [i.version_text for i in found] == ["3.9.2", "3.9.18"]
        assert found[0].path == str(exact) and found[0].source == "uv"
        assert not any("3.11" in path for path in asked)

    def test_folder_name_is_verified(self, tmp_path: Path) -> None:
        """A folder named 3.9.2 whose interpreter reports 3.9.7 counts as 3.9.7."""
        fake_python(tmp_path / ".pyenv" / "versions" / "3.9.2")
        found = interpreters.find_interpreters("3.9.2", env={}, home=tmp_path, windows=False,
                                               which=lambda name: None,
                                               version_of=lambda command: "3.9.7")
        assert [i.version_text for i in found] == ["3.9.7"]

    def test_path_and_toolcache(self, tmp_path: Path) -> None:
        """PATH entries are asked for their version; GitHub's tool cache is searched by folder."""
        on_path = fake_python(tmp_path / "bin-dir")
        cached = fake_python(tmp_path / "cache" / "Python" / "3.9.2" / "x64")
        versions = {str(on_path): "3.9.13", str(cached): "3.9.2"}
        found = interpreters.find_interpreters(
            "3.9.2", env={"RUNNER_TOOL_CACHE": str(tmp_path / "cache")}, home=tmp_path,
            windows=False, which=lambda name: str(on_path) if name == "python3.9" else None,
            version_of=lambda command: versions[command[0]])
        assert [(i.version_text, i.source) for i in found] == [("3.9.2", "toolcache"), ("3.9.13", "PATH")]

    def test_windows_py_launcher(self, tmp_path: Path) -> None:
        """On Windows, `py -0p` lists registered interpreters; their versions are asked."""
        exe = tmp_path / "Program Files" / "Python39" / "python.exe"
        exe.parent.mkdir(parents=True)
        exe.write_text("")
        listing = (f" -V:3.11 *        C:\\Python311\\python.exe\n -V:3.9           {exe}\n"
                   " -V:3.10          C:\\Python310\\python.exe\n")
        found = interpreters.find_interpreters(
            "3.9.2", env={"APPDATA": str(tmp_path)}, home=tmp_path, windows=True,
            which=lambda name: None, version_of=lambda command: "3.9.2",
            listing=lambda command: listing)
        assert [(i.path, i.source) for i in found] == [(str(exe), "py-launcher")]


class TestChoose:
    def interp(self, version: str, path: str = "/x") -> interpreters.Interpreter:
        parsed = interpreters.parse_version(version)
        assert parsed is not None
        return interpreters.Interpreter(version=parsed, path=path, source="pyenv")

    def test_exact_has_no_warning(self) -> None:
        choice = interpreters.choose("3.9.2", [self.interp("3.9.2")], strict=True)
        assert choice.exact and choice.warning() is None

    def test_drift_warns_and_names_both_versions(self) -> None:
        choice = interpreters.choose("3.9.2", [self.interp("3.9.18")], strict=False)
        assert not choice.exact
        warning = choice.warning()
        assert warning is not None and "3.9.2 not found; using 3.9.18" in warning

    def test_strict_refuses_drift(self) -> None:
        with pytest.raises(ToolError, match="strict mode"):
            interpreters.choose("3.9.2", [self.interp("3.9.18")], strict=True)

    def test_nothing_found(self) -> None:
        with pytest.raises(ToolError, match="no Python 3.9 interpreter found"):
            interpreters.choose("3.9.2", [], strict=False)

    def test_strict_requested_by_env_or_flag(self) -> None:
        assert interpreters.strict_requested({"REPROMATRIX_STRICT_PYTHON": "1"}, [])
        assert interpreters.strict_requested({}, ["--strict-python"])
        assert not interpreters.strict_requested({"REPROMATRIX_STRICT_PYTHON": "0"}, ["--cell", "x"])

    def test_bad_pin(self) -> None:
        with pytest.raises(ToolError, match="not an exact version"):
            interpreters.find_interpreters("3.9", env={}, home=Path("/nonexistent"), windows=False,
                                           which=lambda name: None)
