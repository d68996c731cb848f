"""argparse value types and argument checks shared by the subcommands.

The rules themselves live in config_checks, so the command line and matrix.toml refuse the same
values.
"""

from __future__ import annotations

import argparse

from repromatrix.config.checks import env_problem, is_id
from repromatrix.errors import UsageError


def env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    problem = env_problem(name, value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return name, value


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def check_cell_id(value: str, option: str = "--cell") -> str:
    """A cell id names the artifact file: no path separators, no newline.

    Checked when the command runs, not as an argparse type, so that the workflow tests can parse
    command lines holding placeholders such as ``$CELL``.
    """
    if not is_id(value):
        raise UsageError(f"{option} {value!r}: use letters, digits, '.', '_' and '-' only "
                         "(64 characters at most)")
    return value
