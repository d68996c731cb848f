"""The verdict line (report/verdict.py), the grid (report/grid.py) and what the report calls
deliberate: every figure here is computed from the synthetic artifacts, never echoed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from repromatrix.report import aggregate, render
from repromatrix.report.chart import mermaid, y_bottom
from repromatrix.report.grid import build_grid
from repromatrix.report.verdict import optimizer_name, shared_readings, sig3, trend, verdict


def _diverging(art, tmp_path: Path, sums: tuple[float, ...], loss: float = 0.5):
    other = art.intel_cell("intel")
    record = other["variants"]["default-optimizer"]
    record["trail"] = {"steps": len(sums) - 1, "digest": ["t0"] + [f"x{k}" for k in
                                                                   range(1, len(sums))],
                       "sum": list(sums)}
    record["loss"] = loss
    docs = [art.cell("amd")]
    reference = docs[0]["variants"]["default-optimizer"]
    reference["trail"] = {"steps": len(sums) - 1,
                          "digest": [f"t{k}" for k in range(len(sums))],
                          "sum": [float(k) for k in range(len(sums))]}
    return aggregate(art.write(tmp_path, docs + [other]))


def test_verdict_names_cells_step_size_and_loss(art, tmp_path):
    agg = _diverging(art, tmp_path, (0.0, 1.001, 2.001, 3.001, 4.001, 5.001), loss=0.5 + 2**-20)
    result = agg.variants[1]
    line = verdict(agg, result)
    assert line.startswith("intel differs from amd from step 1 (suspect op Rsqrt; ")
    # the kernel's largest relative element difference: 0.5 moved by 3 ULP (2**-24 each)
    assert f"weights differ by up to {sig3(3 * 2.0**-24 / 0.5)} relative" in line
    assert f"final loss by {sig3(2**-20)} (of 0.5)" in line
    assert "stays bounded over training" in line
    assert "A " not in line and " B " not in line  # machines, not letters


def test_trend_grows_when_the_late_difference_is_ten_times_the_early_one(art, tmp_path):
    growing = _diverging(art, tmp_path / "g", (0.0, 1.0001, 2.0001, 3.01, 4.1, 6.0))
    (comparison,) = growing.variants[1].comparisons
    assert trend(comparison) == "grows over training"
    bounded = _diverging(art, tmp_path / "b", (0.0, 1.001, 2.001, 3.001, 4.001, 5.001))
    assert trend(bounded.variants[1].comparisons[0]) == "stays bounded over training"
    short = _diverging(art, tmp_path / "s", (0.0, 1.1, 2.1))
    assert trend(short.variants[1].comparisons[0]) is None  # too few steps to tell


def test_chart_axis_starts_a_decade_below_the_smallest_real_difference(art, tmp_path):
    agg = _diverging(art, tmp_path, (0.0, 1.001, 2.01, 3.1, 4.1))
    result = agg.variants[1]
    series = [c.series for c in result.comparisons]
    assert y_bottom(series) == -4  # smallest difference 1e-3 (step 1)
    block = mermaid(result)
    assert block is not None and 'y-axis "log10 abs difference" -4 --> 0' in block
    assert "line [-4, -3, " in block  # the equal step 0 is drawn at the bottom, not at -16


def test_optimizer_real_name():
    assert optimizer_name("default") == "RMSprop, Keras's default"
    assert optimizer_name("adam") == "Adam" and optimizer_name("my.module:Opt") == "my.module:Opt"


def _env_docs(art, env_b: str):
    docs = [art.cell("a"), art.intel_cell("b")]
    docs[0]["experiment"]["env"] = {"TF_ENABLE_ONEDNN_OPTS": "0"}
    docs[1]["experiment"]["env"] = {"TF_ENABLE_ONEDNN_OPTS": env_b}
    return docs


def test_cell_environment_is_varied_on_purpose_not_a_problem(art, tmp_path):
    agg = aggregate(art.write(tmp_path, _env_docs(art, "1")))
    assert agg.problems == ()
    md = render(agg, "markdown")
    assert "problem" not in md
    assert ("the cell environment (TF_ENABLE_ONEDNN_OPTS, the grid's env column)."
            in md.split("\n\n")[4])  # after the verdicts and the remedy hint
    grid = build_grid(agg)  # one variable on every cell: its name in the header, values below
    assert grid.headers[2] == "env TF_ENABLE_ONEDNN_OPTS"
    assert [row[2] for row in grid.rows] == ["0", "1"]


def test_a_real_experiment_mismatch_stays_a_problem(art, tmp_path):
    docs = _env_docs(art, "1")
    docs[1]["experiment"]["seed"] = 7
    agg = aggregate(art.write(tmp_path, docs))
    assert agg.problems == ("the cells did not all run the same experiment (differences in: "
                            "seed)",)


@pytest.mark.parametrize("flags", [[], ""])
def test_unknown_cpu_flags_are_never_a_cause(art, tmp_path, flags):
    """qemu-user hides the flags (an empty list): that is unknown, not "the native cell has
    avx2 and the emulated one does not"."""
    docs = [art.cell("native"), art.intel_cell("emulated")]
    docs[1]["fingerprint"]["cpu"]["flags"] = flags
    docs[1]["fingerprint"]["cpu"]["emulated"] = "Haswell"
    (comparison,) = aggregate(art.write(tmp_path, docs)).variants[1].comparisons
    assert [c.cause for c in comparison.likely_causes] == ["emulation"]
    docs[1]["fingerprint"]["cpu"]["flags"] = ["avx"]  # known and different: a cause
    (comparison,) = aggregate(art.write(tmp_path / "known", docs)).variants[1].comparisons
    assert [c.cause for c in comparison.likely_causes] == ["emulation", "CPU ISA"]


def test_grid_says_shared_facts_once_and_keeps_differing_columns(art, tmp_path):
    grid = build_grid(aggregate(art.write(tmp_path, art.two_group_docs())))
    assert ("arch", "x86_64") in grid.shared and ("OS", "Ubuntu 24.04") in grid.shared
    assert grid.headers == ("cell", "CPU", "adam", "default-optimizer")
    assert grid.rows[2] == ("ubuntu-intel", "Intel Xeon Platinum 8370C", "=", "step 1 Rsqrt")


def test_grid_letters_only_where_two_groups_would_read_the_same(art, tmp_path):
    docs = [art.cell("amd"), art.intel_cell("i1"), art.intel_cell("i2")]
    docs[2]["variants"]["default-optimizer"]["digest"] = "another result"
    grid = build_grid(aggregate(art.write(tmp_path / "same", docs)))
    assert [row[-1] for row in grid.rows] == ["ref", "B: step 1 Rsqrt", "C: step 1 Rsqrt"]
    docs[2]["variants"]["default-optimizer"]["trail"]["digest"][1] = "t1"  # now from step 2
    grid = build_grid(aggregate(art.write(tmp_path / "apart", docs)))
    assert [row[-1] for row in grid.rows] == ["ref", "step 1 Rsqrt", "step 2 Rsqrt"]


def test_a_finding_both_variants_share_is_said_once(art, tmp_path):
    agg = aggregate(art.write(tmp_path, art.two_group_docs()))
    result = agg.variants[1]
    (comparison,) = result.comparisons
    twin = dataclasses.replace(result, name="twin")
    said = shared_readings([(result, comparison), (twin, comparison)])
    assert said == [("default-optimizer, twin",
                     "no op trace; op probe suspects: Rsqrt; differ but unused: Exp")]
    other = dataclasses.replace(comparison, suspect_ops=("Exp",), unused_ops=())
    assert [names for names, _ in shared_readings([(result, comparison), (twin, other)])] == [
        "default-optimizer", "twin"]
