"""report/render_text.py at its edges: how much of each untrusted string the terminal report
shows (a value of exactly the limit's length whole, one character more cut and counted), where
each list stops (40 items shown whole, then "... and N more"), how the cell table is laid out
(cells printed as written, never parsed as numbers; a row's left padding kept), how log tails keep
their indentation and trailing spaces, and what the report says when something is missing (no
variants, no error message, no record of the variant, nothing to compare by). Found as mutmut
survivors: `nox -s mutants -- 'repromatrix.report.render_text.*'`.

The aggregate comes from real artifacts through the real aggregator; only the fields under test
are replaced.
"""

from __future__ import annotations

import dataclasses
import types
from pathlib import Path
from typing import Any

import pytest

from repromatrix.report import aggregate
from repromatrix.report.compare import Aggregate, FingerprintDiff, VariantResult
from repromatrix.report.render_text import render_wide as render_text  # the --wide layout

Art = types.SimpleNamespace  # the `art` fixture of tests/report/conftest.py

AFTER = "[-159.85245, -5.7658424, 57.23868, 0.47032726, 0.13733912, -0.25829855]"
BEFORE = "[-9.959677, 0.0, -5.590966, 0.0, -1.1521256, 0.0]"
ROW_TAIL = "ubuntu-24.04  Ubuntu 24.04  x86_64  AMD EPYC 7763  3.9.18    no       no          "


def _cut(kept: str, more: int) -> str:
    """How ``terminal`` shows a string cut after ``kept``."""
    return kept + f"…(+{more:d} chars)"


def _agg(art: Art, tmp_path: Path, docs: list[Any]) -> Aggregate:
    return aggregate(art.write(tmp_path, docs))


def _replace_variant(agg: Aggregate, which: str, **changes: Any) -> Aggregate:
    """``agg`` with the variant named ``which`` changed as given."""
    variants = tuple(dataclasses.replace(v, **changes) if v.name == which else v
                     for v in agg.variants)
    return dataclasses.replace(agg, variants=variants)


def _block(text: str, first_line: str) -> list[str]:
    """The lines of the paragraph that starts with ``first_line``."""
    lines = text.split("\n")
    start = lines.index(first_line)
    end = lines.index("", start)
    return lines[start:end]


# --- the cell table ----------------------------------------------------------------------


def test_table_prints_cells_as_written(art: Art, tmp_path: Path) -> None:
    # tabulate would parse "10", "1e5" and "9.5" as numbers: right-aligned on the decimal
    # point, and "1e5" reprinted as 100000. A cell id must print as the artifact spells it.
    # The header's last column is shorter than its values: tabulate pads it, we strip that.
    agg = _agg(art, tmp_path, [art.cell(c, {"v": art.variant()}) for c in ("10", "1e5", "9.5")])
    rule = "------  ------------  ------------  ------  -------------  --------  -------  " \
           "----------  --------  ---  " + "-" * len(AFTER)
    assert render_text(agg) == "\n".join([
        "repromatrix: 3 cells, 1 variant",
        "",
        "v (optimizer default): bit-identical on all 3 cells",
        "",
        "cell    runner        OS            arch    CPU            Python    drift    "
        "emulated    status    v    v after sums",
        rule,
        "10      " + ROW_TAIL + "ok        A    " + AFTER,
        "1e5     " + ROW_TAIL + "ok        A    " + AFTER,
        "9.5     " + ROW_TAIL + "ok        A    " + AFTER,
        "",
        "v (compared by whole-model digest)",
        "  A (reference): 10, 1e5, 9.5",
        "      before " + BEFORE,
        "      after  " + AFTER,
        "",
    ])


def test_table_row_with_a_blank_first_cell_keeps_its_indentation(art: Art, tmp_path: Path) -> None:
    # A rejected file is listed by its file name; a name of spaces is blank once tabulate
    # strips the cell, so the row starts with the column's padding, which must stay (tabulate
    # already drops trailing spaces; stripping the left side would shift the row by a column).
    paths = art.write(tmp_path, [art.cell("c1", {"v": art.variant()}), "not json"],
                     names=["c1.json", " "])
    reason = "REJECTED: not valid JSON (Expecting value: line 1 column 1 (char 0))"
    lines = render_text(aggregate(paths)).split("\n")
    assert lines[6:9] == [
        "c1      " + ROW_TAIL + "ok" + " " * (len(reason) - 2) + "  A    " + AFTER,
        "        -             -             -       -              -         -        -"
        "           " + reason + "  -    -",
        "",
    ]


def test_table_headers_cut_at_80_and_cells_at_200_characters(art: Art, tmp_path: Path) -> None:
    # A variant name (a header) of 80 characters is shown whole, 81 is cut; its "after sums"
    # header is cut too. A CPU model (a cell) of 200 characters is shown whole, 201 is cut.
    name80, name81 = "a" * 80, "b" * 81
    variants = {name80: art.variant(), name81: art.variant()}
    agg = _agg(art, tmp_path, [art.cell("c1", variants, model="m" * 200),
                          art.cell("c2", variants, model="n" * 201)])
    lines = render_text(agg).split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("cell  "))
    header, _, row1, row2 = [line.split("  ") for line in lines[start:start + 4]]
    header = [h.strip() for h in header if h]
    assert header == ["cell", "runner", "OS", "arch", "CPU", "Python", "drift", "emulated",
                      "status", name80, _cut(name80, 11), _cut("b" * 80, 1),
                      _cut("b" * 80, 12)]
    assert "m" * 200 in row1 and "…" not in lines[start + 2]  # exactly 200: shown whole
    assert _cut("n" * 200, 1) in row2 and "n" * 201 not in lines[start + 3]


# --- verdict lines and variant blocks ----------------------------------------------------


def test_names_settings_and_summaries_cut_at_100_300_and_1000_characters(
        art: Art, tmp_path: Path) -> None:
    # "optimizer " is 10 characters: 290 more make a settings text of exactly 300.
    name100, name101 = "p" * 100, "q" * 101
    variants = {name100: art.variant(settings={"optimizer": "o" * 290}),
                name101: art.variant(settings={"optimizer": "o" * 291})}
    agg = _agg(art, tmp_path, [art.cell("c1", variants)])
    agg = _replace_variant(agg, name100, summary="s" * 1000)
    agg = _replace_variant(agg, name101, summary="t" * 1001)
    lines = render_text(agg).split("\n")
    assert lines[2] == name100 + " (optimizer " + "o" * 290 + "): " + "s" * 1000
    assert lines[3] == (_cut("q" * 100, 1) + " (" + _cut("optimizer " + "o" * 290, 1) + "): "
                        + _cut("t" * 1000, 1))
    assert name100 + " (compared by whole-model digest)" in lines
    assert _cut("q" * 100, 1) + " (compared by whole-model digest)" in lines


def test_group_members_cut_at_100_characters(art: Art, tmp_path: Path) -> None:
    id100, id101 = "c" * 100, "d" * 101
    agg = _agg(art, tmp_path, [art.cell(id100, {"v": art.variant()}),
                          art.cell(id101, {"v": art.variant()})])
    assert _block(render_text(agg), "v (compared by whole-model digest)") == [
        "v (compared by whole-model digest)",
        "  A (reference): " + id100 + ", " + _cut("d" * 100, 1),
        "      before " + BEFORE,
        "      after  " + AFTER,
    ]


def test_group_whose_representative_has_no_record_of_the_variant(art: Art, tmp_path: Path) -> None:
    # The block looks the variant up in the representative's artifact; when that artifact has
    # no such variant, the sums are shown as missing instead of failing the whole report.
    agg = _replace_variant(_agg(art, tmp_path, [art.cell("c1", {"v": art.variant()})]), "v",
                           name="ghost")
    assert _block(render_text(agg), "ghost (compared by whole-model digest)") == [
        "ghost (compared by whole-model digest)",
        "  A (reference): c1",
        "      before (missing)",
        "      after  (missing)",
    ]


def test_variant_compared_by_nothing(art: Art, tmp_path: Path) -> None:
    # No digest and no after-training sums: nothing to compare by, and the block says so.
    variant = art.variant()
    variant["digest"] = None
    variant["weight_sums"] = {"before": list(art.BEFORE)}
    agg = _agg(art, tmp_path, [art.cell("c1", {"v": variant})])
    assert agg.variants[0].compared_by == "none"
    assert _block(render_text(agg), "v (compared by nothing)") == [
        "v (compared by nothing)",
        "  note: c1 not compared: no usable after-training sums",
    ]


@pytest.mark.parametrize("count", [40, 41])
def test_notes_cut_at_400_characters_and_listed_up_to_40(art: Art, tmp_path: Path,
                                                        count: int) -> None:
    notes = ("n" * 400, "o" * 401) + tuple(f"note {i:d}" for i in range(3, count + 1))
    agg = _replace_variant(_agg(art, tmp_path, [art.cell("c1", {"v": art.variant()})]), "v",
                           notes=notes)
    expected = ["  note: " + "n" * 400, "  note: " + _cut("o" * 400, 1)] + [
        f"  note: note {i:d}" for i in range(3, 41)]
    if count > 40:  # exactly 40 is a full list, not "... and 0 more"
        expected.append("  note: ... and 1 more (see --format json)")
    block = _block(render_text(agg), "v (compared by whole-model digest)")
    assert block[4:] == expected


@pytest.mark.parametrize("count", [40, 41])
def test_fingerprint_differences_listed_up_to_40(art: Art, tmp_path: Path, count: int) -> None:
    agg = _agg(art, tmp_path / "a", art.two_group_docs())
    diffs = tuple(FingerprintDiff(f"key{i:02d}", "a", "b") for i in range(count))
    result: VariantResult = agg.variants[1]
    agg = _replace_variant(agg, result.name, comparisons=(
        dataclasses.replace(result.comparisons[0], fingerprint_diffs=diffs),))
    lines = render_text(agg).split("\n")
    start = lines.index("    fingerprint differences (A | B):") + 1
    expected = [f"      key{i:02d}: a | b" for i in range(40)]
    if count > 40:  # exactly 40 is a full list, not "... and 0 more"
        expected.append("      ... and 1 more")
    assert lines[start:lines.index("", start)] == expected


# --- the whole report's edges ------------------------------------------------------------


def test_no_variant_results_in_any_artifact(art: Art, tmp_path: Path) -> None:
    agg = _agg(art, tmp_path, [art.cell("c1", {})])
    assert render_text(agg) == "\n".join([
        "repromatrix: 1 cell, 0 variants",
        "",
        "no variant results in any artifact",
        "",
        "cell    runner        OS            arch    CPU            Python    drift    "
        "emulated    status",
        "------  ------------  ------------  ------  -------------  --------  -------  "
        "----------  --------",
        "c1      " + ROW_TAIL + "ok",
        "",
    ])


def test_problems_cut_at_500_characters_and_the_report_ends_as_written(
        art: Art, tmp_path: Path) -> None:
    # The last problem ends in "X": the report's end is stripped of newlines only.
    agg = _agg(art, tmp_path, [art.cell("c1", {"v": art.variant()})])
    agg = dataclasses.replace(agg, problems=("q" * 501, "p" * 499 + "X"))
    text = render_text(agg)
    assert text.startswith("repromatrix: 1 cell, 1 variant (2 problems with the input, "
                           "listed below)\n")
    assert text.endswith("\n".join([
        "",
        "Problems with the input:",
        "  - " + _cut("q" * 500, 1),
        "  - " + "p" * 499 + "X",
        "",
    ]))


def test_failures_cut_and_log_tails_kept_as_written(art: Art, tmp_path: Path) -> None:
    # Cell ids and variant names are cut at 100 characters, messages at 500, log tails at
    # 3000. A failure without an error object says "no message" and shows no log tail. A log
    # tail loses only its surrounding blank lines: its first and last characters ("X", spaces)
    # and the indentation of its lines stay, also at the very end of the report.
    id100, id101 = "e" * 100, "f" * 101
    no_error = art.variant(status="error")  # "error": None
    with_error = art.variant(status="error")
    with_error["error"] = {"message": "short", "log_tail": "\nXfirst\n  last  \n"}
    agg = _agg(art, tmp_path, [
        art.cell(id100, {"w" * 100: no_error}, status="error",
                error={"message": "m" * 500, "log_tail": "t" * 3000}),
        art.cell(id101, {"y" * 101: with_error}, status="error",
                error={"message": "m" * 501, "log_tail": "t" * 3001}),
    ])
    text = render_text(agg)
    assert text[text.index("\nFailures:\n") + 1:] == "\n".join([
        "Failures:",
        "cell " + id100 + " failed: " + "m" * 500,
        "  | " + "t" * 3000,
        "cell " + id100 + ", variant " + "w" * 100 + " failed: no message",
        "cell " + _cut("f" * 100, 1) + " failed: " + _cut("m" * 500, 1),
        "  | " + _cut("t" * 3000, 1),
        "cell " + _cut("f" * 100, 1) + ", variant " + _cut("y" * 100, 1) + " failed: short",
        "  | Xfirst",
        "  |   last  ",
        "",
    ])
