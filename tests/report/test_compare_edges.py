"""report/compare.py at its edges: the figures and the wording a user reads in the verdict.

Each test pins an exact figure or sentence (a first divergent step, a largest sum difference,
a chart value, a note, a verdict clause), so that a changed comparison, bound or word in
compare.py fails here (found as mutmut survivors:
`nox -s mutants -- 'repromatrix.report.compare.*'`).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

from repromatrix.report.compare import (
    CEILING_LOG10,
    FLOOR_LOG10,
    Comparison,
    Group,
    _experiment_problems,
    _log10_clamped,
    _not_compared_reason,
    _representative,
    divergence_series,
    first_divergent_step,
    global_problems,
    max_abs_sum_diff,
    settings_problems,
    summarize,
)
from repromatrix.report.model import (
    CellRecord,
    Duplicate,
    ErrorInfo,
    Loaded,
    ProbeRecord,
    Rejected,
    TensorRecord,
    Trail,
    VariantRecord,
)


def f32(values: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(values):d}f", *values)


def variant(name: str = "v", *, digest: str | None = "d", trail: Trail | None = None,
            tensors: tuple[TensorRecord, ...] = (), status: str = "ok",
            error: ErrorInfo | None = None, settings=None, probe=None,
            after: tuple[float, ...] | None = (1.0,)) -> VariantRecord:
    return VariantRecord(name=name, status=status, before=None, after=after, digest=digest,
                         trail=trail, tensors=tensors, train_step_ops=(), error=error,
                         settings=settings, probe=probe)


def cell(cid: str, variants: tuple[VariantRecord, ...] = (), *, status: str = "ok",
         probe: tuple[ProbeRecord, ...] = (), experiment=(), problems=(), error=None,
         source: str | None = None) -> CellRecord:
    return CellRecord(cell=cid, source=source or cid + ".json", kind="cell", status=status,
                      runner_label=None, os="Linux", arch="x86_64", cpu="cpu", python="3.9",
                      drift=(), emulated=None, fingerprint=(), experiment=tuple(experiment),
                      probe=probe, variants=variants, error=error, problems=tuple(problems))


# --- figures ------------------------------------------------------------------------------------


def test_equal_nan_sums_are_no_difference_but_a_differing_nan_is_infinite():
    nan = float("nan")
    assert max_abs_sum_diff([nan, 1.0], [nan, 1.0]) == 0.0  # same bits: not a difference
    assert max_abs_sum_diff([1.0, 2.0], [1.0, nan]) == math.inf
    assert max_abs_sum_diff([0.0], [-0.0]) == 0.0  # other bits, but no magnitude
    assert max_abs_sum_diff([1.0, 5.0, 2.0], [1.5, 3.0, 2.25]) == 2.0  # the largest, not the last
    assert max_abs_sum_diff([1.0], [1.0, 2.0]) is None


def test_first_divergent_step_is_the_first_index_over_the_common_prefix():
    assert first_divergent_step(["a", "b", "c", "d"], ["a", "b", "x", "y"]) == 2
    assert first_divergent_step(["x"], ["y", "z"]) == 0
    assert first_divergent_step(["a", "b"], ["a", "b", "c"]) is None


def test_log10_of_a_difference_is_clamped_to_the_floor_and_the_ceiling():
    assert _log10_clamped(0.0) == FLOOR_LOG10
    assert _log10_clamped(1e-16) == FLOOR_LOG10
    assert _log10_clamped(1e-17) == FLOOR_LOG10
    assert _log10_clamped(5e-17) == FLOOR_LOG10  # below 1e-16, above 11**-16
    assert _log10_clamped(1e-15) == -15.0
    assert _log10_clamped(100.0) == 2.0
    assert _log10_clamped(1e300) == CEILING_LOG10
    assert _log10_clamped(math.inf) == CEILING_LOG10
    assert _log10_clamped(math.nan) == CEILING_LOG10


def test_the_chart_takes_each_buckets_maximum_and_names_the_last_step():
    steps = 250  # more steps than chart points: buckets of 2 or 3 steps
    ref = variant(trail=Trail(tuple(f"t{k:d}" for k in range(steps)), (0.0,) * steps))
    digests = tuple(f"t{k:d}" if k != 7 else "x" for k in range(steps))
    sums = tuple(1000.0 if k == 7 else 0.0 for k in range(steps))  # equal digests: not drawn
    series = divergence_series("B", ref, variant(trail=Trail(digests, sums)))
    assert series is not None and series.letter == "B" and series.last_step == steps - 1
    assert len(series.steps) == 100 and series.steps[:4] == (0, 2, 5, 7)
    assert series.steps[-1] == 247
    assert series.values[:5] == (FLOOR_LOG10, FLOOR_LOG10, FLOOR_LOG10, 3.0, FLOOR_LOG10)


def test_no_chart_without_two_trails_or_without_a_common_step():
    trail = Trail(("a", "b"), (0.0, 1.0))
    assert divergence_series("B", variant(trail=trail), variant()) is None
    assert divergence_series("B", variant(), variant(trail=trail)) is None
    assert divergence_series("B", variant(trail=trail), variant(trail=Trail(("a",), ()))) is None
    short = divergence_series("B", variant(trail=Trail(("a", "b", "c"), (0.0, 0.0, 0.0))),
                              variant(trail=Trail(("a", "x"), (0.0, 10.0))))
    assert short is not None
    assert (short.steps, short.values, short.last_step) == ((0, 1), (FLOOR_LOG10, 1.0), 1)
    few_digests = Trail(("a", "b"), (0.0, 0.0, 0.0))  # more sums than digests on either side
    many = Trail(("a", "x", "y"), (0.0, 10.0, 0.0))
    few_sums = Trail(("a", "b", "c"), (0.0, 0.0))  # fewer sums than digests on either side
    for ref, other in ((few_digests, many), (many, few_digests), (few_sums, many),
                       (many, few_sums)):
        series = divergence_series("B", variant(trail=ref), variant(trail=other))
        assert series is not None and (series.steps, series.values) == ((0, 1), (FLOOR_LOG10, 1.0))


# --- which cell stands for a group -------------------------------------------------------------


def test_the_representative_is_the_member_with_the_most_data():
    tensor = TensorRecord("k", (1,), "s", f32([1.0]))
    probe = (ProbeRecord("Rsqrt", "c", "h"),)
    full = variant(trail=Trail(("a",), ()), tensors=(tensor,))
    members = {
        "a-bare": (cell("a-bare"), variant(digest=None)),
        "b-digest": (cell("b-digest"), variant()),
        "c-trail": (cell("c-trail"), variant(trail=Trail(("a",), ()))),
        "d-data": (cell("d-data"), full),
        "e-probe": (cell("e-probe", probe=probe), full),
        "f-own-probe": (cell("f-own-probe"), variant(trail=Trail(("a",), ()), tensors=(tensor,),
                                                     probe=probe)),
    }
    assert _representative(sorted(members), members) == "e-probe"
    del members["e-probe"]
    assert _representative(sorted(members), members) == "f-own-probe"
    del members["f-own-probe"]
    assert _representative(sorted(members), members) == "d-data"
    del members["d-data"]
    assert _representative(sorted(members), members) == "c-trail"
    del members["c-trail"]
    assert _representative(sorted(members), members) == "b-digest"
    no_data = TensorRecord("k", (1,), "s", None)
    members = {"a": (cell("a"), variant(digest=None, tensors=(no_data,))),
               "b": (cell("b"), variant(digest=None, tensors=(tensor,)))}
    assert _representative(["a", "b"], members) == "b"


# --- why a cell is not compared -----------------------------------------------------------------


def test_not_compared_reasons():
    assert _not_compared_reason(cell("c", status="error"), None) == "cell failed"
    assert _not_compared_reason(cell("c"), None) == "variant not in this artifact"
    failed = variant(status="error", error=ErrorInfo("boom\x1b[31m " + "x" * 300, ""))
    reason = _not_compared_reason(cell("c"), failed)
    assert reason is not None and reason.startswith("variant failed: boom")
    assert "\x1b" not in reason and reason.endswith("(+110 chars)")  # cleaned and bounded
    assert _not_compared_reason(cell("c"), variant(status="error")) == \
        "variant failed: no message"
    assert _not_compared_reason(cell("c"), variant(status="invalid")) == "invalid variant data"
    assert _not_compared_reason(cell("c"), variant()) is None


# --- the verdict line ---------------------------------------------------------------------------


def comparison(step: int | None, *, lengths=(4, 4), suspects=(), unused=(), probed=False,
               letter: str = "B") -> Comparison:
    return Comparison(letter=letter, representative="x", first_divergent_step=step,
                      trail_lengths=lengths, max_abs_sum_diff=None, max_ulp=None,
                      suspect_ops=tuple(suspects), unused_ops=tuple(unused),
                      probe_compared=probed, tensor_diffs=(), fingerprint_diffs=(), series=None,
                      notes=())


A = Group("A", ("a1", "a2"), "a1")
B = Group("B", ("b1",), "b1")
C = Group("C", ("c1",), "c1")


def test_verdict_wording_for_one_other_group():
    def one(c: Comparison, by: str = "digest", not_compared: int = 0) -> str:
        return summarize([A, B], [c], by, not_compared)

    assert one(comparison(3, suspects=["Rsqrt"], probed=True)) == \
        "2 results — B diverges from A at step 3; suspect: Rsqrt"
    assert one(comparison(0, suspects=["Exp", "Rsqrt"])) == \
        ("2 results — B differs from A already before training (step 0); the initial weights "
         "already differ: the initializers ran differently")
    assert one(comparison(None, lengths=(4, 2), unused=["Exp", "Tanh"])) == (
        "2 results — B differs from A (trails of different lengths, equal over the common "
        "part); no suspect: the ops that differ (Exp, Tanh) are not in the train step")
    assert one(comparison(None, probed=True)) == ("2 results — B differs from A (every trail "
                                                   "entry is equal, only the final weights "
                                                   "differ); no probed op differs")
    assert one(comparison(None, lengths=None)) == \
        "2 results — B differs from A (no trail to locate the step)"
    assert one(comparison(2), by="sums", not_compared=1) == (
        "2 results, compared by weight sums only — B diverges from A in the after-training "
        "sums; 1 cell not compared")


def test_verdict_wording_for_several_groups_and_no_groups():
    line = summarize([A, B, C], [comparison(1, suspects=["Rsqrt"]), comparison(None, lengths=None,
                                                                               letter="C")],
                     "digest", 2)
    assert line == ("3 results — B diverges from A at step 1 (suspect: Rsqrt); C differs from A "
                    "(no trail to locate the step); 2 cells not compared")
    assert summarize([], [], "none", 0) == "no cell has a usable result"
    assert summarize([], [], "none", 3) == "no cell has a usable result; 3 cells not compared"
    assert summarize([B], [], "digest", 0) == "only 1 cell (b1), nothing to compare yet"
    assert summarize([B], [], "sums", 1) == \
        ("only 1 cell (b1), nothing to compare yet, compared by weight sums only; 1 cell not "
         "compared")
    assert summarize([A], [], "sums", 0) == \
        "same float32 weight sums on all 2 cells, compared by weight sums only"
    assert summarize([A], [], "digest", 0) == "bit-identical on all 2 cells"


# --- problems -----------------------------------------------------------------------------------


def test_settings_problems_name_at_most_five_settings_and_five_cells_each():
    def settings(optimizer: str):
        return (("optimizer", f'"{optimizer}"'),)

    cells = [cell(f"c{k:02d}", (variant(settings=settings("big")),)) for k in range(7)]
    cells += [cell(f"d{k:d}", (variant(settings=settings(f"opt{k:d}")),)) for k in range(6)]
    cells.append(cell("e-none", (variant(),)))  # no settings object: left out
    [line] = settings_problems("v", cells)
    assert line.startswith("variant v was run with different settings on different cells: [")
    assert "on c00, c01, c02, c03, c04 and 2 more; [" in line
    assert line.endswith("; 2 more different settings")
    assert line.count("] on ") == 5 and "d0" in line and "d4" not in line and "e-none" not in line
    assert settings_problems("v", cells[:7]) == []
    long_id = [cell("x" * 150, (variant(settings=settings("opt0")),))]
    [line] = settings_problems("v", cells[:1] + long_id)
    assert line.endswith("] on " + "x" * 100 + "\u2026(+50 chars)")  # a cell id is bounded
    assert settings_problems("v", cells[6:8]) == [
        "variant v was run with different settings on different cells: [{}] on c06; [{}] on d0".format("optimizer big", "optimizer opt0")]


def test_experiment_problems_name_the_keys_that_differ():
    same = (("seed", "42"), ("epochs", "1"))
    assert _experiment_problems([cell("a", experiment=same), cell("b", experiment=same)]) == []
    assert _experiment_problems([cell("a", experiment=same), cell("b")]) == []  # sums-only
    other = (("seed", "7"), ("epochs", "1"), ("rows", "3"))
    assert _experiment_problems([cell("a", experiment=same), cell("b", experiment=other)]) == [
        "the cells did not all run the same experiment (differences in: rows, seed)"]
    many = [cell("a", experiment=tuple((f"k{k:02d}", "1") for k in range(25))),
            cell("b", experiment=tuple((f"k{k:02d}", "2") for k in range(25)))]
    [line] = _experiment_problems(many)
    assert "k19" in line and "k20" not in line


def test_global_problems_name_the_file_and_what_happened():
    failed = cell("c-fail", status="error", error=ErrorInfo("out of memory", ""),
                  problems=("trail: too long",), source="dir/c-fail.json")
    silent = cell("c-silent", status="error")
    kept = cell("c-dup", source="b/c-dup.json")
    loaded = Loaded(cells=(failed, silent), duplicates=(Duplicate(kept, "a/c-dup.json"),),
                    rejected=(Rejected("x.json", "not JSON"),))
    assert global_problems(loaded) == (
        "x.json: ignored, not JSON",
        "b/c-dup.json: ignored, duplicate cell id c-dup (already read from a/c-dup.json)",
        "dir/c-fail.json: cell c-fail failed: out of memory",
        "dir/c-fail.json: trail: too long",
        "c-silent.json: cell c-silent failed: no message",
    )


# --- which tensors differ, and by how many ULP ----------------------------------------------------


def tensor(name: str, values: Sequence[float] | None, *, sha: str | None = None,
           shape: tuple[int, ...] = (2,), dtype: str = "float32") -> TensorRecord:
    data = None if values is None else f32(values)
    return TensorRecord(name, shape, sha if sha is not None else (data or b"").hex(), data, dtype)


def up(value: float, ulps: int) -> float:
    bits = struct.unpack("<I", struct.pack("<f", value))[0]
    return struct.unpack("<f", struct.pack("<I", bits + ulps))[0]


def test_tensor_diffs_name_each_differing_tensor_once_with_its_figures():
    from repromatrix.report.compare import _tensor_diffs

    ref = variant(tensors=(
        tensor("a", [1.0, 2.0]), tensor("a", [9.0, 9.0]),  # a repeated name counts once
        tensor("b", [1.0, 2.0]), tensor("c", [1.0, 2.0]),
        tensor("gone", [1.0, 1.0], dtype="float64"),
        tensor("hashed", None, sha="h1"), tensor("shaped", [1.0, 2.0]),
        tensor("typed", [1.0, 2.0])))
    other = variant(tensors=(
        tensor("a", [1.0, 2.0]), tensor("b", [up(1.0, 7), 2.0]), tensor("b", [5.0, 5.0]),
        tensor("c", [1.0, up(2.0, 3)]), tensor("hashed", None, sha="h2"),
        tensor("shaped", [1.0, 2.0], shape=(1, 2)), tensor("typed", [1.0, 2.0], dtype="int32"),
        tensor("new", [0.0, 0.0], dtype="int32"), tensor("new", [0.0, 0.0], dtype="int32")))
    diffs, overall = _tensor_diffs(ref, other)
    assert [(d.name, d.max_ulp, d.dtype) for d in diffs] == [
        ("b", 7, "float32"), ("c", 3, "float32"), ("gone", None, "float64"),
        ("hashed", None, "float32"), ("shaped", 0, "float32"), ("typed", None, "float32"),
        ("new", None, "int32")]  # a name only the other cell has, once, with its own dtype
    assert overall == 7  # the largest over the tensors, not the last one
    assert diffs[0].max_abs == 7 * 2.0**-23 and 0 < diffs[0].max_rel < diffs[0].max_abs
    assert diffs[1].max_abs == 3 * 2.0**-22
    assert diffs[2].max_abs is None and diffs[3].max_abs is None


def test_overall_ulp_is_zero_only_when_raw_data_was_compared_and_equal():
    from repromatrix.report.compare import _tensor_diffs

    same = variant(tensors=(tensor("a", [1.0, 2.0]),))
    assert _tensor_diffs(same, same) == ((), 0)
    no_data = variant(tensors=(tensor("a", None, sha="h"),))
    assert _tensor_diffs(no_data, no_data) == ((), None)  # nothing compared: no figure
    across = variant(tensors=(tensor("a", [1.0, 2.0]), tensor("z", [-1e-7, 1.0])))
    flipped = variant(tensors=(tensor("a", [1.0, 2.0]), tensor("z", [1e-7, 1.0])))
    diffs, overall = _tensor_diffs(across, flipped)
    assert overall is None and [(d.name, d.max_ulp) for d in diffs] == [("z", None)]


# --- probe ops ----------------------------------------------------------------------------------


def probed(*pairs: tuple[str, str, str]) -> tuple[ProbeRecord, ...]:
    return tuple(ProbeRecord(op, case, sha) for op, case, sha in pairs)


def test_probe_ops_split_suspects_from_unused_and_say_what_is_missing():
    from repromatrix.report.compare import _probe_ops

    mine = probed(("Rsqrt", "r", "1"), ("Exp", "e", "1"), ("Sqrt", "s", "1"), ("Tanh", "t", "1"),
                  ("Rsqrt", "r", "ignored: the first entry of a case counts"))
    theirs = probed(("Rsqrt", "r", "2"), ("Exp", "e", "2"), ("Sqrt", "s", "1"),
                    ("Log", "l", "1"), ("Exp", "e", "1"))
    a, b = cell("a", probe=mine), cell("b", probe=theirs)
    notes: list = []
    got = _probe_ops((a, variant()), (b, variant()), {"Rsqrt", "MatMul"}, notes)
    assert got == (("Rsqrt",), ("Exp",), True)
    assert notes == ["2 probe case(s) ran on only one of the two cells"]
    notes = []
    assert _probe_ops((a, variant()), (b, variant()), set(), notes) == ((), (), False)
    assert notes == ["2 probe case(s) ran on only one of the two cells",
                     "probe ops differ (Exp, Rsqrt) but the train step's op list is missing, so "
                     "none can be called a suspect"]
    notes = []
    assert _probe_ops((a, variant()), (a, variant()), set(), notes) == ((), (), True)
    assert notes == []
    notes = []
    bare = cell("c")
    assert _probe_ops((bare, variant(probe=())), (bare, variant()), {"Rsqrt"}, notes) == \
        ((), (), False)
    assert notes == ["no op probe results for c (its variant-level probe), c, so no suspect op "
                     "can be named"]
    notes = []
    _probe_ops((a, variant()), (bare, variant()), {"Rsqrt"}, notes)
    assert notes == ["no op probe results for c, so no suspect op can be named"]
    notes = []  # a variant's own probe replaces its cell's
    assert _probe_ops((bare, variant(probe=mine)), (a, variant(probe=theirs)), {"Rsqrt"}, notes) \
        == (("Rsqrt",), ("Exp",), True)


# --- the notes of one comparison and of a variant -----------------------------------------------


def test_compare_pair_notes_about_trails_and_sums():
    from repromatrix.report.compare import compare_pair

    a, b = cell("a"), cell("b")
    long = Trail(("t0", "t1", "t2"), ())
    pair = compare_pair("B", a, variant(trail=long), b,
                        variant(trail=Trail(("t0", "t1"), ()), digest="e"))
    assert (pair.first_divergent_step, pair.trail_lengths) == (None, (3, 2))
    assert pair.notes[0] == ("the trails have different lengths (3 and 2 entries); only the "
                             "first 2 were compared and are equal")
    pair = compare_pair("B", a, variant(trail=long), b,
                        variant(trail=Trail(("t0", "x1"), ()), digest="e"))
    assert pair.first_divergent_step == 1
    assert pair.notes[0] == ("the trails have different lengths (3 and 2 entries); only the "
                             "first 2 were compared")
    pair = compare_pair("B", a, variant(trail=long), b, variant(trail=long, digest="e"))
    assert pair.notes[0] == "every trail entry is equal although the final weights differ"
    assert compare_pair("B", a, variant(trail=long), b, variant(trail=long)).notes[0] != \
        "every trail entry is equal although the final weights differ"
    missing = "a training trail is missing, so the first divergent step is unknown"
    assert compare_pair("B", a, variant(trail=long), b, variant()).notes[0] == missing
    assert compare_pair("B", a, variant(digest=None), b, variant()).notes[0] == missing
    assert missing not in compare_pair("B", a, variant(digest=None), b,
                                       variant(digest=None)).notes
    pair = compare_pair("B", a, variant(after=(1.0, 2.0)), b, variant(after=(1.0,)))
    assert pair.max_abs_sum_diff is None
    assert "the after-training sums have different lengths" in pair.notes
    pair = compare_pair("B", a, variant(after=(1.0, 2.0)), b, variant(after=(1.0, 2.5)))
    assert pair.max_abs_sum_diff == 0.5
    assert "the after-training sums have different lengths" not in pair.notes
    assert compare_pair("B", a, variant(after=None), b, variant()).max_abs_sum_diff is None
    assert (pair.letter, pair.representative) == ("B", "b")


def test_compare_variant_notes_on_mixed_input_and_the_reference():
    from repromatrix.report.compare import compare_variant

    full = cell("a-full", (variant(after=(1.0,)),))
    sums = cell("b-sums", (variant(digest=None, after=(2.0,)),))
    no_sums = cell("c-none", (variant(digest="x", after=None),))
    result = compare_variant("v", [full, sums, no_sums], "zz-unknown")
    assert result.compared_by == "sums"
    assert result.notes[0] == ("mixed input: 1 of 3 cells have no whole-model digest, so all "
                               "cells of this variant were compared by their float32 weight sums")
    assert result.notes[1] == ("the requested reference cell has no usable result here; the "
                               "largest group is the reference")
    assert [(n.cell, n.reason) for n in result.not_compared] == [
        ("c-none", "no usable after-training sums (needed: other cells have sums only)")]
    bare = cell("d-bare", (variant(digest=None, after=None),))
    result = compare_variant("v", [sums, bare], "b-sums")
    assert [(n.cell, n.reason) for n in result.not_compared] == [
        ("d-bare", "no usable after-training sums")]
    assert result.notes == () and result.groups[0].cells == ("b-sums",)
    result = compare_variant("v", [full, cell("e", (variant(digest="other"),)), sums], "e")
    assert [g.cells for g in result.groups] == [("a-full", "e"), ("b-sums",)]
    assert result.groups[0].representative == "e"
    assert "group A: equal sums but different digests (the weights differ)" in result.notes


def test_compare_variant_takes_the_settings_of_the_reference_else_of_the_first_cell():
    from repromatrix.report.compare import compare_variant

    mine, theirs = (("optimizer", '"a"'),), (("optimizer", '"b"'),)
    cells = [cell("a", (variant(settings=None),)), cell("b", (variant(settings=theirs),)),
             cell("c", (variant(settings=mine),))]
    assert compare_variant("v", cells, None).settings == theirs  # reference group: no settings
    assert compare_variant("v", cells, "c").settings == mine
    failed = [cell("a", (variant(status="error", settings=mine),)),
              cell("b", (variant(status="error", settings=theirs),))]
    result = compare_variant("v", failed, None)
    assert result.settings == mine and result.compared_by == "none" and result.groups == ()


def test_compare_pair_without_trails_has_no_lengths_and_names_both_cells_for_a_rerun():
    from repromatrix.report.compare import compare_pair
    from repromatrix.report.root_cause import OpRecord, OpTrace

    a, b = cell("a-ref"), cell("b-other")
    pair = compare_pair("B", a, variant(), b, variant())
    assert pair.trail_lengths is None and pair.first_divergent_step is None
    record = OpRecord(1, "g", "Mul", "mul", 0, "float32", (1,), "s", (), None)
    traced = OpTrace((1,), (record,), True)
    trail = Trail(("t0", "t1", "t2"), ())
    pair = compare_pair("B", a, VariantRecord("v", "ok", None, None, "d", trail, (), (), None,
                                              op_trace=traced),
                        b, VariantRecord("v", "ok", None, None, "e", Trail(("t0", "t1", "x2"), ()),
                                         (), (), None, op_trace=traced))
    assert pair.first_divergent_step == 2
    assert pair.notes[-1] == ("the first divergent step (2) lies beyond the traced steps (1); "
                              "trace it: nox -s repro -- --variant v --trace-step 2 (on a-ref and "
                              "on b-other)")


def test_a_root_cause_without_a_likely_cause_adds_nothing_to_the_verdict():
    from dataclasses import replace

    from repromatrix.report.root_cause import RootCause

    cause = RootCause(step=2, op_type="Rsqrt", op_name="Rsqrt_2", graph="g",
                      phase="optimizer update", dtype="float32", inputs_identical=True,
                      elements=None, elements_differing=None, max_ulp=None, max_abs=None,
                      max_rel=None, sign_changes=None)
    blamed = replace(comparison(2, suspects=["Exp"]), root_cause=cause)
    assert summarize([A, B], [blamed], "digest", 0) == \
        "2 results — B diverges from A at step 2; root cause: Rsqrt at step 2"


def test_the_aggregate_keeps_the_requested_reference():
    from repromatrix.report.compare import compare

    loaded = Loaded(cells=(cell("a", (variant(),)), cell("b", (variant(digest="e"),))),
                    duplicates=(), rejected=())
    assert compare(loaded, "b").requested_reference == "b"
    assert compare(loaded).requested_reference is None
    assert compare(loaded, "b").variants[0].groups[0].cells == ("b",)


def test_settings_problems_at_exactly_five_and_with_long_texts():
    def settings(optimizer: str):
        return (("optimizer", f'"{optimizer}"'),)

    five = [cell(f"c{k:d}", (variant(settings=settings("big")),)) for k in range(5)]
    five += [cell(f"d{k:d}", (variant(settings=settings(f"opt{k:d}")),)) for k in range(4)]
    [line] = settings_problems("v", five)
    assert "on c0, c1, c2, c3, c4; [" in line and " more" not in line  # five of each: all named
    assert line.count("] on ") == 5
    name = "v" * 150
    pair = [cell("a", (variant(name, settings=settings("o" * 300)),)),
            cell("b", (variant(name, settings=settings("p")),))]
    [line] = settings_problems(name, pair)
    assert line.startswith("variant " + "v" * 100 + "\u2026(+50 chars) was run with different")
    assert "[optimizer " + "o" * 190 + "\u2026(+110 chars)] on a" in line
