"""Root cause and likely causes from synthetic op traces (the cell's optrace.py format)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from collections.abc import Sequence
from typing import Any

from repromatrix.report.command import aggregate, render
from repromatrix.report.differences import element_stats
from repromatrix.report.render_markdown import MARKER, MAX_CHARS

# (op_type, op_name, inputs, float32 values); an input is an earlier op name, or "@name" for an
# untraced input (a resource handle).
Op = tuple[str, str, Sequence[str], Sequence[float]]

STEP = [
    ("IteratorGetNext", "IteratorGetNext", ["@iterator"], [1.0, 2.0]),
    ("ReadVariableOp", "sequential/dense/MatMul/ReadVariableOp", ["@resource"], [0.5, 0.25]),
    ("MatMul", "sequential/dense/MatMul", ["IteratorGetNext", "sequential/dense/MatMul/ReadVariableOp"], [1.0]),
    ("Sigmoid", "sequential/dense/Sigmoid", ["sequential/dense/MatMul"], [0.7310586]),
    ("SigmoidGrad", "gradient_tape/sequential/dense/Sigmoid/SigmoidGrad", ["sequential/dense/Sigmoid"], [0.19661193]),
    ("AddV2", "add_1", ["gradient_tape/sequential/dense/Sigmoid/SigmoidGrad"], [4.0, 9.0, 16.0, 25.0]),
    ("Rsqrt", "Rsqrt_2", ["add_1"], [0.5, 0.33333334, 0.25, 0.2]),
    ("Mul", "mul_4", ["Rsqrt_2"], [0.05, 0.033333335, 0.025, 0.02]),
]


def f32(values: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(values):d}f", *values)


def up(value: float, ulps: int = 1) -> float:
    bits = struct.unpack("<I", struct.pack("<f", value))[0]
    return struct.unpack("<f", struct.pack("<I", bits + ulps))[0]


def trace(steps: dict[int, Sequence[Op]], graph: str = "train_function",
          reproduces: bool | None = True) -> dict[str, Any]:
    """An op_trace as the cell writes it: records in order, inputs as indices, data by sha."""
    records: list[dict[str, Any]] = []
    data: dict[str, str] = {}
    for step in sorted(steps):
        index: dict[str, int] = {}
        for op_type, name, inputs, values in steps[step]:
            raw = f32(values)
            sha = hashlib.sha256(raw).hexdigest()[:32]
            refs = [i[1:] if i.startswith("@") else index[i] for i in inputs]
            if all(isinstance(r, int) for r in refs):
                data[sha] = base64.b64encode(raw).decode("ascii")
            index[name] = len(records)
            records.append({"step": step, "graph": graph, "op_type": op_type, "op_name": name,
                            "slot": 0, "dtype": "float32", "shape": [len(values)],
                            "sha256": sha, "inputs": refs})
    return {"tool": "test", "steps": sorted(steps), "records": records, "data": data,
            "reproduces_main_trail": reproduces, "truncated": 0}


def changed(ops: Sequence[Op], name: str, values: Sequence[float]) -> list[Op]:
    return [(t, n, i, values if n == name else v) for t, n, i, v in ops]


def docs(art, ref_trace, other_trace, *, other_trail=("t0", "x1", "x2", "x3"), fingerprint=None):
    ref_variant = art.variant()
    other_variant = art.variant(trail=other_trail, kernel=[art.bump_ulps(0.5, 3), -0.25, 1.0, 2.0])
    if ref_trace is not None:
        ref_variant["op_trace"] = ref_trace
    if other_trace is not None:
        other_variant["op_trace"] = other_trace
    ref = art.cell("a-ref", {"default-optimizer": ref_variant})
    other = art.cell("b-other", {"default-optimizer": other_variant})
    for key, (mine, theirs) in (fingerprint or {}).items():
        section, _, leaf = key.partition(".")
        ref["fingerprint"].setdefault(section, {})[leaf] = mine
        other["fingerprint"].setdefault(section, {})[leaf] = theirs
    return [ref, other]


def comparison(art, tmp_path, *args, **kwargs) -> dict[str, Any]:
    paths = art.write(tmp_path, docs(art, *args, **kwargs))
    out = json.loads(render(aggregate(paths), "json"))
    return out["variants"]["default-optimizer"]["comparisons"]["B"]


RSQRT_OFF = [0.5, up(0.33333334), 0.25, up(0.2, 2)]


def test_the_op_whose_inputs_agree_while_its_output_differs_is_blamed(art, tmp_path):
    other = {1: changed(changed(STEP, "Rsqrt_2", RSQRT_OFF), "mul_4", [0.05, 0.1, 0.025, 0.3])}
    c = comparison(art, tmp_path, trace({1: STEP}), trace(other))
    root = c["root_cause"]
    assert (root["step"], root["op_type"], root["op_name"]) == (1, "Rsqrt", "Rsqrt_2")
    assert root["inputs_identical"] is True
    assert (root["elements"], root["elements_differing"], root["max_ulp"]) == (4, 2, 2)
    assert root["phase"] == "optimizer update"
    assert root["reading"].startswith("Rsqrt (Rsqrt_2) in the optimizer update, step 1: "
                                      "identical inputs, 2 of 4 elements differ by at most 2 ULP")


def test_alignment_is_by_name_not_position(art, tmp_path):
    other_ops = changed(STEP, "Rsqrt_2", RSQRT_OFF)
    other_ops[0], other_ops[1] = other_ops[1], other_ops[0]  # independent ops ran in another order
    c = comparison(art, tmp_path, trace({1: STEP}), trace({1: other_ops}))
    assert c["root_cause"]["op_name"] == "Rsqrt_2"


def test_a_divergence_that_starts_in_an_input_blames_the_input_not_the_consumer(art, tmp_path):
    other = changed(changed(STEP, "sequential/dense/MatMul", [up(1.0)]),
                    "sequential/dense/Sigmoid", [up(0.7310586)])
    other = changed(other, "Rsqrt_2", RSQRT_OFF)  # later differences follow from the MatMul
    c = comparison(art, tmp_path, trace({1: STEP}), trace({1: other}))
    assert (c["root_cause"]["op_type"], c["root_cause"]["phase"]) == ("MatMul", "forward pass")


def test_an_output_whose_inputs_were_not_traced_is_not_blamed(art, tmp_path):
    other = changed(changed(STEP, "sequential/dense/MatMul/ReadVariableOp", [0.5, 0.3]),
                    "sequential/dense/MatMul", [up(1.0)])
    c = comparison(art, tmp_path, trace({1: STEP}), trace({1: other}))
    assert c["root_cause"] is None
    assert any("ReadVariableOp" in n and "not traced" in n for n in c["notes"])


def test_missing_absent_and_unreproduced_traces_are_notes_not_crashes(art, tmp_path):
    c = comparison(art, tmp_path / "one", trace({1: STEP}), None)
    assert c["root_cause"] is None and any("no op trace for b-other" in n for n in c["notes"])
    c = comparison(art, tmp_path / "absent", {"absent": "not requested (--trace-steps 0)"},
                   trace({1: STEP}))
    assert any("--trace-steps 0" in n for n in c["notes"])
    c = comparison(art, tmp_path / "none", None, None)
    assert c["root_cause"] is None and not any("op trace" in n for n in c["notes"])
    other = trace({1: changed(STEP, "Rsqrt_2", RSQRT_OFF)}, reproduces=False)
    c = comparison(art, tmp_path / "unrepro", trace({1: STEP}), other)
    assert c["root_cause"]["op_type"] == "Rsqrt"
    assert any("did not reproduce its main run's trail" in n for n in c["notes"])


def test_partial_traces_use_the_common_steps_and_name_the_command_beyond_them(art, tmp_path):
    c = comparison(art, tmp_path / "common", trace({1: STEP, 2: STEP}),
                   trace({1: changed(STEP, "Rsqrt_2", RSQRT_OFF)}))
    assert c["root_cause"]["step"] == 1
    c = comparison(art, tmp_path / "beyond", trace({1: STEP, 2: STEP}), trace({1: STEP, 2: STEP}),
                   other_trail=("t0", "t1", "t2", "x3"))
    assert c["root_cause"] is None
    assert any("first divergent step (3) lies beyond the traced steps (1-2)" in n
               and "--variant default-optimizer --trace-step 3" in n for n in c["notes"])


def test_traces_from_different_graphs_are_refused_with_a_note(art, tmp_path):
    other = [op for op in changed(STEP, "Rsqrt_2", RSQRT_OFF) if op[1] != "mul_4"]
    other.append(("Mul", "fused_mul_4", ["Rsqrt_2"], [0.0]))
    c = comparison(art, tmp_path, trace({1: STEP}), trace({1: other}))
    assert c["root_cause"] is None
    assert any("different graphs (1 op outputs only in a-ref, 1 only in b-other" in n
               for n in c["notes"])


# The cell leaves MatMul (and BiasAdd, Mul) unrecorded so that grappler fuses them as in the main
# run; the Sigmoid's inputs are then what the MatMul read, and ``through`` names the MatMul.
FUSED = [op if op[1] != "sequential/dense/Sigmoid" else
         ("Sigmoid", op[1], ["IteratorGetNext", "sequential/dense/MatMul/ReadVariableOp"], op[3])
         for op in STEP if op[1] != "sequential/dense/MatMul"]


def fused_trace(ops: Sequence[Op], through: Any = ("MatMul",)) -> dict[str, Any]:
    out = trace({1: ops})
    for record in out["records"]:
        if record["op_name"] == "sequential/dense/Sigmoid" and through is not None:
            record["through"] = list(through) if isinstance(through, tuple) else through
    return out


def test_a_group_with_unrecorded_ops_is_blamed_as_the_group(art, tmp_path):
    other = changed(changed(FUSED, "sequential/dense/Sigmoid", [up(0.7310586, 3)]),
                    "Rsqrt_2", RSQRT_OFF)  # later differences follow from the group
    c = comparison(art, tmp_path, fused_trace(FUSED), fused_trace(other))
    root = c["root_cause"]
    assert (root["op_type"], root["op_name"], root["through"]) == (
        "MatMul+Sigmoid", "sequential/dense/Sigmoid", ["MatMul"])
    assert root["reading"].startswith(
        "MatMul+Sigmoid (sequential/dense/Sigmoid, with the unrecorded MatMul before it) in the "
        "forward pass, step 1: identical inputs, 1 of 1 elements differ by at most 3 ULP")
    table = render(aggregate(art.write(tmp_path / "t", docs(art, fused_trace(FUSED),
                                                             fused_trace(other)))), "text",
                   width=1000)
    assert "from step 1 (root op MatMul+Sigmoid in the forward pass" in table


def test_groups_must_match_and_be_well_formed(art, tmp_path):
    other = changed(FUSED, "sequential/dense/Sigmoid", [up(0.7310586)])
    c = comparison(art, tmp_path / "unlike", fused_trace(FUSED), fused_trace(other, through=None))
    assert c["root_cause"] is None and any("different graphs" in n for n in c["notes"])
    paths = art.write(tmp_path / "bad", docs(art, fused_trace(FUSED),
                                             fused_trace(other, through="MatMul")))
    out = json.loads(render(aggregate(paths), "json"))
    assert out["variants"]["default-optimizer"]["comparisons"]["B"]["root_cause"] is None
    assert any("op_trace record 2 is malformed" in p for p in out["problems"])


def test_hostile_trace_content_is_escaped_bounded_or_refused(art, tmp_path):
    evil = "<script>x</script>@octocat [l](https://evil.example)\x1b[31m|" + "A" * 5000
    hostile = [(t, evil + n if n == "Rsqrt_2" else n, [evil + i if i == "Rsqrt_2" else i
                                                       for i in inputs], v)
               for t, n, inputs, v in STEP]
    hostile = [(evil if n.endswith("Rsqrt_2") else t, n, i, v) for t, n, i, v in hostile]
    other = changed(hostile, evil + "Rsqrt_2", RSQRT_OFF)
    many = [("Mul", f"m{k:05d}", [], [1.0]) for k in range(3000)]
    ref_docs = docs(art, trace({1: hostile + many}), trace({1: other + many}))
    # A long table. The copies leave the 3,000-record trace out: only a group's representative
    # (a-ref, first by name) is traced back, and reading 40 more copies took most of the time.
    untraced = {name: {key: value for key, value in variant.items() if key != "op_trace"}
                for name, variant in ref_docs[0]["variants"].items()}
    ref_docs += [dict(ref_docs[0], cell=f"a-ref-{k:03d}", variants=untraced) for k in range(40)]
    paths = art.write(tmp_path, ref_docs)
    agg = aggregate(paths)  # read once, rendered three ways
    md = render(agg, "markdown")
    assert len(md) < MAX_CHARS
    body = md[len(MARKER):]
    assert "<script" not in body and "@octocat" not in body
    assert re.search(r"(?<!\\)\]\(", body) is None  # "\](" is an escaped bracket, no link
    assert "root cause:" in md
    text = render(agg, "text")
    assert "\x1b" not in text and "root cause: " in text
    root = json.loads(render(agg, "json"))["variants"]["default-optimizer"][
        "comparisons"]["B"]["root_cause"]
    assert len(root["op_type"]) <= 200  # strings from a trace are bounded when read
    broken = docs(art, trace({1: STEP}), {"steps": [1], "records": [{"step": "1"}, 7]})
    out = json.loads(render(aggregate(art.write(tmp_path / "broken", broken)), "json"))
    assert out["variants"]["default-optimizer"]["comparisons"]["B"]["root_cause"] is None
    assert any("op_trace record 0 is malformed" in p for p in out["problems"])


def test_likely_causes_rank_known_numeric_differences(art, tmp_path):
    c = comparison(art, tmp_path, None, None, fingerprint={
        "tensorflow.onednn": (False, True), "env.ONEDNN_MAX_CPU_ISA": (None, "SSE41"),
        "tensorflow.intra_op_threads": (2, 4), "os.release": ("6.8", "6.9")})
    assert [(x["cause"], x["key"], x["reference"], x["other"]) for x in c["likely_causes"]] == [
        ("oneDNN", "tensorflow.onednn", False, True),
        ("ISA cap", "env.ONEDNN_MAX_CPU_ISA", None, "SSE41"),
        ("threads", "tensorflow.intra_op_threads", 2, 4)]


def test_cpu_flags_count_only_when_an_isa_extension_differs(art, tmp_path):
    c = comparison(art, tmp_path / "ht", None, None, fingerprint={
        "cpu.flags": (["avx2", "fma"], ["avx2", "fma", "ht"])})
    assert c["likely_causes"] == []
    c = comparison(art, tmp_path / "avx512", None, None, fingerprint={
        "cpu.flags": (["avx2", "fma"], ["avx2", "avx512f", "fma"])})
    assert [x["cause"] for x in c["likely_causes"]] == ["CPU ISA"]


def test_root_cause_and_likely_cause_lead_the_verdict(art, tmp_path):
    paths = art.write(tmp_path, docs(art, trace({1: STEP}),
                                     trace({1: changed(STEP, "Rsqrt_2", RSQRT_OFF)}),
                                     fingerprint={"tensorflow.onednn": (False, True)}))
    text = render(aggregate(paths), "text", width=1000)
    verdict = next(line for line in text.splitlines() if line.startswith("  default-optimizer"))
    assert " from step 1 (root op Rsqrt in the optimizer update, likely cause oneDNN; " in verdict
    assert "\n  likely cause: oneDNN (tensorflow.onednn: false | true)\n" in text
    assert render(aggregate(paths), "markdown") == render(aggregate(paths), "markdown")


def test_ulp_distance_is_not_reported_across_zero():
    stats = element_stats(f32([-1e-7, 1.0]), f32([1e-7, up(1.0, 3)]), "float32")
    assert (stats.differing, stats.max_ulp, stats.sign_changes) == (2, 3, 1)
    assert stats.max_abs == 3 * 2.0**-23 and stats.max_rel == 2.0  # abs from 1.0, rel across 0
    only_zero_crossing = element_stats(f32([-1e-7]), f32([1e-7]), "float32")
    assert only_zero_crossing.max_ulp is None
    subnormals = element_stats(f32([-1e-45]), f32([1e-45]), "float32")  # evenly spaced: 2 ULP
    assert (subnormals.max_ulp, subnormals.sign_changes) == (2, 0)


def test_weights_that_cross_zero_get_no_huge_ulp_in_the_table(art, tmp_path):
    ref = art.cell("a-ref", {"default-optimizer": art.variant(kernel=[-1e-7, -0.25, 1.0, 2.0])})
    other = art.cell("b-other", {"default-optimizer": art.variant(
        kernel=[1e-7, -0.25, 1.0, 2.0], trail=("t0", "x1", "x2", "x3"))})
    paths = art.write(tmp_path, [ref, other])
    c = json.loads(render(aggregate(paths), "json"))["variants"]["default-optimizer"][
        "comparisons"]["B"]
    assert c["max_ulp"] is None  # no meaningful ULP distance: the only change crosses zero
    kernel = [d for d in c["differing_tensors"] if d["name"] == "dense/kernel:0"][0]
    assert kernel["max_ulp"] is None and abs(kernel["max_abs_diff"] - 2e-7) < 1e-12
    text = render(aggregate(paths), "text", width=1000)
    assert "dense/kernel:0 (n/a ULP (crosses zero), abs 2e-07, rel 2)" in text
    assert not re.search(r"\b1[0-9]{9}\b", text)


def test_phase_comes_from_names_and_inputs_not_from_record_order():
    """Traces are stored in a fixed (name) order, not execution order: the phase is read from
    the op's name scope and from whether a gradient feeds it; an unscoped op that no traced
    gradient feeds is only placed in "the train step" (an optimizer's slot reads are variable
    reads, an edge the trace does not hold)."""
    from repromatrix.report.root_cause import OpRecord, _phase

    def rec(name: str, inputs=()) -> OpRecord:
        return OpRecord(step=1, graph="train_function", op_type=name.split("/")[-1],
                        op_name=name, slot=0, dtype="float32", shape=(1,), sha256="x",
                        inputs=tuple(inputs), data=None)

    records = [rec("Rsqrt", [1]), rec("add", ["velocity"]), rec("mul", [3]),
               rec("gradient_tape/sequential/dense/MatMul", [4]), rec("sequential/dense/MatMul")]
    assert _phase(records, 0) == "train step"  # listed first, fed by no traced gradient
    assert _phase(records, 2) == "optimizer update"  # listed before the gradient it consumes
    assert _phase(records, 3) == "backward pass"
    assert _phase(records, 4) == "forward pass"
    cyclic = [rec("a", [1]), rec("b", [0])]  # hostile input: a cycle ends, unscoped: train step
    assert _phase(cyclic, 0) == "train step"
