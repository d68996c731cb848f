"""The remedy search's verdicts, and which runs it needs (remedy_search.py)."""

from __future__ import annotations

from typing import Any

from repromatrix.host import remedy_candidates as R
from repromatrix.host import remedy_search as S
from repromatrix.host.remedy_candidates import Finding
from repromatrix.model import Variant

BY_ID = {c.id: c for c in R.load()}
DEFAULT = Variant(name="default-optimizer")
ADAM = Variant(name="adam", optimizer="adam")
RSQRT = Finding(("Rsqrt",), ("estimate tables (proven)",))
ONEDNN = Finding(("MatMul",), ("oneDNN",))
CELLS = ("native", "onednn", "qemu-host", "qemu-other")
ENV = {"native": {"TF_ENABLE_ONEDNN_OPTS": "0"}, "onednn": {"TF_ENABLE_ONEDNN_OPTS": "1"},
       "qemu-host": {"TF_ENABLE_ONEDNN_OPTS": "0"}, "qemu-other": {"TF_ENABLE_ONEDNN_OPTS": "0"}}


def document(cell: str, variants: dict[str, tuple[Variant, str | None, float]]) -> dict[str, Any]:
    """A cell artifact: each variant's settings, digest (None: failed) and training seconds."""
    records = {}
    for name, (variant, digest, loss) in variants.items():
        records[name] = ({"status": "ok", "digest": digest, "loss": loss} if digest else
                         {"status": "error", "error": {"message": "boom"}})
        records[name]["settings"] = variant.settings()
    return {"cell": cell, "experiment": {"env": ENV[cell]}, "variants": records,
            "timing": {"seconds": {f"variant:{n}": 10.0 + i for i, n in enumerate(variants)}}}


def lab_cells() -> S.Cells:
    """The default lab's outcome: the default optimizer splits three ways, Adam two."""
    cells = S.Cells(runnable=set(CELLS))
    default = {"native": "d1", "qemu-host": "d1", "onednn": "d2", "qemu-other": "d3"}
    adam = {"native": "a1", "qemu-host": "a1", "qemu-other": "a1", "onednn": "a2"}
    for cell in CELLS:
        cells.add_artifact(document(cell, {"default-optimizer": (DEFAULT, default[cell], 0.25),
                                           "adam": (ADAM, adam[cell], 0.5)}), f"lab/{cell}", True)
    return cells


DIVERGENCE = S.Divergence(
    variant=DEFAULT, stack="keras2", builtin=True,
    groups=(("native", "qemu-host"), ("onednn",), ("qemu-other",)),
    pairs=(S.Pair(("native", "qemu-host"), ("onednn",), ONEDNN),
           S.Pair(("native", "qemu-host"), ("qemu-other",), RSQRT)))


def test_a_result_already_run_is_reused_not_run_again() -> None:
    """Adam is the adam variant the lab trained; oneDNN off is the original where it is off."""
    cells = lab_cells()
    chosen = {"default-optimizer": [BY_ID["adam"], BY_ID["onednn-off"], BY_ID["legacy-rmsprop"]]}
    runs = S.needed_runs([DIVERGENCE], chosen, cells)
    assert {cell: [v.name for v in vs] for cell, vs in runs.items()} == {
        "native": ["default-optimizer.legacy-rmsprop"],
        "onednn": ["default-optimizer.onednn-off", "default-optimizer.legacy-rmsprop"],
        "qemu-host": ["default-optimizer.legacy-rmsprop"],
        "qemu-other": ["default-optimizer.legacy-rmsprop"]}


def test_adam_is_partial_on_the_whole_and_reconciles_the_emulated_cpu() -> None:
    outcome = S.judge(DIVERGENCE, BY_ID["adam"], lab_cells())
    assert outcome.verdict == S.PARTIAL
    assert outcome.reconciled == ("qemu-other vs native, qemu-host",)
    assert outcome.groups == (("native", "qemu-host", "qemu-other"), ("onednn",))
    assert outcome.reused == CELLS and outcome.time_ratio == 11.0 / 10.0
    assert outcome.loss_change == 0.25


def add_run(cells: S.Cells, candidate: str, digests: dict[str, str | None]) -> None:
    variant = BY_ID[candidate].applied_to(DEFAULT)
    for cell, digest in digests.items():
        cells.add_artifact(document(cell, {variant.name: (variant, digest, 0.25)}),
                           f"remedy:{cell}", True)


def test_onednn_off_where_it_is_off_already_and_the_verdicts() -> None:
    cells = lab_cells()
    add_run(cells, "onednn-off", {"onednn": "d1"})  # now like native
    outcome = S.judge(DIVERGENCE, BY_ID["onednn-off"], cells)
    assert outcome.verdict == S.PARTIAL
    assert outcome.reconciled == ("onednn vs native, qemu-host",)
    assert outcome.reused == ("native", "qemu-host", "qemu-other")
    assert outcome.unchanged == ("native", "qemu-host", "qemu-other")  # off there already
    cells = lab_cells()
    add_run(cells, "onednn-off", {"onednn": "d2"})
    assert S.judge(DIVERGENCE, BY_ID["onednn-off"], cells).verdict == S.NO_EFFECT


def test_verified_worse_regrouped_and_failed() -> None:
    cells = lab_cells()
    add_run(cells, "legacy-rmsprop", {c: "same" for c in CELLS})
    assert S.judge(DIVERGENCE, BY_ID["legacy-rmsprop"], cells).verdict == S.VERIFIED
    cells = lab_cells()
    add_run(cells, "legacy-rmsprop", {c: c for c in CELLS})
    assert S.judge(DIVERGENCE, BY_ID["legacy-rmsprop"], cells).verdict == S.WORSE
    cells = lab_cells()
    add_run(cells, "legacy-rmsprop", {"native": "x", "qemu-host": "y", "onednn": "x",
                                      "qemu-other": "z"})
    assert S.judge(DIVERGENCE, BY_ID["legacy-rmsprop"], cells).verdict == S.REGROUPED
    cells = lab_cells()
    add_run(cells, "legacy-rmsprop", {"native": "s", "qemu-host": "s", "onednn": "s",
                                      "qemu-other": None})
    failed = S.judge(DIVERGENCE, BY_ID["legacy-rmsprop"], cells)
    assert failed.verdict == S.FAILED and failed.detail == "qemu-other: boom"
    cells = lab_cells()  # never run at all
    assert S.judge(DIVERGENCE, BY_ID["legacy-rmsprop"], cells).verdict == S.FAILED


def test_a_ci_cell_is_not_run_here() -> None:
    cells = lab_cells()
    cells.runnable.discard("qemu-other")
    add_run(cells, "legacy-rmsprop", {"native": "s", "qemu-host": "s", "onednn": "s"})
    outcome = S.judge(DIVERGENCE, BY_ID["legacy-rmsprop"], cells)
    assert outcome.verdict == S.NOT_RUN and "qemu-other cannot run here" in outcome.detail
    runs = S.needed_runs([DIVERGENCE], {"default-optimizer": [BY_ID["adam"]]}, cells)
    assert runs == {}


def test_a_user_experiment_is_matched_by_the_name_its_function_sees() -> None:
    """Its artifact names the optimizer the function compiled; two variants with the same
    settings but other names train differently, so they are never taken for each other."""
    sgd, adam = Variant(name="sgd"), Variant(name="adam")
    cells = S.Cells(runnable={"native"})
    doc = document("native", {"sgd": (sgd, "s1", 1.0), "adam": (adam, "a1", 1.0)})
    doc["variants"]["adam"]["settings"]["optimizer"] = "Adam"
    cells.add_artifact(doc, "lab/native", False)
    assert cells.result("native", adam, False).digest == "a1"
    assert cells.result("native", sgd, False).digest == "s1"
    candidate = BY_ID["onednn-off"].applied_to(adam)
    assert cells.result("native", candidate, False).digest == "a1"  # oneDNN already off there


def test_ranking_puts_verified_first_then_reach_then_cost() -> None:
    found = [S.Outcome("v", BY_ID["adam"], S.PARTIAL, reconciled=("a",)),
             S.Outcome("v", BY_ID["onednn-off"], S.NO_EFFECT),
             S.Outcome("v", BY_ID["legacy-rmsprop"], S.VERIFIED, time_ratio=1.2),
             S.Outcome("v", BY_ID["one-thread"], S.VERIFIED, time_ratio=1.1)]
    assert [o.candidate.id for o in S.ranked(found)] == [
        "one-thread", "legacy-rmsprop", "adam", "onednn-off"]


def test_the_stack_follows_keras_major_version() -> None:
    assert S.stack_of(DEFAULT, "2.12.0") == "keras2"
    assert S.stack_of(DEFAULT, "3.15.1") == "tensorflow"
    assert S.stack_of(Variant(name="j", backend="jax"), "3.15.1") == "jax"
