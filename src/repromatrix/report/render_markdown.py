"""Markdown for PR comments and job summaries.

Layout: hidden marker (so CI can update one sticky comment), verdict lines, the cell table,
then optional sections (charts, problems, collapsible details) added while they fit under
GitHub's 65,536-character comment limit. Every artifact string goes through ``escape.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from repromatrix.floats import format_vector
from repromatrix.report import chart
from repromatrix.report.blame_text import blame_lines, tensor_figures
from repromatrix.report.compare import Aggregate, Comparison, VariantResult
from repromatrix.report.escape import md, md_html, md_pre
from repromatrix.report.grid import NONE, REFERENCE, SAME, Grid, build_grid, shared_label, varied
from repromatrix.report.table import Table, fingerprint_values, plural
from repromatrix.report.verdict import (
    headline,
    machine_pairs,
    optimizer_of,
    remedy_hint,
    shared_readings,
    verdict,
)

MARKER = "<!-- repromatrix-report -->"
MAX_CHARS = 65_536  # GitHub's limit for an issue or PR comment body
_RESERVE = 400  # room kept for the truncation notes
MAX_TENSOR_COLUMNS = 3  # variants side by side in one tensor table (wider would not fit)
MAX_LIST_ITEMS = 60  # per details list: enough to diagnose, small enough to post
_JSON_HINT = "run `repromatrix aggregate --format json` on the same artifacts for everything"


def _trusted(cell: str) -> str:
    """Our own text: vectors as code so they read exactly as printed, the rest as is."""
    return f"`{cell}`" if cell.startswith("[") else cell


def gfm_table(table: Table) -> str:
    """A GitHub table with every cell escaped (no padding: smaller, and nothing to misalign)."""
    lines = ["| " + " | ".join(md(h) for h in table.headers) + " |"]
    lines.append("|" + "|".join(" --- " for _ in table.headers) + "|")
    for row in table.rows:
        cells = [_trusted(cell) if i in table.trusted else md(cell) for i, cell in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def heading(agg: Aggregate) -> str:
    """The marker, then the answer: how many variants differ across how many cells."""
    line = "### repromatrix: " + headline(agg)
    if agg.problems:
        line += " — {} with the input, listed below".format(plural(len(agg.problems), "problem"))
    return MARKER + "\n\n" + line + "\n\n"


def verdicts(agg: Aggregate) -> str:
    """One line per variant that names the machines (cells), never group letters."""
    if not agg.variants:
        return "- no variant results in any artifact\n\n"
    lines = []
    for result in agg.variants:
        optimizer = optimizer_of(result)
        label = f"**{md(result.name)}**" + (f" ({md(optimizer)})" if optimizer else "")
        lines.append(f"- {label}: {md(verdict(agg, result), 2000)}")
    hint = remedy_hint(agg)
    return "\n".join(lines) + "\n\n" + (f"{hint}\n\n" if hint else "")


def varied_section(agg: Aggregate) -> str:
    """What was varied on purpose: the variants' settings and the cells' own environments."""
    parts = [f"{md(v.name)}: {md(v.settings_text)}" for v in agg.variants
             if v.settings_text is not None]
    parts += [md(line, 1000) for line in varied(agg)]
    return "Varied on purpose — " + "; ".join(parts) + ".\n\n" if parts else ""


LEGEND = ("`ref`: the variant's reference cells; `=`: the same weights as the reference; "
          "otherwise the first training step at which the weights differ and the root-cause op.")


def grid_table(grid: Grid, rows: int | None = None) -> str:
    """The grid as a GitHub table: artifact text escaped, our own marks as they are."""
    lines = ["| " + " | ".join(md(h) for h in grid.headers) + " |",
             "|" + "|".join(" --- " for _ in grid.headers) + "|"]
    first_mark = len(grid.headers) - grid.variant_columns
    for row in grid.rows[:rows]:
        # our own marks as they are; "-" too (a table cell parses no list marker)
        cells = [cell if (i >= first_mark and cell in (SAME, REFERENCE)) or cell == NONE
                 else md(cell) for i, cell in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fit_table(agg: Aggregate, budget: int) -> str:
    """The shared line, the grid and its legend; the first rows only if it would not fit."""
    grid = build_grid(agg)
    shared = ""
    if grid.shared:
        shared = shared_label(agg) + ": " + ", ".join(f"{md(k)} {md(v)}" for k, v in grid.shared) + ".\n\n"
    legend = "\n" + LEGEND + "\n"
    text = shared + grid_table(grid) + legend
    if len(text) <= budget:
        return text
    kept = len(grid.rows)
    while kept > 0 and len(text) + 300 > budget:
        kept = kept * 9 // 10
        text = shared + grid_table(grid, kept) + legend
    return text + (f"\n_Only the first {kept:d} of {len(grid.rows):d} rows fit in a comment; "
                   f"{_JSON_HINT}._\n")


def _pair_name(result: VariantResult, comparison: Comparison) -> str:
    """Raw: the two representatives, e.g. "lab-qemu-haswell vs lab-native"."""
    return f"{comparison.representative} vs {result.groups[0].representative}"


def chart_section(result: VariantResult) -> str:
    block = chart.mermaid(result)
    if block is None:
        if result.diverges:
            return (
                f"_{md(result.name)}: the artifacts have no per-step trail, so there is no "
                "divergence chart._\n\n"
            )
        return ""
    colours = "; ".join(
        f"{md(_pair_name(result, c))}: {chart.COLOUR_NAMES[i % len(chart.COLOUR_NAMES)]}"
        for i, c in enumerate(c for c in result.comparisons if c.series is not None))
    return (
        f"**{md(result.name)}**: log10 of |difference of the weight sums| per training step "
        f"({colours}). {chart.floor_note(result)}\n\n{block}\n\n"
    )


def _bullets(items: Sequence[str]) -> str:
    shown = ["- " + md(item, 500) for item in items[:MAX_LIST_ITEMS]]
    if len(items) > MAX_LIST_ITEMS:
        shown.append(f"- ... and {len(items) - MAX_LIST_ITEMS:d} more; {_JSON_HINT}")
    return "\n".join(shown) + "\n"


def problems_section(agg: Aggregate) -> str:
    if not agg.problems:
        return ""
    return (
        "**Problems with the input** (rejected and ignored files and failed cells are also rows "
        "of the grid):\n\n" + _bullets(agg.problems) + "\n"
    )


def _details(summary: str, body: str) -> str:
    """A collapsible block; ``summary`` must already be escaped."""
    return "<details>\n<summary>{}</summary>\n\n{}\n</details>\n\n".format(
        summary,
        body.rstrip("\n") + "\n",
    )


def _num(value: float | None) -> str:
    """3 significant digits (the JSON report has every digit)."""
    return "-" if value is None else f"{value:.3g}"


def _ops(ops: Sequence[str]) -> str:
    return ", ".join(ops) if ops else "-"


def groups_body(result: VariantResult, agg: Aggregate) -> str:
    """One variant's groups with their weight sums and figures, and its notes (no blame: the
    pair details say that once)."""
    cells = {c.cell: c for c in agg.loaded.cells}
    rows = ["| group | cells | before training | after training |", "| --- | --- | --- | --- |"]
    for group in result.groups:
        variant = cells[group.representative].variant(result.name)
        before = format_vector(variant.before) if variant else "-"
        after = format_vector(variant.after) if variant else "-"
        members = ", ".join(group.cells[:MAX_LIST_ITEMS]) + (
            " ..." if len(group.cells) > MAX_LIST_ITEMS else ""
        )
        rows.append(
            "| {}{} | {} | `{}` | `{}` |".format(
                group.letter,
                " (reference)" if group is result.groups[0] else "",
                md(members, 2000),
                before,
                after,
            )
        )
    body = f"**{md(result.name)}**\n\n" + "\n".join(rows) + "\n"
    if result.comparisons:
        body += (
            "\n| group | first divergent step | max abs sum difference | max ULP distance "
            "| suspects | differ but unused |\n"
        )
        body += "| --- | --- | --- | --- | --- | --- |\n"
        for c in result.comparisons:
            body += "| {} vs {} | {} | {} | {} | {} | {} |\n".format(
                c.letter,
                result.groups[0].letter,
                "-" if c.first_divergent_step is None else c.first_divergent_step,
                _num(c.max_abs_sum_diff),
                "-" if c.max_ulp is None else c.max_ulp,
                md(_ops(c.suspect_ops)) if c.suspect_ops else "-",
                md(_ops(c.unused_ops)) if c.unused_ops else "-",
            )
    notes = list(result.notes) + [
        f"{c.letter} vs {result.groups[0].letter}: {n}"
        for c in result.comparisons
        for n in c.notes
    ]
    notes += [f"{n.cell} not compared: {n.reason}" for n in result.not_compared]
    if notes:
        body += "\nNotes:\n\n" + _bullets(notes)
    return body


def groups_details(agg: Aggregate) -> str:
    """Every variant's groups and weight sums in one block."""
    bodies = [groups_body(result, agg) for result in agg.variants if result.groups]
    if not bodies:
        return ""
    intro = ("Sums are float32, one per weight array (kernel, bias per layer), from each group's "
             "representative cell (the first named unless the reference was chosen).\n\n")
    return _details("Weight sums by variant and group", intro + "\n".join(bodies))


def _tensor_rows(comparison: Comparison) -> str:
    rows = ["| tensor | max ULP distance (largest abs, rel difference) |", "| --- | --- |"]
    for diff in comparison.tensor_diffs[:MAX_LIST_ITEMS]:
        rows.append("| {} | {} |".format(md(diff.name), md(tensor_figures(
            diff.max_ulp, diff.max_abs, diff.max_rel, diff.units))))
    if len(comparison.tensor_diffs) > MAX_LIST_ITEMS:
        rows.append(f"| ... {len(comparison.tensor_diffs) - MAX_LIST_ITEMS:d} more | |")
    return "\n".join(rows) + "\n"


def _tensor_table(found: list[tuple[VariantResult, Comparison]]) -> str:
    """The tensors whose bytes differ, one column per variant of the pair (one table, not one
    per variant): max ULP distance, largest absolute and relative difference."""
    with_diffs = [(r, c) for r, c in found if c.tensor_diffs]
    if not with_diffs:
        return ""
    if len(with_diffs) == 1:
        return "Tensors whose bytes differ:\n\n" + _tensor_rows(with_diffs[0][1]) + "\n"
    if len(with_diffs) > MAX_TENSOR_COLUMNS:  # a table per variant rather than a wide one
        return "".join(f"{md(r.name)}, tensors whose bytes differ:\n\n" + _tensor_rows(c) + "\n"
                       for r, c in with_diffs)
    names: list[str] = []
    for _, comparison in with_diffs:
        names += [d.name for d in comparison.tensor_diffs if d.name not in names]
    shown = names[:MAX_LIST_ITEMS]
    rows = ["| tensor | " + " | ".join(md(r.name) for r, _ in with_diffs) + " |",
            "|" + "|".join(" --- " for _ in range(len(with_diffs) + 1)) + "|"]
    for name in shown:
        cells = []
        for _, comparison in with_diffs:
            diff = next((d for d in comparison.tensor_diffs if d.name == name), None)
            cells.append("same" if diff is None else md(tensor_figures(
                diff.max_ulp, diff.max_abs, diff.max_rel, diff.units)))
        rows.append(f"| {md(name)} | " + " | ".join(cells) + " |")
    if len(names) > MAX_LIST_ITEMS:
        rows.append(f"| ... {len(names) - MAX_LIST_ITEMS:d} more |" + " |" * len(with_diffs))
    return ("Tensors whose bytes differ (max ULP distance, largest abs and rel difference):\n\n"
            + "\n".join(rows) + "\n\n")


def _fingerprint_rows(result: VariantResult, comparison: Comparison) -> str:
    ref = result.groups[0]
    rows = [f"| key | {md(ref.representative)} | {md(comparison.representative)} |",
            "| --- | --- | --- |"]
    for diff in comparison.fingerprint_diffs[:MAX_LIST_ITEMS]:
        a, b = fingerprint_values(diff)
        rows.append(f"| {md(diff.key)} | {md(a, 400)} | {md(b, 400)} |")
    if len(comparison.fingerprint_diffs) > MAX_LIST_ITEMS:
        rows.append(f"| ... {len(comparison.fingerprint_diffs) - MAX_LIST_ITEMS:d} more | | |")
    return "\n".join(rows) + "\n"


def pair_details(agg: Aggregate) -> list[str]:
    """One block per pair of machines compared (other representative vs reference
    representative), whichever variants compared them: each finding said once."""
    out = []
    for other, reference, found in machine_pairs(agg):
        where = ", ".join(
            f"{r.name} " + ("from step " + str(c.first_divergent_step)
                            if c.first_divergent_step is not None else "in the final weights")
            for r, c in found)
        body = "".join(f"**{md(names_)}**: {md(reading, 1000)}\n\n"
                       for names_, reading in shared_readings(found))
        body += _tensor_table(found)
        first = found[0][1]
        causes = [line for line in blame_lines(first) if not line.startswith("root cause")]
        if causes:
            body += md(causes[0], 1000) + "\n\n"
        if first.fingerprint_diffs:
            body += ("Fingerprint keys that differ (for lists, the items only one side has):"
                     "\n\n" + _fingerprint_rows(found[0][0], first))
        summary = f"{md_html(other)} vs {md_html(reference)}: {md_html(where, 1000)}"
        out.append(_details(summary, body))
    return out


def failure_details(agg: Aggregate) -> list[str]:
    out = []
    for cell in agg.loaded.cells:
        failures = []
        if cell.status == "error":
            failures.append((f"cell {md_html(cell.cell)} failed", cell.error))
        for variant in cell.variants:
            if variant.status == "error":
                failures.append(
                    (
                        f"cell {md_html(cell.cell)}, variant {md_html(variant.name)} failed",
                        variant.error,
                    )
                )
        for title, error in failures:
            message = error.message if error else "no error message in the artifact"
            log_tail = error.log_tail if error else ""
            body = "Message: {}\n\n<pre>\n{}\n</pre>\n".format(
                md(message, 1000),
                md_pre(log_tail or "(no log tail)"),
            )
            out.append(_details(f"{title}: {md_html(message, 200)}", body))
    return out


def optional_sections(agg: Aggregate) -> list[str]:
    """In order of importance: problems, charts, then the collapsible details."""
    sections = [problems_section(agg)]
    sections += [chart_section(v) for v in agg.variants]
    sections += pair_details(agg)
    sections.append(groups_details(agg))
    sections.extend(failure_details(agg))
    return [s for s in sections if s]


def render_markdown(agg: Aggregate, limit: int = MAX_CHARS) -> str:
    head = heading(agg) + verdicts(agg) + varied_section(agg)
    out = head + _fit_table(agg, limit - len(head) - _RESERVE) + "\n"
    sections = optional_sections(agg)
    for index, section in enumerate(sections):
        if len(out) + len(section) + _RESERVE > limit:
            left = len(sections) - index
            out += (f"_{left:d} more section{'' if left == 1 else 's'} left out to stay under the "
                    f"comment size limit; {_JSON_HINT}._\n")
            break
        out += section
    return out.rstrip("\n") + "\n"
