"""The lock files: which platforms are locked, what each was made from, and the one line a stale
or missing lock stops the run with. Resolution itself is uv's: tests/integration/test_pinned_lock.py
runs it for real (`nox -s pinned` twice from one lock)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from repromatrix.config.matrix import load_matrix
from repromatrix.errors import UsageError
from repromatrix.host import lock

ROOT = Path(__file__).resolve().parents[2]
LOCK_TABLE = '\n[tool.repromatrix]\nplatform = "linux-x86_64"\npython = "3.9.2"\n'
LOCK_BODY = 'lock-version = "1.0"\ncreated-by = "uv"\n\n[[packages]]\nname = "six"\nversion = "1.17.0"\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of this repository's matrix.toml with a lock per platform, as `lock` writes them."""
    shutil.copy(ROOT / "matrix.toml", tmp_path / "matrix.toml")
    matrix = load_matrix(tmp_path / "matrix.toml")
    for platform in lock.platforms(matrix):
        expected = lock.inputs(matrix, platform, lock.own_requirements())
        lock.lock_path(matrix.path, platform).write_text(LOCK_BODY + expected.table(),
                                                         encoding="utf-8")
    return tmp_path


def test_every_ci_platform_and_the_arm64_lab_cell(repo: Path) -> None:
    assert lock.platforms(load_matrix(repo / "matrix.toml")) == [
        "linux-arm64", "linux-x86_64", "macos-arm64", "macos-x86_64", "windows-x86_64"]
    assert set(lock.UV_PLATFORMS) >= set(lock.platforms(load_matrix(repo / "matrix.toml")))


def test_inputs_are_the_platforms_own_pins_and_repromatrix_dependencies(repo: Path) -> None:
    matrix = load_matrix(repo / "matrix.toml")
    mac = lock.inputs(matrix, "macos-arm64", ("tabulate>=0.9",))
    assert "tensorflow-macos==2.12.0" in mac.requirements  # [platforms] replace applies
    assert "tensorflow==2.12.0" not in mac.requirements
    assert "tabulate>=0.9" in mac.requirements and mac.python == "3.9.2"
    assert list(mac.requirements) == sorted(mac.requirements)


def test_own_requirements_match_pyproject() -> None:
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert lock.own_requirements() == tuple(sorted(
        line.replace(" ", "").replace('"', "'") for line in declared["project"]["dependencies"]))


def test_a_current_lock_is_used(repo: Path) -> None:
    matrix = load_matrix(repo / "matrix.toml")
    expected = lock.inputs(matrix, "linux-x86_64", lock.own_requirements())
    assert lock.check(matrix.path, expected) == repo / "pylock.linux-x86_64.toml"
    assert lock.recorded_inputs(repo / "pylock.linux-x86_64.toml") == expected


def test_a_changed_pin_makes_the_lock_stale(repo: Path) -> None:
    text = (repo / "matrix.toml").read_text(encoding="utf-8")
    (repo / "matrix.toml").write_text(text.replace('pandas = "1.5.3"', 'pandas = "1.5.2"'),
                                      encoding="utf-8")
    matrix = load_matrix(repo / "matrix.toml")
    with pytest.raises(UsageError) as caught:
        lock.check(matrix.path, lock.inputs(matrix, "linux-x86_64", lock.own_requirements()))
    assert str(caught.value) == \
        "pylock.linux-x86_64.toml no longer matches matrix.toml: run `nox -s lock`"


def test_a_missing_platform_lock_is_refused_but_no_lock_at_all_is_allowed(repo: Path) -> None:
    matrix = load_matrix(repo / "matrix.toml")
    expected = lock.inputs(matrix, "linux-x86_64", lock.own_requirements())
    (repo / "pylock.linux-x86_64.toml").unlink()
    with pytest.raises(UsageError, match=r"^pylock.linux-x86_64.toml is missing \(this platform "
                       r"is not locked\): run `nox -s lock`$"):
        lock.check(matrix.path, expected)
    for path in repo.glob("pylock.*.toml"):
        path.unlink()
    assert lock.check(matrix.path, expected) is None  # unlocked: the pins install as before


def test_a_lock_without_our_table_is_stale(repo: Path) -> None:
    (repo / "pylock.linux-x86_64.toml").write_text(LOCK_BODY, encoding="utf-8")
    matrix = load_matrix(repo / "matrix.toml")
    with pytest.raises(UsageError, match="no longer matches"):
        lock.check(matrix.path, lock.inputs(matrix, "linux-x86_64", lock.own_requirements()))


def test_uv_command_per_platform(repo: Path) -> None:
    matrix = load_matrix(repo / "matrix.toml")
    expected = lock.inputs(matrix, "macos-arm64", ())
    command = lock.compile_command("uv", expected, repo / "pylock.macos-arm64.toml")
    assert command[:6] == ["uv", "pip", "compile", "-", "--format", "pylock.toml"]
    assert command[command.index("--python-platform") + 1] == "aarch64-apple-darwin"
    assert command[command.index("--python-version") + 1] == "3.9.2"
    with pytest.raises(UsageError, match="cannot lock platform freebsd-x86_64"):
        lock.compile_command("uv", lock.LockInputs("freebsd-x86_64", "3.9.2", ()), repo / "x")


def test_check_command_is_one_line_exit_2(repo: Path) -> None:
    """`repromatrix lock --check` at the process boundary: current locks pass, a stale one does
    not."""
    command = [sys.executable, "-m", "repromatrix", "lock", "--check", "--matrix",
               str(repo / "matrix.toml")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stderr) == (0, "repromatrix: the locks match matrix.toml\n")
    text = (repo / "matrix.toml").read_text(encoding="utf-8")
    (repo / "matrix.toml").write_text(text.replace('numpy = "1.23.5"', 'numpy = "1.24.0"'),
                                      encoding="utf-8")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "repromatrix: error: pylock.linux-arm64.toml no longer matches matrix.toml: run "
        "`nox -s lock`"]


def test_this_repositorys_locks_match_its_matrix() -> None:
    """The committed locks are current (`nox -s lock` after any change to the pins)."""
    matrix = load_matrix(ROOT / "matrix.toml")
    for platform in lock.platforms(matrix):
        expected = lock.inputs(matrix, platform, lock.own_requirements())
        assert lock.check(matrix.path, expected) == lock.lock_path(matrix.path, platform)


PYPI_SIX = (
    '[[packages]]\nname = "six"\nversion = "1.17.0"\nsdist = { url = "https://files.pythonhosted.org/'
    'six.tar.gz", hashes = { sha256 = "aa" } }\nwheels = [{ url = "https://files.pythonhosted.org/'
    'six.whl", hashes = { sha256 = "bb" } }]\n\n')
ELSEWHERE = (
    '[[packages]]\nname = "torch"\nversion = "2.3.1+cpu"\nwheels = [{ url = "https://download.'
    'pytorch.org/whl/cpu/torch.whl", hashes = { sha256 = "cc" } }]\n\n'
    '[[packages]]\nname = "mixed"\nversion = "1.0"\nwheels = [{ url = "https://files.'
    'pythonhosted.org/m.whl" }, { url = "https://example.org/m.whl" }]\n\n'
    '[[packages]]\nname = "local"\nversion = "0.1"\ndirectory = { path = "." }\n')


def test_packages_from_pypi_name_pypis_index_and_nothing_else_changes() -> None:
    """uv writes no `index`; without it `uv pip sync` re-downloads the whole lock on a network
    that strips PyPI's Cache-Control (tests/integration/test_pinned_lock.py shows the second
    install downloading nothing)."""
    text = 'lock-version = "1.0"\n\n' + PYPI_SIX + ELSEWHERE + LOCK_TABLE
    annotated = lock.with_pypi_index(text)
    assert annotated == text.replace('version = "1.17.0"\n',
                                     'version = "1.17.0"\nindex = "https://pypi.org/simple"\n')
    assert lock.with_pypi_index(annotated) == annotated  # once only
    document = tomllib.loads(annotated)
    assert {p["name"]: p.get("index") for p in document["packages"]} == {
        "six": "https://pypi.org/simple", "torch": None, "mixed": None, "local": None}
    named = PYPI_SIX.replace('version = "1.17.0"\n',
                             'version = "1.17.0"\nindex = "https://mirror.example/simple"\n')
    assert lock.with_pypi_index(named) == named  # an index already named is the user's


def test_this_repositorys_locks_name_pypi_for_every_pypi_package() -> None:
    for path in sorted(ROOT.glob("pylock.*.toml")):
        packages = tomllib.loads(path.read_text(encoding="utf-8"))["packages"]
        assert [p["name"] for p in packages if p.get("index") != lock.PYPI_INDEX] == [], path.name


def test_uv_errors_become_one_line() -> None:
    wrapped = ("error: No solution found when resolving dependencies:\n  ╰─▶ Because repromatrix was"
               " not found in the package registry and you require\n      repromatrix==0.1.0, we "
               "can conclude that your requirements are unsatisfiable.\n")
    assert lock.uv_reason(wrapped) == (
        "No solution found when resolving dependencies: ╰─▶ Because repromatrix was not found in "
        "the package registry and you require repromatrix==0.1.0, we can conclude that your "
        "requirements are unsatisfiable.")
    assert lock.uv_reason("") == "no output" and len(lock.uv_reason("x " * 500)) == 400


def test_preflight_stops_on_a_stale_lock_before_resolving(repo: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    from repromatrix.cli.main import main

    text = (repo / "matrix.toml").read_text(encoding="utf-8")
    (repo / "matrix.toml").write_text(text.replace('keras = "2.12.0"', 'keras = "2.12.1"'),
                                      encoding="utf-8")
    assert main(["preflight", "--matrix", str(repo / "matrix.toml")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "repromatrix: error: pylock.linux-arm64.toml no longer matches matrix.toml: run "
        "`nox -s lock`"]
