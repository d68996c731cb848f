"""How a variant's environment combines with a cell's: the precedence, in one place.

A cell's environment (``[lab]`` and ``[[lab.cells]]`` ``env``, ``run --env``) stands for the
machine: ``TF_ENABLE_ONEDNN_OPTS=1`` for a CPU on which TensorFlow turns oneDNN on by itself,
``--xla_cpu_max_isa=SSE4_2`` for a CPU without AVX. A variant's environment is the user's
configuration. Precedence, lowest first: the process's own environment, the cell's, the
variant's; a variable both set takes the variant's value, because the same line in the user's
configuration would set it on that machine too, with two exceptions where the cell's value is a
limit of the machine that no configuration can lift:

- an ISA cap (``ONEDNN_MAX_CPU_ISA``, ``DNNL_MAX_CPU_ISA``, XLA's ``--xla_cpu_max_isa``): the
  lower of the two ISAs wins (a cap of AVX2 on a CPU capped at SSE4.1 still runs SSE4.1); a
  value this module does not rank keeps the cell's;
- ``XLA_FLAGS`` is a list of flags: the two lists are merged flag by flag, the variant's flag
  winning except ``--xla_cpu_max_isa`` (the rule above).

Standard library only, Python 3.9-safe: the cell's worker and the host's remedy search both use it.
"""

from __future__ import annotations

from collections.abc import Mapping

# Ascending ISA order of each cap's values (oneDNN's dispatcher control, XLA's flag help text).
ONEDNN_ISAS = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE",
               "AVX512_CORE_VNNI", "AVX512_CORE_BF16", "AVX10_1_512", "AVX512_CORE_FP16",
               "AVX10_1_512_AMX", "AVX512_CORE_AMX", "AVX10_1_512_AMX_FP16",
               "AVX512_CORE_AMX_FP16", "ALL")
XLA_ISAS = ("SSE4_2", "AVX", "AVX2", "AVX512", "AVX512_VNNI", "AVX512_BF16", "AMX", "AMX_FP16")
ISA_CAPS = {"ONEDNN_MAX_CPU_ISA": ONEDNN_ISAS, "DNNL_MAX_CPU_ISA": ONEDNN_ISAS}
XLA_FLAGS = "XLA_FLAGS"
XLA_MAX_ISA = "--xla_cpu_max_isa"


def lower_cap(cell: str, variant: str, order: tuple[str, ...]) -> str:
    """The lower of two ISA caps; the cell's when either is not in ``order``."""
    ranks = {name: index for index, name in enumerate(order)}
    mine, theirs = cell.strip().upper(), variant.strip().upper()
    if mine not in ranks or theirs not in ranks:
        return cell
    return variant if ranks[theirs] < ranks[mine] else cell


def _flags(text: str) -> dict[str, str]:
    """``--name=value`` tokens by name, in order (a later repeat replaces an earlier one, as
    XLA's parser does); a token without ``=`` is kept whole."""
    flags: dict[str, str] = {}
    for token in text.split():
        flags[token.split("=", 1)[0]] = token
    return flags


def merge_xla_flags(cell: str, variant: str) -> str:
    """The cell's XLA flags with the variant's: the variant's flag wins, except an ISA cap."""
    merged = _flags(cell)
    for name, token in _flags(variant).items():
        if name == XLA_MAX_ISA and name in merged:
            cap = lower_cap(merged[name].partition("=")[2], token.partition("=")[2], XLA_ISAS)
            merged[name] = f"{name}={cap}"
        else:
            merged[name] = token
    return " ".join(merged.values())


def combine(cell: Mapping[str, str], variant: Mapping[str, str]) -> dict[str, str]:
    """The environment a variant's process gets on a cell (``cell`` includes the process's own
    environment when the caller wants it): the rules in this module's docstring."""
    combined = dict(cell)
    for name, value in variant.items():
        if name not in combined:
            combined[name] = value
        elif name == XLA_FLAGS:
            combined[name] = merge_xla_flags(combined[name], value)
        elif name in ISA_CAPS:
            combined[name] = lower_cap(combined[name], value, ISA_CAPS[name])
        else:
            combined[name] = value
    return combined
