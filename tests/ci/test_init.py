"""``repromatrix init``: what it writes, its refusal to overwrite, and this repository's dogfood."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from repromatrix import __version__
from repromatrix.ci import plan, scaffold
from repromatrix.cli.main import main
from repromatrix.config.matrix import load_matrix

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = ["matrix.toml", "noxfile.py", ".github/workflows/repromatrix.yml",
           ".github/workflows/repromatrix-comment.yml"]
# How this repository generates its own files: repromatrix from the checkout, no other project.
DOGFOOD = scaffold.Options(install="-e .", project=None)
DEV_BLOCK = re.compile(r"^# >>> development of repromatrix itself.*?^# <<<\n\n?",
                       re.MULTILINE | re.DOTALL)


def written(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


class TestInit:
    def test_writes_the_four_files(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                   ) -> None:
        assert main(["init", "--dir", str(tmp_path)]) == 0
        assert written(tmp_path) == sorted(WRITTEN)
        noxfile = (tmp_path / "noxfile.py").read_text(encoding="utf-8")
        assert f'sessions.register(install="repromatrix=={__version__}", project=None)' in noxfile
        workflow = (tmp_path / WRITTEN[2]).read_text(encoding="utf-8")
        assert f'pip install "nox==${{NOX_VERSION}}" repromatrix=={__version__}\n' in workflow
        assert "@" + "INSTALL@" not in workflow and "@ZIZMOR" not in workflow

    def test_refuses_a_second_time_and_names_the_files(
            self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["init", "--dir", str(tmp_path)]) == 0
        (tmp_path / "matrix.toml").write_text("# mine\n", encoding="utf-8")
        capsys.readouterr()
        assert main(["init", "--dir", str(tmp_path), "--entry", "pkg.exp:build"]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and error.startswith("repromatrix: error: would replace ")
        for name in WRITTEN:
            assert name in error
        assert (tmp_path / "matrix.toml").read_text(encoding="utf-8") == "# mine\n"

    def test_force_replaces(self, tmp_path: Path) -> None:
        assert main(["init", "--dir", str(tmp_path)]) == 0
        assert main(["init", "--dir", str(tmp_path), "--force", "--entry", "pkg.exp:build"]) == 0
        assert 'entry = "pkg.exp:build"' in (tmp_path / "matrix.toml").read_text(encoding="utf-8")

    def test_refuses_when_any_one_exists(self, tmp_path: Path) -> None:
        (tmp_path / "noxfile.py").write_text("# mine\n", encoding="utf-8")
        assert main(["init", "--dir", str(tmp_path)]) == 2
        assert written(tmp_path) == ["noxfile.py"]  # nothing else written either

    @pytest.mark.parametrize("entry", [None, "pkg.exp:build"])
    def test_matrix_is_minimal_and_plans(self, tmp_path: Path, entry: str | None) -> None:
        """Only [experiment], [pins] (and a plain variant for an entry); it plans the defaults."""
        files = scaffold.render(scaffold.Options(entry=entry))
        path = tmp_path / "matrix.toml"
        path.write_text(files[Path("matrix.toml")], encoding="utf-8")
        headers = re.findall(r"^\[([^\]]+)\]", path.read_text(encoding="utf-8"), re.MULTILINE)
        expected = ["experiment", "pins", "pins.packages"]
        assert headers == (expected if entry is None else expected + ["variants.default"])
        matrix = load_matrix(path)
        assert matrix.experiment.entry == entry
        assert len(plan.build_plan(matrix)["include"]) == 7

    def test_bad_entry_is_one_line(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                   ) -> None:
        assert main(["init", "--dir", str(tmp_path), "--entry", "not an entry"]) == 2
        assert capsys.readouterr().err.startswith("repromatrix: error: experiment entry ")
        assert written(tmp_path) == []

    @pytest.mark.parametrize("spec", ["", "x\ny", "${{ github.token }}", "'unclosed"])
    def test_bad_install_spec(self, tmp_path: Path, spec: str) -> None:
        assert main(["init", "--dir", str(tmp_path), f"--install={spec}"]) == 2
        assert written(tmp_path) == []

    def test_install_spec_reaches_noxfile_and_workflows(self, tmp_path: Path) -> None:
        """One spec for the pinned venv and CI's host: a git URL, written to every file."""
        url = "git+https://example.invalid/repromatrix.git@v0.1.0"
        assert main(["init", "--dir", str(tmp_path), "--install", url, "--no-project"]) == 0
        assert f'install="{url}"' in (tmp_path / "noxfile.py").read_text(encoding="utf-8")
        for name in WRITTEN[2:]:
            assert f"install \"nox==${{NOX_VERSION}}\" {url}\n" in (tmp_path / name).read_text(
                encoding="utf-8") or f"pip install {url}\n" in (tmp_path / name).read_text(
                encoding="utf-8")

    def test_project_defaults_to_an_installable_folder(self, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text("[project]\nname = 'mine'\n", encoding="utf-8")
        assert main(["init", "--dir", str(tmp_path)]) == 0
        assert 'project=".")' in (tmp_path / "noxfile.py").read_text(encoding="utf-8")

    def test_noxfile_keeps_needs_version_literal(self) -> None:
        """nox reads ``nox.needs_version`` from the noxfile's own AST: it must be a literal."""
        tree = ast.parse(scaffold.render(scaffold.Options())[Path("noxfile.py")])
        values = [node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                  and ast.unparse(node.targets[0]) == "nox.needs_version"]
        assert len(values) == 1 and isinstance(values[0], ast.Constant)


class TestDogfood:
    """This repository's own files are what ``repromatrix init`` generates (from the checkout)."""

    @pytest.mark.parametrize("name", WRITTEN[2:])
    def test_workflows_are_generated(self, name: str) -> None:
        generated = scaffold.render(DOGFOOD)[Path(name)]
        assert (ROOT / name).read_text(encoding="utf-8") == generated, (
            f"{name} differs from a fresh generation: run `repromatrix init --install '-e .' "
            "--no-project --force` and re-add the noxfile's development blocks")

    def test_no_other_workflows(self) -> None:
        assert sorted(p.name for p in (ROOT / ".github" / "workflows").iterdir()) == sorted(
            Path(name).name for name in WRITTEN[2:])

    def test_noxfile_is_generated_plus_development_blocks(self) -> None:
        own = (ROOT / "noxfile.py").read_text(encoding="utf-8")
        generated = scaffold.render(DOGFOOD)[Path("noxfile.py")]
        assert DEV_BLOCK.sub("", own).rstrip("\n") == generated.rstrip("\n")

    def test_matrix_is_the_builtin_one(self) -> None:
        assert (ROOT / "matrix.toml").read_text(encoding="utf-8") == (
            scaffold.render(DOGFOOD)[Path("matrix.toml")])


def test_init_locks_the_new_matrix_unless_told_not_to(tmp_path: Path,
                                                      locked_folders: list[Path]) -> None:
    assert main(["init", "--dir", str(tmp_path / "a"), "--no-project"]) == 2  # no such folder
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert main(["init", "--dir", str(tmp_path / "a"), "--no-project"]) == 0
    assert main(["init", "--dir", str(tmp_path / "b"), "--no-project", "--no-lock"]) == 0
    assert locked_folders == [tmp_path / "a"]


class TestDefaultSpec:
    """Without --install, the spec is where the running repromatrix came from (PEP 610)."""

    def test_registry_release(self) -> None:
        assert scaffold.spec_from_direct_url(None, "0.1.0") == ("repromatrix==0.1.0", None)

    def test_vcs_url_as_is(self) -> None:
        url = ('{"url": "https://github.com/o/repromatrix.git", "vcs_info": {"vcs": "git", '
               '"commit_id": "0123abc", "requested_revision": "v0.1.0"}}')
        assert scaffold.spec_from_direct_url(url, "0.1.0") == (
            "repromatrix @ git+https://github.com/o/repromatrix.git@0123abc", None)

    def test_local_wheel_and_folder_warn(self) -> None:
        wheel = ('{"url": "file:///home/me/dist/repromatrix-0.1.0-py3-none-any.whl", '
                 '"archive_info": {"hashes": {"sha256": "f00"}}}')
        folder = '{"url": "file:///home/me/src/repromatrix", "dir_info": {"editable": true}}'
        assert scaffold.spec_from_direct_url(wheel, "0.1.0") == (
            "/home/me/dist/repromatrix-0.1.0-py3-none-any.whl", scaffold.REACHABLE_HINT)
        assert scaffold.spec_from_direct_url(folder, "0.1.0") == (
            "-e /home/me/src/repromatrix", scaffold.REACHABLE_HINT)

    def test_init_uses_it_checks_it_and_warns(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str],
                                              checked_specs: list[tuple[str, Path]]) -> None:
        monkeypatch.setattr(scaffold, "installed_spec",
                            lambda: ("/w/repromatrix.whl", scaffold.REACHABLE_HINT))
        assert main(["init", "--dir", str(tmp_path), "--no-project"]) == 0
        assert 'install="/w/repromatrix.whl"' in (tmp_path / "noxfile.py").read_text(
            encoding="utf-8")
        assert checked_specs == [("/w/repromatrix.whl", tmp_path)]
        assert (f"repromatrix: warning: --install /w/repromatrix.whl: {scaffold.REACHABLE_HINT}"
                in capsys.readouterr().err)
