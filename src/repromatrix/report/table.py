"""The per-cell table shared by the text and markdown renderers, as raw (unescaped) strings.

Each renderer escapes every cell for its own medium; keeping the content in one place
guarantees the terminal table and the PR comment say the same thing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from repromatrix.floats import format_vector
from repromatrix.report.compare import Aggregate, FingerprintDiff, VariantResult
from repromatrix.report.model import CellRecord, leaf_text

NONE = "-"
FIXED_HEADERS = ("cell", "runner", "OS", "arch", "CPU", "Python", "drift", "emulated", "status")


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    # Columns whose cells are only our own text (group letters, formatted sums): the markdown
    # renderer shows them as code instead of entity-escaping every bracket.
    trusted: frozenset[int] = frozenset()


def cell_status(cell: CellRecord, with_problems: str = "ok, with problems") -> str:
    """A cell's status column; ``with_problems``: the words for a cell whose input has problems
    (the grid adds where they are listed)."""
    if cell.status == "error":
        return "FAILED"
    if cell.problems:
        return with_problems
    return "sums only" if cell.kind == "sums" else "ok"


def _variant_columns(cell: CellRecord, result: VariantResult, ignored: bool) -> tuple[str, str]:
    """(group letter or why there is none, after-training sums)."""
    variant = cell.variant(result.name)
    sums = (
        format_vector(variant.after) if variant is not None and variant.after is not None else NONE
    )
    if ignored:
        return NONE, sums
    letter = result.letter_of(cell.cell)
    if letter is not None:
        return (
            letter + " (ref)" if letter == result.groups[0].letter and result.diverges else letter
        ), sums
    if variant is None:
        return "absent", sums
    if variant.status == "error":
        return "FAILED", sums
    return "not compared", sums


def _cell_row(cell: CellRecord, agg: Aggregate, status: str, ignored: bool) -> tuple[str, ...]:
    row = [
        cell.cell,
        cell.runner_label or NONE,
        cell.os or NONE,
        cell.arch or NONE,
        cell.cpu or NONE,
        cell.python or NONE,
        ("yes: " + "; ".join(cell.drift)) if cell.drift else "no",
        cell.emulated or "no",
        status,
    ]
    for result in agg.variants:
        row.extend(_variant_columns(cell, result, ignored))
    return tuple(row)


def build_table(agg: Aggregate, with_sums: bool = True) -> Table:
    """Rows: every kept cell (by id), then ignored duplicates, then files that were rejected."""
    headers: list[str] = list(FIXED_HEADERS)
    for result in agg.variants:
        headers.extend((result.name, result.name + " after sums"))
    rows = [_cell_row(cell, agg, cell_status(cell), ignored=False) for cell in agg.loaded.cells]
    for duplicate in agg.loaded.duplicates:
        rows.append(_cell_row(duplicate.cell, agg, "IGNORED: duplicate id", ignored=True))
    width = len(headers)
    for rejected in agg.loaded.rejected:
        name = os.path.basename(rejected.source)
        rows.append(
            tuple([name] + [NONE] * 7 + ["REJECTED: " + rejected.reason] + [NONE] * (width - 9))
        )
    keep = [
        i
        for i in range(width)
        if with_sums or i < len(FIXED_HEADERS) or (i - len(FIXED_HEADERS)) % 2 == 0
    ]
    trusted = frozenset(new for new, old in enumerate(keep) if old >= len(FIXED_HEADERS))
    return Table(
        tuple(headers[i] for i in keep),
        tuple(tuple(row[i] for i in keep) for row in rows),
        trusted,
    )


def plural(count: int, word: str) -> str:
    return f"{count:d} {word}{'' if count == 1 else 's'}"


def counts(agg: Aggregate) -> str:
    """The report's headline: "3 cells, 2 variants"."""
    return "{}, {}".format(plural(len(agg.loaded.cells), "cell"), plural(len(agg.variants), "variant"))


def fingerprint_values(diff: FingerprintDiff) -> tuple[str, str]:
    """Display text for both sides; for lists (e.g. CPU flags) only what the other side lacks."""
    a, b = diff.reference, diff.other
    if isinstance(a, tuple) and isinstance(b, tuple):
        only_a, only_b = tuple(sorted(set(a) - set(b))), tuple(sorted(set(b) - set(a)))
        return (
            "only here: " + leaf_text(only_a) if only_a else "(no extra items)",
            "only here: " + leaf_text(only_b) if only_b else "(no extra items)",
        )
    return ("(absent)" if a is None else leaf_text(a)), ("(absent)" if b is None else leaf_text(b))
