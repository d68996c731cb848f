"""Everything specific to GitHub Actions, in one place.

On GitHub, commands publish step outputs (``$GITHUB_OUTPUT``), append markdown to the job's page
(``$GITHUB_STEP_SUMMARY``) and print ``::group::`` / ``::error::`` workflow commands. Elsewhere
they print plain text and write nothing. The environment is always passed in as a mapping, so
tests use ``env={}`` or a hand-made dict and never depend on the machine they run on.

Also the ``repromatrix step-summary FILE...`` subcommand, which appends markdown files to the
step summary, so a workflow does not need shell redirection to do it.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from repromatrix.errors import UsageError
from repromatrix.files import UnreadableFile, read_bounded

OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*\Z")  # \Z: "$" lets a final newline pass
# GitHub refuses a step summary above 1 MiB; a bigger one would fail the step for a report.
MAX_SUMMARY_BYTES = 1024 * 1024


def on_github(env: Mapping[str, str]) -> bool:
    """True inside a GitHub Actions job (the runner always sets GITHUB_ACTIONS=true)."""
    return env.get("GITHUB_ACTIONS") == "true"


def format_output(name: str, value: str) -> str:
    """One ``$GITHUB_OUTPUT`` entry: ``name=value``, or a heredoc when the value has newlines.

    The heredoc delimiter is random and checked against the value, so no value, however
    crafted, can end the entry early and inject another output.
    """
    if not OUTPUT_NAME.fullmatch(name):
        raise UsageError(f"invalid GitHub output name {name!r}")
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    while True:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        if delimiter not in value:
            break
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def set_output(name: str, value: str, env: Mapping[str, str]) -> bool:
    """Append an output to ``$GITHUB_OUTPUT`` if the variable is set; return whether it was.

    The variable, not GITHUB_ACTIONS, decides: it is the file the step's outputs are read from,
    and setting it by hand is how one tests a step locally.
    """
    path = env.get("GITHUB_OUTPUT")
    if not path:
        return False
    _append(Path(path), format_output(name, value))
    return True


def append_step_summary(markdown: str, env: Mapping[str, str]) -> bool:
    """Append markdown to ``$GITHUB_STEP_SUMMARY`` if the variable is set; return whether it was."""
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    if len(text.encode("utf-8")) > MAX_SUMMARY_BYTES:
        raise UsageError(f"the step summary would exceed GitHub's {MAX_SUMMARY_BYTES} bytes")
    _append(Path(path), text)
    return True


def _append(path: Path, text: str) -> None:
    # newline="\n": on Windows runners a "\r\n" would end up inside the values
    with path.open("a", encoding="utf-8", newline="\n") as stream:
        stream.write(text)


def escape_data(text: str) -> str:
    """Escape the message part of a workflow command (GitHub's own toolkit rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a ``key=value`` property of a workflow command."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def error(message: str, env: Mapping[str, str], stream: IO[str] | None = None, *,
          file: str | None = None, line: int | None = None, title: str | None = None) -> None:
    """Report an error: an ``::error::`` annotation on GitHub, a plain line elsewhere."""
    stream = stream if stream is not None else sys.stderr
    if not on_github(env):
        where = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
        print(f"error: {where}{message}", file=stream)
        return
    properties = [f"{key}={escape_property(str(value))}"
                  for key, value in (("file", file), ("line", line), ("title", title))
                  if value is not None]
    print(f"::error {','.join(properties)}::{escape_data(message)}" if properties
          else f"::error::{escape_data(message)}", file=stream)


# --- the step-summary subcommand ----------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "step-summary",
        help="append markdown files to the GitHub job summary",
        description="Append each markdown FILE to $GITHUB_STEP_SUMMARY, the page GitHub shows "
        "for the job. Without that variable (not on GitHub) nothing is written.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="markdown file to append")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    texts = []
    for name in args.files:
        try:
            texts.append(read_bounded(name, MAX_SUMMARY_BYTES).decode("utf-8"))
        except UnreadableFile as problem:
            raise UsageError(f"{name}: {problem.reason}") from None
        except UnicodeDecodeError as problem:
            raise UsageError(f"{name}: cannot read: {problem}") from None
    if not append_step_summary("\n".join(texts), env):
        print("repromatrix: GITHUB_STEP_SUMMARY is not set (not on GitHub); nothing written",
              file=sys.stderr)
    return 0
