"""Collecting every problem of a TOML file with the line it is on, and checking values.

tomllib keeps no positions, so problems are located by scanning the text for the key. Used by
the matrix loader; generic enough for any TOML configuration.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from repromatrix.errors import ConfigError

_KIND_NAMES = {str: "a string", int: "an integer", bool: "a boolean", float: "a float",
               dict: "a table", list: "an array"}


def _kind_name(kind: type) -> str:
    return _KIND_NAMES.get(kind, kind.__name__)


class Problems:
    """Collects problems with the line they are on, so all are reported together."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.items: list[tuple[int, str]] = []

    def add(self, where: tuple[str, ...], message: str) -> None:
        line = self.line(where)
        name = ".".join(where) if where else "(top level)"
        self.items.append((line, f"{self.path}:{line}: {name}: {message}"))

    def line(self, where: tuple[str, ...]) -> int:
        return _line_of(self.lines, where)

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError([message for _, message in sorted(self.items)])


def _line_of(lines: list[str], where: tuple[str, ...]) -> int:
    """Best-effort line number of a dotted key: the key's own line, else its nearest table header.

    tomllib keeps no positions, so this scans the text, following ``[table]`` headers.
    Entries of arrays of tables are addressed as ``runners[2]``, as in the messages; a bare
    ``runners`` finds the first ``[[runners]]``.
    """
    wanted = [part for item in where for part in item.split(".")]
    table: list[str] = []
    counts: dict[str, int] = {}
    best, best_depth = 1, 0
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        header = re.match(r"^(\[\[?)\s*([^\]]+?)\s*\]", line)
        if header:
            name = header.group(2).replace('"', "").replace("'", "")
            table = [part.strip() for part in name.split(".")]
            if header.group(1) == "[[":
                counts[name] = counts.get(name, 0) + 1
                table[-1] = f"{table[-1]}[{counts[name] - 1}]"
            depth = _common_prefix(table, wanted)
            if depth == len(table) and depth > best_depth:
                best, best_depth = number, depth
            continue
        key = re.match(r"""^["']?([A-Za-z0-9_-]+)["']?\s*=""", line)
        if key and _common_prefix(table + [key.group(1)], wanted) == len(table) + 1:
            depth = len(table) + 1
            if depth == len(wanted):
                return number
            if depth > best_depth:  # an inline table holding the key
                best, best_depth = number, depth
    return best


def _common_prefix(have: list[str], wanted: list[str]) -> int:
    count = 0
    for part, want in zip(have, wanted):
        # "runners" (no index) stands for any "[[runners]]" entry
        if part != want and not ("[" not in want and part.split("[")[0] == want):
            break
        count += 1
    return count


def suggest(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" Perhaps you meant '{close[0]}'?" if close else ""


def check_keys(
    table: Mapping[str, Any], allowed: tuple[str, ...], where: tuple[str, ...], problems: Problems
) -> None:
    for key in table:
        if key not in allowed:
            hint = suggest(key, allowed) or f" Valid keys: {', '.join(allowed)}."
            problems.add(where + (key,), f"unknown key.{hint}")


def check_choice(value: str, choices: tuple[str, ...], where: tuple[str, ...],
                  problems: Problems) -> None:
    if value and value not in choices:
        problems.add(where, f"{value!r} is not one of {', '.join(choices)}.{suggest(value, choices)}")


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
