"""Plain text for a terminal (``nox -s repro`` prints it after a local run).

Artifact strings go through ``escape.terminal`` so control characters cannot reach the
terminal. The table is aligned like tabulate's "simple" format, without the dependency
(and without tabulate's number parsing, which would reformat a cell id such as "1e5").
"""

from __future__ import annotations

from collections.abc import Sequence

from repromatrix.floats import format_vector
from repromatrix.report.blame_text import blame_lines, tensor_figures
from repromatrix.report.compare import Aggregate, Comparison, VariantResult
from repromatrix.report.escape import terminal
from repromatrix.report.table import Table, build_table, counts, fingerprint_values, plural
from repromatrix.report.text_compact import render_compact

DEFAULT_WIDTH = 100  # columns when $COLUMNS is unknown


def render_text(agg: Aggregate, width: int = DEFAULT_WIDTH, wide: bool = False) -> str:
    """The terminal report: fitted to ``width`` columns, or the long layout with ``wide``."""
    return render_wide(agg) if wide else render_compact(agg, width)



MAX_LIST_ITEMS = 40


def simple_table(table: Table) -> str:
    from tabulate import tabulate  # deferred: only the text format needs it

    headers = [terminal(h, 80) for h in table.headers]
    rows = [[terminal(cell, 200) for cell in row] for row in table.rows]
    # disable_numparse: a cell id like "1e5" or a version like "3.10" must print as written.
    text = tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                    stralign="left")
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def _limited(items: Sequence[str]) -> list[str]:
    shown = list(items[:MAX_LIST_ITEMS])
    if len(items) > MAX_LIST_ITEMS:
        shown.append(f"... and {len(items) - MAX_LIST_ITEMS:d} more (see --format json)")
    return shown


def _comparison_lines(result: VariantResult, c: Comparison) -> list[str]:
    ref = result.groups[0].letter
    step = "-" if c.first_divergent_step is None else str(c.first_divergent_step)
    lines = [
        "  {} vs {}: first divergent step {}, max abs sum difference {}, max ULP distance {}".format(
            c.letter,
            ref,
            step,
            "-" if c.max_abs_sum_diff is None else repr(c.max_abs_sum_diff),
            "-" if c.max_ulp is None else c.max_ulp,
        ),
        "    suspects: {}; differ but unused: {}".format(terminal(", ".join(c.suspect_ops) or "-"), terminal(", ".join(c.unused_ops) or "-")),
    ]
    lines.extend("    " + terminal(line, 600) for line in blame_lines(c))
    if c.tensor_diffs:
        names = [
            f"{terminal(d.name, 100)} ({terminal(tensor_figures(d.max_ulp, d.max_abs, d.max_rel, d.units), 160)})"
            for d in c.tensor_diffs
        ]
        lines.append("    tensors whose bytes differ: " + ", ".join(_limited(names)))
    if c.fingerprint_diffs:
        lines.append(f"    fingerprint differences ({ref} | {c.letter}):")
        for diff in c.fingerprint_diffs[:MAX_LIST_ITEMS]:
            a, b = fingerprint_values(diff)
            lines.append(f"      {terminal(diff.key, 100)}: {terminal(a)} | {terminal(b)}")
        if len(c.fingerprint_diffs) > MAX_LIST_ITEMS:
            lines.append(f"      ... and {len(c.fingerprint_diffs) - MAX_LIST_ITEMS:d} more")
    return lines


def verdict_line(result: VariantResult) -> str:
    """``name (settings): summary``; the settings part only when the artifacts have them."""
    settings = result.settings_text
    return "{}{}: {}".format(
        terminal(result.name, 100),
        "" if settings is None else f" ({terminal(settings, 300)})",
        terminal(result.summary, 1000),
    )


def variant_block(result: VariantResult, agg: Aggregate) -> list[str]:
    cells = {c.cell: c for c in agg.loaded.cells}
    lines = [
        terminal(result.name, 100)
        + " (compared by {})".format({"digest": "whole-model digest", "sums": "weight sums only", "none": "nothing"}[
            result.compared_by
        ])
    ]
    for group in result.groups:
        variant = cells[group.representative].variant(result.name)
        members = ", ".join(_limited([terminal(c, 100) for c in group.cells]))
        lines.append(
            "  {}{}: {}".format(group.letter, " (reference)" if group is result.groups[0] else "", members)
        )
        lines.append(f"      before {format_vector(variant.before if variant else None)}")
        lines.append(f"      after  {format_vector(variant.after if variant else None)}")
    for comparison in result.comparisons:
        lines.extend(_comparison_lines(result, comparison))
    notes = list(result.notes) + [
        f"{c.letter}: {n}" for c in result.comparisons for n in c.notes
    ]
    notes += [f"{n.cell} not compared: {n.reason}" for n in result.not_compared]
    lines.extend("  note: " + terminal(n, 400) for n in _limited(notes))
    return lines


def failure_lines(agg: Aggregate) -> list[str]:
    lines: list[str] = []
    for cell in agg.loaded.cells:
        failures = (
            [("cell " + terminal(cell.cell, 100), cell.error)] if cell.status == "error" else []
        )
        failures += [
            (f"cell {terminal(cell.cell, 100)}, variant {terminal(v.name, 100)}", v.error)
            for v in cell.variants
            if v.status == "error"
        ]
        for title, error in failures:
            lines.append(
                "{} failed: {}".format(title, terminal(error.message if error else "no message", 500))
            )
            tail = terminal(error.log_tail if error else "", 3000, keep_newlines=True).strip("\n")
            lines.extend("  | " + line for line in tail.split("\n") if tail)
    return lines


def render_wide(agg: Aggregate) -> str:
    """The long layout (``--wide``): every column and the sums in one table."""
    head = "repromatrix: " + counts(agg)
    if agg.problems:
        head += " ({} with the input, listed below)".format(plural(len(agg.problems), "problem"))
    out = [head, ""]
    out.extend(verdict_line(v) for v in agg.variants)
    if not agg.variants:
        out.append("no variant results in any artifact")
    out.extend(["", simple_table(build_table(agg))])
    for result in agg.variants:
        if result.groups or result.not_compared:
            out.extend(variant_block(result, agg) + [""])
    if agg.problems:
        out.append("Problems with the input:")
        out.extend("  - " + terminal(p, 500) for p in _limited(agg.problems))
        out.append("")
    failures = failure_lines(agg)
    if failures:
        out.extend(["Failures:"] + failures + [""])
    return "\n".join(out).rstrip("\n") + "\n"
