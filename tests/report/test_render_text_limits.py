"""The text report's per-comparison lines: what stands for a missing figure, how lists are
joined, which unit a tensor's ULP figure is in, and how much of each untrusted string is
shown before it is cut (a long name must neither flood the terminal nor lose its useful part).
The comparison comes from real artifacts; only the fields under test are replaced."""

from __future__ import annotations

import dataclasses
import types

from repromatrix.report import aggregate
from repromatrix.report.render_text import render_wide as render_text  # the --wide layout


def _with_comparison(agg, **changes):  # type: ignore[no-untyped-def]
    """``agg`` with the default optimizer's B-vs-A comparison changed as given."""
    variants = []
    for result in agg.variants:
        if result.comparisons:
            result = dataclasses.replace(result, comparisons=(
                dataclasses.replace(result.comparisons[0], **changes),))
        variants.append(result)
    return dataclasses.replace(agg, variants=tuple(variants))


def _block(text: str) -> list[str]:
    start = text.index("  B vs A: ")
    return text[start:].split("\n")


def test_missing_figures_and_joined_op_lists(art, tmp_path) -> None:  # type: ignore[no-untyped-def]
    agg = _with_comparison(aggregate(art.write(tmp_path, art.two_group_docs())),
                           max_ulp=None, max_abs_sum_diff=None, first_divergent_step=None,
                           suspect_ops=("Rsqrt", "Sqrt"), unused_ops=("Exp", "Log"))
    lines = _block(render_text(agg))
    assert lines[0] == ("  B vs A: first divergent step -, max abs sum difference -, "
                        "max ULP distance -")
    assert lines[1] == "    suspects: Rsqrt, Sqrt; differ but unused: Exp, Log"


def test_tensor_names_cut_at_100_characters_figures_in_their_unit(art, tmp_path) -> None:  # type: ignore[no-untyped-def]
    agg = aggregate(art.write(tmp_path, art.two_group_docs()))
    diff = agg.variants[1].comparisons[0].tensor_diffs[0]
    name = "n" * 95 + "12345" + "tail-of-the-name"
    agg = _with_comparison(agg, tensor_diffs=(
        dataclasses.replace(diff, name=name, dtype="float64", max_ulp=3, max_abs=2.0,
                            max_rel=0.5),))
    line = next(line for line in render_text(agg).split("\n") if "tensors whose bytes" in line)
    assert line == ("    tensors whose bytes differ: " + "n" * 95 + "12345…(+16 chars) "
                    "(3 float64 ULP, abs 2, rel 0.5)")


def test_tensor_figures_cut_at_160_characters(art, tmp_path) -> None:  # type: ignore[no-untyped-def]
    agg = aggregate(art.write(tmp_path, art.two_group_docs()))
    diff = agg.variants[1].comparisons[0].tensor_diffs[0]
    # a dtype name comes from the artifact: a hostile one makes the figures long
    dtype = "d" * 200
    agg = _with_comparison(agg, tensor_diffs=(
        dataclasses.replace(diff, dtype=dtype, max_ulp=3, max_abs=None, max_rel=None),))
    line = next(line for line in render_text(agg).split("\n") if "tensors whose bytes" in line)
    figures = "3 " + dtype + " ULP"
    assert line.endswith(f"({figures[:160]}…(+{len(figures) - 160:d} chars))")


def test_root_cause_lines_shown_up_to_600_characters(art, tmp_path) -> None:  # type: ignore[no-untyped-def]
    agg = aggregate(art.write(tmp_path, art.two_group_docs()))
    reading = "r" * 587  # "root cause: " + this = 599 characters, beyond the default cut
    cause = types.SimpleNamespace(reading=lambda: reading)
    lines = _block(render_text(_with_comparison(agg, root_cause=cause)))
    assert "    root cause: " + reading in lines
    long = types.SimpleNamespace(reading=lambda: "r" * 600)
    lines = _block(render_text(_with_comparison(agg, root_cause=long)))
    assert "    root cause: " + "r" * 588 + "…(+12 chars)" in lines


def test_fingerprint_keys_cut_at_100_characters(art, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from repromatrix.report.compare import FingerprintDiff

    agg = aggregate(art.write(tmp_path, art.two_group_docs()))
    key = "cpu." + "k" * 96 + "tail"  # a fingerprint key is whatever the artifact holds
    agg = _with_comparison(agg, fingerprint_diffs=(FingerprintDiff(key, "a", "b"),))
    assert "      " + key[:100] + "…(+4 chars): a | b" in render_text(agg).split("\n")
