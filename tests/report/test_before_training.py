"""A divergence before training (step 0): worded as such ("the initial weights already differ"),
with no suspect taken from the train step (whose ops did not compute the initial weights) and no
op blamed from its trace; what can be said of the probe is said."""

from __future__ import annotations

from repromatrix.report import aggregate
from repromatrix.report.blame_text import blame_lines
from repromatrix.report.root_cause import INITIAL_WEIGHTS_DIFFER, OpRecord, OpTrace, find_root_cause


def _step0(art, tmp_path, **probe_changes):
    """Cell b starts from other weights (its trail differs at row 0); its probe may differ."""
    docs = [
        art.cell("a"),
        art.cell("b", {"default-optimizer": art.variant(trail=("z0", "z1", "z2", "z3"),
                                                        kernel=[9.0, 1, 1, 1])},
                 probe_entries=art.probe(**probe_changes)),
    ]
    result = aggregate(art.write(tmp_path, docs))
    return next(v for v in result.variants if v.name == "default-optimizer")


def test_step_0_is_worded_as_initial_weights_and_names_no_train_step_suspect(art, tmp_path):
    # Rsqrt is in the train step's op set: at step 1 it would be the suspect
    result = _step0(art, tmp_path, rsqrt="r-intel", exp="e-intel")
    comparison = result.comparisons[0]
    assert comparison.first_divergent_step == 0
    assert comparison.suspect_ops == ()
    assert comparison.unused_ops == ("Exp", "Rsqrt")  # they differ; nothing ties them to the step
    assert result.summary == ("2 results — B differs from A already before training (step 0); "
                              f"{INITIAL_WEIGHTS_DIFFER}")
    assert INITIAL_WEIGHTS_DIFFER == ("the initial weights already differ: the initializers ran "
                                      "differently")
    assert (f"{INITIAL_WEIGHTS_DIFFER}; no suspect can be named: the op set and the op trace cover "
            "the train step, and the initializers ran before it (the probed ops that differ (Exp, "
            "Rsqrt) may be among them)") in comparison.notes


def test_step_0_without_probe_differences_says_so(art, tmp_path):
    comparison = _step0(art, tmp_path).comparisons[0]
    assert comparison.suspect_ops == () and comparison.unused_ops == ()
    assert any(note.endswith("ran before it (no probed op differs)") for note in comparison.notes)


def test_a_later_step_keeps_the_train_steps_suspects(art, tmp_path):
    """The step-0 rule must not leak: the same probe difference at step 1 names Rsqrt."""
    docs = [art.cell("a"), art.intel_cell("b")]
    result = aggregate(art.write(tmp_path, docs))
    comparison = next(v for v in result.variants if v.name == "default-optimizer").comparisons[0]
    assert comparison.first_divergent_step == 1 and comparison.suspect_ops == ("Rsqrt",)
    assert not any(INITIAL_WEIGHTS_DIFFER in note for note in comparison.notes)


def _record(sha: str, inputs: tuple[int | str, ...] = ()) -> OpRecord:
    return OpRecord(1, "g", "Mul", "mul", 0, "float32", (2,), sha, inputs, None, ())


def test_no_train_step_op_is_blamed_for_initial_weights():
    """Traces that differ at step 1 with identical inputs would blame Mul; from weights that
    differed before training, that op is not the cause."""
    ref = OpTrace((1,), (_record("x"), _record("1", (0,))), True)
    other = OpTrace((1,), (_record("x"), _record("2", (0,))), True)
    at_step_1 = find_root_cause(ref, other, ("a", "b"), 1, "rerun {step}")
    assert at_step_1.root is not None  # the control: the same traces do blame an op at step 1
    blame = find_root_cause(ref, other, ("a", "b"), 0, "rerun {step}")
    assert blame.root is None
    assert blame.notes == ("the op trace covers the train step, which started from weights that "
                           "already differ, so no op is blamed",)
    # without a trace (JAX, PyTorch) there is nothing to say about one
    absent = OpTrace((), (), None, absent="no TensorFlow graph")
    assert find_root_cause(absent, absent, ("a", "b"), 0, "rerun {step}").notes == ()


def test_the_blame_lines_of_step_0_name_no_root_cause(art, tmp_path):
    comparison = _step0(art, tmp_path, rsqrt="r-intel").comparisons[0]
    assert not any(line.startswith("root cause") for line in blame_lines(comparison))
