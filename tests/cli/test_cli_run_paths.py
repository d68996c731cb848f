"""``repromatrix run``'s less travelled paths: the op-trace options, the emulated re-run under
qemu (its command line and the qemu noise it filters), the arm64 hand-off, and what
``error-artifact`` keeps of a log. The runner, qemu and the child process are replaced at
their entry points: this is the CLI's side of each contract."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from repromatrix.cell import runner
from repromatrix.cli import main as cli
from repromatrix.emulation import qemu
from repromatrix.host import arm64


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[runner.CellRequest]:
    requests: list[runner.CellRequest] = []
    monkeypatch.setattr(runner, "run_cell", lambda request: requests.append(request) or 0)
    return requests


class TestTraceOptions:
    def test_trace_step_reaches_the_request(self, captured: list[runner.CellRequest]) -> None:
        assert cli.main(["run", "--trace-step", "3"]) == 0
        assert (captured[0].trace_steps, captured[0].trace_step) == (2, 3)

    def test_trace_steps_zero_turns_the_trace_off(self, captured: list[runner.CellRequest]) -> None:
        assert cli.main(["run", "--trace-steps", "0"]) == 0
        assert (captured[0].trace_steps, captured[0].trace_step) == (0, None)

    def test_negative_trace_steps_is_one_error_line(self, captured: list[runner.CellRequest],
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
        assert cli.main(["run", "--trace-steps", "-1"]) == 2
        assert capsys.readouterr().err == \
            "repromatrix: error: --trace-steps -1: must be 0 or more\n"
        assert captured == []

    def test_the_emulated_child_runs_the_cell_itself(self, captured: list[runner.CellRequest],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        """The child under qemu (hidden --emulated) trains; it must not start qemu again. It
        does look qemu up: the resolved request says how its workers start on the same CPU."""
        monkeypatch.setattr(qemu, "find_qemu", lambda model: "/usr/bin/qemu-x86_64")
        monkeypatch.setattr(cli, "_run_emulated", _refuse)
        monkeypatch.setattr(arm64, "run_emulated", _refuse)
        assert cli.main(["run", "--emulate", "Haswell", "--emulated", "Haswell"]) == 0
        assert cli.main(["run", "--emulate-arch", "arm64", "--emulated", "neoverse-n1"]) == 0
        assert [r.emulated for r in captured] == ["Haswell", "neoverse-n1"]


def _refuse(*args: Any, **kwargs: Any) -> None:
    raise AssertionError(f"unexpected call: {args}")


class FakeProcess:
    def __init__(self, command: list[str], stderr: Any, text: bool,
                 env: dict[str, str] | None = None) -> None:
        FakeProcess.command = command
        FakeProcess.text = text
        # as Popen: a readable stream only when asked to pipe standard error
        self.stderr = None if stderr is not cli.subprocess.PIPE else io.StringIO(
            "qemu-x86_64: warning: TCG doesn't support requested feature: CPUID.01H:ECX.vmx\n"
            "training default-optimizer\n")

    def wait(self) -> int:
        return 3


class TestEmulate:
    def test_reruns_this_command_under_qemu(self, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
        prepared: list[runner.CellRequest] = []
        monkeypatch.setattr(runner, "prepare", lambda request: prepared.append(request))
        monkeypatch.setattr(runner, "run_cell", _refuse)
        monkeypatch.setattr(qemu, "find_qemu", lambda model: f"/q/qemu-x86_64[{model}]")
        monkeypatch.setattr(qemu, "qemu_command", lambda binary, model, python, child:
                            [binary, "-cpu", model, python, *child])
        monkeypatch.setattr(cli.subprocess, "Popen", FakeProcess)
        argv = ["run", "--cell", "haswell", "--emulate", "Haswell"]
        monkeypatch.setattr(sys, "argv", ["repromatrix", *argv])

        assert cli.main(argv) == 3  # the child's exit status
        assert [r.cell for r in prepared] == ["haswell"]  # bad input fails before qemu starts
        assert FakeProcess.command == [
            "/q/qemu-x86_64[Haswell]", "-cpu", "Haswell", sys.executable, "-m", "repromatrix",
            *argv, "--emulated", "Haswell", "--output", str(Path("artifacts") / "haswell.json")]
        assert FakeProcess.text is True
        err = capsys.readouterr().err
        assert err.startswith("repromatrix: haswell: running under qemu-x86_64 -cpu Haswell "
                              "(emulation is about 10x slower; TensorFlow alone takes a minute "
                              "or two to load)\n")
        assert err.endswith("training default-optimizer\n")  # the child's own lines pass through
        assert "TCG" not in err  # qemu's per-CPUID-bit warnings do not

    def test_arm64_hands_the_cell_to_qemu_aarch64(self, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
        calls: list[tuple[Any, ...]] = []
        monkeypatch.setattr(runner, "run_cell", _refuse)
        monkeypatch.setattr(arm64, "run_emulated", lambda *args: calls.append(args) or 4)
        output = str(tmp_path / "a.json")
        argv = ["run", "--cell", "graviton", "--emulate-arch", "arm64", "--output", output]
        monkeypatch.setattr(sys, "argv", ["repromatrix", *argv])
        assert cli.main(argv) == 4
        assert cli.main([*argv, "--emulate", "neoverse-v1"]) == 4
        [(args, cell, model, out, pins), (_, _, model_v1, _, _)] = calls
        assert (args, cell, model, out, model_v1) == \
            (argv, "graviton", arm64.DEFAULT_MODEL, output, "neoverse-v1")
        assert pins.python  # the matrix's pins, for the arm64 venv


class TestErrorArtifactLog:
    def test_log_tail_is_kept_and_bad_bytes_replaced(self, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
        log = tmp_path / "run.log"
        log.write_bytes(b"step 1\n\xff broken byte\n")
        output = tmp_path / "c.json"
        assert cli.main(["error-artifact", "--cell", "c", "--log", str(log),
                         "--output", str(output)]) == 0
        error = json.loads(output.read_text(encoding="utf-8"))["error"]
        assert error["log_tail"] == "step 1\n\ufffd broken byte"
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == f"repromatrix: wrote error artifact {output}\n"

    def test_without_a_log_the_tail_is_empty(self, tmp_path: Path) -> None:
        output = tmp_path / "c.json"
        assert cli.main(["error-artifact", "--cell", "c", "--output", str(output)]) == 0
        assert json.loads(output.read_text(encoding="utf-8"))["error"]["log_tail"] == ""


@pytest.mark.parametrize("argv", [
    ["run", "--emulate-arch", "riscv64"],  # arm64 is the only foreign architecture
    ["run", "--trace-step", "0"],  # steps count from 1
    ["run", "--trace-step", "x"],
    ["run", "--trace-step", "2", "--trace-steps", "3"],  # one or the other
])
def test_bad_run_options_exit_2_before_any_work(argv: list[str],
                                                captured: list[runner.CellRequest],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2 and captured == []
    assert capsys.readouterr().err.splitlines()[-1].startswith("repromatrix run: error: ")
