"""The precedence of a variant's environment over a cell's (environment.combine)."""

from __future__ import annotations

import pytest

from repromatrix.environment import ONEDNN_ISAS, combine, lower_cap, merge_xla_flags


def test_a_variant_setting_wins_over_the_cells() -> None:
    """A cell with oneDNN forced on stands for a CPU where TensorFlow turns it on by itself; the
    user's TF_ENABLE_ONEDNN_OPTS=0 turns it off there too."""
    assert combine({"TF_ENABLE_ONEDNN_OPTS": "1", "A": "x"}, {"TF_ENABLE_ONEDNN_OPTS": "0"}) == {
        "TF_ENABLE_ONEDNN_OPTS": "0", "A": "x"}
    assert combine({}, {"B": "y"}) == {"B": "y"}


@pytest.mark.parametrize("cell, variant, expected", [
    ("SSE41", "AVX2", "SSE41"),  # the machine's limit cannot be lifted
    ("AVX512_CORE", "AVX2", "AVX2"),  # a lower cap applies
    ("avx2", "SSE41", "SSE41"),  # case-insensitive, as oneDNN reads it
    ("SOMETHING", "AVX2", "SOMETHING"),  # unranked: the cell's
])
def test_the_lower_isa_cap_wins(cell: str, variant: str, expected: str) -> None:
    assert lower_cap(cell, variant, ONEDNN_ISAS) == expected
    assert combine({"ONEDNN_MAX_CPU_ISA": cell}, {"ONEDNN_MAX_CPU_ISA": variant}) == {
        "ONEDNN_MAX_CPU_ISA": expected}


def test_xla_flags_merge_flag_by_flag() -> None:
    cell = "--xla_cpu_max_isa=SSE4_2 --xla_force_host_platform_device_count=1"
    merged = merge_xla_flags(cell, "--xla_cpu_enable_platform_dependent_math=false "
                             "--xla_force_host_platform_device_count=2")
    assert merged == ("--xla_cpu_max_isa=SSE4_2 --xla_force_host_platform_device_count=2 "
                      "--xla_cpu_enable_platform_dependent_math=false")
    assert merge_xla_flags(cell, "--xla_cpu_max_isa=AVX2").startswith("--xla_cpu_max_isa=SSE4_2 ")
    assert merge_xla_flags("--xla_cpu_max_isa=AVX512", "--xla_cpu_max_isa=AVX2") == (
        "--xla_cpu_max_isa=AVX2")
    assert combine({"XLA_FLAGS": "--xla_cpu_max_isa=AVX2 --a=1"},
                   {"XLA_FLAGS": "--xla_cpu_max_isa=AVX"})["XLA_FLAGS"] == (
        "--xla_cpu_max_isa=AVX --a=1")
