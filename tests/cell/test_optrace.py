"""The cell-side op trace's pure parts (no TensorFlow needed)."""

from __future__ import annotations

from repromatrix.cell.optrace import TraceRequest, canonical_order, graph_name


def record(step: int, name: str, inputs: list) -> dict:
    return {"step": step, "graph": "train_function", "op_name": name, "slot": 0, "inputs": inputs}


def test_canonical_order_does_not_depend_on_the_executor_order() -> None:
    # b and a are independent; c consumes both; d (step 2) consumes c.
    one = [record(1, "b", ["@r"]), record(1, "a", []), record(1, "c", [0, 1]), record(2, "d", [2])]
    other = [record(1, "a", []), record(1, "b", ["@r"]), record(1, "c", [1, 0]), record(2, "d", [2])]
    first, second = canonical_order(one), canonical_order(other)
    assert [r["op_name"] for r in first] == ["a", "b", "c", "d"]
    assert [r["op_name"] for r in second] == ["a", "b", "c", "d"]
    assert first == second  # c's inputs are still (b, a), renumbered
    assert first[2]["inputs"] == [1, 0] and first[3]["inputs"] == [2]


def test_trace_window_and_graph_names() -> None:
    assert TraceRequest(2).window() == (1, 2)
    assert TraceRequest(0).window() is None
    assert TraceRequest(2, step=40).window() == (40, 40)
    assert graph_name("__inference_train_function_1297") == "train_function"
    assert graph_name("train_function") == "train_function"
    assert graph_name(None) == ""


def test_trace_options_are_checked_before_any_work(capsys) -> None:
    from repromatrix.cli import main as cli

    assert cli.main(["run", "--trace-steps", "-1"]) == 2
    assert "--trace-steps -1: must be 0 or more" in capsys.readouterr().err
    try:
        cli.main(["run", "--trace-steps", "3", "--trace-step", "5"])
    except SystemExit as exit_:  # argparse: mutually exclusive
        assert exit_.code == 2
    else:
        raise AssertionError("--trace-steps with --trace-step was accepted")


def test_inputs_walk_through_unrecorded_ops_to_the_recorded_outputs_they_read() -> None:
    from repromatrix.cell.optrace import UNRECORDED_OP_TYPES, resolve_inputs

    # Sigmoid(BiasAdd(MatMul(x, Identity(kernel)), bias)); MatMul and BiasAdd are not recorded
    # (grappler fuses them in the main run), Identity never is; "call" is some other unrecorded op.
    graph = {
        "dense/BiasAdd": ("BiasAdd", ["dense/MatMul:0", "bias:0"]),
        "dense/MatMul": ("MatMul", ["x:0", "kernel/Identity:0"]),
        "kernel/Identity": ("Identity", ["kernel:0"]),
        "dense/Sigmoid": ("Sigmoid", ["dense/BiasAdd:0", "call:0"]),
        "call": ("StatefulPartitionedCall", ["x:0"]),
    }
    records = {("x", 0): 0, ("kernel", 0): 1, ("bias", 0): 2}
    assert {"MatMul", "BiasAdd"} <= set(UNRECORDED_OP_TYPES)
    inputs, through = resolve_inputs(graph["dense/Sigmoid"][1], graph.get,
                                     lambda op, slot: records.get((op, slot)))
    assert inputs == [0, 1, 2, "call:0"]  # what the group read; the call's output stays unverified
    assert through == ["MatMul", "BiasAdd"]  # ancestors first, Identity not named
    # A shared ancestor is walked once and a (hostile) loop ends.
    loop = {"a": ("Mul", ["b:0", "x:0"]), "b": ("Mul", ["a:0", "x:0"])}
    assert resolve_inputs(["a:0", "b:0"], loop.get, lambda op, slot: records.get((op, slot))) == (
        [0], ["Mul"])


def test_keras3_leaves_sqrt_unrecorded_so_grappler_still_turns_sqrt_div_into_rsqrt_mul() -> None:
    """Keras 3's RMSprop divides by sqrt: the group is named through the unrecorded Sqrt, and the
    dump still records Rsqrt and SqrtGrad; Keras 2's set is unchanged (its artifacts keep bytes)."""
    import re

    from repromatrix.cell.optrace import (
        KERAS3_UNRECORDED_OP_TYPES,
        UNRECORDED_OP_TYPES,
        op_regex,
        resolve_inputs,
    )

    assert UNRECORDED_OP_TYPES == ("BiasAdd", "MatMul", "Mul")
    regex = op_regex(KERAS3_UNRECORDED_OP_TYPES)
    assert [t for t in ("Sqrt", "Mul", "Rsqrt", "SqrtGrad", "RealDiv", "MulNoNan")
            if re.match(regex, t)] == ["Rsqrt", "SqrtGrad", "RealDiv", "MulNoNan"]
    # RealDiv(Mul(lr, g), Sqrt(AddV2(v, eps))): grappler makes it Mul(Mul(lr, g), Rsqrt(...))
    graph = {
        "rmsprop/truediv": ("RealDiv", ["rmsprop/Mul_2:0", "rmsprop/Sqrt:0"]),
        "rmsprop/Mul_2": ("Mul", ["lr:0", "g:0"]),
        "rmsprop/Sqrt": ("Sqrt", ["rmsprop/Add_1:0"]),
    }
    records = {("lr", 0): 0, ("g", 0): 1, ("rmsprop/Add_1", 0): 2}
    found = resolve_inputs(graph["rmsprop/truediv"][1], graph.get,
                           lambda op, slot: records.get((op, slot)), KERAS3_UNRECORDED_OP_TYPES)
    assert found == ([0, 1, 2], ["Mul", "Sqrt"])
    # with Keras 2's set the Sqrt is a recorded op: its output would be an input of its own
    assert resolve_inputs(graph["rmsprop/truediv"][1], graph.get,
                          lambda op, slot: records.get((op, slot)))[1] == ["Mul"]


def test_keras3_on_jax_or_torch_has_no_op_trace_and_says_why(monkeypatch) -> None:
    from repromatrix.cell import keras3, optrace

    monkeypatch.setattr(keras3, "is_keras3", lambda: True)
    for backend in ("jax", "torch"):
        monkeypatch.setattr(keras3, "backend_name", lambda backend=backend: backend)
        trace = optrace.user_trace(None, "experiment.py:build", None, None, 42, 64,
                                   optrace.TraceRequest(2), None)
        assert trace == {"absent": f"the op trace reads TensorFlow's debugger; Keras 3's "
                                   f"{backend} backend runs no TensorFlow graph"}


def test_keras3_step_arguments_are_the_iterator_outputs_of_the_same_step() -> None:
    """Keras 3 calls one_step_on_data(iterator.get_next()): x (``data``) and y (``data_1``) inside
    the step are IteratorGetNext:0 and :1 of the calling graph in the same step, even when the
    dump wrote the iterator's outputs after the step's first op; so that op can be blamed."""
    from repromatrix.cell.optrace import link_step_arguments

    outer, inner = "multi_step_on_iterator", "multi_step_on_iterator/one_step_on_data"

    def rec(step: int, graph: str, op_type: str, slot: int, inputs: list) -> dict:
        return {"step": step, "graph": graph, "op_type": op_type, "slot": slot, "inputs": inputs}

    records = [
        rec(1, inner, "Sigmoid", 0, ["data:0", "kernel:0"]),  # written before its input
        rec(1, outer, "IteratorGetNext", 0, ["iterator:0"]),
        rec(1, outer, "IteratorGetNext", 1, ["iterator:0"]),
        rec(2, outer, "IteratorGetNext", 0, ["iterator:0"]),
        rec(2, outer, "IteratorGetNext", 1, ["iterator:0"]),
        rec(2, inner, "Sub", 0, ["data_1:0", "data_2:0", "data:1"]),
        rec(2, outer, "Sub", 0, ["data_1:0"]),  # not the step graph: left alone
    ]
    link_step_arguments(records, [0, 5])
    assert records[0]["inputs"] == [1, "kernel:0"]
    assert records[5]["inputs"] == [4, "data_2:0", "data:1"]  # no sample weights; no slot 1
    assert records[6]["inputs"] == ["data_1:0"]
