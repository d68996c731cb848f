from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repromatrix.floats import (
    f32_bits,
    f32_from_bits,
    format_f32,
    format_vector,
    ordered,
    ulp_distance,
)

PUBLISHED = [
    (
        [-9.959677, 0.0, -5.590966, 0.0, -1.1521256, 0.0],
        "[-9.959677, 0.0, -5.590966, 0.0, -1.1521256, 0.0]",
    ),
    (
        [-159.85245, -5.7658424, 57.23868, 0.47032726, 0.13733912, -0.25829855],
        "[-159.85245, -5.7658424, 57.23868, 0.47032726, 0.13733912, -0.25829855]",
    ),
    (
        [-168.1607, -6.258976, 50.797672, 0.42788112, 0.15801406, -0.26924044],
        "[-168.1607, -6.258976, 50.797672, 0.42788112, 0.15801406, -0.26924044]",
    ),
]


@pytest.mark.parametrize("values,expected", PUBLISHED)
def test_published_vectors_print_exactly(values, expected):
    assert format_vector(values) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        (100.0, "100.0"),
        (-0.0, "-0.0"),
        (1e6, "1000000.0"),
        (1e16, "1e+16"),
        (999999.0, "999999.0"),
        (1e-5, "1e-05"),
        (0.0001, "1e-04"),  # float32(1e-4) is just below 1e-4, so numpy switches to exponent form
        (0.00011, "0.00011"),
        (123456789.0, "123456790.0"),
        (1.2345678e20, "1.2345678e+20"),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
        (f32_from_bits(1), "1e-45"),
        (f32_from_bits(0x7F7FFFFF), "3.4028235e+38"),
    ],
)
def test_format_matches_numpy_rules(value, expected):
    assert format_f32(value) == expected


def test_numpy_is_the_reference_version():
    """numpy >= 2.3 prints float32 scalars from 1e6 on in exponent form, so it is no longer the
    reference for every bit pattern; the tests session bounds it (noxfile TEST_PACKAGES).
    Failing here, rather than skipping part of the check below, keeps a lost bound visible."""
    assert tuple(int(p) for p in np.__version__.split(".")[:2]) < (2, 3), (
        f"numpy {np.__version__}: install numpy<2.3 (as `nox -s tests` does)")


@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_format_matches_numpy_for_any_bit_pattern(bits):
    assert format_f32(f32_from_bits(bits)) == str(np.float32(f32_from_bits(bits)))


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_format_round_trips(bits):
    value = f32_from_bits(bits)
    if value == value:  # not NaN
        assert f32_bits(float(format_f32(value))) == bits


def _bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def test_ulp_distance_adjacent_and_zero_crossing():
    one = _bits(1.0)
    assert ulp_distance(one, one + 1) == 1
    assert ulp_distance(_bits(0.0), _bits(-0.0)) == 0
    smallest = 1  # smallest positive subnormal
    negative_smallest = 0x80000001
    assert ulp_distance(smallest, negative_smallest) == 2
    assert ulp_distance(_bits(0.0), negative_smallest) == 1
    # -1.0 to +1.0: both magnitudes counted from zero
    assert ulp_distance(_bits(-1.0), _bits(1.0)) == 2 * 0x3F800000


def test_ordered_is_monotonic():
    values = [-2.0, -1.0, -1e-45, -0.0, 0.0, 1e-45, 1.0, 2.0]
    keys = [ordered(_bits(v)) for v in values]
    assert keys == sorted(keys)
    assert ordered(_bits(-0.0)) == ordered(_bits(0.0)) == 0


def test_overflow_gives_none():
    assert f32_bits(1e39) is None
    assert f32_bits(3.0e38) is not None


class TestTensorUlp:
    """ULP distance of whole buffers in each tensor's own dtype."""

    def test_float64_in_float64_units(self) -> None:
        from repromatrix.report.compare import tensor_max_ulp

        a = struct.pack("<2d", 1.0, -2.0)
        b = struct.pack("<2d", 1.0 + 1e-13, -2.0)
        assert tensor_max_ulp(a, b, "float64") == 450  # 1e-13 / 2**-52, rounded to a float64 step
        assert tensor_max_ulp(a, a, "float64") == 0
        # across zero: the two smallest float64 subnormals of opposite sign are 2 steps apart
        assert tensor_max_ulp(struct.pack("<d", 5e-324), struct.pack("<d", -5e-324), "float64") == 2

    def test_half_precision_and_integers(self) -> None:
        from repromatrix.floats import dtype_itemsize
        from repromatrix.report.compare import tensor_max_ulp

        one, next_one = struct.pack("<H", 0x3C00), struct.pack("<H", 0x3C01)
        assert tensor_max_ulp(one, next_one, "float16") == 1
        assert tensor_max_ulp(one, next_one, "bfloat16") == 1
        assert tensor_max_ulp(struct.pack("<2q", 5, -7), struct.pack("<2q", 5, 7), "int64") == 14
        assert tensor_max_ulp(b"\x01\x00", b"\x00\x00", "bool") == 1
        assert tensor_max_ulp(one, next_one, "no-such-dtype") is None
        assert tensor_max_ulp(one, one + one, "float16") is None
        assert (dtype_itemsize("float64"), dtype_itemsize("bfloat16"), dtype_itemsize("bool"),
                dtype_itemsize("complex128"), dtype_itemsize("x")) == (8, 2, 1, 16, None)

    def test_float32_default_unchanged(self) -> None:
        from repromatrix.report.compare import tensor_max_ulp

        a, b = struct.pack("<f", 1.0), struct.pack("<I", 0x3F800003)
        assert tensor_max_ulp(a, b) == tensor_max_ulp(a, b, "float32") == 3
