"""The remedy report's wording: verdicts as measured, and the lines that apply a verified one."""

from __future__ import annotations

import tomllib

from repromatrix.host import remedy_candidates as R
from repromatrix.host import remedy_search as S
from repromatrix.host import remedy_text as T
from repromatrix.host.remedy_candidates import Finding
from repromatrix.model import Variant

BY_ID = {c.id: c for c in R.load()}
DIVERGENCE = S.Divergence(
    variant=Variant(name="default-optimizer"), stack="keras2", builtin=True,
    groups=(("a", "b"), ("c",)),
    pairs=(S.Pair(("a", "b"), ("c",), Finding(("Rsqrt",), ("estimate tables (proven)",))),))


def report(*outcomes: S.Outcome) -> str:
    return T.render([DIVERGENCE], {"default-optimizer": list(outcomes)}, [], "this machine (X)")


def test_a_verified_remedy_comes_with_its_matrix_lines() -> None:
    text = report(S.Outcome("default-optimizer", BY_ID["adam"], S.VERIFIED, groups=(("a", "b", "c"),),
                            time_ratio=0.93, loss_change=-0.00125, reused=("a", "b", "c")),
                  S.Outcome("default-optimizer", BY_ID["onednn-off"], S.NO_EFFECT,
                            groups=(("a", "b"), ("c",))))
    assert "  c vs a, b: root op Rsqrt; likely cause estimate tables (proven)" in text
    assert ("  - verified: adam (optimizer adam); training time 0.93x the original's; final loss "
            "-0.00125; already run on a, b, c") in text
    assert "  - no effect: onednn-off (env TF_ENABLE_ONEDNN_OPTS=0); 2 groups: a, b | c" in text
    lines = text.split("read the CI table:\n", 1)[1]
    parsed = tomllib.loads(lines)["variants"]["default-optimizer-adam"]
    assert parsed["optimizer"] == "adam"
    assert "verified by repromatrix remedy" in parsed["description"]


def test_failed_and_worse_are_never_called_verified() -> None:
    text = report(S.Outcome("default-optimizer", BY_ID["adam"], S.FAILED, detail="c: boom"),
                  S.Outcome("default-optimizer", BY_ID["legacy-rmsprop"], S.WORSE,
                            groups=(("a",), ("b",), ("c",))))
    assert "  - worse: legacy-rmsprop" in text and "  - failed: adam (optimizer adam); c: boom" in text
    assert "no candidate verified here" in text and "[variants." not in text


def test_the_matrix_lines_of_a_user_experiment_keep_its_env_and_switches() -> None:
    divergence = S.Divergence(variant=Variant(name="jax", backend="jax", env={"A": "1"}),
                              stack="jax", builtin=False, groups=(("a",), ("b",)), pairs=())
    outcome = S.Outcome("jax", BY_ID["xla-no-platform-math"], S.VERIFIED)
    lines = T.matrix_lines(divergence, outcome)
    parsed = tomllib.loads("\n".join(lines))["variants"]["jax-xla-no-platform-math"]
    assert parsed["backend"] == "jax" and "optimizer" not in parsed
    assert parsed["env"] == {"A": "1", "XLA_FLAGS": "--xla_cpu_enable_platform_dependent_math=false"}
    assert lines[-1].startswith("# your function branches on variant.name")
    grappler = S.Outcome("jax", BY_ID["grappler-arithmetic-off"], S.VERIFIED)
    parsed = tomllib.loads("\n".join(T.matrix_lines(divergence, grappler)))
    assert parsed["variants"]["jax-grappler-arithmetic-off"]["switches"] == {
        "grappler.arithmetic_optimization": False}


def test_each_comparison_says_what_reconciles_it_and_what_was_already_so() -> None:
    """The issue's reading: for native vs emulated, Adam reconciles; oneDNN off changes nothing
    there, since those cells have it off already."""
    adam = S.Outcome("default-optimizer", BY_ID["adam"], S.VERIFIED, reconciled=("c vs a, b",))
    onednn = S.Outcome("default-optimizer", BY_ID["onednn-off"], S.NO_EFFECT,
                       unchanged=("a", "b", "c"))
    worse = S.Outcome("default-optimizer", BY_ID["legacy-rmsprop"], S.WORSE)
    assert T.pair_lines("c vs a, b", {"a", "b", "c"}, [adam, onednn, worse]) == [
        "reconciled by: adam", "not by: legacy-rmsprop",
        "changes nothing there (these cells have it already): onednn-off"]
    assert T.pair_lines("c vs a, b", {"a", "b", "c"}, [worse]) == [
        "reconciled by no candidate", "not by: legacy-rmsprop"]


def test_candidates_only_ci_can_run_are_offered_to_try_not_as_verified() -> None:
    text = report(S.Outcome("default-optimizer", BY_ID["adam"], S.NOT_RUN,
                            detail="c cannot run here (CI cells): try it in CI"))
    assert "no candidate verified here; not run here: adam" in text
    tried = text.split("add to matrix.toml (and to [experiment] variants) and push:\n", 1)[1]
    parsed = tomllib.loads(tried)["variants"]["default-optimizer-adam"]
    assert "could not run" in parsed["description"] and "verified" not in parsed["description"]
    assert "To confirm on real machines" not in text
