"""How the command line reaches the runner: every option lands in the cell request, defaults
included, and ``main`` turns each kind of failure into its exit code. The runner itself is
replaced at its entry points (``run_cell``, ``run_worker``): this is the CLI's contract only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repromatrix import __version__
from repromatrix.cell import runner
from repromatrix.cli import main as cli
from repromatrix.config.request import resolve_request
from repromatrix.errors import ConfigError, ToolError

# The repository's matrix (it has adam and legacy-rmsprop): the CLI loads the matrix it is given.
MATRIX = str(Path(__file__).resolve().parents[2] / "matrix.toml")


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[runner.CellRequest]:
    requests: list[runner.CellRequest] = []

    def run_cell(request: runner.CellRequest) -> int:
        requests.append(request)
        return 1  # "a variant failed": passed through as the exit code

    monkeypatch.setattr(runner, "run_cell", run_cell)
    monkeypatch.delenv("REPRO_TEST_VARIABLE", raising=False)
    return requests


def test_run_defaults(captured: list[runner.CellRequest]) -> None:
    assert cli.main(["run"]) == 1
    assert captured == [resolve_request(
        "matrix.toml", cell="local", variants=(),
        output=str(Path("artifacts") / "local.json"), runner_label=None, data=None, target=None,
        rows=None, process_per_variant=False, emulated=None, env={})]


def test_run_options_reach_the_request(captured: list[runner.CellRequest]) -> None:
    assert cli.main(["run", "--cell", "c.1", "--runner-label", "ubuntu-24.04", "--matrix", MATRIX,
                     "--variant", "adam", "--variant", "legacy-rmsprop", "--data", "d.csv", "--target", "y",
                     "--rows", "5", "--output", "o.json", "--env", "REPRO_TEST_VARIABLE=a=b",
                     "--env", "B=", "--process-per-variant"]) == 1
    assert captured == [resolve_request(
        MATRIX, cell="c.1", variants=("adam", "legacy-rmsprop"), output="o.json",
        runner_label="ubuntu-24.04", data="d.csv", target="y", rows=5, process_per_variant=True,
        emulated=None, env={"REPRO_TEST_VARIABLE": "a=b", "B": ""})]
    # set before TensorFlow would be imported, for the whole cell
    assert os.environ.pop("REPRO_TEST_VARIABLE") == "a=b"
    os.environ.pop("B", None)


def test_worker_gets_the_request_and_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(runner, "run_worker", lambda request, result: seen.append(
        (request, result)) or 0)
    monkeypatch.delenv("REPRO_TEST_VARIABLE", raising=False)
    request = resolve_request(MATRIX, cell="c", variants=("adam",), output="o",
                              env={"REPRO_TEST_VARIABLE": "1"}).to_json()
    assert cli.main(["_worker", request, "result.json"]) == 0
    assert seen == [(request, "result.json")]
    assert os.environ.pop("REPRO_TEST_VARIABLE") == "1"


def test_the_emulated_child_hands_qemus_facts_to_the_cell(captured: list[runner.CellRequest],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The cell imports no emulation layer: the CLI reads where qemu came from and how a worker
    starts on the same CPU, and passes both in the request."""
    from repromatrix.emulation import qemu

    monkeypatch.setenv(qemu.PREFIX_VARIABLE, '["qemu-aarch64", "-L", "/root"]')
    monkeypatch.setenv("REPROMATRIX_QEMU_VERSION", "8.2")
    assert cli.main(["run", "--matrix", MATRIX, "--emulated", "neoverse-n1"]) == 1
    [request] = captured
    assert request.worker_python == ("qemu-aarch64", "-L", "/root", cli.sys.executable)
    assert request.qemu is not None and request.qemu["version"] == "8.2"
    assert cli.main(["run", "--matrix", MATRIX]) == 1
    assert captured[1].qemu is None and captured[1].worker_python == ()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0 and capsys.readouterr().out == f"repromatrix {__version__}\n"


@pytest.mark.parametrize(("error", "code", "lines"), [
    (ConfigError(["m.toml:1: a: one", "m.toml:2: b: two"]), 2,
     ["repromatrix: error: m.toml:1: a: one", "repromatrix: error: m.toml:2: b: two"]),
    (ToolError("qemu-x86_64 is not installed"), 2,
     ["repromatrix: error: qemu-x86_64 is not installed"]),
    (PermissionError(13, "Permission denied", "/out/c.json"), 2,
     ["repromatrix: error: /out/c.json: Permission denied"]),
    (OSError("disk on fire"), 2, ["repromatrix: error: disk on fire"]),
    (KeyboardInterrupt(), 130, ["repromatrix: interrupted"]),
])
def test_failures_become_exit_codes(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str], error: BaseException,
                                    code: int, lines: list[str]) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("REPROMATRIX_TRACEBACK", raising=False)

    def fail(request: runner.CellRequest) -> int:
        raise error

    monkeypatch.setattr(runner, "run_cell", fail)
    assert cli.main(["run"]) == code
    assert capsys.readouterr().err.splitlines() == lines


def test_traceback_for_repro_errors_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPROMATRIX_TRACEBACK", "1")

    def fail(request: runner.CellRequest) -> int:
        raise ToolError("no qemu")

    monkeypatch.setattr(runner, "run_cell", fail)
    with pytest.raises(ToolError):
        cli.main(["run"])


def test_every_subcommand_is_wired() -> None:
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert sorted(commands) == ["_worker", "aggregate", "comment", "error-artifact", "init", "lab", "lock",
                                "plan", "preflight", "remedy", "run", "step-summary"]
    error_artifact = parser.parse_args(["error-artifact", "--cell", "c", "--output", "o"])
    assert (error_artifact.runner_label, error_artifact.log, error_artifact.message) == \
        (None, None, "the cell's run failed before writing its artifact")
    for argv in (["error-artifact", "--output", "o"], ["error-artifact", "--cell", "c"]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
