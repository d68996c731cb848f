"""``repromatrix plan``: the GitHub job matrix computed from matrix.toml."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

import pytest
from ci_samples import VALID_MATRIX

from repromatrix.ci import plan
from repromatrix.config.matrix import Matrix, load_matrix
from repromatrix.errors import ConfigError


def run_plan(path: Path, env: dict[str, str]) -> int:
    parser = argparse.ArgumentParser()
    plan.add_parser(parser.add_subparsers())
    args = parser.parse_args(["plan", "--matrix", str(path)])
    assert args.func is plan.run
    return args.func(args, env=env)


class TestBuildPlan:
    def test_entries(self, load_text: Callable[[str], Matrix]) -> None:
        """One entry per runner x repeat, sorted by cell, with what the run job needs."""
        include = plan.build_plan(load_text(VALID_MATRIX))["include"]
        assert [e["cell"] for e in include] == ["macos-15-1", "ubuntu-24.04-1", "ubuntu-24.04-2",
                                               "windows-2025-1"]
        assert include[1] == {
            "cell": "ubuntu-24.04-1", "runner": "ubuntu-24.04", "os": "linux", "arch": "x86_64",
            "platform": "linux-x86_64", "python_source": "uv", "python": "3.9.2",
            "python_request": "3.9.2", "strict_python": "1"}

    def test_nearest_asks_for_the_minor_version(self, load_text: Callable[[str], Matrix]) -> None:
        """A "nearest" runner installs the newest 3.9 and may drift, so it is not strict."""
        text = VALID_MATRIX.replace("\n[[excluded]]", '\n[[runners]]\nlabel = "ubuntu-24.04-arm"'
                                    '\nos = "linux"\narch = "arm64"\npython = "nearest"\n'
                                    "\n[[excluded]]")
        entry = next(e for e in plan.build_plan(load_text(text))["include"]
                     if e["runner"] == "ubuntu-24.04-arm")
        assert (entry["python"], entry["python_request"], entry["strict_python"]) == (
            "3.9.2", "3.9", "0")

    def test_no_runners(self, load_text: Callable[[str], Matrix]) -> None:
        """GitHub refuses an empty matrix; the plan says why first (an empty list: without
        the key, the default runners apply)."""
        text = "runners = []\n" + VALID_MATRIX.split("\n[[runners]]")[0] + "\n"
        with pytest.raises(ConfigError, match="no \\[\\[runners\\]\\]"):
            plan.build_plan(load_text(text))

    def test_stable_bytes(self, load_text: Callable[[str], Matrix]) -> None:
        """The same matrix always gives the same compact, key-sorted JSON."""
        first = plan.dumps(plan.build_plan(load_text(VALID_MATRIX)))
        second = plan.dumps(plan.build_plan(load_text(VALID_MATRIX)))
        assert first == second and "\n" not in first and " " not in first
        assert first == json.dumps(json.loads(first), sort_keys=True, separators=(",", ":"))

    def test_shipped_matrix_cells_map_to_runners(self, root: Path) -> None:
        """Every planned cell belongs to a runner of matrix.toml, and every repeat is planned."""
        matrix = load_matrix(root / "matrix.toml")
        include = plan.build_plan(matrix)["include"]
        by_label = {r.label: r for r in matrix.runners}
        for entry in include:
            runner = by_label[entry["runner"]]
            assert entry["cell"] in runner.cell_ids()
            assert (entry["os"], entry["arch"], entry["python_source"]) == (
                runner.os, runner.arch, runner.python)
        assert sorted(e["cell"] for e in include) == sorted(
            cell for r in matrix.runners for cell in r.cell_ids())


class TestCommand:
    def test_prints_json_off_github(self, write_matrix: Callable[[str], Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
        """Locally the plan is printed and nothing else is written."""
        path = write_matrix(VALID_MATRIX)
        assert run_plan(path, env={}) == 0
        out = capsys.readouterr().out
        assert json.loads(out) == plan.build_plan(load_matrix(path))

    def test_writes_github_output(self, write_matrix: Callable[[str], Path], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
        """On GitHub the same JSON becomes the step output ``matrix``, plus a summary table."""
        path = write_matrix(VALID_MATRIX)
        output, summary = tmp_path / "output", tmp_path / "summary.md"
        env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output),
               "GITHUB_STEP_SUMMARY": str(summary)}
        assert run_plan(path, env=env) == 0
        printed = capsys.readouterr().out.strip()
        assert output.read_text(encoding="utf-8") == f"matrix={printed}\n"
        text = summary.read_text(encoding="utf-8")
        assert "| ubuntu-24.04-2 | ubuntu-24.04 | linux-x86_64 | 3.9.2 via uv |" in text
        assert "- windows-11-arm: no tensorflow 2.12.0 wheel" in text

    def test_bad_matrix(self, write_matrix: Callable[[str], Path]) -> None:
        """A bad matrix fails the plan with every problem, before GitHub sees anything."""
        path = write_matrix(VALID_MATRIX.replace("repeat = 2", "repeat = 0"))
        with pytest.raises(ConfigError, match="runners\\[0\\].repeat"):
            run_plan(path, env={})
