"""The sticky comment's refusals and skips say exactly what and why (they end up in CI logs,
where a maintainer decides from that one line whether a fork tried something)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from test_comment import BODY, REPO, SHA, FakeGh, bot_comment, pull_request, request

from repromatrix.ci import comment
from repromatrix.ci.comment import MARKER, Outcome
from repromatrix.errors import ToolError, UsageError


def usage_error(call: Any, *args: Any) -> str:
    with pytest.raises(UsageError) as caught:
        call(*args)
    return str(caught.value)


def test_refusal_messages() -> None:
    assert usage_error(comment.check_body, "x" * (comment.MAX_BODY_CHARS + 1)) == \
        f"body: {comment.MAX_BODY_CHARS + 1} characters, more than GitHub's {comment.MAX_BODY_CHARS}"
    assert usage_error(comment.check_body, "hello") == \
        f"body: does not start with the report marker {MARKER}"
    assert usage_error(comment.check_repo, "x", "--repo") == "--repo: expected owner/name, got 'x'"
    assert usage_error(comment.check_sha, "HEAD") == \
        "--head-sha: expected 40 lowercase hex digits, got 'HEAD'"
    assert usage_error(comment.post_report, request(number=9, run_numbers=(7, 8)), FakeGh()) == \
        "PR #9 is not a pull request of the triggering run (#7, #8); refusing to comment"
    assert usage_error(comment.post_report, request(run_numbers=(), head_sha=None), FakeGh()) == (
        "the triggering run lists no pull requests (as for a fork's run): pass --head-sha and "
        "--head-repo to verify PR #7 by its head commit")
    gh = FakeGh(pull=pull_request(head_repo="victim/repromatrix"))
    assert usage_error(comment.post_report, request(run_numbers=(), head_repo="fork/x"), gh) == \
        "PR #7 comes from victim/repromatrix, not from the run's fork/x; refusing to comment"


def test_skip_messages() -> None:
    closed = comment.post_report(request(), FakeGh(pull=pull_request(state="closed")))
    assert (closed.outcome, closed.message) == (Outcome.SKIPPED, "PR #7 is closed; not commenting")
    moved = comment.post_report(request(), FakeGh(pull=pull_request(sha="b" * 40)))
    assert moved.message == ("PR #7 is at bbbbbbbbbbbb, the run tested aaaaaaaaaaaa: the report "
                             "is stale; not commenting")


def test_result_messages() -> None:
    created = comment.post_report(request(), FakeGh(pull=pull_request(head_repo="octo/repromatrix")))
    assert created.message == "created comment 777 on PR #7"
    updated = comment.post_report(request(), FakeGh(pages=[[bot_comment(5)]]))
    assert (updated.message, updated.comment_id) == ("updated comment 5 on PR #7", 5)
    dry = comment.post_report(request(dry_run=True), FakeGh())
    assert dry.message == f"would post {len(BODY)} characters on PR #7 of {REPO} (no gh call made)"


def test_the_author_option_picks_whose_comment_is_edited(tmp_path: Path) -> None:
    body, pr = tmp_path / "c.md", tmp_path / "n"
    body.write_text(BODY, encoding="utf-8")
    pr.write_text("7", encoding="utf-8")
    parser = argparse.ArgumentParser()
    comment.add_parser(parser.add_subparsers())
    args = parser.parse_args(["comment", "--body", str(body), "--pr-number-file", str(pr),
                              "--run-pr-numbers", "[7]", "--author", "my-app[bot]"])
    gh = FakeGh(pages=[[bot_comment(1), bot_comment(2, login="my-app[bot]")]])
    assert comment.run(args, env={"GITHUB_REPOSITORY": REPO}, gh=gh) == 0
    assert gh.calls[-1][0][3] == f"repos/{REPO}/issues/comments/2"
    with pytest.raises(UsageError, match="^--repo: expected owner/name"):
        comment.build_request(args, {"GITHUB_REPOSITORY": "nope"})
    args.head_repo = "nope"
    with pytest.raises(UsageError, match="^--head-repo: expected owner/name"):
        comment.build_request(args, {"GITHUB_REPOSITORY": REPO})
    args.repo = None
    with pytest.raises(UsageError, match="^--repo not given and GITHUB_REPOSITORY not set$"):
        comment.build_request(args, {})


def test_smallest_pr_number_of_the_run() -> None:
    assert comment.parse_run_pull_requests('[{"number": 1}, 2]') == (1, 2)
    with pytest.raises(UsageError):
        comment.parse_run_pull_requests("[0]")


def test_gh_answers() -> None:
    def answer(text: str) -> Any:
        return lambda argv, stdin=None: text

    assert comment._json(answer(" \n"), ["api", "x"]) is None
    with pytest.raises(ToolError) as caught:
        comment._json(answer("<html>" + "x" * 100), ["api", "--method", "GET", "repos/o/r", "more"])
    assert str(caught.value) == \
        "gh api --method GET repos/o/r: not JSON: '<html>" + "x" * 74 + "'"
    pages = [[bot_comment(1)], bot_comment(2), [bot_comment(3), "junk"]]
    assert [c["id"] for c in comment._flatten(pages)] == [1, 2, 3]
    assert comment._flatten(None) == []


@pytest.mark.parametrize(("lines", "expected_tail"), [
    (20, "line 19"),
    (21, "line 19\n... (1 more lines)"),
    (25, "line 19\n... (5 more lines)"),
])
def test_preview(lines: int, expected_tail: str) -> None:
    body = "\n".join(f"line {i}" for i in range(lines))
    preview = comment._preview(body)
    assert preview.startswith("line 0\nline 1\n") and preview.endswith(expected_tail)
    assert preview.count("\n") == (19 if lines == 20 else 20)


def test_body_round_trips_as_json_on_stdin() -> None:
    hostile = MARKER + "\n$(rm -rf /) `x` \"quotes\" \u202e"
    gh = FakeGh()
    comment.post_report(request(body=hostile, head_sha=None), gh)
    assert json.loads(gh.calls[-1][1] or "") == {"body": hostile}
    assert SHA not in " ".join(gh.calls[-1][0])
