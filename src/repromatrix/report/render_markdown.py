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
from repromatrix.report.escape import md, md_pre
from repromatrix.report.table import Table, build_table, counts, fingerprint_values, plural

MARKER = "<!-- repromatrix-report -->"
MAX_CHARS = 65_536  # GitHub's limit for an issue or PR comment body
_RESERVE = 400  # room kept for the truncation notes
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
    line = "### repromatrix: " + counts(agg)
    if agg.problems:
        line += " — {} with the input, listed below".format(plural(len(agg.problems), "problem"))
    return MARKER + "\n\n" + line + "\n\n"


def verdicts(agg: Aggregate) -> str:
    if not agg.variants:
        return "- no variant results in any artifact\n\n"
    lines = [
        "- **{}**{}: {}".format(
            md(v.name),
            "" if v.settings_text is None else f" ({md(v.settings_text)})",
            md(v.summary),
        )
        for v in agg.variants
    ]
    return "\n".join(lines) + "\n\n"


def _fit_table(agg: Aggregate, budget: int) -> str:
    """The full table, else without the sums columns, else (last resort) the first rows only."""
    full = gfm_table(build_table(agg))
    if len(full) <= budget:
        return full
    compact = build_table(agg, with_sums=False)
    text = gfm_table(compact)
    note = (
        "\n_Weight sums left out of the table to stay under the comment size limit; "
        "they are in the details._\n"
    )
    if len(text) + len(note) <= budget:
        return text + note
    kept = len(compact.rows)
    while kept > 0 and len(text) + 300 > budget:
        kept = kept * 9 // 10
        text = gfm_table(Table(compact.headers, compact.rows[:kept], compact.trusted))
    return text + (
        f"\n_Only the first {kept:d} of {len(compact.rows):d} rows, without the weight sums, fit "
        f"in a comment; {_JSON_HINT}._\n"
    )


def chart_section(result: VariantResult) -> str:
    block = chart.mermaid(result)
    if block is None:
        if result.diverges:
            return (
                f"_{md(result.name)}: the artifacts have no per-step trail, so there is no "
                "divergence chart._\n\n"
            )
        return ""
    return (
        f"**{md(result.name)}**: log10 of |weight sum of {result.groups[0].letter} - weight sum of "
        "the other group| per training step "
        f"({chart.legend(result)}). Steps with equal weights and differences below 1e-16 are drawn "
        f"at -16.\n\n{block}\n\n"
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
        "**Problems with the input** (these files or cells are marked in the table):\n\n"
        + _bullets(agg.problems)
        + "\n"
    )


def _details(summary: str, body: str) -> str:
    """A collapsible block; ``summary`` must already be escaped."""
    return "<details>\n<summary>{}</summary>\n\n{}\n</details>\n\n".format(
        summary,
        body.rstrip("\n") + "\n",
    )


def _num(value: float | None) -> str:
    return "-" if value is None else repr(value)


def _ops(ops: Sequence[str]) -> str:
    return ", ".join(ops) if ops else "-"


def groups_details(result: VariantResult, agg: Aggregate) -> str:
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
    representatives = ", ".join(f"{g.letter}: {md(g.representative)}" for g in result.groups)
    body = (
        "\n".join(rows) + "\n\nSums are float32, one per weight array (kernel, bias per layer), "
        f"from the group's representative cell {representatives}.\n"
    )
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
                md(_ops(c.suspect_ops)),
                md(_ops(c.unused_ops)),
            )
    blame = [
        f"{c.letter} vs {result.groups[0].letter}: {line}"
        for c in result.comparisons
        for line in blame_lines(c)
    ]
    if blame:
        body += "\n" + _bullets(blame)
    notes = list(result.notes) + [
        f"{c.letter} vs {result.groups[0].letter}: {n}"
        for c in result.comparisons
        for n in c.notes
    ]
    notes += [f"{n.cell} not compared: {n.reason}" for n in result.not_compared]
    if notes:
        body += "\nNotes:\n\n" + _bullets(notes)
    return _details(f"{md(result.name)}: groups, weight sums and differences", body)


def tensor_details(result: VariantResult, comparison: Comparison) -> str:
    if not comparison.tensor_diffs:
        return ""
    rows = ["| tensor | max ULP distance (largest abs, rel difference) |", "| --- | --- |"]
    for diff in comparison.tensor_diffs[:MAX_LIST_ITEMS]:
        rows.append("| {} | {} |".format(md(diff.name), md(tensor_figures(
            diff.max_ulp, diff.max_abs, diff.max_rel, diff.units))))
    if len(comparison.tensor_diffs) > MAX_LIST_ITEMS:
        rows.append(f"| ... {len(comparison.tensor_diffs) - MAX_LIST_ITEMS:d} more | |")
    summary = "{}: {} vs {}, {} whose bytes differ".format(
        md(result.name),
        comparison.letter,
        result.groups[0].letter,
        plural(len(comparison.tensor_diffs), "tensor"),
    )
    return _details(summary, "\n".join(rows))


def fingerprint_details(result: VariantResult, comparison: Comparison) -> str:
    if not comparison.fingerprint_diffs:
        return ""
    ref = result.groups[0]
    rows = [
        f"| key | {ref.letter} ({md(ref.representative)}) | {comparison.letter} "
        f"({md(comparison.representative)}) |",
        "| --- | --- | --- |",
    ]
    for diff in comparison.fingerprint_diffs[:MAX_LIST_ITEMS]:
        a, b = fingerprint_values(diff)
        rows.append(f"| {md(diff.key)} | {md(a, 400)} | {md(b, 400)} |")
    if len(comparison.fingerprint_diffs) > MAX_LIST_ITEMS:
        rows.append(f"| ... {len(comparison.fingerprint_diffs) - MAX_LIST_ITEMS:d} more | | |")
    summary = "{}: {} vs {}, {} that differ".format(
        md(result.name),
        comparison.letter,
        ref.letter,
        plural(len(comparison.fingerprint_diffs), "fingerprint key"),
    )
    return _details(summary, "\n".join(rows))


def failure_details(agg: Aggregate) -> list[str]:
    out = []
    for cell in agg.loaded.cells:
        failures = []
        if cell.status == "error":
            failures.append((f"cell {md(cell.cell)} failed", cell.error))
        for variant in cell.variants:
            if variant.status == "error":
                failures.append(
                    (
                        f"cell {md(cell.cell)}, variant {md(variant.name)} failed",
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
            out.append(_details(f"{title}: {md(message, 200)}", body))
    return out


def optional_sections(agg: Aggregate) -> list[str]:
    """In order of importance: charts, problems, then the collapsible details."""
    sections = [chart_section(v) for v in agg.variants]
    sections.append(problems_section(agg))
    for result in agg.variants:
        sections.append(groups_details(result, agg) if result.groups else "")
        for comparison in result.comparisons:
            sections.append(tensor_details(result, comparison))
            sections.append(fingerprint_details(result, comparison))
    sections.extend(failure_details(agg))
    return [s for s in sections if s]


def render_markdown(agg: Aggregate, limit: int = MAX_CHARS) -> str:
    head = heading(agg) + verdicts(agg)
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
