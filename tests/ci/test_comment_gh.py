"""The sticky comment's exact ``gh`` conversation and its refusals of odd input, down to the
wording a maintainer reads in the CI log. ``gh`` itself is a small script on PATH here, so
``run_gh`` runs a real process: its output captured, its failures turned into one line."""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path

import pytest
from test_comment import BODY, REPO, SHA, FakeGh, request

from repromatrix.ci import comment
from repromatrix.errors import ToolError, UsageError


def refusal(call, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as caught:
        call(*args)
    return str(caught.value)


def test_the_gh_calls_of_a_first_report() -> None:
    gh = FakeGh()
    result = comment.post_report(request(), gh)
    assert result.comment_id == 777
    assert [argv for argv, _ in gh.calls] == [
        ["api", f"repos/{REPO}/pulls/7"],
        ["api", "--paginate", "--slurp", f"repos/{REPO}/issues/7/comments?per_page=100"],
        ["api", "--method", "POST", f"repos/{REPO}/issues/7/comments", "--input", "-"],
    ]


def test_a_create_answer_without_an_id_is_no_crash() -> None:
    def gh(argv, stdin=None):  # type: ignore[no-untyped-def]
        return "[]" if "POST" in argv else "[[]]"
    result = comment.post_report(request(head_sha=None), gh)
    assert (result.message, result.comment_id) == ("created comment None on PR #7", None)


def test_an_odd_pull_request_answer_is_a_tool_error() -> None:
    with pytest.raises(ToolError) as caught:
        comment.fetch_pull_request(lambda argv, stdin=None: "[1]", REPO, 7)
    assert str(caught.value) == "unexpected answer for pull request #7"


class TestPrNumber:
    def test_largest_accepted(self) -> None:
        assert comment.parse_pr_number(str(2**31 - 1)) == 2**31 - 1

    def test_message_names_the_input_and_shows_20_characters(self) -> None:
        assert refusal(comment.parse_pr_number, "1" * 30) == \
            f"PR number: expected a positive integer, got '{'1' * 20}'"

    @pytest.mark.parametrize(("raw", "shown"), [(b"\xff7\n", "\ufffd7"),
                                               (b"\xc3\xa97", "\ufffd\ufffd7")])
    def test_file_with_non_ascii_bytes_is_refused_by_name(self, tmp_path: Path, raw: bytes,
                                                          shown: str) -> None:
        """Each non-ASCII byte shows as one replacement character, never a traceback."""
        path = tmp_path / "pr"
        path.write_bytes(raw)
        assert refusal(comment.read_pr_number, path) == \
            f"{path}: expected a positive integer, got '{shown}'"


class TestRunPrNumbers:
    def test_empty(self) -> None:
        assert refusal(comment.parse_run_pull_requests, "  ") == (
            "--run-pr-numbers: empty; pass the JSON of github.event.workflow_run.pull_requests "
            "(through an env variable)")

    def test_not_an_array(self, tmp_path: Path) -> None:
        path = tmp_path / "prs.json"
        path.write_text('{"number": 7}', encoding="utf-8")
        assert refusal(comment.parse_run_pull_requests, str(path)) == \
            "--run-pr-numbers: expected a JSON array"

    def test_a_file_that_is_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "prs.json"
        path.write_bytes(b"[\xff]")
        assert refusal(comment.parse_run_pull_requests, str(path)).startswith(
            f"--run-pr-numbers {path}: cannot read: 'utf-8' codec can't decode byte 0xff")


class TestBodyFile:
    def test_message_names_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "report.md"
        path.write_text("hello", encoding="utf-8")
        assert refusal(comment.read_body, path) == \
            f"{path}: does not start with the report marker {comment.MARKER}"

    def test_longest_body_in_four_byte_characters_is_read(self, tmp_path: Path) -> None:
        body = comment.MARKER + "\U0001f600" * (comment.MAX_BODY_CHARS - len(comment.MARKER))
        path = tmp_path / "report.md"
        path.write_text(body, encoding="utf-8")
        assert comment.read_body(path) == body

    def test_a_larger_file_is_not_read_at_all(self, tmp_path: Path) -> None:
        path = tmp_path / "report.md"
        path.write_bytes(b"x" * (4 * comment.MAX_BODY_CHARS + 1))
        message = refusal(comment.read_body, path)
        assert message.startswith(f"--body {path}: larger than "), message


def test_run_reads_the_repository_from_the_environment(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "body.md").write_text(BODY, encoding="utf-8")
    (tmp_path / "pr").write_text("7\n", encoding="utf-8")
    args = argparse.Namespace(body=tmp_path / "body.md", pr_number_file=tmp_path / "pr",
                              run_pr_numbers="[7]", head_sha=SHA, head_repo=None, repo=None,
                              author=comment.DEFAULT_AUTHOR, dry_run=True)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    assert comment.run(args, gh=FakeGh()) == 0
    assert f"on PR #7 of {REPO}" in capsys.readouterr().err


@pytest.fixture
def fake_gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``gh`` on PATH that echoes its arguments and stdin, or fails as told by $FAKE_GH_FAIL."""
    script = tmp_path / "bin" / "gh"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        'if [ -n "$FAKE_GH_FAIL" ]; then\n'
        '  printf "line 1\\nline 2\\nline 3\\nHTTP 403: forbidden \\342\\234\\227\\n" >&2\n'
        "  exit 1\n"
        "fi\n"
        'echo "args: $*"\n'
        "cat\n"
        'echo "noise" >&2\n', encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("FAKE_GH_FAIL", raising=False)
    return script


class TestRealGhProcess:
    def test_output_is_returned_as_text_and_stderr_kept_out(
            self, fake_gh: Path, capfd: pytest.CaptureFixture[str]) -> None:
        out = comment.run_gh(["api", "repos/o/r/pulls/1"], '{"body": "caf\u00e9 \u2713"}')
        assert out == 'args: api repos/o/r/pulls/1\n{"body": "caf\u00e9 \u2713"}'
        assert capfd.readouterr() == ("", "")

    def test_failure_is_one_line_with_the_last_three_lines(
            self, fake_gh: Path, monkeypatch: pytest.MonkeyPatch,
            capfd: pytest.CaptureFixture[str]) -> None:
        monkeypatch.setenv("FAKE_GH_FAIL", "1")
        with pytest.raises(ToolError) as caught:
            comment.run_gh(["api", "--method", "PATCH", "repos/o/r/issues/comments/5", "--input",
                            "-"], "{}")
        assert str(caught.value) == ("gh api --method PATCH repos/o/r/issues/comments/5 failed: "
                                     "line 2 / line 3 / HTTP 403: forbidden \u2717")
        assert capfd.readouterr() == ("", "")

    def test_missing_gh(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PATH", str(tmp_path))
        with pytest.raises(ToolError) as caught:
            comment.run_gh(["api", "user"])
        assert str(caught.value) == "gh (the GitHub CLI) is not installed"


REQUIRED = {"--body": "b.md", "--pr-number-file": "pr", "--run-pr-numbers": "[7]"}


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_each_untrusted_input_is_required(missing: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from repromatrix.cli.main import build_parser

    argv = ["comment"] + [part for option, value in REQUIRED.items() if option != missing
                          for part in (option, value)]
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(argv)
    assert caught.value.code == 2
    assert f"the following arguments are required: {missing}" in capsys.readouterr().err


def test_the_default_author_is_the_workflow_token() -> None:
    from repromatrix.cli.main import build_parser

    argv = ["comment"] + [part for item in REQUIRED.items() for part in item]
    assert build_parser().parse_args(argv).author == "github-actions[bot]"
