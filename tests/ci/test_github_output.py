"""GitHub-specific output: step outputs, the step summary and workflow commands."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from repromatrix.ci import github
from repromatrix.errors import UsageError

ON_GITHUB = {"GITHUB_ACTIONS": "true"}


def read_outputs(text: str) -> dict[str, str]:
    """Parse a $GITHUB_OUTPUT file the way the Actions runner does."""
    outputs: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            else:
                raise AssertionError(f"heredoc {delimiter} never closed")
            outputs[name] = "\n".join(value)
        else:
            name, value_text = line.split("=", 1)
            outputs[name] = value_text
    return outputs


class TestOutputs:
    def test_single_line(self, tmp_path: Path) -> None:
        """A one-line value is written as name=value."""
        path = tmp_path / "out"
        assert github.set_output("matrix", '{"include":[]}', {"GITHUB_OUTPUT": str(path)})
        assert path.read_text(encoding="utf-8") == 'matrix={"include":[]}\n'

    def test_appends(self, tmp_path: Path) -> None:
        """Earlier outputs of the step are kept."""
        path = tmp_path / "out"
        path.write_text("first=1\n", encoding="utf-8")
        github.set_output("second", "2", {"GITHUB_OUTPUT": str(path)})
        assert read_outputs(path.read_text(encoding="utf-8")) == {"first": "1", "second": "2"}

    def test_multi_line_uses_a_heredoc(self, tmp_path: Path) -> None:
        """A value with newlines cannot end early, even if it looks like a delimiter."""
        path = tmp_path / "out"
        value = "line one\nghadelimiter_x\nevil=1"
        github.set_output("report", value, {"GITHUB_OUTPUT": str(path)})
        assert read_outputs(path.read_text(encoding="utf-8")) == {"report": value}

    def test_delimiter_never_in_value(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A delimiter that happens to occur in the value is drawn again."""
        tokens = iter(["aa", "bb"])
        monkeypatch.setattr(github.secrets, "token_hex", lambda _: next(tokens))
        entry = github.format_output("x", "ghadelimiter_aa\nmore")
        assert entry == "x<<ghadelimiter_bb\nghadelimiter_aa\nmore\nghadelimiter_bb\n"

    def test_not_on_github(self) -> None:
        """Without $GITHUB_OUTPUT nothing is written and the caller is told so."""
        assert github.set_output("matrix", "{}", {}) is False

    @pytest.mark.parametrize("name", ["", "a b", "x=y", "1abc", "a<<b", "matrix\n"])
    def test_bad_names(self, name: str) -> None:
        with pytest.raises(UsageError):
            github.format_output(name, "v")


class TestStepSummary:
    def test_appends_markdown(self, tmp_path: Path) -> None:
        """Each call appends, ending with a newline so tables do not run together."""
        path = tmp_path / "summary.md"
        env = {"GITHUB_STEP_SUMMARY": str(path)}
        assert github.append_step_summary("# one", env)
        assert github.append_step_summary("two\n", env)
        assert path.read_text(encoding="utf-8") == "# one\ntwo\n"

    def test_not_on_github(self) -> None:
        assert github.append_step_summary("# x", {}) is False

    def test_too_large(self, tmp_path: Path) -> None:
        """GitHub rejects summaries over 1 MiB: refuse before writing half of one."""
        path = tmp_path / "summary.md"
        with pytest.raises(UsageError, match="exceed"):
            github.append_step_summary("x" * (github.MAX_SUMMARY_BYTES + 1),
                                       {"GITHUB_STEP_SUMMARY": str(path)})
        assert not path.exists()

    def test_subcommand(self, tmp_path: Path) -> None:
        """``repromatrix step-summary FILE...`` appends the files in order."""
        parser = argparse.ArgumentParser()
        github.add_parser(parser.add_subparsers())
        (tmp_path / "a.md").write_text("A\n", encoding="utf-8")
        (tmp_path / "b.md").write_text("B\n", encoding="utf-8")
        args = parser.parse_args(["step-summary", str(tmp_path / "a.md"), str(tmp_path / "b.md")])
        summary = tmp_path / "summary.md"
        assert args.func(args, env={"GITHUB_STEP_SUMMARY": str(summary)}) == 0
        assert summary.read_text(encoding="utf-8") == "A\n\nB\n"

    def test_subcommand_off_github(self, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
        (tmp_path / "a.md").write_text("A\n", encoding="utf-8")
        assert github.run(argparse.Namespace(files=[str(tmp_path / "a.md")]), env={}) == 0
        assert "nothing written" in capsys.readouterr().err

    def test_subcommand_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="no such file"):
            github.run(argparse.Namespace(files=[str(tmp_path / "none.md")]), env={})


class TestWorkflowCommands:
    def test_error_annotation_on_github(self) -> None:
        """Messages and properties are escaped so they cannot inject other commands."""
        stream = io.StringIO()
        github.error("bad\nvalue 100%", ON_GITHUB, stream, file="a,b.toml", line=3)
        assert stream.getvalue() == "::error file=a%2Cb.toml,line=3::bad%0Avalue 100%25\n"

    def test_error_plain_elsewhere(self) -> None:
        stream = io.StringIO()
        github.error("bad", {}, stream, file="matrix.toml", line=3)
        assert stream.getvalue() == "error: matrix.toml:3: bad\n"

    def test_github_actions_must_be_true(self) -> None:
        """Only the runner's exact GITHUB_ACTIONS=true switches annotations on."""
        assert github.on_github({"GITHUB_ACTIONS": "true"})
        assert not github.on_github({"GITHUB_ACTIONS": "1"})
        assert not github.on_github({})

