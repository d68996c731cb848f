"""Likely cause: the fingerprint differences known to change TensorFlow's numerics, ranked.

Next to the root op ("MatMul at step 1"), this says which difference between the two machines
makes that op compute differently. The ranking is what was measured or is documented for the
pinned stack: oneDNN on versus off changes even Adam's weights (TensorFlow 2.12 turns it on for
CPUs with AVX512_VNNI only), ``ONEDNN_MAX_CPU_ISA=SSE41`` changes both optimizers, emulation and
the CPU's vector ISA change the approximate and fused instructions kernels use, then op
determinism, threads (reduction order) and package versions: the pinned ones, then every other
installed distribution (the fingerprint's ``distributions``: a transitive package that resolved
differently) and its build (the wheel's tags, an archive's hash). An installed package that
differs is ranked first when the CPU is the only other likely cause: until the environments
match, the CPU is not shown to be the cause.

A cause applies to the variant's backend only (``READ_BY``): a knob its library never reads
changes nothing there. Keras 3 on JAX reads ``XLA_FLAGS`` and jax's options, never oneDNN's
variables; on PyTorch, ``ATEN_CPU_CAPABILITY``, MKL and torch's oneDNN (which reads
``ONEDNN_MAX_CPU_ISA``); TensorFlow reads oneDNN's and Eigen's knobs, and ``XLA_FLAGS`` only when
its step is XLA-compiled (``jit_compile``). A variant record's own backend fields (``jax.*``,
``torch.*``) are matched as the cell's fingerprint is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from repromatrix.report.model import leaf_text, leaf_value

TENSORFLOW, JAX, TORCH = "tensorflow", "jax", "torch"  # Keras 3's backend names

# (prefix of a flattened fingerprint key, the cause's name), most likely first.
KNOWN: tuple[tuple[str, str], ...] = (
    ("tensorflow.onednn", "oneDNN"),
    ("env.TF_ENABLE_ONEDNN_OPTS", "oneDNN"),
    ("torch.mkldnn", "oneDNN"),
    ("env.ONEDNN_MAX_CPU_ISA", "ISA cap"),
    ("env.DNNL_MAX_CPU_ISA", "ISA cap"),
    ("env.XLA_FLAGS", "XLA"),
    ("jax.env.XLA_FLAGS", "XLA"),
    ("torch.ATEN_CPU_CAPABILITY", "CPU kernels"),
    ("torch.cpu_capability", "CPU kernels"),
    ("torch.mkl", "MKL"),
    ("env.MKL_NUM_THREADS", "threads"),
    ("jax.config.", "jax numerics options"),
    ("torch.float32_matmul_precision", "matmul precision"),
    ("cpu.estimates.sha256", "estimate tables"),
    ("cpu.emulated", "emulation"),
    ("cpu.flags", "CPU ISA"),
    ("tensorflow.op_determinism", "op determinism"),
    ("env.TF_DETERMINISTIC_OPS", "op determinism"),
    ("torch.deterministic_algorithms", "op determinism"),
    ("tensorflow.intra_op_threads", "threads"),
    ("torch.intra_op_threads", "threads"),
    ("torch.inter_op_threads", "threads"),
    ("tensorflow.inter_op_threads", "threads"),
    ("env.OMP_NUM_THREADS", "threads"),
    ("env.TF_NUM_INTRAOP_THREADS", "threads"),
    ("env.TF_NUM_INTEROP_THREADS", "threads"),
    ("env.TF_XLA_FLAGS", "XLA"),
    ("tensorflow.version", "package versions"),
    ("jax.version", "package versions"),
    ("jax.jaxlib", "package versions"),
    ("torch.version", "package versions"),
    ("packages.", "package versions"),
    ("distributions.", "installed packages"),  # distributions.<name>.version
    ("distributions.", "package builds"),  # distributions.<name>.source
)
# Ops TensorFlow computes with x86's estimate instruction (Eigen's rsqrt: rsqrtps, then a Newton
# step): when one is the root cause and the measured estimate tables differ, the tables are the
# proof. Not RsqrtGrad or ReciprocalGrad (multiplications only), and not Reciprocal, whose use of
# rcpps in the pinned Eigen is not verified.
ESTIMATE_OPS = frozenset({"Rsqrt"})
ESTIMATES_KEY = "cpu.estimates.sha256"
DISTRIBUTIONS = "distributions."
# The causes that are the CPU itself: an installed package that differs is ranked above them
# when nothing else differs.
CPU_CAUSES = frozenset({"CPU ISA", "emulation", "estimate tables"})
_EVERY = frozenset({TENSORFLOW, JAX, TORCH})
# Which backends read the knob behind a KNOWN prefix (the CPU, emulation and packages: every one).
# "xla" stands for TensorFlow with an XLA-compiled step (jit_compile=True).
READ_BY: dict[str, frozenset[str]] = {
    "tensorflow.": frozenset({TENSORFLOW}),
    "env.TF_": frozenset({TENSORFLOW}),
    "env.ONEDNN_MAX_CPU_ISA": frozenset({TENSORFLOW, TORCH}),  # oneDNN, in TensorFlow or torch
    "env.DNNL_MAX_CPU_ISA": frozenset({TENSORFLOW, TORCH}),
    "env.XLA_FLAGS": frozenset({JAX, "xla"}),
    "env.OMP_NUM_THREADS": frozenset({TENSORFLOW, TORCH}),
    "env.MKL_NUM_THREADS": frozenset({TORCH}),
    "jax.": frozenset({JAX}),
    "torch.": frozenset({TORCH}),
}
# ISA extensions whose presence changes which kernels run (vector width, FMA contraction, AMX).
ISA_FLAGS = ("avx512", "amx", "fma", "avx2", "avx_vnni", "f16c", "avx", "sse4")


@dataclass(frozen=True)
class LikelyCause:
    cause: str  # e.g. "oneDNN", "ISA cap"
    key: str  # the flattened fingerprint key, e.g. "tensorflow.onednn"
    reference: object  # leaf values as in FingerprintDiff
    other: object


def _rank(key: str) -> int | None:
    if key.startswith(DISTRIBUTIONS):
        field = key.rsplit(".", 1)[-1]
        cause = {"version": "installed packages", "source": "package builds"}.get(field)
        return next((i for i, (_, name) in enumerate(KNOWN) if name == cause), None)
    for index, (prefix, _) in enumerate(KNOWN):
        if key == prefix or (prefix.endswith(".") and key.startswith(prefix)):
            return index
    return None


def _isa_changed(reference: object, other: object) -> bool:
    """cpu.flags differ in an ISA extension that kernels use (not only in, say, 'ht')."""
    def flags(leaf: object) -> set:
        value = leaf_value(leaf)
        return {str(f).lower() for f in value} if isinstance(value, list) else set()

    return any(f.startswith(ISA_FLAGS) for f in flags(reference) ^ flags(other))


def _unknown(key: str, leaf: object) -> bool:
    """A value the fingerprint could not find out: absent or empty (``cpu.flags`` is empty under
    qemu-user, which hides the host's /proc/cpuinfo flags). Unknown is never a cause. null is a
    recorded state (``cpu.emulated`` null: native; an unset variable), and a package that is not
    installed (``packages.*`` absent) is one too."""
    if key.startswith(("packages.", "distributions.")):
        return False
    return leaf is None or leaf in ('""', "") or leaf == ()


def distribution_name(key: str) -> str | None:
    """"scipy" for "distributions.scipy.version" (names are PEP 503-normal, so have no dots)."""
    if not key.startswith(DISTRIBUTIONS):
        return None
    return key[len(DISTRIBUTIONS):].rpartition(".")[0] or None


def _pinned_names(diffs: Sequence[Any]) -> set[str]:
    """The pinned packages whose versions differ, PEP 503-normalised (packages.<name>)."""
    return {re.sub(r"[-_.]+", "-", d.key[len("packages."):]).lower()
            for d in diffs if d.key.startswith("packages.")}


def read_by(key: str, backend: str | None, jit_compile: bool = False) -> bool:
    """Whether the variant's backend (None: TensorFlow, Keras 2's and Keras 3's default) reads
    the knob behind this flattened fingerprint key; keys READ_BY does not name apply to all."""
    name = backend or TENSORFLOW
    readers = next((r for prefix, r in sorted(READ_BY.items(), key=lambda i: -len(i[0]))
                    if key.startswith(prefix)), _EVERY)
    return name in readers or (name == TENSORFLOW and jit_compile and "xla" in readers)


def likely_causes(diffs: Sequence[Any], root_op: str | None = None,
                  estimate_labels: tuple[str, str] | None = None, backend: str | None = None,
                  jit_compile: bool = False) -> tuple[LikelyCause, ...]:
    """The known numeric causes among fingerprint differences (FingerprintDiff) that the
    variant's backend reads, ranked.

    ``root_op``: the root cause's op type; an estimate op whose two cells measured different
    estimate tables puts the tables first, as proven. ``estimate_labels``: what each cell's
    table is (vendor and model, or the emulator's table), shown instead of the two hashes.
    ``backend`` (None: TensorFlow) and ``jit_compile``: which knobs the variant's library reads.
    """
    pinned = _pinned_names(diffs)
    ranked: list[tuple[int, str, LikelyCause]] = []
    for diff in diffs:
        rank = _rank(diff.key)
        if rank is None or (diff.key == "cpu.flags" and not _isa_changed(diff.reference, diff.other)):
            continue
        if not read_by(diff.key, backend, jit_compile):
            continue
        if _unknown(diff.key, diff.reference) or _unknown(diff.key, diff.other):
            continue
        if diff.key.endswith(".version") and distribution_name(diff.key) in pinned:
            continue  # the same fact as packages.<name>, already a cause
        name, reference, other = KNOWN[rank][1], diff.reference, diff.other
        if diff.key == ESTIMATES_KEY:
            if root_op in ESTIMATE_OPS:
                rank, name = -2, "estimate tables (proven)"
            if estimate_labels is not None:
                reference, other = estimate_labels
        ranked.append((rank, diff.key, LikelyCause(name, diff.key, reference, other)))
    names = {item[2].cause for item in ranked}
    if "installed packages" in names and names - {"installed packages", "package builds"} <= CPU_CAUSES:
        # ranked above the CPU when that is the only other difference (a proof stays first)
        promoted = next(i for i, (_, name) in enumerate(KNOWN) if name == "installed packages")
        ranked = [(-1 if item[0] == promoted else item[0], item[1], item[2]) for item in ranked]
    return tuple(item[2] for item in sorted(ranked, key=lambda item: (item[0], item[1])))


def likely_causes_json(causes: Sequence[LikelyCause]) -> list[dict[str, Any]]:
    return [{"cause": c.cause, "key": c.key, "reference": leaf_value(c.reference),
             "other": leaf_value(c.other)} for c in causes]


def causes_summary(causes: Sequence[LikelyCause]) -> str:
    """Distinct cause names in rank order, e.g. "oneDNN, ISA cap" (raw text)."""
    names: list[str] = []
    for cause in causes:
        if cause.cause not in names:
            names.append(cause.cause)
    return ", ".join(names)


def cause_text(cause: LikelyCause) -> str:
    """e.g. "oneDNN (tensorflow.onednn: false | true)" (raw; renderers escape)."""
    def show(leaf: object) -> str:
        return "(absent)" if leaf is None else leaf_text(leaf)

    name = distribution_name(cause.key)
    if name is not None:  # "installed packages (scipy 1.13.1 | 1.14.0)"
        return f"{cause.cause} ({name} {show(cause.reference)} | {show(cause.other)})"
    return f"{cause.cause} ({cause.key}: {show(cause.reference)} | {show(cause.other)})"
