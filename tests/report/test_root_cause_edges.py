"""report/root_cause.py at its edges: what a trace must hold to be read, which op is blamed or
why none is, and the exact reading a user gets (found as mutmut survivors:
`nox -s mutants -- 'repromatrix.report.root_cause.*'`)."""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Any

from repromatrix.report.root_cause import (
    MAX_RECORDS,
    MAX_TEXT,
    MAX_THROUGH,
    OpRecord,
    OpTrace,
    RootCause,
    _phase,
    find_root_cause,
    keys,
    parse_op_trace,
    rerun_command,
    root_cause_json,
    root_cause_line,
)


def f32(values: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(values):d}f", *values)


def raw(step: int = 1, **changes: Any) -> dict[str, Any]:
    out = {"step": step, "graph": "g", "op_type": "Mul", "op_name": "mul", "slot": 0,
           "dtype": "float32", "shape": [2], "sha256": "s", "inputs": []}
    out.update(changes)
    return out


def parse(value: object) -> tuple[OpTrace | None, list[str]]:
    problems: list[str] = []
    return parse_op_trace(value, "x.json: variant v", problems.append), problems


# --- reading a trace ----------------------------------------------------------------------------


def test_a_well_formed_trace_is_read_with_its_data_and_bounds():
    data = base64.b64encode(f32([1.0, 2.0])).decode("ascii")
    trace, problems = parse({"steps": [1], "records": [
        raw(sha256="s"),
        raw(op_name="n" * 500, sha256="t", inputs=[0, "v" * 500], through=["MatMul"], shape=[]),
    ], "data": {"s": data}, "reproduces_main_trail": True})
    assert problems == [] and trace is not None
    assert trace.steps == (1,) and trace.reproduces_main_trail is True
    first, second = trace.records
    assert first.data == f32([1.0, 2.0]) and first.shape == (2,) and first.through == ()
    assert second.data is None  # no blob for its sha
    assert second.op_name == "n" * MAX_TEXT and second.inputs == (0, "v" * MAX_TEXT)
    assert second.through == ("MatMul",) and second.shape == ()
    assert parse({"steps": [], "records": [], "reproduces_main_trail": "yes"})[0] == \
        OpTrace((), (), None)


def test_unusable_blobs_are_no_data_not_a_refusal():
    for blob in ("not base64!", 7, "QQ"):  # bad alphabet, not text, bad padding
        trace, problems = parse({"steps": [1], "records": [raw()], "data": {"s": blob}})
        assert problems == [] and trace is not None and trace.records[0].data is None
    trace, _ = parse({"steps": [1], "records": [raw()], "data": ["s"]})
    assert trace is not None and trace.records[0].data is None


def test_absent_and_malformed_traces_are_said_once():
    assert parse(None) == (None, [])
    assert parse([]) == (None, ["x.json: variant v: op_trace is not an object; ignored"])
    assert parse({"absent": "not requested"})[0] == OpTrace((), (), None, absent="not requested")
    assert parse({"absent": 3})[0] == OpTrace((), (), None, absent="not recorded")
    bad = "x.json: variant v: op_trace has no valid steps and records; ignored"
    for value in ({"records": []}, {"steps": [1]}, {"steps": ["1"], "records": []},
                  {"steps": [True], "records": []}, {"steps": [1], "records": {}}):
        assert parse(value) == (None, [bad])


def test_the_record_limit_is_inclusive():
    ok = [raw() for _ in range(MAX_RECORDS)]
    trace, problems = parse({"steps": [1], "records": ok})
    assert problems == [] and trace is not None and len(trace.records) == MAX_RECORDS
    assert parse({"steps": [1], "records": ok + [raw()]}) == (None, [
        f"x.json: variant v: op_trace has {MAX_RECORDS + 1:d} records, more than {MAX_RECORDS:d}; "
        "ignored"])


def test_each_malformed_field_refuses_the_trace_and_names_the_record():
    fine = raw()
    broken: list[object] = [
        7, raw(step=None), raw(step=True), raw(slot="0"), raw(graph=1), raw(op_type=None),
        raw(op_name=[]), raw(dtype=0), raw(sha256=None), raw(shape=None), raw(shape=[2.0]),
        raw(inputs=None), raw(inputs=[1]), raw(inputs=[-1]), raw(inputs=[True]),
        raw(inputs=[None]), raw(through="MatMul"), raw(through=[1]),
        raw(through=["T"] * (MAX_THROUGH + 1)),
    ]
    for record in broken:
        assert parse({"steps": [1], "records": [fine, record]}) == (None, [
            "x.json: variant v: op_trace record 1 is malformed; the trace is ignored"]), record
    trace, _ = parse({"steps": [1], "records": [fine, raw(through=["T"] * MAX_THROUGH)]})
    assert trace is not None and trace.records[1].through == ("T",) * MAX_THROUGH
    trace, _ = parse({"steps": [1], "records": [fine, raw(through=["T" * 500])]})
    assert trace is not None and trace.records[1].through == ("T" * MAX_TEXT,)


# --- alignment ----------------------------------------------------------------------------------


def rec(name: str, sha: str = "s", inputs: Sequence[int | str] = (), *, step: int = 1,
        op_type: str = "Mul", data: bytes | None = None, through: tuple[str, ...] = (),
        dtype: str = "float32", shape: tuple[int, ...] = (2,), slot: int = 0) -> OpRecord:
    return OpRecord(step, "g", op_type, name, slot, dtype, shape, sha, tuple(inputs), data,
                    through)


def test_keys_count_occurrences_per_step_graph_name_and_slot():
    records = [rec("a"), rec("a"), rec("a", slot=1), rec("a", step=2), rec("b", step=3)]
    assert keys(records, [1, 2]) == [(1, "g", "a", 0, 1), (1, "g", "a", 0, 2),
                                     (1, "g", "a", 1, 1), (2, "g", "a", 0, 1), None]


# --- blame --------------------------------------------------------------------------------------


NAMES = ("ref", "other")
RERUN = rerun_command("my variant", "ref", "other")


def blame(ref: Sequence[OpRecord], other: Sequence[OpRecord], first: int | None = 1,
          steps: tuple[int, ...] = (1,), other_steps: tuple[int, ...] | None = None):
    return find_root_cause(OpTrace(steps, tuple(ref), True),
                           OpTrace(other_steps or steps, tuple(other), True), NAMES, first, RERUN)


def test_the_blamed_op_gets_every_figure():
    ref = [rec("x", "1", ["read"]), rec("y", "2", [0], op_type="Rsqrt", data=f32([1.0, -1e-7]),
                                        through=("MatMul",))]
    other = [rec("x", "1", ["read"]), rec("y", "3", [0], op_type="Rsqrt",
                                          data=f32([1.0000001, 1e-7]), through=("MatMul",))]
    result = blame(ref, other)
    assert result.notes == ()
    root = result.root
    assert root is not None
    assert (root.step, root.op_type, root.op_name, root.graph, root.phase, root.dtype) == (
        1, "Rsqrt", "y", "g", "train step", "float32")
    assert (root.inputs_identical, root.elements, root.elements_differing, root.max_ulp,
            root.sign_changes, root.through) == (True, 2, 2, 1, 1, ("MatMul",))
    assert root.max_abs == 2e-7 or abs(root.max_abs - 2e-7) < 1e-12
    assert root.max_rel is not None and root.max_rel > 1.0
    no_data = blame([rec("x", "1")], [rec("x", "2", data=f32([1.0]))]).root
    assert no_data is not None and (no_data.elements, no_data.elements_differing, no_data.max_ulp,
                                    no_data.max_abs, no_data.max_rel, no_data.sign_changes) == (
        None, None, None, None, None, None)
    retyped = blame([rec("x", "1", data=f32([1.0]))],
                    [rec("x", "2", data=f32([1.0]), dtype="float64")])
    assert retyped.root is not None and retyped.root.elements is None


def test_an_output_that_differs_only_in_dtype_or_shape_differs():
    assert blame([rec("x")], [rec("x", dtype="float64")]).root is not None
    assert blame([rec("x")], [rec("x", shape=(1, 2))]).root is not None
    assert blame([rec("x")], [rec("x")]).root is None


def test_an_op_fed_by_a_differing_input_or_an_untraced_one_is_not_blamed():
    ref = [rec("read", "1", ["var"]), rec("use", "2", [0, "var"])]
    other = [rec("read", "9", ["var"]), rec("use", "8", [0, "var"])]
    result = blame(ref, other)
    assert result.root is None and result.notes == (
        "the first differing output in the traced steps is Mul (read) at step 1, whose inputs "
        "were not traced (e.g. variable reads), so no op is blamed",)
    outside = [rec("early", "1", step=0), rec("use", "2", [0])]  # its input is outside the steps
    result = blame(outside, [rec("early", "7", step=0), rec("use", "3", [0])])
    assert result.root is None and "Mul (use) at step 1" in result.notes[0]
    mixed = [rec("a", "1"), rec("b", "2", ["var"]), rec("c", "3", [0, 1])]
    result = blame(mixed, [rec("a", "9"), rec("b", "8", ["var"]), rec("c", "7", [0, 1])])
    assert result.root is not None and result.root.op_name == "a"


def test_notes_when_nothing_differs_in_the_traced_steps():
    same = [rec("x", "1")]
    assert blame(same, same, first=0).notes == (
        "the op trace covers the train step, which started from weights that already differ, "
        "so no op is blamed",)
    assert blame(same, same, first=None).notes == ()
    assert blame(same, same, first=1).notes == (
        "no op output differs in the traced steps (1) although the weights differ from step 1",)
    two = [rec("x", "1", step=1), rec("x", "1", step=2)]
    assert blame(two, two, first=2, steps=(1, 2)).notes == (
        "no op output differs in the traced steps (1-2) although the weights differ from step 2",)
    three = [rec("x", "1", step=1), rec("x", "1", step=2), rec("x", "1", step=5)]
    assert blame(three, three, first=1, steps=(1, 2, 5)).notes == (
        "no op output differs in the traced steps (1-5) although the weights differ from step 1",)
    assert blame(two, two, first=3, steps=(1, 2)).notes == (
        "the first divergent step (3) lies beyond the traced steps (1-2); trace it: nox -s repro "
        "-- --variant 'my variant' --trace-step 3 (on ref and on other)",)


def test_traces_that_cannot_be_aligned_are_refused_with_counts():
    assert blame([rec("x")], [rec("x")], steps=(1,), other_steps=(2,)).notes == (
        "the two op traces cover different steps, so no root cause",)
    refused = blame([rec("a"), rec("b"), rec("c")], [rec("a"), rec("d"), rec("e"), rec("f")])
    assert refused.root is None and refused.notes == (
        "the op traces come from different graphs (2 op outputs only in ref, 3 only in other, 0 "
        "with another op type or inputs), so no op is blamed",)
    for other in (rec("a", "2", op_type="Add"), rec("a", "2", through=("MatMul",)),
                  rec("a", "2", ["var"])):
        refused = blame([rec("a", "1")], [other])
        assert refused.root is None and refused.notes == (
            "the op traces come from different graphs (0 op outputs only in ref, 0 only in other,"
            " 1 with another op type or inputs), so no op is blamed",)


def test_missing_traces_are_named_per_cell():
    ok = OpTrace((1,), (rec("x"),), True)
    absent = OpTrace((), (), None, absent="too large")
    unrepro = OpTrace((1,), (rec("x", "2"),), False)
    assert find_root_cause(None, None, NAMES, 1, RERUN).notes == ()
    assert find_root_cause(ok, None, NAMES, 1, RERUN).notes == (
        "no op trace for other, so no root cause",)
    assert find_root_cause(absent, ok, NAMES, 1, RERUN).notes == (
        "no op trace for ref (too large), so no root cause",)
    assert find_root_cause(ok, absent, NAMES, 1, RERUN).root is None
    result = find_root_cause(ok, unrepro, NAMES, 1, RERUN)
    assert result.root is not None and result.notes == (
        "the traced pass of other did not reproduce its main run's trail (the debugger's "
        "instrumentation kept grappler from rewriting the graph as in the main run); the root "
        "cause is that of the traced pass's graph",)
    assert find_root_cause(OpTrace((1,), (rec("x"),), None), ok, NAMES, None, RERUN).notes == ()


# --- the reading --------------------------------------------------------------------------------


def root(**changes: Any) -> RootCause:
    fields: dict[str, Any] = dict(
        step=1, op_type="Rsqrt", op_name="Rsqrt_2", graph="g", phase="optimizer update",
        dtype="float32", inputs_identical=True, elements=1024, elements_differing=37,
        max_ulp=1234, max_abs=1.2345e-07, max_rel=6e-08, sign_changes=0)
    fields.update(changes)
    return RootCause(**fields)


def test_the_reading_of_a_root_cause():
    assert root().reading() == (
        "Rsqrt (Rsqrt_2) in the optimizer update, step 1: identical inputs, 37 of 1,024 elements "
        "differ by at most 1,234 ULP (largest absolute difference 1.23e-07, relative 6e-08)")
    assert root(sign_changes=2, max_ulp=None, max_rel=None, through=("MatMul", "BiasAdd"),
                elements=5, elements_differing=3).reading() == (
        "MatMul+BiasAdd+Rsqrt (Rsqrt_2, with the unrecorded MatMul, BiasAdd before it) in the "
        "optimizer update, step 1: identical inputs, 3 of 5 elements differ, 2 across zero "
        "(largest absolute difference 1.23e-07, relative 0)")
    assert root(max_abs=None).reading().endswith("differ by at most 1,234 ULP")
    assert root(elements=2048, elements_differing=1500).reading().startswith(
        "Rsqrt (Rsqrt_2) in the optimizer update, step 1: identical inputs, 1,500 of 2,048 "
        "elements differ")
    for missing in ({"elements": None}, {"elements_differing": None}):
        assert root(**missing).reading() == (
            "Rsqrt (Rsqrt_2) in the optimizer update, step 1: identical inputs, its output "
            "differs (bytes not kept: too large)")


def test_root_cause_json_and_line():
    assert root_cause_json(None) is None
    cause = root(through=("MatMul",), op_name="<b>x</b>")
    assert root_cause_json(cause) == {
        "step": 1, "op_type": "MatMul+Rsqrt", "op_name": "<b>x</b>", "through": ["MatMul"],
        "graph": "g", "phase": "optimizer update", "dtype": "float32", "inputs_identical": True,
        "elements": 1024, "elements_differing": 37, "max_ulp": 1234, "max_abs_diff": 1.2345e-07,
        "max_rel_diff": 6e-08, "sign_changes": 0, "reading": cause.reading()}
    long = root(op_name="n\x1b" * 300)
    line = root_cause_line(long)
    assert "\x1b" not in line and line.startswith("Rsqrt (n")
    assert line.endswith(f"\u2026(+{len(long.reading()) - 400:d} chars)")  # bounded at 400


def test_a_gradient_listed_first_still_makes_its_consumer_the_optimizer_update():
    records = [rec("gradient_tape/sequential/dense/MatMul"), rec("add", "s", [0])]
    assert _phase(records, 1) == "optimizer update"
    after_a_variable = [rec("gradient_tape/x"), rec("add", "s", ["velocity", 0])]
    assert _phase(after_a_variable, 1) == "optimizer update"  # a skipped input ends no walk
    assert _phase([rec("add", "s", [1])], 0) == "train step"  # an index past the end is skipped


# --- found by the full run of this session ------------------------------------------------------


def test_a_blob_with_characters_outside_base64_is_no_data():
    # b64decode without validate=True would drop the "!" and decode "AAAA" to three zero bytes
    trace, problems = parse({"steps": [1], "records": [raw()], "data": {"s": "AAAA!"}})
    assert problems == [] and trace is not None and trace.records[0].data is None


def test_a_record_keeps_its_graph_and_slot():
    trace, _ = parse({"steps": [1], "records": [raw(graph="train_function", slot=1)]})
    assert trace is not None
    assert (trace.records[0].graph, trace.records[0].slot) == ("train_function", 1)


def test_outputs_in_one_trace_only_refuse_alignment_on_either_side():
    only_ref = blame([rec("a"), rec("b")], [rec("a")])
    assert only_ref.root is None and only_ref.notes == (
        "the op traces come from different graphs (1 op outputs only in ref, 0 only in other, 0 "
        "with another op type or inputs), so no op is blamed",)
    only_other = blame([rec("a")], [rec("a"), rec("b")])
    assert only_other.root is None and only_other.notes == (
        "the op traces come from different graphs (0 op outputs only in ref, 1 only in other, 0 "
        "with another op type or inputs), so no op is blamed",)


def test_the_note_names_the_first_unverified_output_even_with_a_traced_input():
    # "first": the later unverified output must not replace it; an op with one identical traced
    # input and one untraced input is still unverified
    ref = [rec("x", "1"), rec("first", "2", [0, "var"]), rec("later", "3", ["var"])]
    other = [rec("x", "1"), rec("first", "7", [0, "var"]), rec("later", "8", ["var"])]
    assert blame(ref, other).notes == (
        "the first differing output in the traced steps is Mul (first) at step 1, whose inputs "
        "were not traced (e.g. variable reads), so no op is blamed",)


def test_a_ladder_of_diamonds_is_walked_once_per_record():
    # each op reads the previous one twice: without `seen`, the walk back from the last op would
    # visit 2**60 paths and the aggregator would hang on such an artifact
    records = [rec("start")] + [rec(f"op{k:d}", "s", [k, k]) for k in range(60)]
    assert _phase(records, 60) == "train step"  # no gradient anywhere: every record is walked
