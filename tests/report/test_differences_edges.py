"""Element-wise figures at the edges a tensor diff meets: 16-bit floats read in their own format
(a one-step difference of 1.0 is 2**-10 in float16, 2**-7 in bfloat16, negative values
included), complex components, NaN and infinity, exactly 1.0, the smallest normal and subnormals
across zero, and buffers that do not split into elements."""

from __future__ import annotations

import struct

import pytest

from repromatrix.report.differences import element_stats


def halves(*bits: int) -> bytes:
    return struct.pack(f"<{len(bits):d}H", *bits)


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


def words(fmt: str, *values: object) -> bytes:
    return struct.pack("<" + fmt, *values)


def test_complex64_is_compared_in_float32_components() -> None:
    one, next_up = words("f", 1.0), words("f", 1.0000001)
    stats = element_stats(one + words("f", 0.0), next_up + words("f", 0.0), "complex64")
    assert stats is not None
    assert (stats.differing, stats.max_ulp, stats.max_abs) == (1, 1, 2.0**-23)


def test_buffers_that_do_not_split_into_elements_are_not_compared() -> None:
    assert element_stats(words("f", 1.0), b"\0\0\0", "float32") is None
    assert element_stats(b"\0\0\0", words("f", 1.0), "float32") is None


def test_nan_against_a_number_differs_without_a_ulp_distance() -> None:
    nan = float("nan")
    for left, right in ((nan, 1.0), (1.0, nan)):
        stats = element_stats(words("f", left), words("f", right), "float32")
        assert stats is not None
        assert (stats.differing, stats.max_ulp, stats.max_abs, stats.sign_changes) == \
            (1, None, float("inf"), 1)
    two_nans = element_stats(words("I", 0x7FC00000), words("I", 0x7FC00001), "float32")
    assert two_nans is not None and two_nans.differing == 0  # payloads differ: no difference


def test_infinity_against_a_number_has_no_ulp_distance() -> None:
    stats = element_stats(words("f", float("inf")), words("f", 1.0), "float32")
    assert stats is not None and (stats.max_ulp, stats.sign_changes) == (None, 1)


def test_one_ulp_above_exactly_one() -> None:
    stats = element_stats(words("f", 1.0000001), words("f", 1.0), "float32")
    assert stats is not None and (stats.max_ulp, stats.sign_changes) == (1, 0)


def test_across_zero_from_the_smallest_normal_has_no_ulp_distance() -> None:
    stats = element_stats(words("f", 2.0**-126), words("f", -(2.0**-149)), "float32")
    assert stats is not None and (stats.max_ulp, stats.sign_changes) == (None, 1)


@pytest.mark.parametrize(("dtype", "fmt", "plus", "minus", "ulp"), [
    ("float16", "H", 0x0001, 0x8001, 2),
    ("bfloat16", "H", 0x0001, 0x8001, 2),
    ("float32", "I", 0x00000003, 0x80000002, 5),
    ("float64", "Q", 0x0000000100000000, 0x8000000100000000, 2 << 32),
])
def test_subnormals_across_zero_count_the_steps_on_both_sides(dtype: str, fmt: str, plus: int,
                                                              minus: int, ulp: int) -> None:
    stats = element_stats(words(fmt, plus), words(fmt, minus), dtype)
    assert stats is not None and (stats.max_ulp, stats.sign_changes) == (ulp, 0)


def test_integer_tensors_count_the_largest_step() -> None:
    stats = element_stats(words("2i", 1, 10), words("2i", 4, 11), "int32")  # largest first
    assert stats is not None and (stats.differing, stats.max_ulp, stats.max_abs) == (2, 3, 3.0)


def test_every_sign_change_is_counted() -> None:
    stats = element_stats(words("2f", 1.0, 2.0), words("2f", -1.0, -2.0), "float32")
    assert stats is not None and (stats.differing, stats.sign_changes) == (2, 2)


def test_a_nan_pair_does_not_end_the_comparison() -> None:
    stats = element_stats(words("If", 0x7FC00000, 1.0), words("If", 0x7FC00001, 2.0), "float32")
    assert stats is not None and (stats.differing, stats.max_abs) == (1, 1.0)


def test_relative_difference_at_zero_and_infinity() -> None:
    zeros = element_stats(words("f", 0.0), words("f", -0.0), "float32")
    assert zeros is not None and (zeros.differing, zeros.max_abs, zeros.max_rel) == (1, 0.0, 0.0)
    infinite = element_stats(words("f", float("inf")), words("f", 1.0), "float32")
    assert infinite is not None and (infinite.max_abs, infinite.max_rel) == \
        (float("inf"), float("inf"))
