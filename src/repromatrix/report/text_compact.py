"""The terminal report fitted to a width: verdicts first, the grid, then details by pair.

Every line fits ``width`` columns (``$COLUMNS``, 100 when unknown): prose is wrapped, the grid's
widest machine column is shortened when the grid would not fit. Artifact strings go through
``escape.terminal``. ``render_text.render_wide`` keeps the long one-table layout (``--wide``).
"""

from __future__ import annotations

import textwrap

from repromatrix.floats import format_vector
from repromatrix.report.blame_text import blame_lines, tensor_figures
from repromatrix.report.compare import Aggregate
from repromatrix.report.escape import terminal
from repromatrix.report.grid import Grid, build_grid, shared_label, varied
from repromatrix.report.table import fingerprint_values, plural
from repromatrix.report.verdict import (
    headline,
    machine_pairs,
    optimizer_of,
    remedy_hint,
    shared_readings,
    verdict,
)

MIN_WIDTH = 40
MAX_LIST_ITEMS = 40
LEGEND = ("ref: the variant's reference cells; =: the same weights as the reference; otherwise "
          "the first training step at which the weights differ and the root-cause op.")


def wrap(text: str, width: int, indent: str = "", first: str | None = None) -> list[str]:
    """``text`` wrapped to ``width``; long words (ids, vectors) are broken rather than overflow."""
    return textwrap.wrap(text, width, initial_indent=indent if first is None else first,
                         subsequent_indent=indent, break_on_hyphens=False) or [""]


def _shorten(value: str, size: int) -> str:
    return value if len(value) <= size else value[:max(1, size - 1)] + "…"


def grid_lines(grid: Grid, width: int) -> list[str]:
    """The grid aligned like tabulate's "simple" format, narrowed until it fits ``width``."""
    headers = [terminal(h, 80) for h in grid.headers]
    rows = [[terminal(c, 200) for c in row] for row in grid.rows]
    limit = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def lay_out() -> list[str]:
        sizes = [max(len(_shorten(h, limit[i])), *(len(_shorten(r[i], limit[i])) for r in rows))
                 if rows else len(h) for i, h in enumerate(headers)]
        def line(cells: list[str]) -> str:
            return "  ".join(_shorten(c, limit[i]).ljust(sizes[i])
                             for i, c in enumerate(cells)).rstrip()
        return [line(headers), "  ".join("-" * s for s in sizes)] + [line(r) for r in rows]

    # Machine columns give way first (widest first), then the variant columns; the cell id last.
    first_mark = len(headers) - grid.variant_columns
    tiers = [range(1, first_mark), range(first_mark, len(headers)), range(0, 1)]
    lines = lay_out()
    for tier in tiers:
        while max(len(line) for line in lines) > width:
            candidates = [i for i in tier if limit[i] > 8]
            if not candidates:
                break
            limit[max(candidates, key=lambda i: limit[i])] -= 1
            lines = lay_out()
    return lines


def _pair_lines(agg: Aggregate, width: int) -> list[str]:
    out: list[str] = []
    for other, reference, found in machine_pairs(agg):
        out.append(terminal(f"{other} vs {reference}:", 300))
        for names_, reading in shared_readings(found):
            out += wrap(terminal(f"{names_}: {reading}", 1200), width, "      ", "  - ")
        for result, comparison in found:
            if comparison.tensor_diffs:
                names = [f"{d.name} ({tensor_figures(d.max_ulp, d.max_abs, d.max_rel, d.units)})"
                         for d in comparison.tensor_diffs[:MAX_LIST_ITEMS]]
                out += wrap(terminal(f"{result.name}, tensors that differ: " + ", ".join(names),
                                     4000), width, "      ", "    ")
        first = found[0][1]
        causes = [line for line in blame_lines(first) if not line.startswith("root cause")]
        out += [line for cause in causes for line in wrap(terminal(cause, 1000), width, "    ",
                                                          "  ")]
        if first.fingerprint_diffs:
            out.append(terminal(f"  fingerprint ({reference} | {other}):", 300))
            for diff in first.fingerprint_diffs[:MAX_LIST_ITEMS]:
                a, b = fingerprint_values(diff)
                out += wrap(terminal(f"{diff.key}: {a} | {b}", 800), width, "        ", "    ")
            if len(first.fingerprint_diffs) > MAX_LIST_ITEMS:
                out.append(f"    ... and {len(first.fingerprint_diffs) - MAX_LIST_ITEMS:d} more")
        out.append("")
    return out


def _sums_lines(agg: Aggregate, width: int) -> list[str]:
    cells = {c.cell: c for c in agg.loaded.cells}
    out: list[str] = []
    for result in agg.variants:
        if not result.groups:
            continue
        out.append(terminal(result.name, 100) + ": weight sums (float32, one per weight array)")
        for group in result.groups:
            variant = cells[group.representative].variant(result.name)
            members = ", ".join(group.cells[:MAX_LIST_ITEMS])
            out += wrap(terminal(members, 2000), width, "      ", f"  {group.letter}: ")
            for when, sums in (("before", variant.before if variant else None),
                               ("after ", variant.after if variant else None)):
                out += wrap(f"{when} {format_vector(sums)}", width, "             ", "      ")
        notes = list(result.notes) + [f"{c.representative}: {n}" for c in result.comparisons
                                      for n in c.notes]
        notes += [f"{n.cell} not compared: {n.reason}" for n in result.not_compared]
        for note in notes[:MAX_LIST_ITEMS]:
            out += wrap(terminal(note, 400), width, "        ", "  note: ")
    return out


def _failure_lines(agg: Aggregate, width: int) -> list[str]:
    lines: list[str] = []
    for cell in agg.loaded.cells:
        failures = [("cell " + cell.cell, cell.error)] if cell.status == "error" else []
        failures += [(f"cell {cell.cell}, variant {v.name}", v.error) for v in cell.variants
                     if v.status == "error"]
        for title, error in failures:
            message = error.message if error else "no message"
            lines += wrap(terminal(f"{title} failed: {message}", 700), width, "  ")
            tail = terminal(error.log_tail if error else "", 3000, keep_newlines=True).strip("\n")
            lines += ["  | " + line[:max(1, width - 4)] for line in tail.split("\n") if tail]
    return lines


def render_compact(agg: Aggregate, width: int) -> str:
    width = max(MIN_WIDTH, width)
    head = "repromatrix: " + headline(agg)
    if agg.problems:
        head += " ({} with the input, listed below)".format(plural(len(agg.problems), "problem"))
    out = wrap(terminal(head, 400), width, "  ", "") + [""]
    for result in agg.variants:
        optimizer = optimizer_of(result)
        label = result.name + (f" ({optimizer})" if optimizer else "")
        out += wrap(terminal(f"{label}: {verdict(agg, result)}", 3000), width, "    ", "  ")
    if not agg.variants:
        out.append("no variant results in any artifact")
    hint = remedy_hint(agg)
    if hint:
        out += [""] + wrap(hint, width, "  ", "")
    parts = [f"{v.name}: {v.settings_text}" for v in agg.variants if v.settings_text is not None]
    parts += varied(agg)
    if parts:
        out += [""] + wrap(terminal("Varied on purpose: " + "; ".join(parts), 2000), width, "  ", "")
    grid = build_grid(agg)
    if grid.shared:
        shared = shared_label(agg) + ": " + ", ".join(f"{k} {v}" for k, v in grid.shared)
        out += [""] + wrap(terminal(shared, 2000), width, "  ", "")
    out += [""] + grid_lines(grid, width) + wrap(LEGEND, width) + [""]
    if agg.problems:
        out.append("Problems with the input:")
        for problem in agg.problems[:MAX_LIST_ITEMS]:
            out += wrap(terminal(problem, 500), width, "    ", "  - ")
        if len(agg.problems) > MAX_LIST_ITEMS:
            out.append(f"  ... and {len(agg.problems) - MAX_LIST_ITEMS:d} more (see --format json)")
        out.append("")
    out += _pair_lines(agg, width)
    out += _sums_lines(agg, width) + [""]
    failures = _failure_lines(agg, width)
    if failures:
        out += ["Failures:"] + failures + [""]
    return "\n".join(line.rstrip() for line in out).rstrip("\n") + "\n"
