"""The CLI's error reporting: one line locally, plus an annotation on GitHub."""

from __future__ import annotations

from pathlib import Path

import pytest

from repromatrix.cli import main as cli


class TestErrors:
    def test_bad_data_is_one_line_exit_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
        code = cli.main(["run", "--data", str(tmp_path / "none.csv"),
                         "--output", str(tmp_path / "out.json")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and err == [f"repromatrix: error: {tmp_path / 'none.csv'}: no such data file"]

    def test_annotation_on_github(self, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        code = cli.main(["run", "--data", str(tmp_path / "none.csv"),
                         "--output", str(tmp_path / "out.json")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and err[0].startswith("repromatrix: error: ")
        assert err[1].startswith("::error title=repromatrix::") and "no such data file" in err[1]

    def test_output_folder_refused_before_work(self, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
        """--output naming a folder fails at once with exit 2, not after training."""
        code = cli.main(["run", "--output", str(tmp_path)])
        assert code == 2 and "is a folder" in capsys.readouterr().err

    def test_config_problems_each_on_a_line(self, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
        matrix = tmp_path / "matrix.toml"
        matrix.write_text("[experiment]\nseed = 'x'\nvariantz = []\n")
        code = cli.main(["plan", "--matrix", str(matrix)])
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(lines) >= 2
        assert all(line.startswith("repromatrix: error: ") for line in lines)
        assert any("Perhaps you meant 'variants'?" in line for line in lines)


class TestUnsafeNames:
    """Issue 9, points 3 and 7: names that would end up in a path or the environment."""

    @pytest.mark.parametrize("cell", ["ab\n", "../../evil", "a/b", ""])
    def test_run_cell(self, tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: str) -> None:
        """Refused before anything else is checked (the data file here does not even exist)."""
        code = cli.main(["run", "--cell", cell, "--data", str(tmp_path / "none.csv")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and err[0].startswith(
            f"repromatrix: error: --cell {cell!r}: use letters, digits")

    @pytest.mark.parametrize("cell", ["../../evil", "ab\n"])
    def test_error_artifact_cell(self, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 cell: str) -> None:
        output = tmp_path / "out.json"
        code = cli.main(["error-artifact", "--cell", cell, "--output", str(output)])
        assert code == 2 and "--cell" in capsys.readouterr().err and not output.exists()

    @pytest.mark.parametrize("pair", ["A=x\x00y", "=x"])
    def test_env_the_os_would_refuse(self, pair: str) -> None:
        with pytest.raises(SystemExit) as caught:
            cli.build_parser().parse_args(["run", "--env", pair])
        assert caught.value.code == 2
