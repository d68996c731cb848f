"""The trail hash and the whole-model digest are fixed functions: an artifact written by one
repromatrix release on one machine must compare equal with one written by another release
elsewhere for the same weights. These values were computed once by the released code; a change
to the multipliers, the dtype offset or the word layout changes them and would make every
earlier artifact look divergent."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from repromatrix.cell.trail import (
    dtype_offset,
    hash_hex,
    multipliers,
    trail_hash,
    trail_result,
    weights_digest,
    word_width,
)

KERNEL = np.array([[0.5, -0.25], [1.0, 2.0]])
BIAS = np.array([0.125, -3.0])
MASK = np.array([[True, False], [False, True]])


def test_the_multipliers() -> None:
    assert multipliers(4).tolist() == [755246804867496011, 4277748941910172121,
                                       2432524470226580455, 3538584482654599527]


@pytest.mark.parametrize(("dtypes", "offset"), [
    (["float32", "float32"], 0),
    (["float64"], 7678417004210690766),
    (["float16", "int8"], 5227049252147778365),
    (["bool"], -2605255128115251117),  # a signed int64, as the graph's constant needs
    (["int8", "int16", "bool", "float64"], -3423113324527604222),
])
def test_the_dtype_offset(dtypes: list[str], offset: int) -> None:
    assert dtype_offset(dtypes) == offset


def test_the_trail_hash_of_float64_weights() -> None:
    assert hash_hex(trail_hash([KERNEL, BIAS])) == hash_hex(-3815570436752048929)


def test_the_trail_hash_of_mixed_dtypes() -> None:
    """float16, a 2-D bool mask, complex128 (two words per element) and int8 together."""
    weights = [KERNEL.astype(np.float16), MASK, KERNEL.astype(np.complex128),
               KERNEL.astype(np.int8)]
    assert trail_hash(weights) == 7355237412085154029


def test_the_trail_hash_of_nothing() -> None:
    assert trail_hash([]) == 0


def test_odd_element_sizes_cannot_be_hashed() -> None:
    assert word_width(16) == 8
    with pytest.raises(ValueError, match="^cannot hash elements of 3 bytes$"):
        word_width(3)


def test_the_digest_names_dtypes_other_than_float32() -> None:
    expected = hashlib.sha256()
    expected.update(b"k|[2, 2]|float16|")
    expected.update(KERNEL.astype("<f2").tobytes())
    assert weights_digest([("k", KERNEL.astype(np.float16))]) == expected.hexdigest()


def test_trail_result_reads_the_sum_bits_as_float64() -> None:
    rows = np.array([[5, np.float64(1.5).view(np.int64)], [-1, np.float64(-2.0).view(np.int64)],
                     [7, 0]], dtype=np.int64)
    assert trail_result(1, rows) == {"steps": 1, "digest": ["0000000000000005",
                                                            "ffffffffffffffff"],
                                     "sum": [1.5, -2.0]}
