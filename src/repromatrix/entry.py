"""A matrix's ``[experiment] entry``: ``module:function`` or ``file.py:function``, parsed.

Its own leaf (no imports but errors) because both the matrix loader, which checks the text, and
the contract, which resolves and imports it, need the parser: in the contract it tied
config/matrix and the contract (whose annotations name the matrix's Variant) into a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from repromatrix.errors import ExperimentError


@dataclass(frozen=True)
class Entry:
    """A parsed ``entry``: a module name or a .py file, and a function in it."""

    text: str  # as written in matrix.toml; also the artifact's experiment.name
    target: str  # "package.module" or "path/to/file.py"
    function: str
    is_file: bool


def parse_entry(text: str) -> Entry:
    """Split ``module:function`` / ``file.py:function``; raise ExperimentError if malformed."""
    target, sep, function = text.strip().rpartition(":")  # rpartition: "C:\\x.py:f" on Windows
    example = "expected 'package.module:function' or 'path/to/file.py:function'"
    if not sep or not target or not function:
        raise ExperimentError(f"experiment entry {text!r}: {example}")
    if not function.isidentifier():
        raise ExperimentError(f"experiment entry {text!r}: {function!r} is not a function name")
    is_file = target.endswith(".py") or "/" in target or "\\" in target
    if not is_file and not all(part.isidentifier() for part in target.split(".")):
        raise ExperimentError(f"experiment entry {text!r}: {target!r} is neither a module name "
                              f"nor a .py file; {example}")
    if is_file and not target.endswith(".py"):
        raise ExperimentError(f"experiment entry {text!r}: a file entry must name a .py file")
    return Entry(text=text.strip(), target=target, function=function, is_file=is_file)
