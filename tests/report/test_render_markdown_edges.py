"""report/render_markdown.py at its edges: what the PR comment says when something is missing
(no variants, no settings, no per-step trail, no tensor differences, no error message or log
tail), where each list stops (60 items, then "... N more"), how much of each untrusted string
is shown (400, 500, 1000, 200 and 2000 characters), how the grid is shrunk to fit its budget
(only the first rows), and which
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
from repromatrix.report.grid import Grid, build_grid
from repromatrix.report.render_markdown import (
    LEGEND,
    _fit_table,
    chart_section,
    failure_details,
    groups_body,
    groups_details,
    heading,
    optional_sections,
    pair_details,
    problems_section,
    render_markdown,
    varied_section,
    verdicts,
)
from repromatrix.report.verdict import REMEDY_HINT, verdict

HINT = "run `repromatrix aggregate --format json` on the same artifacts for everything"

Art = types.SimpleNamespace  # the `art` fixture of tests/report/conftest.py


def _cut(kept: str, more: int) -> str:
    """How ``md`` and ``md_html`` show a string cut after ``kept`` (GFM needs no escape here)."""
    return kept + f"…(+{more:d} chars)"


def _rows_note(kept: int, total: int) -> str:
    return f"\n_Only the first {kept:d} of {total:d} rows fit in a comment; {HINT}._\n"


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
    assert "\n\n- no variant results in any artifact\n\n" in render_markdown(agg)


def test_sums_only_variant_has_no_settings_suffix_and_no_chart(art: Art, tmp_path: Path) -> None:
    # Sums-only artifacts carry neither settings nor a per-step trail: the verdict line has
    # no "(...)" part, and a diverging variant says why there is no chart.
    docs = [art.sums_cell("win-amd", art.AFTER_AMD),
            art.sums_cell("win-intel", art.AFTER_INTEL, vendor="GenuineIntel")]
    agg = aggregate(art.write(tmp_path, docs))
    (result,) = agg.variants
    assert result.settings_text is None and result.diverges
    line = verdict(agg, result)
    assert line.endswith(" (compared by weight sums only)")
    # it diverges, so the remedy search is named once (and nothing is claimed about it)
    assert verdicts(agg) == f"- **default-optimizer**: {line}\n\n{REMEDY_HINT}\n\n"
    assert chart_section(result) == (
        "_default-optimizer: the artifacts have no per-step trail, so there is no divergence "
        "chart._\n\n"
    )
    out = render_markdown(agg)
    assert f"\n- **default-optimizer**: {line}\n" in out
    assert "\n_default-optimizer: the artifacts have no per-step trail" in out


def test_optimizer_named_and_settings_shown_as_varied(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    assert verdicts(agg).startswith(
        "- **adam** (RMSprop, Keras's default): bit-identical on all 3 cells\n"
    )
    assert varied_section(agg) == ("Varied on purpose — adam: optimizer default; "
                                   "default-optimizer: optimizer default.\n\n")


# --- the cell table under a budget ---------------------------------------------------------


@pytest.fixture()
def many(art: Art, tmp_path: Path) -> Aggregate:
    """20 cells, the last one in a second group (so the first rows read "A (ref)"): 20 table
    rows, each long enough that two rows outweigh the note."""
    docs = [art.cell(f"ubuntu-24.04-amd-epyc-{i:02d}") for i in range(19)]
    docs.append(art.intel_cell("zz-ubuntu-24.04-intel-xeon"))
    return aggregate(art.write(tmp_path, docs))


@pytest.fixture()
def grid_calls(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """Counts the grids drawn; a cutting loop that never ends fails instead of hanging."""
    calls: list[int | None] = []
    real = rm.grid_table

    def counted(grid: Grid, rows: int | None = None) -> str:
        calls.append(rows)
        if len(calls) > 100:
            raise AssertionError("the row-cutting loop does not end")
        return real(grid, rows)

    monkeypatch.setattr(rm, "grid_table", counted)
    return calls


def _shared(agg: Aggregate) -> str:
    grid = build_grid(agg)
    return "All cells: " + ", ".join(f"{k} {v}" for k, v in grid.shared) + ".\n\n"


def _cut_grid(agg: Aggregate, kept: int | None) -> str:
    return _shared(agg) + rm.grid_table(build_grid(agg), kept) + "\n" + LEGEND + "\n"


def test_whole_grid_at_exactly_its_length(many: Aggregate) -> None:
    full = _cut_grid(many, None)
    assert _fit_table(many, len(full)) == full
    # one character short: rows are cut by tenths (20, 18, 16, ...) until 300 characters are
    # left for the note, and the note says how many rows are shown
    kept = 18
    while len(_cut_grid(many, kept)) + 300 > len(full) - 1:
        kept = kept * 9 // 10
    assert 0 < kept < 18
    assert _fit_table(many, len(full) - 1) == _cut_grid(many, kept) + _rows_note(kept, 20)


def test_rows_cut_by_tenths_until_300_characters_are_left(
    many: Aggregate, grid_calls: list[int | None]
) -> None:
    first_12 = _cut_grid(many, 12)
    budget = len(first_12) + 300
    assert len(_cut_grid(many, None)) > budget
    grid_calls.clear()
    assert _fit_table(many, budget) == first_12 + _rows_note(12, 20)
    assert grid_calls == [None, 18, 16, 14, 12]  # whole grid, then 9/10 of the rows each time
    grid_calls.clear()
    fitted = _fit_table(many, budget - 1)  # one short: fewer rows than 12
    kept = grid_calls[-1]
    assert grid_calls[:6] == [None, 18, 16, 14, 12, 10] and kept is not None and kept < 12
    assert fitted == _cut_grid(many, kept) + _rows_note(kept, 20)


def test_rows_cut_down_to_none_when_nothing_fits(many: Aggregate,
                                                 grid_calls: list[int | None]) -> None:
    header_only = _cut_grid(many, 0)
    grid_calls.clear()
    fitted = _fit_table(many, 0)
    assert grid_calls == [None, 18, 16, 14, 12, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert fitted == header_only + _rows_note(0, 20)
    # the same through the whole comment: the grid's budget is what the head and the
    # 400-character reserve leave of the limit
    out = render_markdown(many, limit=100)
    assert header_only + _rows_note(0, 20) in out


# --- lists: 60 items, then "... N more"; untrusted strings cut ------------------------------


def test_problems_list_stops_at_60_items(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    head = ("**Problems with the input** (rejected and ignored files and failed cells are also rows "
            "of the grid):\n\n")
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
    assert row in groups_body(sixty, agg).split("\n")
    more = dataclasses.replace(result, groups=(dataclasses.replace(group, cells=names),))
    row = "| A (reference) | {} ... | {} | {} |".format(", ".join(names[:60]), before, after)
    assert row in groups_body(more, agg).split("\n")


def test_group_members_cut_at_2000_characters(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    result = _adam(agg)
    group = result.groups[0]
    exact = dataclasses.replace(result, groups=(
        dataclasses.replace(group, cells=("a" * 1000, "b" * 998)),))  # 2000 with ", "
    assert "| A (reference) | {}, {} | `".format("a" * 1000, "b" * 998) in groups_body(exact, agg)
    over = dataclasses.replace(result, groups=(
        dataclasses.replace(group, cells=("a" * 1000, "b" * 1001)),))
    assert "| A (reference) | {}, {} | `".format("a" * 1000, _cut("b" * 998, 3)) in (
        groups_body(over, agg)
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
        groups_body(odd, agg).split("\n")
    )


def test_details_keep_trailing_spaces_and_letters_of_the_body(art: Art, tmp_path: Path) -> None:
    # Only the body's trailing newlines are trimmed before the closing tag.
    agg = _two_groups(art, tmp_path)
    result = _adam(agg)
    for note in ("ends in a space ", "ends in X"):
        changed = dataclasses.replace(agg, variants=(dataclasses.replace(result, notes=(note,)),))
        out = groups_details(changed)
        assert out.endswith(f"\nNotes:\n\n- {note}\n\n</details>\n\n")


def _with_comparison(agg: Aggregate, **changes: Any) -> VariantResult:
    result = _default_optimizer(agg)
    return dataclasses.replace(
        result, comparisons=(dataclasses.replace(result.comparisons[0], **changes),))


def _pair(agg: Aggregate, result: VariantResult) -> str:
    (block,) = pair_details(dataclasses.replace(agg, variants=(agg.variants[0], result)))
    return block


def test_no_tensor_differences_no_tensor_table(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    result = _with_comparison(agg, tensor_diffs=())
    block = _pair(agg, result)
    assert "| tensor |" not in block
    assert block.startswith("<details>\n<summary>ubuntu-intel vs ubuntu-amd-1: default-optimizer "
                            "from step 1</summary>\n\n**default-optimizer**: no op trace; op probe "
                            "suspects: Rsqrt; differ but unused: Exp\n\nFingerprint keys")
    assert "| key | ubuntu-amd-1 | ubuntu-intel |" in block


def test_tensor_list_stops_at_60_with_units(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    diff = _default_optimizer(agg).comparisons[0].tensor_diffs[0]
    diffs = tuple(dataclasses.replace(diff, name=f"t{i:02d}", dtype="float64", max_ulp=3,
                                      max_abs=2.0, max_rel=0.5) for i in range(61))
    rows = "\n".join(f"| t{i:02d} | 3 float64 ULP, abs 2, rel 0.5 |" for i in range(60))
    head = ("| tensor | max ULP distance (largest abs, rel difference) |\n| --- | --- |\n")
    assert head + rows + "\n\n" in _pair(agg, _with_comparison(agg, tensor_diffs=diffs[:60]))
    assert head + rows + "\n| ... 1 more | |\n\n" in _pair(
        agg, _with_comparison(agg, tensor_diffs=diffs))


def test_fingerprint_list_stops_at_60(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    diffs = tuple(FingerprintDiff(f"k{i:02d}", '"a"', '"b"') for i in range(61))
    rows = "\n".join(f"| k{i:02d} | a | b |" for i in range(60))
    head = "| key | ubuntu-amd-1 | ubuntu-intel |\n| --- | --- | --- |\n"
    block = _pair(agg, _with_comparison(agg, fingerprint_diffs=diffs[:60]))
    assert block.endswith(head + rows + "\n\n</details>\n\n")
    block = _pair(agg, _with_comparison(agg, fingerprint_diffs=diffs))
    assert block.endswith(head + rows + "\n| ... 1 more | | |\n\n</details>\n\n")


def test_fingerprint_values_cut_at_400_characters(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    exact = FingerprintDiff("cpu.model", json.dumps("a" * 400), json.dumps("b" * 400))
    over = FingerprintDiff("cpu.vendor", json.dumps("a" * 401), json.dumps("b" * 402))
    lines = _pair(agg, _with_comparison(agg, fingerprint_diffs=(exact, over))).split("\n")
    assert "| cpu.model | {} | {} |".format("a" * 400, "b" * 400) in lines
    assert "| cpu.vendor | {} | {} |".format(_cut("a" * 400, 1), _cut("b" * 400, 2)) in lines


def test_comparison_row_with_missing_figures(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    result = _with_comparison(agg, first_divergent_step=None, max_abs_sum_diff=None,
                              max_ulp=None, suspect_ops=(), unused_ops=())
    assert "| B vs A | - | - | - | - | - |" in groups_body(result, agg).split("\n")


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
        problems_section(agg), groups_details(agg)] + failure_details(agg)
    assert "**adam**" not in groups_details(agg)


# --- the whole comment under a limit -------------------------------------------------------

LEFT_OUT = "_%d more section%s left out to stay under the comment size limit; " + HINT + "._\n"


def _head(agg: Aggregate) -> str:
    return heading(agg) + verdicts(agg) + varied_section(agg)


def test_grid_budget_is_the_limit_less_head_and_reserve(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    head = _head(agg)
    full = _fit_table(agg, 10**6)
    count = len(optional_sections(agg))
    assert count == 3  # chart, the pair's details, the weight sums
    limit = len(head) + 400 + len(full)  # 400: the reserve kept for the notes
    assert render_markdown(agg, limit=limit) == head + full + "\n" + LEFT_OUT % (count, "s")
    assert render_markdown(agg, limit=limit - 1) == (
        head + _fit_table(agg, len(full) - 1) + "\n" + LEFT_OUT % (count, "s"))


def test_sections_added_while_they_fit_with_the_reserve(art: Art, tmp_path: Path) -> None:
    agg = _two_groups(art, tmp_path)
    sections = optional_sections(agg)
    base = _head(agg) + _fit_table(agg, 10**6) + "\n"
    two = base + "".join(sections[:2])
    assert len(sections[2]) > 0
    # exactly room for two sections and the reserve: the third is left out, one section
    assert render_markdown(agg, limit=len(two) + 400) == two + LEFT_OUT % (1, "")
    # one short: the second goes too, two sections
    one = base + "".join(sections[:1])
    assert render_markdown(agg, limit=len(two) + 399) == one + LEFT_OUT % (2, "s")


def test_comment_ends_with_one_newline_keeping_its_last_line(art: Art, tmp_path: Path) -> None:
    # Only trailing newlines are trimmed: a last line ending in a space or an "X" stays whole.
    agg = aggregate(art.write(tmp_path, [art.cell("empty", {})]))
    for problem in ("ends in a space ", "ends in X"):
        out = render_markdown(dataclasses.replace(agg, problems=(problem,)))
        assert out.endswith(f"\n\n- {problem}\n")
