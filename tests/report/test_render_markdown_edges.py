"""report/render_markdown.py at its edges: what the PR comment says when something is missing
(no variants, no settings, no per-step trail, no tensor differences, no error message or log
tail), where each list stops (60 items, then "... N more"), how much of each untrusted string
is shown (400, 500, 1000, 200 and 2000 characters), how the cell table is shrunk to fit its
budget (full table, then without the sums columns, then only the first rows), and which
sections fit under the comment limit with its 400-character reserve, each at the exact budget
and one below (found as mutmut survivors:
`nox -s mutants -- 'repromatrix.report.render_markdown.*'`).

The aggregate comes from real artifacts; only the fields under test are replaced.
"""

from __future__ import annotations

import dataclasses
import json
import types
from pathlib import Path
from typing import Any

import pytest

from repromatrix.report import aggregate
from repromatrix.report import render_markdown as rm
from repromatrix.report.compare import Aggregate, FingerprintDiff, VariantResult
from repromatrix.report.render_markdown import (
    _fit_table,
    chart_section,
    failure_details,
    fingerprint_details,
    groups_details,
    heading,
    optional_sections,
    problems_section,
    render_markdown,
    tensor_details,
    verdicts,
)
from repromatrix.report.table import Table, build_table

HINT = "run `repromatrix aggregate --format json` on the same artifacts for everything"
SUMS_NOTE = (
    "\n_Weight sums left out of the table to stay under the comment size limit; "
    "they are in the details._\n"
)

Art = types.SimpleNamespace  # the `art` fixture of tests/report/conftest.py


def _cut(kept: str, more: int) -> str:
    """How ``md`` shows a string cut after ``kept``: the count's parentheses as entities."""
    return kept + f"…&#40;+{more:d} chars&#41;"


def _rows_note(kept: int, total: int) -> str:
    return (f"\n_Only the first {kept:d} of {total:d} rows, without the weight sums, fit in a "
            f"comment; {HINT}._\n")


def _two_groups(art: Art, tmp_path: Path) -> Aggregate:
    return aggregate(art.write(tmp_path, art.two_group_docs()))


def _default_optimizer(agg: Aggregate) -> VariantResult:
    """The diverging variant (B vs A) of the two-group artifacts."""
    result = agg.variants[1]
    assert result.name == "default-optimizer" and len(result.comparisons) == 1
    return result


def _adam(agg: Aggregate) -> VariantResult:
    result = agg.variants[0]
    assert result.name == "adam" and len(result.groups) == 1
    return result


# --- verdict lines -------------------------------------------------------------------------


def test_no_variant_results_line(art: Art, tmp_path: Path) -> None:
    agg = aggregate(art.write(tmp_path, [art.cell("empty-1", {}), art.cell("empty-2", {})]))
    assert agg.variants == ()
    assert verdicts(agg) == "- no variant results in any artifact\n\n"
    assert "\n\n- no variant results in any artifact\n\n| cell |" in render_markdown(agg)


def test_sums_only_variant_has_no_settings_suffix_and_no_chart(art: Art, tmp_path: Path) -> None:
    # Sums-only artifacts carry neither settings nor a per-step trail: the verdict line has
    # no "(...)" part, and a diverging variant says why there is no chart.
    docs = [art.sums_cell("win-amd", art.AFTER_AMD),
            art.sums_cell("win-intel", art.AFTER_INTEL, vendor="GenuineIntel")]
    agg = aggregate(art.write(tmp_path, docs))
    (result,) = agg.variants
    assert result.settings_text is None and result.diverges
    assert verdicts(agg) == f"- **default-optimizer**: {result.summary}\n\n"
    assert chart_section(result) == (
        "_default-optimizer: the artifacts have no per-step trail, so there is no divergence "
        "chart._\n\n"
    )
    out = render_markdown(agg)
    assert f"\n- **default-optimizer**: {result.summary}\n" in out
    assert "\n_default-optimizer: the artifacts have no per-step trail" in out


def test_settings_suffix_when_known(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    assert verdicts(agg).startswith(
        "- **adam** (optimizer default): bit-identical on all 3 cells\n"
    )


# --- the cell table under a budget ---------------------------------------------------------


@pytest.fixture()
def many(art: Art, tmp_path: Path) -> Aggregate:
    """20 cells, the last one in a second group (so the first rows read "A (ref)"): 20 table
    rows, each long enough that two rows outweigh the note."""
    docs = [art.cell(f"ubuntu-24.04-amd-epyc-{i:02d}") for i in range(19)]
    docs.append(art.intel_cell("zz-ubuntu-24.04-intel-xeon"))
    return aggregate(art.write(tmp_path, docs))


@pytest.fixture()
def gfm_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the tables drawn; a cutting loop that never ends fails instead of hanging."""
    calls = []
    real = rm.gfm_table

    def counted(table: Table) -> str:
        calls.append(len(table.rows))
        if len(calls) > 100:
            raise AssertionError("the row-cutting loop does not end")
        return real(table)

    monkeypatch.setattr(rm, "gfm_table", counted)
    return calls


def _compact(agg: Aggregate) -> Table:
    return build_table(agg, with_sums=False)


def _first_rows(agg: Aggregate, kept: int) -> str:
    """The sums-less table's header and first rows, drawn exactly as in the uncut table (group
    letters such as "A (ref)" as our own text, not entity-escaped)."""
    lines = rm.gfm_table(_compact(agg)).split("\n")
    return "\n".join(lines[:2 + kept]) + "\n"


def test_full_table_at_exactly_its_length(many: Aggregate) -> None:
    full = rm.gfm_table(build_table(many))
    compact = rm.gfm_table(_compact(many))
    assert len(compact) + len(SUMS_NOTE) < len(full) - 1
    assert _fit_table(many, len(full)) == full
    # one character short: the sums columns go, and the note says where they are
    assert _fit_table(many, len(full) - 1) == compact + SUMS_NOTE


def test_sums_less_table_at_exactly_its_length_with_note(many: Aggregate) -> None:
    compact = rm.gfm_table(_compact(many))
    budget = len(compact) + len(SUMS_NOTE)
    assert _fit_table(many, budget) == compact + SUMS_NOTE
    # one short: rows are cut (20 -> 18 rows frees far more than the note needs)
    assert len(_first_rows(many, 18)) + 300 <= budget - 1
    assert _fit_table(many, budget - 1) == _first_rows(many, 18) + _rows_note(18, 20)


def test_rows_cut_by_tenths_until_300_characters_are_left(
    many: Aggregate, gfm_calls: list[int]
) -> None:
    # 300 characters are kept free; each step keeps 9/10 of the rows: 20, 18, 16, ...
    first_18, first_16 = _first_rows(many, 18), _first_rows(many, 16)
    budget = len(first_18) + 300
    assert len(rm.gfm_table(_compact(many))) + len(SUMS_NOTE) > budget
    gfm_calls.clear()
    assert _fit_table(many, budget) == first_18 + _rows_note(18, 20)
    assert gfm_calls == [20, 20, 18]  # full, sums-less, first 18 rows
    gfm_calls.clear()
    assert _fit_table(many, budget - 1) == first_16 + _rows_note(16, 20)
    assert gfm_calls == [20, 20, 18, 16]


def test_rows_cut_down_to_none_when_nothing_fits(many: Aggregate, gfm_calls: list[int]) -> None:
    header_only = _first_rows(many, 0)
    assert header_only.count("\n") == 2
    gfm_calls.clear()
    fitted = _fit_table(many, 0)
    assert gfm_calls == [20, 20, 18, 16, 14, 12, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert fitted == header_only + _rows_note(0, 20)
    # the same through the whole comment: the table's budget is what the head and the
    # 400-character reserve leave of the limit
    out = render_markdown(many, limit=100)
    assert header_only + _rows_note(0, 20) in out


# --- lists: 60 items, then "... N more"; untrusted strings cut ------------------------------


def test_problems_list_stops_at_60_items(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    head = "**Problems with the input** (these files or cells are marked in the table):\n\n"
    sixty = tuple(f"problem {i:d}" for i in range(60))
    listed = "".join(f"- problem {i:d}\n" for i in range(60))
    assert problems_section(dataclasses.replace(agg, problems=sixty)) == head + listed + "\n"
    more = sixty + ("problem 60", "problem 61")
    assert problems_section(dataclasses.replace(agg, problems=more)) == (
        head + listed + "- ... and 2 more; " + HINT + "\n\n"
    )


def test_problem_items_cut_at_500_characters(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    problems = ("p" * 500, "q" * 500 + "tail")
    assert problems_section(dataclasses.replace(agg, problems=problems)).split("\n")[2:4] == [
        "- " + "p" * 500,
        "- " + _cut("q" * 500, 4),
    ]


def test_group_members_stop_at_60_cells(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    result = _adam(agg)
    group = result.groups[0]
    before = "`[-9.959677, 0.0, -5.590966, 0.0, -1.1521256, 0.0]`"
    after = "`[-159.85245, -5.7658424, 57.23868, 0.47032726, 0.13733912, -0.25829855]`"
    names = tuple(f"c{i:02d}" for i in range(61))
    sixty = dataclasses.replace(result, groups=(dataclasses.replace(group, cells=names[:60]),))
    row = "| A (reference) | {} | {} | {} |".format(", ".join(names[:60]), before, after)
    assert row in groups_details(sixty, agg).split("\n")
    more = dataclasses.replace(result, groups=(dataclasses.replace(group, cells=names),))
    row = "| A (reference) | {} ... | {} | {} |".format(", ".join(names[:60]), before, after)
    assert row in groups_details(more, agg).split("\n")


def test_group_members_cut_at_2000_characters(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    result = _adam(agg)
    group = result.groups[0]
    exact = dataclasses.replace(result, groups=(
        dataclasses.replace(group, cells=("a" * 1000, "b" * 998)),))  # 2000 with ", "
    assert "| A (reference) | {}, {} | `".format("a" * 1000, "b" * 998) in groups_details(exact, agg)
    over = dataclasses.replace(result, groups=(
        dataclasses.replace(group, cells=("a" * 1000, "b" * 1001)),))
    assert "| A (reference) | {}, {} | `".format("a" * 1000, _cut("b" * 998, 3)) in (
        groups_details(over, agg)
    )


def test_group_without_the_variant_shows_dashes(art: Art, tmp_path: Path) -> None:
    # Defensive branch: a representative cell that lacks the variant (not produced by
    # compare.py today) gets "-" for its sums instead of a crash.
    docs = art.two_group_docs() + [art.cell("zz-no-adam", {"default-optimizer": art.variant()})]
    agg = aggregate(art.write(tmp_path, docs))
    result = _adam(agg)
    odd = dataclasses.replace(result, groups=(
        dataclasses.replace(result.groups[0], representative="zz-no-adam"),))
    assert "| A (reference) | ubuntu-amd-1, ubuntu-amd-2, ubuntu-intel | `-` | `-` |" in (
        groups_details(odd, agg).split("\n")
    )


def test_details_keep_trailing_spaces_and_letters_of_the_body(art: Art, tmp_path: Path) -> None:
    # Only the body's trailing newlines are trimmed before the closing tag.
    agg = _two_groups(art, tmp_path)
    result = _adam(agg)
    for note in ("ends in a space ", "ends in X"):
        out = groups_details(dataclasses.replace(result, notes=(note,)), agg)
        assert out.endswith(f"\nNotes:\n\n- {note}\n\n</details>\n\n")


def _with_comparison(agg: Aggregate, **changes: Any) -> VariantResult:
    result = _default_optimizer(agg)
    return dataclasses.replace(
        result, comparisons=(dataclasses.replace(result.comparisons[0], **changes),))


def test_no_tensor_differences_no_section(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    result = _with_comparison(agg, tensor_diffs=())
    assert tensor_details(result, result.comparisons[0]) == ""
    variants = (agg.variants[0], result)
    out = render_markdown(dataclasses.replace(agg, variants=variants))
    assert "whose bytes differ" not in out
    assert "</details>\n\n<details>\n<summary>default-optimizer: B vs A, 2 fingerprint keys" in out


def test_tensor_list_stops_at_60_with_units(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    diff = _default_optimizer(agg).comparisons[0].tensor_diffs[0]
    diffs = tuple(dataclasses.replace(diff, name=f"t{i:02d}", dtype="float64", max_ulp=3,
                                      max_abs=2.0, max_rel=0.5) for i in range(61))
    rows = [f"| t{i:02d} | 3 float64 ULP, abs 2, rel 0.5 |" for i in range(60)]
    head = ("<details>\n<summary>default-optimizer: B vs A, %d tensors whose bytes differ"
            "</summary>\n\n| tensor | max ULP distance (largest abs, rel difference) |\n"
            "| --- | --- |\n")
    result = _with_comparison(agg, tensor_diffs=diffs[:60])
    assert tensor_details(result, result.comparisons[0]) == (
        head % 60 + "\n".join(rows) + "\n\n</details>\n\n")
    result = _with_comparison(agg, tensor_diffs=diffs)
    assert tensor_details(result, result.comparisons[0]) == (
        head % 61 + "\n".join(rows) + "\n| ... 1 more | |\n\n</details>\n\n")


def test_fingerprint_list_stops_at_60(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    diffs = tuple(FingerprintDiff(f"k{i:02d}", '"a"', '"b"') for i in range(61))
    rows = [f"| k{i:02d} | a | b |" for i in range(60)]
    head = ("<details>\n<summary>default-optimizer: B vs A, %d fingerprint keys that differ"
            "</summary>\n\n| key | A (ubuntu-amd-1) | B (ubuntu-intel) |\n| --- | --- | --- |\n")
    result = _with_comparison(agg, fingerprint_diffs=diffs[:60])
    assert fingerprint_details(result, result.comparisons[0]) == (
        head % 60 + "\n".join(rows) + "\n\n</details>\n\n")
    result = _with_comparison(agg, fingerprint_diffs=diffs)
    assert fingerprint_details(result, result.comparisons[0]) == (
        head % 61 + "\n".join(rows) + "\n| ... 1 more | | |\n\n</details>\n\n")


def test_fingerprint_values_cut_at_400_characters(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    exact = FingerprintDiff("cpu.model", json.dumps("a" * 400), json.dumps("b" * 400))
    over = FingerprintDiff("cpu.vendor", json.dumps("a" * 401), json.dumps("b" * 402))
    result = _with_comparison(agg, fingerprint_diffs=(exact, over))
    lines = fingerprint_details(result, result.comparisons[0]).split("\n")
    assert "| cpu.model | {} | {} |".format("a" * 400, "b" * 400) in lines
    assert "| cpu.vendor | {} | {} |".format(_cut("a" * 400, 1), _cut("b" * 400, 2)) in lines


def test_comparison_row_with_missing_figures(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    result = _with_comparison(agg, first_divergent_step=None, max_abs_sum_diff=None,
                              max_ulp=None, suspect_ops=(), unused_ops=())
    assert "| B vs A | - | - | - | - | - |" in groups_details(result, agg).split("\n")


# --- failed cells and variants -------------------------------------------------------------


def test_failure_details_messages_log_tails_and_limits(art: Art, tmp_path: Path) -> None:
    # adam failed on every cell, so it has no groups and no groups section; one failure has
    # no error object at all, one cell failed with a message longer than both limits
    # (1000 characters in the body, 200 in the one-line summary).
    docs = [
        art.cell("a1", {"adam": art.variant(status="error"), "default-optimizer": art.variant()}),
        art.cell("a2", {"adam": art.variant(status="error"), "default-optimizer": art.variant()}),
        art.cell("dead", {}, status="error", error={"message": "m" * 1001, "log_tail": ""}),
    ]
    docs[0]["variants"]["adam"]["error"] = {"message": "boom", "log_tail": "line1\nline2"}
    agg = aggregate(art.write(tmp_path, docs))
    adam, default = agg.variants
    assert adam.name == "adam" and adam.groups == () and default.groups
    pre_none = "<pre>\n&#40;no log tail&#41;\n</pre>\n\n</details>\n\n"
    assert failure_details(agg) == [
        "<details>\n<summary>cell a1, variant adam failed: boom</summary>\n\n"
        "Message: boom\n\n<pre>\nline1\nline2\n</pre>\n\n</details>\n\n",
        "<details>\n<summary>cell a2, variant adam failed: no error message in the artifact"
        "</summary>\n\nMessage: no error message in the artifact\n\n" + pre_none,
        "<details>\n<summary>cell dead failed: {}</summary>\n\nMessage: {}\n\n".format(_cut("m" * 200, 801), _cut("m" * 1000, 1)) + pre_none,
    ]
    assert optional_sections(agg) == [
        problems_section(agg), groups_details(default, agg)] + failure_details(agg)
    assert "adam: groups" not in render_markdown(agg)


# --- the whole comment under a limit -------------------------------------------------------

LEFT_OUT = "_%d more section%s left out to stay under the comment size limit; " + HINT + "._\n"


def test_table_budget_is_the_limit_less_head_and_reserve(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    head = heading(agg) + verdicts(agg)
    full = rm.gfm_table(build_table(agg))
    compact = rm.gfm_table(_compact(agg))
    count = len(optional_sections(agg))
    assert count == 5  # chart, two groups sections, tensors, fingerprint
    limit = len(head) + 400 + len(full)  # 400: the reserve kept for the notes
    assert render_markdown(agg, limit=limit) == head + full + "\n" + LEFT_OUT % (count, "s")
    assert render_markdown(agg, limit=limit - 1) == (
        head + compact + SUMS_NOTE + "\n" + LEFT_OUT % (count, "s"))


def test_sections_added_while_they_fit_with_the_reserve(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    sections = optional_sections(agg)
    base = heading(agg) + verdicts(agg) + rm.gfm_table(build_table(agg)) + "\n"
    four = base + "".join(sections[:4])
    assert len(sections[4]) > 0
    # exactly room for four sections and the reserve: the fifth is left out, one section
    assert render_markdown(agg, limit=len(four) + 400) == four + LEFT_OUT % (1, "")
    # one short: the fourth goes too, two sections
    three = base + "".join(sections[:3])
    assert render_markdown(agg, limit=len(four) + 399) == three + LEFT_OUT % (2, "s")


def test_comment_ends_with_one_newline_keeping_its_last_line(art: Art, tmp_path: Path) -> None:
    # Only trailing newlines are trimmed: a last line ending in a space or an "X" stays whole.
    agg = aggregate(art.write(tmp_path, [art.cell("empty", {})]))
    for problem in ("ends in a space ", "ends in X"):
        out = render_markdown(dataclasses.replace(agg, problems=(problem,)))
        assert out.endswith(f"\n\n- {problem}\n")
