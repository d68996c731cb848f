"""The published figures of the original report, aggregated."""

from __future__ import annotations

import json
from pathlib import Path

from repromatrix.report import aggregate, render

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "original-report"


def test_example_files_hold_the_published_vectors():
    files = sorted(p.name for p in EXAMPLE.glob("*.json"))
    assert files == ["home-amd.json", "laptop-intel.json", "office-amd.json"]
    intel = json.loads((EXAMPLE / "laptop-intel.json").read_text())
    sums = intel["variants"]["default-optimizer"]["weight_sums"]
    assert sums["after"] == [-168.1607, -6.258976, 50.797672, 0.42788112, 0.15801406, -0.26924044]
    assert sums["before"] == [-9.959677, 0.0, -5.590966, 0.0, -1.1521256, 0.0]
    assert "adam" not in intel["variants"]  # adam sums were never published


def test_original_report_groups_amd_apart_from_intel():
    agg = aggregate([EXAMPLE])
    (result,) = agg.variants
    assert result.name == "default-optimizer" and result.compared_by == "sums"
    assert [(g.letter, g.cells) for g in result.groups] == [
        ("A", ("home-amd", "office-amd")),
        ("B", ("laptop-intel",)),
    ]
    assert (
        result.summary
        == "2 results, compared by weight sums only — B differs from A in the after-training sums"
    )
    assert agg.problems == ()


def test_original_report_prints_vectors_as_published():
    agg = aggregate([EXAMPLE])
    md = render(agg, "markdown")
    assert "`[-9.959677, 0.0, -5.590966, 0.0, -1.1521256, 0.0]`" in md
    assert "| A (reference) | home-amd, office-amd |" in md
    assert "`[-159.85245, -5.7658424, 57.23868, 0.47032726, 0.13733912, -0.25829855]`" in md
    assert (
        "| B | laptop-intel | `[-9.959677, 0.0, -5.590966, 0.0, -1.1521256, 0.0]` | "
        "`[-168.1607, -6.258976, 50.797672, 0.42788112, 0.15801406, -0.26924044]` |" in md
    )
    assert "compared by weight sums only" in md
    text = render(agg, "text", width=100)
    assert (
        "      after  [-168.1607, -6.258976, 50.797672, 0.42788112, 0.15801406, -0.26924044]"
        in text
    )
    assert "cpu.vendor: AuthenticAMD | GenuineIntel" in text
