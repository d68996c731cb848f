"""The README's promise, class by class: bad input is one ``repromatrix: error:`` line and exit 2.

Every case fails before TensorFlow would be imported, so these run in-process and fast. Also the
error-artifact rules a partly failed CI cell relies on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from repromatrix import artifact
from repromatrix.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
MATRIX = str(ROOT / "matrix.toml")
FEATURES = 41


@pytest.fixture(autouse=True)
def _not_on_github(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("REPROMATRIX_TRACEBACK", raising=False)


def csv(tmp_path: Path, row: list[str], features: int = FEATURES) -> str:
    header = [f"f{i}" for i in range(features)] + ["target"]
    path = tmp_path / "mine.csv"
    path.write_text(",".join(header) + "\n" + ",".join(row) + "\n", encoding="utf-8")
    return str(path)


def good_row() -> list[str]:
    return ["0.5"] * FEATURES + ["0.25"]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("repromatrix: error: "), err
    return err[0]


def _bad_matrix(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return ["plan", "--matrix", str(path)]


# (name, argv builder, text the one error line contains)
CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("data: missing file",
     lambda t: ["run", "--data", str(t / "none.csv")], "no such data file"),
    ("data: non-numeric cell",
     lambda t: ["run", "--data", csv(t, ["n/a"] + good_row()[1:])], "is not a number: 'n/a'"),
    ("data: NaN",
     lambda t: ["run", "--data", csv(t, ["nan"] + good_row()[1:])], "f0"),
    ("data: wrong column count",
     lambda t: ["run", "--data", csv(t, ["0.5"] * 4)], "4 cells, expected 42"),
    ("data: unknown target",
     lambda t: ["run", "--data", csv(t, good_row()), "--target", "nope"], "nope"),
    ("matrix: missing file",
     lambda t: ["plan", "--matrix", str(t / "none.toml")], "no such file"),
    ("matrix: not TOML",
     lambda t: _bad_matrix(t, "[experiment\n"), "not valid TOML"),
    ("matrix: bad value",
     lambda t: _bad_matrix(t, (ROOT / "matrix.toml").read_text(encoding="utf-8")
                           .replace("seed = 42", "seed = -1", 1)), "experiment.seed"),
    ("run: estimates without emulation",
     lambda t: ["run", "--estimates", "host"], "--estimates needs --emulate MODEL"),
    ("run: estimates for the arm64 cell",
     lambda t: ["run", "--emulate-arch", "arm64", "--emulate", "neoverse-n1", "--estimates",
                "host"], "--estimates needs --emulate MODEL"),
    ("run: unknown variant",
     lambda t: ["run", "--variant", "nope"], "no variant named 'nope'"),
    ("run: cell id that would be a path",
     lambda t: ["run", "--cell", "../../x"], "--cell '../../x'"),
    ("run: output is a folder",
     lambda t: ["run", "--output", str(t)], "is a folder"),
    ("aggregate: missing path",
     lambda t: ["aggregate", str(t / "nothing-here")], "nothing-here"),
    ("error-artifact: output below a file (OSError)",
     lambda t: ["error-artifact", "--cell", "c", "--output", str(_file(t) / "sub" / "c.json")],
     "a-file"),
]


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("x", encoding="utf-8")
    return path


@pytest.mark.parametrize(("argv_of", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          argv_of: Callable[[Path], list[str]],
                                          expected: str) -> None:
    argv = argv_of(tmp_path)
    if argv[0] == "run":
        argv += ["--matrix", MATRIX, "--output", str(tmp_path / "out.json")] \
            if "--output" not in argv else ["--matrix", MATRIX]
    assert cli.main(argv) == 2
    assert expected in one_error_line(capsys)


@pytest.mark.parametrize("argv", [
    ["run", "--rows", "0"],
    ["run", "--rows", "x"],
    ["run", "--env", "NOEQUALS"],
    ["run", "--env", "=value"],
    ["run", "--no-such-option"],
    ["aggregate", "--format", "html", "x"],
    ["no-such-command"],
    [],
])
def test_malformed_command_line_is_argparse_usage_and_exit_2(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    assert "usage: repromatrix" in capsys.readouterr().err


def test_traceback_on_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """REPROMATRIX_TRACEBACK=1 lets the error through, for debugging."""
    monkeypatch.setenv("REPROMATRIX_TRACEBACK", "1")
    with pytest.raises(OSError):
        cli.main(["error-artifact", "--cell", "c", "--output",
                  str(_file(tmp_path) / "sub" / "c.json")])


class TestErrorArtifact:
    def test_keeps_an_existing_valid_artifact(self, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
        """A run that failed in one variant still wrote the others' results: never replace them."""
        output = tmp_path / "c.json"
        artifact.write(output, {"schema": artifact.SCHEMA, "kind": artifact.KIND_CELL,
                                "status": "ok", "cell": "c", "variants": {"adam": {}}})
        before = output.read_bytes()
        assert cli.main(["error-artifact", "--cell", "c", "--output", str(output)]) == 0
        assert output.read_bytes() == before
        assert "already holds an artifact; kept" in capsys.readouterr().err

    @pytest.mark.parametrize("existing", ["{not json", '{"schema": 2, "kind": "repromatrix-cell"}',
                                          '{"schema": 1, "kind": "other"}', "[1]"])
    def test_replaces_anything_else(self, tmp_path: Path, existing: str) -> None:
        output = tmp_path / "c.json"
        output.write_text(existing, encoding="utf-8")
        log = tmp_path / "run.log"
        log.write_text("".join(f"line {i}\n" for i in range(100)), encoding="utf-8")
        assert cli.main(["error-artifact", "--cell", "c", "--runner-label", "ubuntu-24.04",
                         "--log", str(log), "--message", "died\nsecond line",
                         "--output", str(output)]) == 0
        document = json.loads(output.read_text(encoding="utf-8"))
        assert (document["status"], document["cell"], document["runner_label"]) == \
            ("error", "c", "ubuntu-24.04")
        assert document["error"]["message"] == "died"
        tail = document["error"]["log_tail"].splitlines()
        assert len(tail) == artifact.LOG_TAIL_LINES and tail[-1] == "line 99"
        assert artifact.is_cell_artifact(output)

    def test_unreadable_log_is_said_not_fatal(self, tmp_path: Path) -> None:
        output = tmp_path / "c.json"
        assert cli.main(["error-artifact", "--cell", "c", "--log", str(tmp_path / "no.log"),
                         "--output", str(output)]) == 0
        document = json.loads(output.read_text(encoding="utf-8"))
        assert document["error"]["log_tail"] == \
            f"(log {tmp_path / 'no.log'} unreadable: no such file)"
        assert document["error"]["message"] == "the cell's run failed before writing its artifact"
