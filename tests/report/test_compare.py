from __future__ import annotations

import math

import pytest

from repromatrix.errors import UsageError
from repromatrix.report import aggregate
from repromatrix.report.compare import (
    FLOOR_LOG10,
    MAX_CHART_POINTS,
    first_divergent_step,
    letter,
    order_groups,
    tensor_max_ulp,
)


def _agg(art, tmp_path, docs, reference=None):
    return aggregate(art.write(tmp_path, docs), reference=reference)


def _variant(agg, name="default-optimizer"):
    return next(v for v in agg.variants if v.name == name)


def test_letters():
    assert [letter(i) for i in (0, 1, 25, 26, 27, 701, 702)] == [
        "A",
        "B",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]


def test_order_groups_largest_first_ties_by_smallest_id():
    keys = {"d": 2, "a": 1, "c": 2, "b": 3, "e": 1}
    assert order_groups(keys, None) == [["a", "e"], ["c", "d"], ["b"]]
    assert order_groups(keys, "b") == [["b"], ["a", "e"], ["c", "d"]]


def test_two_groups_report_case(art, tmp_path):
    agg = _agg(art, tmp_path, art.two_group_docs())
    result = _variant(agg)
    assert [(g.letter, g.cells) for g in result.groups] == [
        ("A", ("ubuntu-amd-1", "ubuntu-amd-2")),
        ("B", ("ubuntu-intel",)),
    ]
    comparison = result.comparisons[0]
    assert comparison.first_divergent_step == 1
    assert comparison.suspect_ops == ("Rsqrt",)
    assert comparison.unused_ops == ("Exp",)  # differs in the probe but not in the train step
    assert comparison.max_ulp == 3
    assert [(d.name, d.max_ulp) for d in comparison.tensor_diffs] == [("dense/kernel:0", 3)]
    assert comparison.max_abs_sum_diff == pytest.approx(168.1607 - 159.85245, abs=1e-4)
    assert {d.key for d in comparison.fingerprint_diffs} == {"cpu.model", "cpu.vendor"}
    assert result.summary == "2 results — B diverges from A at step 1; suspect: Rsqrt"
    adam = _variant(agg, "adam")
    assert adam.summary == "bit-identical on all 3 cells" and not adam.diverges
    assert agg.diverges


def test_reference_option_changes_group_a(art, tmp_path):
    agg = _agg(art, tmp_path, art.two_group_docs(), reference="ubuntu-intel")
    result = _variant(agg)
    assert (
        result.groups[0].cells == ("ubuntu-intel",)
        and result.groups[0].representative == "ubuntu-intel"
    )
    assert result.groups[1].cells == ("ubuntu-amd-1", "ubuntu-amd-2")
    assert result.summary.startswith("2 results — B diverges from A at step 1")


def test_reference_picks_its_own_representative(art, tmp_path):
    agg = _agg(art, tmp_path, art.two_group_docs(), reference="ubuntu-amd-2")
    assert _variant(agg).groups[0].representative == "ubuntu-amd-2"


def test_unknown_reference_is_a_usage_error(art, tmp_path):
    with pytest.raises(UsageError, match="not a cell"):
        _agg(art, tmp_path, art.two_group_docs(), reference="nope")


def test_tie_goes_to_smallest_cell_id(art, tmp_path):
    docs = [art.intel_cell("a-intel"), art.cell("b-amd")]
    result = _variant(_agg(art, tmp_path, docs))
    assert result.groups[0].cells == ("a-intel",) and result.groups[1].cells == ("b-amd",)


def test_first_divergent_step_function():
    assert first_divergent_step(["a", "b", "c"], ["a", "b", "c"]) is None
    assert first_divergent_step(["a", "b", "c"], ["a", "x", "y"]) == 1
    assert first_divergent_step(["a", "b"], ["a", "b", "c"]) is None


def test_divergence_before_training_is_step_0(art, tmp_path):
    docs = [
        art.cell("a"),
        art.cell(
            "b",
            {
                "default-optimizer": art.variant(
                    trail=("z0", "z1", "z2", "z3"), kernel=[9.0, 1, 1, 1]
                )
            },
        ),
    ]
    result = _variant(_agg(art, tmp_path, docs))
    assert result.comparisons[0].first_divergent_step == 0
    assert "already before training (step 0)" in result.summary


def test_trails_of_different_lengths_compare_the_common_prefix(art, tmp_path):
    docs = [
        art.cell("a"),
        art.cell(
            "b", {"default-optimizer": art.variant(trail=("t0", "t1"), kernel=[9.0, 1, 1, 1])}
        ),
    ]
    comparison = _variant(_agg(art, tmp_path, docs)).comparisons[0]
    assert comparison.first_divergent_step is None and comparison.trail_lengths == (4, 2)
    assert any(
        "different lengths (4 and 2 entries); only the first 2 were compared and are equal" in n
        for n in comparison.notes
    )
    docs[1]["variants"]["default-optimizer"]["trail"]["digest"] = ["t0", "q1"]
    comparison = _variant(_agg(art, tmp_path / "2", docs)).comparisons[0]
    assert comparison.first_divergent_step == 1


def test_tensor_max_ulp_across_zero(art):
    a = art.f32_bytes([1e-45, 0.0, 1.0])
    b = art.f32_bytes([-1e-45, -0.0, 1.0])
    assert tensor_max_ulp(a, b) == 2
    assert tensor_max_ulp(a, a) == 0
    assert tensor_max_ulp(a, a[:4]) is None


def test_ulp_uses_raw_data_when_present(art, tmp_path):
    other = art.variant(kernel=[-1e-45, -0.25, 1.0, 2.0])
    docs = [art.cell("a"), art.cell("b", {"default-optimizer": other})]
    docs[0]["variants"]["default-optimizer"] = art.variant(kernel=[1e-45, -0.25, 1.0, 2.0])
    assert _variant(_agg(art, tmp_path, docs)).comparisons[0].max_ulp == 2


def test_no_suspect_when_only_unused_ops_differ(art, tmp_path):
    docs = art.two_group_docs()
    docs[2]["probe"] = art.probe(exp="e-intel")  # Rsqrt now identical
    result = _variant(_agg(art, tmp_path, docs))
    assert result.comparisons[0].suspect_ops == () and result.comparisons[0].unused_ops == ("Exp",)
    assert result.summary.endswith(
        "no suspect: the ops that differ (Exp) are not in the train step"
    )


def test_probe_identical_says_no_probed_op_differs(art, tmp_path):
    docs = art.two_group_docs()
    docs[2]["probe"] = art.probe()
    assert _variant(_agg(art, tmp_path, docs)).summary.endswith("; no probed op differs")


def test_three_groups_each_get_a_clause(art, tmp_path):
    third = art.cell(
        "z-arm",
        {"default-optimizer": art.variant(trail=("t0", "t1", "t2", "y3"), kernel=[7.0, 1, 1, 1])},
        probe_entries=art.probe(),
    )
    result = _variant(_agg(art, tmp_path, art.two_group_docs() + [third]))
    assert [g.letter for g in result.groups] == ["A", "B", "C"]
    assert result.summary == (
        "3 results — B diverges from A at step 1 (suspect: Rsqrt); "
        "C diverges from A at step 3 (no probed op differs)"
    )


def test_sums_only_grouping_uses_float32_bits(art, tmp_path):
    nearly = list(art.AFTER_AMD)
    nearly[0] = -159.8526  # a different float32
    same_f32 = list(art.AFTER_AMD)
    same_f32[2] = 57.238681  # rounds to the same float32 as 57.23868
    docs = [
        art.sums_cell("a", art.AFTER_AMD),
        art.sums_cell("b", same_f32),
        art.sums_cell("c", nearly),
    ]
    result = _variant(_agg(art, tmp_path, docs))
    assert result.compared_by == "sums"
    assert [g.cells for g in result.groups] == [("a", "b"), ("c",)]
    assert "compared by weight sums only" in result.summary
    assert result.comparisons[0].first_divergent_step is None


def test_mixed_full_and_sums_only_cells(art, tmp_path):
    docs = art.two_group_docs() + [art.sums_cell("laptop", art.AFTER_INTEL, vendor="GenuineIntel")]
    result = _variant(_agg(art, tmp_path, docs))
    assert result.compared_by == "sums"
    # two groups of two: the tie goes to the group holding the smallest cell id ("laptop")
    assert [g.cells for g in result.groups] == [
        ("laptop", "ubuntu-intel"),
        ("ubuntu-amd-1", "ubuntu-amd-2"),
    ]
    assert (
        result.groups[0].representative == "ubuntu-intel"
    )  # the member with a digest, trail and probe
    assert any("mixed input: 1 of 4 cells have no whole-model digest" in n for n in result.notes)
    assert "compared by weight sums only" in result.summary
    assert result.comparisons[0].suspect_ops == ("Rsqrt",)


def test_equal_sums_but_different_digests_are_noted(art, tmp_path):
    docs = [
        art.cell("a"),
        art.cell("b", {"default-optimizer": art.variant(kernel=[9.0, 1, 1, 1])}),
        art.sums_cell("c", art.AFTER_AMD),
    ]
    result = _variant(_agg(art, tmp_path, docs))
    assert len(result.groups) == 1
    assert any("equal sums but different digests" in n for n in result.notes)


def test_failed_variant_and_cell_are_not_compared(art, tmp_path):
    failed_variant = art.variant(status="error")
    failed_variant["error"] = {"message": "OOM", "log_tail": "killed"}
    docs = art.two_group_docs() + [
        art.cell("v-fail", {"default-optimizer": failed_variant}),
        art.cell(
            "c-fail",
            {},
            status="error",
            error={"message": "import failed", "log_tail": "Traceback"},
        ),
    ]
    agg = _agg(art, tmp_path, docs)
    result = _variant(agg)
    reasons = {n.cell: n.reason for n in result.not_compared}
    assert reasons == {"c-fail": "cell failed", "v-fail": "variant failed: OOM"}
    assert result.summary.endswith("; 2 cells not compared")
    assert any("cell c-fail failed: import failed" in p for p in agg.problems)


def test_all_cells_failed(art, tmp_path):
    failed = art.variant(status="error")
    result = _variant(_agg(art, tmp_path, [art.cell("a", {"default-optimizer": failed})]))
    assert result.compared_by == "none" and result.groups == ()
    assert result.summary == "no cell has a usable result; 1 cell not compared"


def test_single_cell(art, tmp_path):
    result = _variant(_agg(art, tmp_path, [art.cell("local")]))
    assert result.summary == "only 1 cell (local), nothing to compare yet"


def test_chart_series_floor_and_downsampling(art, tmp_path):
    n = 1000
    ref = [f"r{k:d}" for k in range(n + 1)]
    other = ref[:500] + [f"o{k:d}" for k in range(500, n + 1)]
    sums = [float(k) for k in range(n + 1)]
    other_sums = sums[:500] + [s + 1e-3 for s in sums[500:]]
    docs = [
        art.cell("a", {"default-optimizer": art.variant(trail=ref, trail_sums=sums)}),
        art.cell(
            "b",
            {
                "default-optimizer": art.variant(
                    trail=other, trail_sums=other_sums, kernel=[9.0, 1, 1, 1]
                )
            },
        ),
    ]
    series = _variant(_agg(art, tmp_path, docs)).comparisons[0].series
    assert len(series.values) == MAX_CHART_POINTS and series.last_step == n
    assert series.values[0] == FLOOR_LOG10  # equal digests -> floor, not log10(0)
    assert series.values[-1] == pytest.approx(-3.0, abs=0.01)
    assert series.steps == tuple(sorted(series.steps)) and series.steps[0] == 0


def test_different_experiments_are_reported(art, tmp_path):
    docs = art.two_group_docs()
    docs[1]["experiment"]["seed"] = 7
    agg = _agg(art, tmp_path, docs)
    assert any(
        "did not all run the same experiment (differences in: seed)" in p for p in agg.problems
    )


def test_nan_sums_compare_by_digest_and_show_inf_difference(art, tmp_path):
    bad = art.variant(after=[math.nan] * 6, kernel=[9.0, 1, 1, 1])
    docs = [art.cell("a"), art.cell("b", {"default-optimizer": bad})]
    comparison = _variant(_agg(art, tmp_path, docs)).comparisons[0]
    assert comparison.max_abs_sum_diff == math.inf


def test_sums_only_cell_without_sums_is_not_compared(art, tmp_path):
    empty = art.sums_cell("c", art.AFTER_AMD)
    del empty["variants"]["default-optimizer"]["weight_sums"]["after"]
    docs = [art.sums_cell("a", art.AFTER_AMD), art.sums_cell("b", art.AFTER_INTEL), empty]
    result = _variant(_agg(art, tmp_path, docs))
    assert [(n.cell, n.reason) for n in result.not_compared] == [("c", "no usable after-training sums")]
    assert result.summary.endswith("; 1 cell not compared")


def test_reference_without_result_in_one_variant_falls_back_with_a_note(art, tmp_path):
    docs = art.two_group_docs()
    docs[2]["variants"]["adam"] = art.variant(status="error")
    agg = _agg(art, tmp_path, docs, reference="ubuntu-intel")
    adam = _variant(agg, "adam")
    assert adam.groups[0].cells == ("ubuntu-amd-1", "ubuntu-amd-2")
    assert any("requested reference cell has no usable result" in n for n in adam.notes)
    assert _variant(agg).groups[0].cells == ("ubuntu-intel",)


def test_float64_weights_below_float32_resolution_are_two_groups(art, tmp_path):
    """The issue's false "bit-identical": float64 weights that differ by 1e-13 (invisible in
    float32) are two groups, with the first divergent step and the ULP distance in float64 units.
    Records are made by the runner's own functions."""
    import numpy as np

    from repromatrix.cell.trail import hash_hex, tensor_records, trail_hash, weights_digest

    kernel = np.array([[0.5, -0.25], [1.0, 2.0]])
    bias = np.array([0.0, -0.0])
    moved = kernel.copy()
    moved[1, 0] += 1e-13
    docs = []
    for name, final in (("native", kernel), ("other", moved)):
        weights = [("dense/kernel:0", final), ("dense/bias:0", bias)]
        record = art.variant()
        record["tensors"] = tensor_records(weights)
        record["digest"] = weights_digest(weights)
        record["trail"]["digest"] = [hash_hex(trail_hash([k, bias])) for k in (kernel, kernel, final)]
        record["trail"]["sum"] = [0.0, 1.0, 2.0]
        record["trail"]["steps"] = 2
        docs.append(art.cell(name, {"default-optimizer": record}))
    assert docs[0]["variants"]["default-optimizer"]["tensors"][0]["dtype"] == "float64"
    result = _variant(_agg(art, tmp_path, docs))
    assert [g.cells for g in result.groups] == [("native",), ("other",)]
    comparison = result.comparisons[0]
    assert comparison.first_divergent_step == 2
    assert comparison.max_ulp == 450  # float64 steps; as float32 these weights are equal
    assert [(d.name, d.max_ulp) for d in comparison.tensor_diffs] == [("dense/kernel:0", 450)]


def test_tensors_of_another_dtype_differ(art, tmp_path):
    """Same bytes, another dtype: the tensor is listed as differing, with no ULP figure."""
    docs = [art.cell("a"), art.cell("b")]
    docs[1]["variants"]["default-optimizer"]["tensors"][0]["dtype"] = "int32"
    docs[1]["variants"]["default-optimizer"]["digest"] = "0" * 64
    comparison = _variant(_agg(art, tmp_path, docs)).comparisons[0]
    assert [(d.name, d.max_ulp) for d in comparison.tensor_diffs] == [("dense/kernel:0", None)]
