"""The CLI's error reporting: one line locally, plus an annotation on GitHub."""

from __future__ import annotations

from pathlib import Path

import pytest

from repromatrix import cli


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
