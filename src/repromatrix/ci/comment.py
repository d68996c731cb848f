"""``repromatrix comment``: post the report as one sticky pull-request comment, safely.

Run by the trusted ``comment`` workflow (on ``workflow_run``), never by the pull request's own
run: a pull request from a fork gets a read-only token, so its run only uploads the report and
its PR number as an artifact, and this command posts them with ``pull-requests: write``.
Everything in that artifact was produced by code the pull request could change, so:

- the body is untrusted text: it must start with ``MARKER``, is at most ``MAX_BODY_CHARS`` long,
  and only ever travels as JSON on gh's standard input, never on a command line or in a shell;
- the PR number must be a plain positive integer, and must belong to the triggering run: one of
  ``github.event.workflow_run.pull_requests``, or, where GitHub leaves that list empty (runs from
  forks), the pull request whose head is the run's own head repository and commit.

The sticky comment is the oldest comment by ``--author`` that starts with the marker: edited if
it exists, created otherwise, so each pull request carries one report that follows its pushes.
``gh`` is reached through an injectable ``CommandRunner``, so tests need neither network nor gh.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from repromatrix.errors import ToolError, UsageError
from repromatrix.files import MiB, UnreadableFile, read_bounded

# The aggregator writes the body; its marker and size limit are the ones checked here.
from repromatrix.report.render_markdown import MARKER  # noqa: E402
from repromatrix.report.render_markdown import MAX_CHARS as MAX_BODY_CHARS

DEFAULT_AUTHOR = "github-actions[bot]"  # the GITHUB_TOKEN's identity
# Checked with fullmatch (and \Z, not $, which also matches before a final newline).
PR_NUMBER = re.compile(r"^[1-9][0-9]{0,9}\Z")
# GitHub's rules: an owner is letters, digits and single inner hyphens (39 at most; "_" for
# managed users); a repository name is letters, digits, ".", "_", "-", but never "." or "..".
OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,37}[A-Za-z0-9_])?\Z")
REPOSITORY_NAME = re.compile(r"^(?!\.+\Z)[A-Za-z0-9_.-]{1,100}\Z")
SHA = re.compile(r"^[0-9a-f]{40}\Z")
MAX_PR_NUMBER_BYTES = 64  # an honest file holds a few digits and a newline
MAX_RUN_PR_BYTES = 1 * MiB

# argv after "gh", text for standard input (or None) -> standard output
CommandRunner = Callable[[Sequence[str], Optional[str]], str]


class Outcome(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    SKIPPED = "skipped"  # the pull request moved on or closed: a newer run will comment
    DRY_RUN = "dry-run"


@dataclass(frozen=True)
class CommentRequest:
    """Everything ``post_report`` needs, already validated by the ``read_*`` helpers."""

    repo: str  # owner/name of the repository the workflow runs in
    number: int  # the pull request to comment on
    body: str
    run_numbers: tuple[int, ...]  # the triggering run's pull requests; () for runs from forks
    head_sha: str | None = None  # the triggering run's head commit
    head_repo: str | None = None  # the triggering run's head repository, owner/name
    author: str = DEFAULT_AUTHOR
    dry_run: bool = False


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    message: str
    comment_id: int | None = None


# --- validating the untrusted inputs ------------------------------------------------------------


def read_body(path: Path) -> str:
    """The comment body, refused unless it is our report: UTF-8, marked, not too long."""
    try:  # UTF-8 takes at most 4 bytes per character
        raw = read_bounded(path, 4 * MAX_BODY_CHARS)
    except UnreadableFile as error:
        raise UsageError(f"--body {path}: {error.reason}") from None
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"--body {path}: not UTF-8 text") from None
    return check_body(body, str(path))


def check_body(body: str, name: str = "body") -> str:
    if len(body) > MAX_BODY_CHARS:
        raise UsageError(f"{name}: {len(body)} characters, more than GitHub's {MAX_BODY_CHARS}")
    if not body.startswith(MARKER):
        raise UsageError(f"{name}: does not start with the report marker {MARKER}")
    if "\x00" in body:
        raise UsageError(f"{name}: contains a NUL character")
    return body


def read_pr_number(path: Path) -> int:
    """The pull request number from its file: digits only, no sign, no leading zero."""
    try:
        raw = read_bounded(path, MAX_PR_NUMBER_BYTES)
    except UnreadableFile as error:
        raise UsageError(f"--pr-number-file {path}: {error.reason}") from None
    return parse_pr_number(raw.decode("ascii", errors="replace"), str(path))


def parse_pr_number(text: str, name: str = "PR number") -> int:
    value = text.strip()
    if not PR_NUMBER.fullmatch(value) or int(value) > 2**31 - 1:
        raise UsageError(f"{name}: expected a positive integer, got {value[:20]!r}")
    return int(value)


def parse_run_pull_requests(value: str) -> tuple[int, ...]:
    """The PR numbers of the triggering run, from JSON text or a file holding it.

    Accepts ``github.event.workflow_run.pull_requests`` as GitHub gives it (a list of objects
    with a ``number``), or a plain list of numbers. Text starting with ``[`` is JSON; anything
    else is a path.
    """
    text = value.strip()
    if not text:
        raise UsageError("--run-pr-numbers: empty; pass the JSON of "
                         "github.event.workflow_run.pull_requests (through an env variable)")
    if not text.startswith("["):
        try:
            text = read_bounded(text, MAX_RUN_PR_BYTES).decode("utf-8")
        except UnreadableFile as error:
            raise UsageError(f"--run-pr-numbers {value}: {error.reason}") from None
        except UnicodeDecodeError as error:
            raise UsageError(f"--run-pr-numbers {value}: cannot read: {error}") from None
    try:
        items = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--run-pr-numbers: not valid JSON: {error}") from None
    if not isinstance(items, list):
        raise UsageError("--run-pr-numbers: expected a JSON array")
    return tuple(_run_pr_number(item) for item in items)


def _run_pr_number(item: Any) -> int:
    number = item.get("number") if isinstance(item, dict) else item
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise UsageError(f"--run-pr-numbers: expected PR numbers, got {item!r:.60}")
    return number


def check_repo(value: str, name: str) -> str:
    owner, slash, repository = value.partition("/")
    if not (slash and OWNER.fullmatch(owner) and REPOSITORY_NAME.fullmatch(repository)):
        raise UsageError(f"{name}: expected owner/name, got {value!r:.60}")
    return value


def check_sha(value: str) -> str:
    if not SHA.fullmatch(value):
        raise UsageError(f"--head-sha: expected 40 lowercase hex digits, got {value!r:.60}")
    return value


def check_membership(request: CommentRequest) -> None:
    """Refuse a PR number that the triggering run cannot vouch for, before any API call."""
    if request.run_numbers:
        if request.number not in request.run_numbers:
            listed = ", ".join(f"#{n}" for n in request.run_numbers)
            raise UsageError(f"PR #{request.number} is not a pull request of the triggering run "
                             f"({listed}); refusing to comment")
    elif not (request.head_sha and request.head_repo):
        # GitHub leaves workflow_run.pull_requests empty for runs from forks
        raise UsageError(f"the triggering run lists no pull requests (as for a fork's run): "
                         f"pass --head-sha and --head-repo to verify PR #{request.number} by "
                         "its head commit")


# --- talking to GitHub --------------------------------------------------------------------------


def run_gh(argv: Sequence[str], stdin: str | None = None) -> str:
    """Run ``gh`` (preinstalled on GitHub's runners; it reads GH_TOKEN from the environment)."""
    try:
        completed = subprocess.run(["gh", *argv], input=stdin, capture_output=True, text=True,
                                   encoding="utf-8", check=False)
    except FileNotFoundError:
        raise ToolError("gh (the GitHub CLI) is not installed") from None
    if completed.returncode != 0:
        tail = completed.stderr.strip().splitlines()[-3:]
        raise ToolError(f"gh {' '.join(argv[:4])} failed: {' / '.join(tail)}")
    return completed.stdout


def _json(gh: CommandRunner, argv: Sequence[str], stdin: str | None = None) -> Any:
    output = gh(argv, stdin)
    try:
        return json.loads(output) if output.strip() else None
    except json.JSONDecodeError:
        raise ToolError(f"gh {' '.join(argv[:4])}: not JSON: {output[:80]!r}") from None


def fetch_pull_request(gh: CommandRunner, repo: str, number: int) -> Mapping[str, Any]:
    pull = _json(gh, ["api", f"repos/{repo}/pulls/{number}"])
    if not isinstance(pull, dict):
        raise ToolError(f"unexpected answer for pull request #{number}")
    return pull


def check_head(request: CommentRequest, pull: Mapping[str, Any]) -> str | None:
    """Why not to comment on this pull request, or None to go ahead.

    A PR that is closed, or whose head moved past the run's commit, gets no comment: the
    report would be stale (runs can finish out of order). A head in another repository than
    the run's means the number does not belong to the run at all.
    """
    head = pull.get("head") or {}
    head_repo = (head.get("repo") or {}).get("full_name")
    if not request.run_numbers and head_repo != request.head_repo:
        raise UsageError(f"PR #{request.number} comes from {head_repo}, not from the run's "
                         f"{request.head_repo}; refusing to comment")
    if pull.get("state") != "open":
        return f"PR #{request.number} is {pull.get('state')}"
    if head.get("sha") != request.head_sha:
        return (f"PR #{request.number} is at {str(head.get('sha'))[:12]}, the run tested "
                f"{str(request.head_sha)[:12]}: the report is stale")
    return None


def find_sticky_comment(gh: CommandRunner, repo: str, number: int, author: str) -> int | None:
    """The id of the oldest comment by ``author`` that starts with the marker, if any."""
    pages = _json(gh, ["api", "--paginate", "--slurp",
                       f"repos/{repo}/issues/{number}/comments?per_page=100"])
    for comment in _flatten(pages):
        user = comment.get("user") or {}
        if user.get("login") == author and str(comment.get("body", "")).startswith(MARKER):
            return int(comment["id"])
    return None


def _flatten(pages: Any) -> list[Mapping[str, Any]]:
    """``--slurp`` gives a list of pages, each a list of comments."""
    comments: list[Mapping[str, Any]] = []
    for page in pages or []:
        comments += [c for c in (page if isinstance(page, list) else [page]) if isinstance(c, dict)]
    return comments


def post_report(request: CommentRequest, gh: CommandRunner) -> Result:
    """Verify the pull request, then edit the sticky comment or create it."""
    check_membership(request)
    if request.dry_run:
        return Result(Outcome.DRY_RUN, f"would post {len(request.body)} characters on PR "
                      f"#{request.number} of {request.repo} (no gh call made)")
    if request.head_sha:
        reason = check_head(request, fetch_pull_request(gh, request.repo, request.number))
        if reason:
            return Result(Outcome.SKIPPED, f"{reason}; not commenting")
    payload = json.dumps({"body": request.body})  # on stdin: the body never meets a shell
    existing = find_sticky_comment(gh, request.repo, request.number, request.author)
    if existing is not None:
        gh(["api", "--method", "PATCH", f"repos/{request.repo}/issues/comments/{existing}",
            "--input", "-"], payload)
        return Result(Outcome.UPDATED, f"updated comment {existing} on PR #{request.number}",
                      existing)
    created = _json(gh, ["api", "--method", "POST",
                         f"repos/{request.repo}/issues/{request.number}/comments",
                         "--input", "-"], payload)
    comment_id = created.get("id") if isinstance(created, dict) else None
    return Result(Outcome.CREATED, f"created comment {comment_id} on PR #{request.number}",
                  comment_id)


# --- the subcommand -----------------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "comment",
        help="post the report as one sticky PR comment (run by the trusted comment workflow)",
        description="Post a markdown report as the pull request's repromatrix comment: edit the "
        "existing one (found by its marker) or create it, with `gh api`. The body and PR number "
        "are untrusted (they come from the pull request's run) and are checked first: see "
        "docs/ci.md.",
    )
    parser.add_argument("--body", required=True, type=Path, metavar="FILE",
                        help=f"the report; must start with {MARKER}")
    parser.add_argument("--pr-number-file", required=True, type=Path, metavar="FILE",
                        help="file holding the pull request number")
    parser.add_argument("--run-pr-numbers", required=True, metavar="JSON_OR_FILE",
                        help="github.event.workflow_run.pull_requests as JSON, or a file "
                        "holding it: the PR number must be one of them")
    parser.add_argument("--head-sha", help="github.event.workflow_run.head_sha: comment only "
                        "while the PR's head is this commit (required for runs from forks)")
    parser.add_argument("--head-repo", help="github.event.workflow_run.head_repository.full_name "
                        "(required for runs from forks)")
    parser.add_argument("--repo", help="owner/name (default: $GITHUB_REPOSITORY)")
    parser.add_argument("--author", default=DEFAULT_AUTHOR,
                        help=f"login whose marked comment is edited (default: {DEFAULT_AUTHOR})")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate everything, print what would be posted, call nothing")
    parser.set_defaults(func=run)


def build_request(args: argparse.Namespace, env: Mapping[str, str]) -> CommentRequest:
    repo = args.repo or env.get("GITHUB_REPOSITORY", "")
    if not repo:
        raise UsageError("--repo not given and GITHUB_REPOSITORY not set")
    return CommentRequest(
        repo=check_repo(repo, "--repo"),
        number=read_pr_number(args.pr_number_file),
        body=read_body(args.body),
        run_numbers=parse_run_pull_requests(args.run_pr_numbers),
        head_sha=check_sha(args.head_sha) if args.head_sha else None,
        head_repo=check_repo(args.head_repo, "--head-repo") if args.head_repo else None,
        author=args.author,
        dry_run=args.dry_run,
    )


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None,
        gh: CommandRunner | None = None) -> int:
    env = os.environ if env is None else env
    request = build_request(args, env)
    result = post_report(request, gh or run_gh)
    print(f"repromatrix: {result.message}", file=sys.stderr)
    if result.outcome is Outcome.DRY_RUN:
        print(_preview(request.body))
    return 0


def _preview(body: str, lines: int = 20) -> str:
    shown = body.splitlines()[:lines]
    more = len(body.splitlines()) - len(shown)
    return "\n".join(shown) + (f"\n... ({more} more lines)" if more > 0 else "")
