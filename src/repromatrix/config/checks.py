"""Collecting every problem of a TOML file with the line it is on, and checking values.

tomllib keeps no positions, so problems are located by scanning the text for the key (once per
file: collection stays linear however many problems there are). Used by the matrix loader;
generic enough for any TOML configuration. The value rules shared with the command line (ids,
environment variables, a data set's target column) live here too, so both refuse the same
values.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Callable

from repromatrix.errors import ConfigError
from repromatrix.model import target_column  # noqa: F401 - the cell shares it, so it lives in the model

_KIND_NAMES = {str: "a string", int: "an integer", bool: "a boolean", float: "a float",
               dict: "a table", list: "an array"}
# A file with thousands of problems is not fixed from a thousand-line report: show the first
# ones (in file order) and count the rest.
MAX_REPORTED = 30

# A cell id, variant name, lab cell id or runner label becomes a file name and a GitHub artifact
# name: keep it to a safe alphabet. ``\Z``, not ``$``: "$" also matches before a final newline.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_HEADER = re.compile(r"^(\[\[?)\s*([^\]]+?)\s*\]")
_KEY = re.compile(r"""^["']?([A-Za-z0-9_-]+)["']?\s*=""")


def is_id(value: str) -> bool:
    return ID_PATTERN.fullmatch(value) is not None


def env_problem(name: str, value: str) -> str | None:
    """Why ``name=value`` cannot go into a process environment, or None if it can.

    The operating system refuses these (Python raises ValueError in ``os.environ``), which would
    end a run after its slow start, so they are refused where they are written.
    """
    if not name:
        return "an environment variable name cannot be empty"
    if "=" in name:
        return f"environment variable name {name!r} contains '='"
    if "\x00" in name or "\x00" in value:
        return f"environment variable {name!r} contains a NUL character"
    return None


def _kind_name(kind: type) -> str:
    return _KIND_NAMES.get(kind, kind.__name__)


class Problems:
    """Collects problems with the line they are on, so all are reported together."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self._index: _LineIndex | None = None  # built on the first problem: valid files skip it
        # (line, message, hint): the hint (a close-match suggestion) is computed only for the
        # problems that are reported, since it costs a scan of every valid name.
        self.items: list[tuple[int, str, Callable[[], str] | None]] = []

    def add(self, where: tuple[str, ...], message: str,
            hint: Callable[[], str] | None = None) -> None:
        line = self.line(where)
        name = ".".join(where) if where else "(top level)"
        self.items.append((line, f"{self.path}:{line}: {name}: {message}", hint))

    def line(self, where: tuple[str, ...]) -> int:
        if self._index is None:
            self._index = _LineIndex(self.text.splitlines())
        return self._index.line(where)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        ordered = sorted(self.items, key=lambda item: (item[0], item[1]))
        messages = [message + (hint() if hint else "")
                    for _, message, hint in ordered[:MAX_REPORTED]]
        rest = len(ordered) - MAX_REPORTED
        if rest > 0:
            messages.append(f"{self.path}: ... and {rest} more problem{'s' if rest > 1 else ''} "
                            "(fix these first)")
        raise ConfigError(messages)


class _LineIndex:
    """Best-effort line numbers of dotted keys: the key's own line, else its nearest table header.

    tomllib keeps no positions, so the text is scanned once, following ``[table]`` headers, and
    the first line of every key and header path is remembered. Entries of arrays of tables are
    addressed as ``runners[2]``, as in the messages; a bare ``runners`` finds the first
    ``[[runners]]``.
    """

    def __init__(self, lines: list[str]) -> None:
        self.keys: dict[tuple[str, ...], int] = {}  # "key = ..." lines
        self.prefixes: dict[tuple[str, ...], int] = {}  # table headers and key lines
        table: list[str] = []
        counts: dict[str, int] = {}
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            header = _HEADER.match(line)
            if header:
                name = header.group(2).replace('"', "").replace("'", "")
                table = [part.strip() for part in name.split(".")]
                if header.group(1) == "[[":
                    counts[name] = counts.get(name, 0) + 1
                    table[-1] = f"{table[-1]}[{counts[name] - 1}]"
                _remember(self.prefixes, table, number)
                continue
            key = _KEY.match(line)
            if key:
                path = table + [key.group(1)]
                _remember(self.keys, path, number)
                _remember(self.prefixes, path, number)  # an inline table holding the key

    def line(self, where: tuple[str, ...]) -> int:
        wanted = tuple(part for item in where for part in item.split("."))
        if wanted in self.keys:
            return self.keys[wanted]
        for depth in range(len(wanted), 0, -1):
            if wanted[:depth] in self.prefixes:
                return self.prefixes[wanted[:depth]]
        return 1


def _remember(found: dict[tuple[str, ...], int], path: list[str], number: int) -> None:
    """Record the first line of ``path``, also under its unindexed names ("runners" for
    "runners[2]"), so that a bare "runners" finds the first entry."""
    found.setdefault(tuple(path), number)
    if any("[" in part for part in path):
        choices = [(part, part.split("[")[0]) if "[" in part else (part,) for part in path]
        for variant in itertools.product(*choices):
            found.setdefault(variant, number)


def suggest(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" Perhaps you meant '{close[0]}'?" if close else ""


def _unknown_key_hint(key: str, allowed: tuple[str, ...]) -> str:
    return suggest(key, allowed) or f" Valid keys: {', '.join(allowed)}."


def check_keys(
    table: Mapping[str, Any], allowed: tuple[str, ...], where: tuple[str, ...], problems: Problems
) -> None:
    for key in table:
        if key not in allowed:
            problems.add(where + (key,), "unknown key.", hint=functools.partial(
                _unknown_key_hint, key, allowed))


def check_choice(value: str, choices: tuple[str, ...], where: tuple[str, ...],
                  problems: Problems) -> None:
    if value and value not in choices:
        problems.add(where, f"{value!r} is not one of {', '.join(choices)}.",
                     hint=lambda: suggest(value, choices))


def typed_value(
    table: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    where: tuple[str, ...],
    problems: Problems,
    default: Any = None,
    required: bool = False,
) -> Any:
    if key not in table:
        if required:
            problems.add(where + (key,), "missing required key")
        return default
    value = table[key]
    if not _is_kind(value, kind):
        names = " or ".join(_kind_name(t) for t in _as_tuple(kind))
        problems.add(where + (key,), f"expected {names}, got {describe(value)}")
        return default
    return value


def _is_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    # bool is an int in Python: never accept true for a count
    return isinstance(value, kind) and not (isinstance(value, bool) and bool not in _as_tuple(kind))


def describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{_kind_name(type(value))} ({text})"


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def string_table(value: Any, where: tuple[str, ...], problems: Problems) -> dict[str, str]:
    if value is None:
        return {}
    result = {}
    for key, item in value.items():
        if not isinstance(item, str):
            problems.add(where + (key,), f"expected a string, got {describe(item)}")
        else:
            result[key] = item
    return result


def string_list(value: Any, where: tuple[str, ...], problems: Problems) -> list[str]:
    result = []
    for index, item in enumerate(value or []):
        if not isinstance(item, str):
            problems.add(where, f"item {index}: expected a string, got {describe(item)}")
        else:
            result.append(item)
    return result
