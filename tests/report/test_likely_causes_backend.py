"""Likely causes apply to the variant's backend only: a knob its library never reads is not a
cause (XLA_FLAGS for JAX and for TensorFlow with jit_compile; ATEN_CPU_CAPABILITY, MKL and
torch's oneDNN for PyTorch; oneDNN and Eigen's knobs for TensorFlow)."""

from __future__ import annotations

from repromatrix.report import aggregate
from repromatrix.report.compare import FingerprintDiff
from repromatrix.report.likely_causes import likely_causes, read_by

# Leaves as the loader flattens them: an unset variable is JSON null ("null"); an absent key
# (None) would be unknown, which is never a cause.
DIFFS = (
    FingerprintDiff("cpu.flags", ("avx2",), ("avx2", "avx512f")),
    FingerprintDiff("env.ONEDNN_MAX_CPU_ISA", "null", "SSE41"),
    FingerprintDiff("env.OMP_NUM_THREADS", "null", "1"),
    FingerprintDiff("env.TF_ENABLE_ONEDNN_OPTS", "0", "1"),
    FingerprintDiff("env.TF_XLA_FLAGS", "null", "--tf_xla_auto_jit=2"),
    FingerprintDiff("env.XLA_FLAGS", "null", "--xla_cpu_max_isa=SSE4_2"),
    FingerprintDiff("jax.env.XLA_FLAGS", "null", "--xla_cpu_max_isa=SSE4_2"),
    FingerprintDiff("jax.config.jax_default_matmul_precision", "null", "highest"),
    FingerprintDiff("packages.keras", "3.15.1", "3.15.0"),
    FingerprintDiff("tensorflow.onednn", False, True),
    FingerprintDiff("tensorflow.intra_op_threads", 2, 1),
    FingerprintDiff("torch.ATEN_CPU_CAPABILITY", "null", "default"),
    FingerprintDiff("torch.mkl", True, False),
    FingerprintDiff("torch.mkldnn", True, False),
)


def keys(backend: str | None, jit_compile: bool = False) -> list[str]:
    return [c.key for c in likely_causes(DIFFS, backend=backend, jit_compile=jit_compile)]


def test_jax_reads_xla_flags_and_its_options_never_onednn_or_torch():
    assert keys("jax") == ["env.XLA_FLAGS", "jax.env.XLA_FLAGS",
                           "jax.config.jax_default_matmul_precision", "cpu.flags",
                           "packages.keras"]


def test_torch_reads_its_kernels_mkl_and_onednn_never_xla_or_tensorflows():
    assert keys("torch") == ["torch.mkldnn", "env.ONEDNN_MAX_CPU_ISA",
                             "torch.ATEN_CPU_CAPABILITY", "torch.mkl", "cpu.flags",
                             "env.OMP_NUM_THREADS", "packages.keras"]


def test_tensorflow_reads_onednn_and_eigen_and_xla_flags_only_when_jit_compiled():
    plain = ["tensorflow.onednn", "env.TF_ENABLE_ONEDNN_OPTS", "env.ONEDNN_MAX_CPU_ISA",
             "cpu.flags", "tensorflow.intra_op_threads", "env.OMP_NUM_THREADS",
             "env.TF_XLA_FLAGS", "packages.keras"]
    assert keys(None) == keys("tensorflow") == plain  # Keras 2, or Keras 3's default backend
    assert keys("tensorflow", jit_compile=True) == [*plain[:3], "env.XLA_FLAGS", *plain[3:]]
    assert read_by("env.XLA_FLAGS", "jax") is True  # jax reads it, compiled or not
    assert read_by("env.XLA_FLAGS", "torch", jit_compile=True) is False  # jit is TensorFlow's


def _jax_cells(art, jit_env: dict[str, str]) -> list[dict]:
    """Two cells whose jax variants differ in XLA_FLAGS and ONEDNN_MAX_CPU_ISA (in the cells'
    fingerprint and in the jax variant's own fields), the report's issue 25."""
    docs = []
    for name, env in (("native", {}), ("sse42", jit_env)):
        variant = art.variant(trail=("t0", "t1", "t2", "t3") if not env else ("t0", "x1", "x2",
                                                                                "x3"),
                              kernel=[0.5, -0.25, 1.0, 3.0] if env else [0.5, -0.25, 1.0, 2.0],
                              ops=["dot_general", "logistic"], settings={"backend": "jax"})
        variant["jax"] = {"env": {"XLA_FLAGS": env.get("XLA_FLAGS"), "JAX_PLATFORMS": None}}
        cell = art.cell(name, {"jax": variant})
        cell["fingerprint"]["env"] = {"XLA_FLAGS": env.get("XLA_FLAGS"),
                                      "ONEDNN_MAX_CPU_ISA": env.get("ONEDNN_MAX_CPU_ISA")}
        docs.append(cell)
    return docs


def test_an_aggregate_ranks_xla_flags_for_a_jax_variant_not_onednn(art, tmp_path):
    docs = _jax_cells(art, {"XLA_FLAGS": "--xla_cpu_max_isa=SSE4_2",
                            "ONEDNN_MAX_CPU_ISA": "SSE41"})
    result = aggregate(art.write(tmp_path, docs))
    comparison = next(v for v in result.variants if v.name == "jax").comparisons[0]
    assert [(c.cause, c.key) for c in comparison.likely_causes] == [
        ("XLA", "env.XLA_FLAGS"), ("XLA", "jax.env.XLA_FLAGS")]
