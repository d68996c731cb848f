"""Errors that end a command with one clear line instead of a traceback.

Every error the user can cause (bad input, bad configuration, missing tools) is a
``ReproError``; ``cli.main`` catches it once, prints ``repromatrix: error: <message>``
on stderr and exits with the error's code.
"""

from __future__ import annotations


class ReproError(Exception):
    """An error caused by the user's input or environment, reported in one line."""

    exit_code = 2


class UsageError(ReproError):
    """Bad command-line arguments or a bad input file."""


class DataError(ReproError):
    """The training data cannot be used: missing file, bad cells, wrong shape."""


class ConfigError(ReproError):
    """``matrix.toml`` is invalid. ``problems`` holds every problem found, not only the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ToolError(ReproError):
    """An external tool the command needs (an interpreter, qemu) is missing or unusable."""


class ExperimentError(ReproError):
    """A user experiment (``[experiment] entry``) cannot be used: missing module or function,
    a wrong return value, an uncompiled model, or data that does not fit the model's input."""
