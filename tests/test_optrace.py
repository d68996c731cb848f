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
