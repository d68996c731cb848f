"""Which root causes and likely causes bring which candidate remedies (remedy_candidates.py)."""

from __future__ import annotations

import pytest

from repromatrix.errors import ConfigError
from repromatrix.host import remedy_candidates as R
from repromatrix.host.remedy_candidates import Finding
from repromatrix.model import SWITCHES, Variant

SHIPPED = R.load()
RSQRT = Finding(root_ops=("Rsqrt",), causes=("estimate tables (proven)", "emulation"))
ONEDNN = Finding(root_ops=("MatMul", "BiasAdd", "Sigmoid"), causes=("oneDNN",))


def ids(stack: str, builtin: bool, *findings: Finding) -> list[str]:
    return [c.id for c in R.choose(SHIPPED, stack, builtin, findings)]


def test_the_builtin_rsqrt_divergence_brings_the_optimizers_and_onednn() -> None:
    """The issue's case: the default optimizer, native vs emulated CPU (root cause Rsqrt)."""
    assert ids("keras2", True, RSQRT) == ["onednn-off", "legacy-rmsprop", "adam"]


def test_a_user_experiment_gets_no_optimizer_swap() -> None:
    """A user's function compiles its own model: repromatrix cannot change its optimizer."""
    assert ids("keras2", False, RSQRT) == ["onednn-off"]


def test_a_product_brings_the_isa_cap_only_beside_an_isa_difference() -> None:
    """oneDNN on vs off at MatMul+BiasAdd+Sigmoid: oneDNN's switch only (no optimizer swap, the
    update is not the root); a convolution against an emulated CPU (no AVX-512) brings oneDNN's
    ISA cap too."""
    assert ids("keras2", True, ONEDNN) == ["onednn-off"]
    conv = Finding(("Conv2D",), ("emulation",))
    assert ids("keras2", False, conv) == ["onednn-off", "onednn-isa-avx2"]


def test_cpu_isa_and_threads_bring_their_knobs() -> None:
    assert ids("keras2", True, Finding((), ("CPU ISA",))) == ["onednn-off", "onednn-isa-avx2"]
    assert ids("keras2", True, Finding((), ("threads",))) == [
        "onednn-off", "one-thread", "op-determinism"]


def test_keras3_tensorflow_rsqrt_brings_grappler_not_the_builtin_optimizers() -> None:
    """Keras 3's RMSprop divides by sqrt; grappler rewrites it into rsqrt."""
    assert ids("tensorflow", False, RSQRT) == ["onednn-off", "grappler-arithmetic-off"]


def test_each_backend_gets_only_knobs_it_reads() -> None:
    jax = ids("jax", False, Finding((), ("XLA",)))
    assert jax == ["xla-no-platform-math", "xla-isa-avx2", "xla-isa-sse4_2"]
    torch = ids("torch", False, Finding((), ("emulation",)))
    assert torch == ["aten-default", "mkl-cbwr", "torch-mkldnn-off"]
    assert "onednn-off" not in jax + torch


def test_a_root_op_pattern_brings_a_candidate_without_a_cause() -> None:
    candidate = R.Candidate(id="x", what="", source="", stacks=("keras2",), root_ops=("Mat*",))
    assert R.brings(candidate, ONEDNN) and not R.brings(candidate, RSQRT)


def test_a_candidate_applied_keeps_the_original_name_for_the_function() -> None:
    variant = Variant(name="adam", env={"A": "1"})
    onednn = next(c for c in SHIPPED if c.id == "onednn-off")
    applied = onednn.applied_to(variant)
    assert applied.name == "adam.onednn-off" and applied.base == "adam"
    assert applied.env == {"A": "1", "TF_ENABLE_ONEDNN_OPTS": "0"}
    assert applied.settings()["base"] == "adam"


def test_pairs_combine_and_refuse_conflicts() -> None:
    by_id = {c.id: c for c in SHIPPED}
    both = R.pair(by_id["adam"], by_id["onednn-off"])
    assert both is not None and both.id == "adam+onednn-off" and both.parts == ("adam", "onednn-off")
    assert both.changes() == {"optimizer": "adam", "env": {"TF_ENABLE_ONEDNN_OPTS": "0"}}
    assert R.pair(by_id["adam"], by_id["legacy-rmsprop"]) is None  # two optimizers
    xla = R.pair(by_id["xla-no-platform-math"], by_id["xla-isa-avx2"])  # XLA_FLAGS: merged
    assert xla is not None and xla.env == {"XLA_FLAGS": "--xla_cpu_enable_platform_dependent_math"
                                                        "=false --xla_cpu_max_isa=AVX2"}
    assert R.pair(by_id["onednn-off"], R.Candidate(
        id="on", what="", source="", stacks=("keras2",), env={"TF_ENABLE_ONEDNN_OPTS": "1"})) is None


def test_every_shipped_candidate_is_well_formed() -> None:
    for candidate in SHIPPED:
        assert candidate.source and candidate.what and candidate.changes(), candidate.id
        assert set(candidate.switches) <= set(SWITCHES), candidate.id


def test_a_bad_candidates_file_lists_its_problems() -> None:
    with pytest.raises(ConfigError) as error:
        R.load('[[candidates]]\nid = "a"\nwhat = "w"\nsource = "s"\nstacks = ["keras4"]\n'
               '[[candidates]]\nid = "b"\nwhat = "w"\nsource = "s"\nstacks = []\ncolour = 1\n')
    text = str(error.value)
    assert "unknown stack 'keras4'" in text and "unknown keys colour" in text
