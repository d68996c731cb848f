"""The figures of 16-bit float tensors (float16, bfloat16) are read in their own format: a one-
step difference of 1.0 is 2**-10 in float16 and 2**-7 in bfloat16, negative values included."""

from __future__ import annotations

import struct

import pytest

from repromatrix.report.differences import element_stats


def halves(*bits: int) -> bytes:
    return struct.pack("<%dH" % len(bits), *bits)


@pytest.mark.parametrize(("dtype", "one", "minus_one", "step"), [
    ("float16", 0x3C00, 0xBC00, 2.0**-10),
    ("bfloat16", 0x3F80, 0xBF80, 2.0**-7),
])
def test_one_step_from_one_and_minus_one(dtype: str, one: int, minus_one: int,
                                         step: float) -> None:
    stats = element_stats(halves(one, minus_one), halves(one + 1, minus_one + 1), dtype)
    assert stats is not None
    assert (stats.elements, stats.differing, stats.max_ulp, stats.sign_changes) == (2, 2, 1, 0)
    assert stats.max_abs == step
    assert stats.max_rel == step / (1 + step)
