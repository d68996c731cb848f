"""Verdict edges a user would feel: suspects, wording, grouping keys and the chart floor.

Each test here was written against a mutant of ``compare.py`` that the rest of the fast suite
let survive (see ``nox -s mutants``): the test names the behaviour, the docstring the mutant.
"""

from __future__ import annotations

import pytest

from repromatrix.report import aggregate, render
from repromatrix.report.compare import FLOOR_LOG10, max_abs_sum_diff, summarize, tensor_max_ulp


def _result(art, tmp_path, docs, name="default-optimizer", reference=None):
    agg = aggregate(art.write(tmp_path, docs), reference=reference)
    return next(v for v in agg.variants if v.name == name)


def test_suspect_found_in_the_other_cells_train_step(art, tmp_path):
    """Suspects come from the union of both cells' train-step ops, not the reference's alone
    (a mutant that read only the reference's op list said "no suspect")."""
    reference = art.cell("a", {"default-optimizer": art.variant(ops=["MatMul"])})
    other = art.intel_cell("b")  # its train step uses Rsqrt; its Rsqrt probe differs
    result = _result(art, tmp_path, [reference, other], reference="a")
    comparison = result.comparisons[0]
    assert comparison.suspect_ops == ("Rsqrt",)
    assert comparison.unused_ops == ("Exp",)
    assert result.summary.endswith("; suspect: Rsqrt")


def test_missing_train_step_ops_name_no_suspect_and_say_why(art, tmp_path):
    """Without the train step's op list no probed op can be called unused: the verdict must
    not say "no suspect: ... not in the train step" (the guard a mutant removed)."""
    docs = [art.cell("a", {"default-optimizer": art.variant(ops=[])}), art.intel_cell("b")]
    docs[1]["variants"]["default-optimizer"]["train_step_ops"] = []
    result = _result(art, tmp_path, docs)
    comparison = result.comparisons[0]
    assert (comparison.suspect_ops, comparison.unused_ops) == ((), ())
    assert comparison.probe_compared is False
    assert "no suspect" not in result.summary
    assert result.summary == "2 results — B diverges from A at step 1"
    assert any("probe ops differ (Exp, Rsqrt) but the train step's op list is missing" in n
               for n in comparison.notes)


def test_equal_trails_with_different_final_weights_are_worded(art, tmp_path):
    """Every trail entry equal but the digests differ: the verdict says only the final weights
    differ, and the comparison carries the note."""
    docs = [art.cell("a"), art.cell("b", {"default-optimizer": art.variant(kernel=[9.0, 1, 1, 1])})]
    result = _result(art, tmp_path, docs)
    comparison = result.comparisons[0]
    assert comparison.first_divergent_step is None
    assert comparison.trail_lengths == (4, 4)
    assert result.summary == ("2 results — B differs from A (every trail entry is equal, only "
                              "the final weights differ); no probed op differs")
    assert comparison.notes == ("every trail entry is equal although the final weights differ",)


def test_sums_only_grouping_keeps_zero_and_negative_zero_apart(art, tmp_path):
    """Grouping keys are float32 bit patterns: 0.0 and -0.0 are different results (a mutant
    keyed on float values merged them into one group)."""
    positive = list(art.AFTER_AMD)
    positive[1] = 0.0
    negative = list(art.AFTER_AMD)
    negative[1] = -0.0
    docs = [art.sums_cell("a", positive), art.sums_cell("b", negative)]
    result = _result(art, tmp_path, docs)
    assert [g.cells for g in result.groups] == [("a",), ("b",)]
    assert result.summary.startswith("2 results, compared by weight sums only — B differs from A "
                                     "in the after-training sums")
    # ...and the sum difference of +0.0 vs -0.0 is zero, not skipped as "equal bits"
    assert max_abs_sum_diff(positive, negative) == 0.0


def test_digest_equal_steps_are_drawn_at_the_floor(art, tmp_path):
    """Steps whose weight digests are equal count as zero difference even when the float64
    trail sums differ (reduction order alone can change them)."""
    sums = (0.0, 1.0, 2.0, 3.0)
    noisy = (0.5, 1.5, 2.0, 3.25)  # differs at steps 0, 1 and 3, but only step 3's digest differs
    docs = [
        art.cell("a", {"default-optimizer": art.variant(trail_sums=sums)}),
        art.cell("b", {"default-optimizer": art.variant(trail=("t0", "t1", "t2", "x3"),
                                                        trail_sums=noisy, kernel=[9.0, 1, 1, 1])}),
    ]
    series = _result(art, tmp_path, docs).comparisons[0].series
    assert series.steps == (0, 1, 2, 3) and series.last_step == 3
    assert series.values[:3] == (FLOOR_LOG10, FLOOR_LOG10, FLOOR_LOG10)
    assert series.values[3] == pytest.approx(-0.60206, abs=1e-4)  # log10(0.25)


def test_tensor_ulp_of_equal_and_unequal_buffers(art):
    a = art.f32_bytes([1.0, 2.0, 3.0])
    b = art.f32_bytes([1.0, art.bump_ulps(2.0, 7), art.bump_ulps(3.0, 2)])
    assert tensor_max_ulp(a, a) == 0
    assert tensor_max_ulp(a, b) == 7  # the largest, not the first or last
    assert tensor_max_ulp(a, b[:8]) is None


def test_summary_counts_not_compared_cells():
    assert summarize([], [], "none", 1) == "no cell has a usable result; 1 cell not compared"
    assert summarize([], [], "none", 2) == "no cell has a usable result; 2 cells not compared"
    assert summarize([], [], "none", 0) == "no cell has a usable result"


def test_hostile_fingerprint_values_are_inert_in_markdown_and_terminal(art, tmp_path):
    """A fork's artifact controls its fingerprint: its differing values reach the PR comment
    and the terminal only escaped (no HTML, no @mention, no terminal escape)."""
    hostile = art.intel_cell("b")
    hostile["fingerprint"]["cpu"]["model"] = "<img src=x onerror=alert(1)> @octocat \x1b[2J"
    agg = aggregate(art.write(tmp_path, [art.cell("a"), hostile]))
    markdown = render(agg, "markdown")
    assert "cpu.model" in markdown  # the fingerprint difference is shown...
    assert "<img" not in markdown and "@octocat" not in markdown and "\x1b" not in markdown
    assert "&lt;img src=x onerror=alert(1)> @\u200docto" in markdown  # ...escaped
    text = render(agg, "text", width=1000)
    assert "cpu.model" in text and "\x1b" not in text
    assert "<img src=x onerror=alert(1)> @octocat \ufffd[2J" in text


def test_failure_messages_reach_the_terminal_filtered(art, tmp_path):
    """A failed cell's message and log tail pass the control-character filter on their way to
    the terminal table (an ESC could otherwise clear the screen or retitle the window)."""
    failed = art.cell("c", {}, status="error",
                      error={"message": "boom \x1b]0;owned\x07 \x1b[2J",
                             "log_tail": "line 1\n\x1b[31mred\x1b[0m"})
    variant_failed = art.variant(status="error")
    variant_failed["error"] = {"message": "oom \x1b[1A", "log_tail": "\x9b2J tail"}
    docs = [art.cell("a"), failed, art.cell("d", {"default-optimizer": variant_failed})]
    text = render(aggregate(art.write(tmp_path, docs)), "text")
    for control in ("\x1b", "\x07", "\x9b"):
        assert control not in text
    assert "boom \ufffd]0;owned\ufffd \ufffd[2J" in text
    assert "oom \ufffd[1A" in text
    assert "\ufffd[31mred" in text and "\ufffd2J tail" in text
