"""Variant settings (shown next to the verdicts) and variant-level probe results."""

from __future__ import annotations

import json
import random

import pytest

from repromatrix.report import aggregate, render
from repromatrix.report.compare import compare
from repromatrix.report.escape import ZWJ
from repromatrix.report.load import collect, parse_artifact
from repromatrix.report.model import CellRecord, settings_text


def _parse(doc) -> CellRecord:
    parsed = parse_artifact(json.dumps(doc), "x.json")
    assert isinstance(parsed, CellRecord)
    return parsed


def _text_of(art, **settings) -> str:
    cell = _parse(art.cell("c", {"v": art.variant(settings=settings)}))
    text = settings_text(cell.variants[0].settings)
    assert text is not None
    return text


def aggregate_docs(docs):
    return compare(
        collect(parse_artifact(json.dumps(d), f"{i:d}.json") for i, d in enumerate(docs))
    )


def _variant(agg, name="default-optimizer"):
    return next(v for v in agg.variants if v.name == name)


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({}, "optimizer default"),
        ({"optimizer": "adam"}, "optimizer adam"),
        ({"env": {"TF_ENABLE_ONEDNN_OPTS": "0"}}, "optimizer default; env TF_ENABLE_ONEDNN_OPTS=0"),
        ({"env": {"B": "2", "A": "1"}}, "optimizer default; env A=1 B=2"),
        (
            {"threads": {"inter_op": 2, "intra_op": 1}},
            "optimizer default; threads intra_op=1 inter_op=2",
        ),
        ({"op_determinism": True}, "optimizer default; op determinism"),
        (
            {
                "optimizer": "legacy-rmsprop",
                "env": {"TF_ENABLE_ONEDNN_OPTS": "0"},
                "threads": {"intra_op": 1, "inter_op": 1},
                "op_determinism": True,
            },
            (
                "optimizer legacy-rmsprop; env TF_ENABLE_ONEDNN_OPTS=0; "
                "threads intra_op=1 inter_op=1; op determinism"
            ),
        ),
        ({"future_knob": 3, "quiet_knob": None}, "optimizer default; future_knob=3"),
    ],
)
def test_settings_text_for_each_kind(art, settings, expected):
    assert _text_of(art, **settings) == expected


def test_settings_are_canonical_and_sorted(art):
    a = _parse(art.cell("a", {"v": art.variant(settings={"env": {"X": "1", "Y": "2"}})}))
    doc = art.cell("b", {"v": art.variant()})
    doc["variants"]["v"]["settings"] = {
        "threads": None,
        "env": {"Y": "2", "X": "1"},
        "optimizer": "default",
        "op_determinism": False,
    }
    b = _parse(doc)
    assert a.variants[0].settings == b.variants[0].settings
    assert [k for k, _ in a.variants[0].settings] == sorted(k for k, _ in a.variants[0].settings)
    assert a.problems == () and b.problems == ()


def test_missing_and_malformed_settings_never_raise(art):
    doc = art.cell("c", {"gone": art.variant(), "text": art.variant(), "typed": art.variant()})
    del doc["variants"]["gone"]["settings"]
    doc["variants"]["text"]["settings"] = "adam please"
    doc["variants"]["typed"]["settings"] = {
        "optimizer": 7,
        "env": {"A": 1},
        "threads": {"intra_op": True},
        "op_determinism": "yes",
    }
    cell = _parse(doc)
    by_name = {v.name: v for v in cell.variants}
    assert by_name["gone"].settings is None and by_name["text"].settings is None
    assert 'variant "text": settings is not an object' in cell.problems
    for key in ("optimizer", "env", "threads", "op_determinism"):
        assert any(f'variant "typed": settings.{key} is not' in p for p in cell.problems)
    assert settings_text(by_name["typed"].settings) == (
        "optimizer 7; env A=1; threads intra_op=true; op_determinism=yes"
    )
    agg = aggregate_docs([doc])
    assert _variant(agg, "gone").settings_text is None
    for fmt in ("text", "markdown", "json"):
        render(agg, fmt)
    assert "gone: only 1 cell" in render(agg, "text")


def _onednn_docs(art):
    onednn = {"env": {"TF_ENABLE_ONEDNN_OPTS": "0"}}
    return [
        art.cell("amd-1"),
        art.cell("amd-2"),
        art.cell(
            "amd-3",
            {"default-optimizer": art.variant(settings=onednn), "adam": art.variant()},
        ),
    ]


def test_settings_disagreement_is_a_problem_line(art, tmp_path):
    agg = aggregate(art.write(tmp_path, _onednn_docs(art)))
    expected = (
        "variant default-optimizer was run with different settings on different cells: "
        "[optimizer default] on amd-1, amd-2; "
        "[optimizer default; env TF_ENABLE_ONEDNN_OPTS=0] on amd-3"
    )
    assert agg.problems == (expected,)
    # the verdict shows the reference representative's settings
    assert _variant(agg).settings_text == "optimizer default"
    text = render(agg, "text", width=1000)
    assert "default-optimizer (RMSprop, Keras's default): bit-identical on all 3 cells" in text
    assert "  - " + expected in text
    md = render(agg, "markdown")
    assert "1 problem with the input" in md
    assert "TF_ENABLE_ONEDNN_OPTS=0\\] on amd-3" in md


def test_settings_shown_in_markdown_and_json(art, tmp_path):
    settings = {"env": {"TF_ENABLE_ONEDNN_OPTS": "0"}, "threads": {"intra_op": 1, "inter_op": 1}}
    docs = [art.cell(c, {"onednn-off": art.variant(settings=settings)}) for c in ("a", "b")]
    agg = aggregate(art.write(tmp_path, docs))
    md = render(agg, "markdown")
    assert "- **onednn-off** (RMSprop, Keras's default): bit-identical on all 2 cells\n" in md
    assert ("Varied on purpose — onednn-off: optimizer default; env TF_ENABLE_ONEDNN_OPTS=0; "
            "threads intra_op=1 inter_op=1.\n" in md)
    data = json.loads(render(agg, "json"))
    variant = data["variants"]["onednn-off"]
    assert variant["settings"] == {
        "optimizer": "default",
        "env": {"TF_ENABLE_ONEDNN_OPTS": "0"},
        "threads": {"intra_op": 1, "inter_op": 1},
        "op_determinism": False,
    }
    assert variant["settings_text"].startswith("optimizer default; env TF_ENABLE_ONEDNN_OPTS=0")
    assert data["cells"][0]["variants"]["onednn-off"]["settings"] == variant["settings"]


def test_sums_only_input_has_no_settings(art, tmp_path):
    agg = aggregate(art.write(tmp_path, [art.sums_cell("s", art.AFTER_AMD)]))
    assert "default-optimizer: only 1 cell (s)" in render(agg, "text")
    assert json.loads(render(agg, "json"))["variants"]["default-optimizer"]["settings"] is None


def test_malicious_env_value_is_escaped_in_markdown(art, tmp_path):
    evil = {"env": {"X<b>": "<img src=x onerror=alert(1)> @someone #1 https://evil.example"}}
    docs = [art.cell(c, {"v": art.variant(settings=evil)}) for c in ("a", "b")]
    agg = aggregate(art.write(tmp_path, docs))
    md = render(agg, "markdown")
    verdict = next(line for line in md.splitlines() if line.startswith("Varied on purpose"))
    assert "<img" not in md and "<b>" not in md
    assert "&lt;img src=x onerror=alert(1)>" in verdict
    assert "X&lt;b>=" in verdict
    assert "@" + ZWJ + "someone" in verdict and "#" + ZWJ + "1" in verdict
    assert "://" not in verdict and "@someone" not in md
    # the disagreement line goes through the same escaping
    other = art.cell("c", {"v": art.variant()})
    md = render(aggregate(art.write(tmp_path / "more", docs + [other])), "markdown")
    assert "<img" not in md and "@someone" not in md and "different settings" in md
    # the text format keeps the value readable but strips control characters
    docs[0]["variants"]["v"]["settings"]["env"]["X<b>"] = "\x1b[31mred"
    text = render(aggregate(art.write(tmp_path / "ctl", docs)), "text")
    assert "\x1b" not in text


def test_variant_probe_overrides_the_cell_probe(art, tmp_path):
    """Cell-level probes are equal, but the variant ran in its own process (oneDNN off)
    whose probe differs in Rsqrt on the Intel cell: Rsqrt is the suspect."""
    docs = art.two_group_docs()
    intel = docs[2]
    intel["probe"] = art.probe()  # same as the AMD cells
    intel["variants"]["default-optimizer"]["probe"] = art.probe(rsqrt="r-intel-onednn-off")
    agg = aggregate(art.write(tmp_path / "one", docs))
    (comparison,) = _variant(agg).comparisons
    assert comparison.suspect_ops == ("Rsqrt",) and comparison.probe_compared
    assert comparison.unused_ops == ()
    # without the variant-level probe nothing differs
    del intel["variants"]["default-optimizer"]["probe"]
    (comparison,) = _variant(aggregate(art.write(tmp_path / "two", docs))).comparisons
    assert comparison.suspect_ops == () and comparison.probe_compared


def test_variant_probes_hide_a_cell_probe_difference(art, tmp_path):
    """Cell-level probes differ (Rsqrt, Exp), but both variant processes probed equal:
    no suspect for that variant."""
    docs = art.two_group_docs()
    for doc in docs:
        doc["variants"]["default-optimizer"]["probe"] = art.probe(rsqrt="same", exp="same")
    agg = aggregate(art.write(tmp_path, docs))
    (comparison,) = _variant(agg).comparisons
    assert comparison.suspect_ops == () and comparison.unused_ops == ()
    assert comparison.probe_compared
    assert _variant(agg).summary.endswith("no probed op differs")


def test_malformed_variant_probe_is_a_problem_not_a_crash(art, tmp_path):
    docs = art.two_group_docs()
    docs[2]["variants"]["default-optimizer"]["probe"] = "broken"
    docs[0]["variants"]["default-optimizer"]["probe"] = [{"op": "Rsqrt"}, 5]
    agg = aggregate(art.write(tmp_path, docs))
    problems = "\n".join(agg.problems)
    assert 'variant "default-optimizer": probe is not a list' in problems
    assert 'variant "default-optimizer": probe entry without op, case and sha256' in problems
    (comparison,) = _variant(agg).comparisons
    # an unusable variant probe is not replaced by the cell's (another environment)
    assert comparison.suspect_ops == () and not comparison.probe_compared
    assert any("(its variant-level probe)" in note for note in comparison.notes)
    for fmt in ("text", "markdown", "json"):
        render(agg, fmt)


@pytest.mark.parametrize("fmt", ["markdown", "text", "json"])
def test_settings_and_variant_probe_output_does_not_depend_on_order(art, tmp_path, fmt):
    docs = _onednn_docs(art) + [art.intel_cell()]
    docs[2]["variants"]["default-optimizer"]["probe"] = art.probe(exp="e-x")
    docs[3]["variants"]["adam"]["settings"]["op_determinism"] = True
    names = ["d.json", "b.json", "a.json", "c.json"]
    art.write(tmp_path / "src", docs, names=names)
    expected = render(aggregate([tmp_path / "src"]), fmt)
    for seed in range(4):
        shuffled = list(names)
        random.Random(seed).shuffle(shuffled)
        assert render(aggregate([tmp_path / "src" / n for n in shuffled]), fmt) == expected
