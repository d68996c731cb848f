"""``repromatrix comment``: untrusted input checks and the sticky-comment logic, without network."""

from __future__ import annotations

import argparse
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from repromatrix.ci import comment
from repromatrix.ci.comment import MARKER, CommentRequest, Outcome
from repromatrix.errors import ToolError, UsageError

REPO = "octo/repromatrix"
SHA = "a" * 40
BODY = f"{MARKER}\n## repromatrix\n| cell | result |\n"


@pytest.fixture(autouse=True)
def no_real_gh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any real subprocess call from the comment module fails the test loudly."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"unexpected subprocess call: {args}")
    monkeypatch.setattr(comment.subprocess, "run", refuse)


class FakeGh:
    """Answers the few ``gh api`` calls the command makes, and records them."""

    def __init__(self, pull: dict[str, Any] | None = None,
                 pages: list[list[dict[str, Any]]] | None = None) -> None:
        self.pull = pull if pull is not None else pull_request()
        self.pages = pages if pages is not None else [[]]
        self.calls: list[tuple[list[str], str | None]] = []

    def __call__(self, argv: Sequence[str], stdin: str | None = None) -> str:
        argv = list(argv)
        self.calls.append((argv, stdin))
        endpoint = next(a for a in argv if a.startswith("repos/"))
        if "--method" in argv:
            return json.dumps({"id": 777}) if "POST" in argv else "{}"
        if "/comments" in endpoint:
            return json.dumps(self.pages)
        return json.dumps(self.pull)

    def methods(self) -> list[str]:
        return [argv[argv.index("--method") + 1] if "--method" in argv else "GET"
                for argv, _ in self.calls]


def pull_request(number: int = 7, sha: str = SHA, state: str = "open",
                 head_repo: str = "fork/repromatrix") -> dict[str, Any]:
    return {"number": number, "state": state,
            "head": {"sha": sha, "repo": {"full_name": head_repo}}}


def bot_comment(comment_id: int, body: str = BODY, login: str = "github-actions[bot]"
                ) -> dict[str, Any]:
    return {"id": comment_id, "body": body, "user": {"login": login, "type": "Bot"}}


def request(**changes: Any) -> CommentRequest:
    fields: dict[str, Any] = {"repo": REPO, "number": 7, "body": BODY, "run_numbers": (7,),
                              "head_sha": SHA, "head_repo": "octo/repromatrix"}
    fields.update(changes)
    return CommentRequest(**fields)


class TestPrNumber:
    @pytest.mark.parametrize(("text", "number"), [("7", 7), ("7\n", 7), (" 123 \r\n", 123)])
    def test_valid(self, text: str, number: int) -> None:
        assert comment.parse_pr_number(text) == number

    @pytest.mark.parametrize("text", ["", "0", "-1", "+3", "012", "1e3", "7 8", "7;rm -rf /",
                                      "\uff17", "0x10", "99999999999", "2147483648"])
    def test_invalid(self, text: str) -> None:
        """Only a plain positive integer: no sign, no leading zero, no other digits."""
        with pytest.raises(UsageError, match="expected a positive integer"):
            comment.parse_pr_number(text)

    def test_from_file(self, tmp_path: Path) -> None:
        path = tmp_path / "pr-number"
        path.write_text("42\n", encoding="utf-8")
        assert comment.read_pr_number(path) == 42

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="no such file"):
            comment.read_pr_number(tmp_path / "none")

    def test_huge_file_is_not_read_whole(self, tmp_path: Path) -> None:
        """Only the first bytes are looked at; the rest makes it invalid, not slow."""
        path = tmp_path / "pr-number"
        path.write_text("1" * 100_000, encoding="utf-8")
        with pytest.raises(UsageError):
            comment.read_pr_number(path)


class TestRunPullRequests:
    def test_github_payload(self) -> None:
        """The numbers are taken from GitHub's workflow_run.pull_requests objects."""
        payload = json.dumps([{"id": 1, "number": 7, "head": {"sha": SHA}},
                              {"id": 2, "number": 9}])
        assert comment.parse_run_pull_requests(payload) == (7, 9)

    def test_plain_numbers_and_empty(self) -> None:
        assert comment.parse_run_pull_requests("[3, 4]") == (3, 4)
        assert comment.parse_run_pull_requests(" [] ") == ()

    def test_from_file(self, tmp_path: Path) -> None:
        path = tmp_path / "prs.json"
        path.write_text('[{"number": 5}]', encoding="utf-8")
        assert comment.parse_run_pull_requests(str(path)) == (5,)

    @pytest.mark.parametrize(("value", "message"), [
        ("", "empty"), ("[1,", "not valid JSON"), ('{"number": 1}', "no such file"),
        ('["5"]', "expected PR numbers"), ("[true]", "expected PR numbers"),
        ('[{"number": 0}]', "expected PR numbers"), ("[{}]", "expected PR numbers"),
    ])
    def test_invalid(self, value: str, message: str) -> None:
        with pytest.raises(UsageError, match=message):
            comment.parse_run_pull_requests(value)


class TestBody:
    def write(self, tmp_path: Path, data: bytes) -> Path:
        path = tmp_path / "comment.md"
        path.write_bytes(data)
        return path

    def test_valid(self, tmp_path: Path) -> None:
        assert comment.read_body(self.write(tmp_path, BODY.encode())) == BODY

    @pytest.mark.parametrize(("body", "message"), [
        ("## no marker\n", "does not start with the report marker"),
        (f" {MARKER}\n", "does not start with the report marker"),
        (f"hello {MARKER}\n", "does not start with the report marker"),
        (MARKER + "x" * comment.MAX_BODY_CHARS, "more than GitHub's 65536"),
        (f"{MARKER}\x00", "NUL"),
    ])
    def test_refused(self, tmp_path: Path, body: str, message: str) -> None:
        with pytest.raises(UsageError, match=message):
            comment.read_body(self.write(tmp_path, body.encode()))

    def test_longest_allowed(self, tmp_path: Path) -> None:
        body = MARKER + "x" * (comment.MAX_BODY_CHARS - len(MARKER))
        assert comment.read_body(self.write(tmp_path, body.encode())) == body

    def test_not_utf8(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="not UTF-8"):
            comment.read_body(self.write(tmp_path, MARKER.encode() + b"\xff"))


class TestMembership:
    def test_number_of_the_run(self) -> None:
        comment.check_membership(request(number=9, run_numbers=(7, 9)))

    def test_number_not_of_the_run(self) -> None:
        """A number the run does not list is refused, whatever the artifact says."""
        gh = FakeGh()
        with pytest.raises(UsageError, match="PR #8 is not a pull request of the triggering run "
                                             "\\(#7\\)"):
            comment.post_report(request(number=8), gh)
        assert gh.calls == []

    def test_fork_run_needs_head(self) -> None:
        """GitHub lists no pull requests for a fork's run: the head commit must vouch instead."""
        with pytest.raises(UsageError, match="--head-sha and --head-repo"):
            comment.check_membership(request(run_numbers=(), head_sha=None))


class TestPostReport:
    def test_creates_when_no_sticky_comment(self) -> None:
        """No marked bot comment yet: one is created, the body travelling on stdin as JSON."""
        gh = FakeGh(pull=pull_request(head_repo="octo/repromatrix"))
        result = comment.post_report(request(), gh)
        assert (result.outcome, result.comment_id) == (Outcome.CREATED, 777)
        assert gh.methods() == ["GET", "GET", "POST"]
        post_argv, post_stdin = gh.calls[-1]
        assert post_argv == ["api", "--method", "POST", f"repos/{REPO}/issues/7/comments",
                             "--input", "-"]
        assert json.loads(post_stdin or "") == {"body": BODY}
        assert all(BODY not in " ".join(argv) for argv, _ in gh.calls)

    def test_updates_the_oldest_bot_comment(self) -> None:
        """Marked comments by people are left alone; the bot's oldest is edited, across pages."""
        pages = [[bot_comment(1, body="plain talk"),
                  bot_comment(2, login="mallory")],
                 [bot_comment(3), bot_comment(4)]]
        gh = FakeGh(pages=pages)
        result = comment.post_report(request(), gh)
        assert (result.outcome, result.comment_id) == (Outcome.UPDATED, 3)
        patch_argv, patch_stdin = gh.calls[-1]
        assert patch_argv == ["api", "--method", "PATCH", f"repos/{REPO}/issues/comments/3",
                              "--input", "-"]
        assert json.loads(patch_stdin or "") == {"body": BODY}
        list_argv = gh.calls[1][0]
        assert "--paginate" in list_argv and "--slurp" in list_argv

    def test_stale_head_is_skipped(self) -> None:
        """A run of an older commit does not overwrite the report of a newer one."""
        gh = FakeGh(pull=pull_request(sha="b" * 40))
        result = comment.post_report(request(), gh)
        assert result.outcome is Outcome.SKIPPED and "stale" in result.message
        assert gh.methods() == ["GET"]

    def test_closed_pull_request_is_skipped(self) -> None:
        gh = FakeGh(pull=pull_request(state="closed"))
        assert comment.post_report(request(), gh).outcome is Outcome.SKIPPED
        assert gh.methods() == ["GET"]

    def test_fork_run_verified_by_head(self) -> None:
        """With no listed PRs, the PR whose head is the run's repo and commit gets the report."""
        gh = FakeGh(pull=pull_request(head_repo="fork/repromatrix"))
        result = comment.post_report(request(run_numbers=(), head_repo="fork/repromatrix"), gh)
        assert result.outcome is Outcome.CREATED

    def test_fork_run_with_foreign_pr_number(self) -> None:
        """A number pointing at someone else's pull request is refused, and nothing is posted."""
        gh = FakeGh(pull=pull_request(head_repo="victim/repromatrix"))
        with pytest.raises(UsageError, match="refusing to comment"):
            comment.post_report(request(run_numbers=(), head_repo="fork/repromatrix"), gh)
        assert gh.methods() == ["GET"]

    def test_without_head_sha_no_pull_lookup(self) -> None:
        """A listed number needs no lookup; without a head to compare, none is made."""
        gh = FakeGh()
        assert comment.post_report(request(head_sha=None), gh).outcome is Outcome.CREATED
        assert gh.methods() == ["GET", "POST"]

    def test_dry_run_calls_nothing(self) -> None:
        gh = FakeGh()
        result = comment.post_report(request(dry_run=True), gh)
        assert result.outcome is Outcome.DRY_RUN and gh.calls == []


class TestCommand:
    def files(self, tmp_path: Path, number: str = "7") -> tuple[Path, Path]:
        body, pr = tmp_path / "comment.md", tmp_path / "pr-number"
        body.write_text(BODY, encoding="utf-8")
        pr.write_text(number, encoding="utf-8")
        return body, pr

    def parse(self, argv: list[str]) -> argparse.Namespace:
        parser = argparse.ArgumentParser()
        comment.add_parser(parser.add_subparsers())
        args = parser.parse_args(["comment", *argv])
        assert args.func is comment.run
        return args

    def test_end_to_end(self, tmp_path: Path) -> None:
        """The arguments the comment workflow passes lead to one created comment."""
        body, pr = self.files(tmp_path)
        args = self.parse(["--body", str(body), "--pr-number-file", str(pr),
                           "--run-pr-numbers", '[{"number": 7}]', "--head-sha", SHA,
                           "--head-repo", "octo/repromatrix"])
        gh = FakeGh(pull=pull_request(head_repo="octo/repromatrix"))
        assert comment.run(args, env={"GITHUB_REPOSITORY": REPO}, gh=gh) == 0
        assert gh.methods() == ["GET", "GET", "POST"]
        assert gh.calls[0][0] == ["api", f"repos/{REPO}/pulls/7"]

    def test_dry_run_prints_the_body(self, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
        body, pr = self.files(tmp_path)
        args = self.parse(["--body", str(body), "--pr-number-file", str(pr),
                           "--run-pr-numbers", "[7]", "--repo", REPO, "--dry-run"])
        assert comment.run(args, env={}, gh=FakeGh()) == 0
        captured = capsys.readouterr()
        assert captured.out.startswith(MARKER) and "would post" in captured.err

    @pytest.mark.parametrize(("extra", "env", "message"), [
        ([], {}, "GITHUB_REPOSITORY not set"),
        (["--repo", "not a repo"], {}, "expected owner/name"),
        (["--repo", REPO, "--head-sha", "HEAD"], {}, "40 lowercase hex"),
        (["--repo", REPO, "--head-repo", "x"], {}, "expected owner/name"),
        # issue 9, point 7: "$" matched before a final newline, and ".." passed as a name
        (["--repo", "../.."], {}, "expected owner/name"),
        (["--repo", "o/r\n"], {}, "expected owner/name"),
        (["--repo", "o/.."], {}, "expected owner/name"),
        (["--repo", "o/r/x"], {}, "expected owner/name"),
        (["--repo", "o-/r"], {}, "expected owner/name"),
        (["--repo", REPO, "--head-repo", "octo/r\n"], {}, "expected owner/name"),
        (["--repo", REPO, "--head-sha", "a" * 40 + "\n"], {}, "40 lowercase hex"),
    ])
    def test_bad_arguments(self, tmp_path: Path, extra: list[str], env: dict[str, str],
                           message: str) -> None:
        body, pr = self.files(tmp_path)
        args = self.parse(["--body", str(body), "--pr-number-file", str(pr),
                           "--run-pr-numbers", "[7]", *extra])
        with pytest.raises(UsageError, match=message):
            comment.run(args, env=env, gh=FakeGh())


@pytest.mark.parametrize("repo", ["octo/repromatrix", "my-org/.github", "a/b.c_d-e",
                                  "octo_ent/r"])
def test_real_repository_names_pass(repo: str) -> None:
    assert comment.check_repo(repo, "--repo") == repo


class TestRunGh:
    def test_missing_gh(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def missing(*args: Any, **kwargs: Any) -> None:
            raise FileNotFoundError("gh")
        monkeypatch.setattr(comment.subprocess, "run", missing)
        with pytest.raises(ToolError, match="not installed"):
            comment.run_gh(["api", "user"])

    def test_failure_reports_stderr(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def failing(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
            assert kwargs["input"] == '{"body": "x"}'
            return subprocess.CompletedProcess(argv, 1, "", "HTTP 403: Resource not accessible")
        monkeypatch.setattr(comment.subprocess, "run", failing)
        with pytest.raises(ToolError, match="HTTP 403"):
            comment.run_gh(["api", "--method", "POST", "x"], '{"body": "x"}')

    def test_output(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def ok(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
            assert argv[0] == "gh"
            return subprocess.CompletedProcess(argv, 0, '{"id": 1}', "")
        monkeypatch.setattr(comment.subprocess, "run", ok)
        assert comment.run_gh(["api", "x"]) == '{"id": 1}'


def test_marker_matches_the_aggregator() -> None:
    """The markdown report starts with the marker this command looks for."""
    from repromatrix.report import render_markdown

    assert render_markdown.MARKER == MARKER
    assert render_markdown.MAX_CHARS == comment.MAX_BODY_CHARS
