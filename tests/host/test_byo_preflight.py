"""preflight's pip command lines, report parsing and verdicts, with recorded pip output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from repromatrix.config.matrix import load_matrix
from repromatrix.host import preflight, preflight_command

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
MATRIX = load_matrix(ROOT / "matrix.toml")
SETTINGS = preflight.PipSettings(("python", "-m", "pip"))


def test_command_line() -> None:
    target = preflight.target_of("windows-arm64", MATRIX)
    command = preflight.pip_command(SETTINGS.pip, target, ["tensorflow==2.12.0"],
                                    Path("/tmp/x/report.json"), no_deps=True)
    assert command[:5] == ["python", "-m", "pip", "--isolated", "install"]
    joined = " ".join(command)
    for part in ("--dry-run", "--ignore-installed", "--report /tmp/x/report.json",
                 "--only-binary=:all:", "--python-version 3.9", "--implementation cp",
                 "--platform win_arm64", "--abi cp39", "--abi abi3", "--abi none", "--no-deps",
                 "--index-url https://pypi.org/simple"):
        assert part in joined
    assert command[-1] == "tensorflow==2.12.0"


def test_platform_tags_cover_every_platform() -> None:
    assert set(preflight.PLATFORM_TAGS) == set(preflight.MARKER_ENV) == {
        f"{o}-{a}" for o in ("linux", "macos", "windows") for a in ("x86_64", "arm64")}
    target = preflight.target_of("linux-arm64", MATRIX)
    assert "manylinux2014_aarch64" in target.tags and "manylinux_2_17_aarch64" in target.tags
    assert target.short_tags() == "manylinux_*_aarch64"
    assert preflight.target_of("macos-arm64", MATRIX).short_tags() == "macosx_*_arm64"


def test_parse_recorded_report() -> None:
    installs = preflight.parse_report(json.loads((DATA / "pip-report-win_amd64.json").read_text()))
    assert [(i.name, i.version) for i in installs] == [("numpy", "1.23.5"), ("tensorflow", "2.12.0")]
    assert installs[1].wheel == "tensorflow-2.12.0-cp39-cp39-win_amd64.whl"


def test_markers_are_evaluated_for_the_target() -> None:
    """pip evaluates markers on its own machine; the Windows shim's real dependency is found."""
    installs = preflight.parse_report(json.loads((DATA / "pip-report-win_amd64.json").read_text()))
    assert preflight.missed_by_markers(installs, "windows-x86_64", "3.9.2") == [
        "tensorflow-intel==2.12.0"]
    assert preflight.missed_by_markers(installs, "linux-arm64", "3.9.2") == [
        "tensorflow-cpu-aws==2.12.0"]
    assert preflight.missed_by_markers(installs, "macos-x86_64", "3.9.2") == []


def test_parse_recorded_failure() -> None:
    resolution = preflight.parse_failure((DATA / "pip-stderr-win_arm64.txt").read_text())
    assert not resolution.ok and resolution.missing == ("tensorflow==2.12.0",)
    assert not resolution.network


def test_network_failure_is_told_apart() -> None:
    stderr = ("WARNING: Retrying ... NewConnectionError('Failed to establish a new connection')\n"
              "ERROR: No matching distribution found for tensorflow==2.12.0\n")
    resolution = preflight.parse_failure(stderr)
    assert resolution.network and resolution.message.startswith("PyPI could not be reached")


class FakePip:
    """Answers pip command lines like PyPI would for the default matrix (without the network)."""

    def __init__(self) -> None:
        self.report = json.loads((DATA / "pip-report-win_amd64.json").read_text())
        self.calls: list[list[str]] = []

    def __call__(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(command)
        platforms = [command[i + 1] for i, part in enumerate(command) if part == "--platform"]
        requirements = [p for p in command[command.index("--no-input") + 2:] if "==" in p]
        requirements = [p for p in requirements if not p.startswith("-")]
        missing = [r for r in requirements if self.no_wheel(r, platforms)]
        if missing:
            return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution "
                                               f"found for {missing[0]}\n")
        installs = [{"metadata": {"name": r.split("==")[0], "version": r.split("==")[1]},
                     "download_info": {"url": f"https://x/{r}.whl"}} for r in requirements]
        Path(command[command.index("--report") + 1]).write_text(json.dumps({"install": installs}))
        return subprocess.CompletedProcess(command, 0, "", "")

    @staticmethod
    def no_wheel(requirement: str, platforms: list[str]) -> bool:
        if "win_arm64" in platforms:
            return not requirement.startswith("keras")
        return requirement.startswith("tensorflow==") and any("arm64" in p and "macosx" in p
                                                              for p in platforms)


def run_fake() -> tuple[dict[str, Any], FakePip]:
    fake = FakePip()
    rows = preflight.rows_of(MATRIX)
    platforms = sorted({r.platform for r in rows if r.platform})
    results = preflight.check_platforms(MATRIX, platforms, SETTINGS, jobs=3, run=fake)
    return {"rows": rows, "results": results}, fake


def test_verdicts_on_the_default_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    outcome, fake = run_fake()
    rows, results = outcome["rows"], outcome["results"]
    assert all(c[c.index("--isolated") + 1] == "install" for c in fake.calls)
    assert not results["windows-arm64"].ok and results["macos-arm64"].ok
    assert results["windows-arm64"].unavailable == ("tensorflow==2.12.0", "numpy==1.23.5",
                                                    "pandas==1.5.3", "statsmodels==0.13.5",
                                                    "scikit-learn==1.2.2")
    # the macOS mapping is checked both ways: tensorflow-macos resolves, plain tensorflow does not
    assert results["macos-arm64"].mappings == (("tensorflow==2.12.0", "tensorflow-macos==2.12.0",
                                                False),)
    assert preflight_command.exit_code(rows, results) == 0  # windows-11-arm is excluded, as expected
    text = preflight_command.render(rows, results, MATRIX)
    assert "windows-11-arm: no wheel for tensorflow==2.12.0 on win_arm64" in text
    assert "fails (excluded, expected)" in text
    assert "needed, the plain pin has no wheel here" in text
    assert "[" in capsys.readouterr().err  # progress lines


def test_a_failing_runner_exits_1() -> None:
    outcome, _ = run_fake()
    rows = [preflight.Row("windows-11-arm", "windows-arm64", excluded=False)]
    assert preflight_command.exit_code(rows, outcome["results"]) == 1
    assert preflight.verdict_of(rows[0], outcome["results"]["windows-arm64"]) == "FAILS"


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from repromatrix.cli.main import main

    assert main(["preflight", "--matrix", str(tmp_path / "none.toml")]) == 2
    assert main(["preflight", "--jobs", "0"]) == 2
    assert main(["preflight", "--pip-python", str(tmp_path / "no-python")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(e.startswith("repromatrix: error: ") for e in errors)
