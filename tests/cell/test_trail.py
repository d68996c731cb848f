"""Tensor records, the whole-model digest and the trail hash, on small numpy arrays.

The runner hashes and stores every tensor in its own dtype; these guard that a change anywhere
(any tensor, their order, their dtype, one ULP of one weight) changes the digest and the hash.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import pytest

from repromatrix.cell.trail import (
    dtype_offset,
    hash_hex,
    multipliers,
    tensor_records,
    trail_hash,
    weights_digest,
)

KERNEL = np.array([[0.5, -0.25], [1.0, 2.0]], dtype=np.float64)
BIAS = np.array([0.125, -3.0], dtype=np.float64)


def named(*arrays: np.ndarray) -> list[tuple[str, np.ndarray]]:
    return [(f"t{i}", a) for i, a in enumerate(arrays)]


def next_up(array: np.ndarray, index: int = 0) -> np.ndarray:
    """``array`` with one element moved by one ULP of its own dtype."""
    changed = array.copy()
    flat = changed.reshape(-1)
    flat[index] = np.nextafter(flat[index], np.inf, dtype=array.dtype)
    return changed


class TestTensorRecords:
    @pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "int64", "int32", "uint8",
                                       "bool"])
    def test_own_dtype_and_little_endian_bytes(self, dtype: str) -> None:
        array = np.array([[1, 0], [1, 1]]).astype(dtype)
        (record,) = tensor_records([("w", array)])
        raw = base64.b64decode(record["data"])
        assert record["dtype"] == dtype
        assert raw == array.astype(np.dtype(dtype).newbyteorder("<")).tobytes()
        assert record["sha256"] == hashlib.sha256(raw).hexdigest()
        assert record["shape"] == [2, 2]

    def test_big_endian_input_is_stored_little_endian(self) -> None:
        array = np.array([1.5, -2.0], dtype=">f8")
        (record,) = tensor_records([("w", array)])
        assert base64.b64decode(record["data"]) == np.array([1.5, -2.0], "<f8").tobytes()
        assert record["dtype"] == "float64"


class TestWeightsDigest:
    def test_float64_below_float32_resolution(self) -> None:
        """The issue's false "bit-identical": a 1e-13 change of a float64 weight counts."""
        changed = KERNEL.copy()
        changed[0, 0] += 1e-13
        assert np.float32(changed[0, 0]) == np.float32(KERNEL[0, 0])  # invisible in float32
        assert weights_digest(named(changed, BIAS)) != weights_digest(named(KERNEL, BIAS))

    @pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
    def test_one_ulp_changes_it(self, dtype: str) -> None:
        kernel, bias = KERNEL.astype(dtype), BIAS.astype(dtype)
        base = weights_digest(named(kernel, bias))
        assert weights_digest(named(next_up(kernel, 3), bias)) != base
        assert weights_digest(named(kernel, next_up(bias, 1))) != base

    def test_every_tensor_and_the_order_count(self) -> None:
        base = weights_digest(named(KERNEL, BIAS))
        assert weights_digest(named(KERNEL)) != base
        assert weights_digest(named(BIAS)) != base
        assert weights_digest([("t1", BIAS), ("t0", KERNEL)]) != base
        assert weights_digest([("t0", KERNEL), ("other", BIAS)]) != base

    def test_dtype_and_shape_count(self) -> None:
        """Same bytes under another dtype or shape are another model."""
        ints = np.array([1, 2], dtype=np.int32)
        as_float = ints.view(np.float32)
        assert weights_digest([("w", ints)]) != weights_digest([("w", as_float)])
        assert weights_digest([("w", KERNEL)]) != weights_digest([("w", KERNEL.reshape(4))])

    def test_float32_digest_is_the_first_artifacts_one(self) -> None:
        """float32 models keep the digests written before dtypes were recorded."""
        kernel, bias = KERNEL.astype(np.float32), BIAS.astype(np.float32)
        legacy = hashlib.sha256()
        for name, array in named(kernel, bias):
            legacy.update(f"{name}|{list(array.shape)}|".encode())
            legacy.update(array.astype("<f4").tobytes())
        assert weights_digest(named(kernel, bias)) == legacy.hexdigest()


class TestTrailHash:
    def test_float64_below_float32_resolution(self) -> None:
        changed = KERNEL.copy()
        changed[1, 1] += 1e-13
        assert trail_hash([changed, BIAS]) != trail_hash([KERNEL, BIAS])

    @pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "int64", "int8"])
    def test_one_step_of_any_element_changes_it(self, dtype: str) -> None:
        kernel, bias = KERNEL.astype(dtype), BIAS.astype(dtype)
        base = trail_hash([kernel, bias])
        for index in range(4):
            if np.issubdtype(kernel.dtype, np.floating):
                changed = next_up(kernel, index)
            else:
                changed = kernel.copy()
                changed.reshape(-1)[index] += 1
            assert trail_hash([changed, bias]) != base, index

    def test_bool_weights_count(self) -> None:
        mask = np.array([True, False, True])
        assert trail_hash([KERNEL, mask]) != trail_hash([KERNEL, ~mask])

    def test_every_tensor_and_the_order_count(self) -> None:
        base = trail_hash([KERNEL, BIAS])
        assert trail_hash([KERNEL]) != base and trail_hash([BIAS]) != base
        assert trail_hash([BIAS, KERNEL]) != base

    def test_dtype_counts(self) -> None:
        """The same bits under another dtype hash apart (the dtype offset)."""
        bits = np.array([0x3C00, 0x4000], dtype=np.int16)
        assert trail_hash([bits]) != trail_hash([bits.view(np.float16)])
        assert trail_hash([KERNEL]) != trail_hash([KERNEL.astype(np.float32)])

    def test_float32_hash_is_the_first_artifacts_one(self) -> None:
        """float32 models: bits as int32 widened to int64, times the multipliers, no offset."""
        kernel, bias = KERNEL.astype(np.float32), BIAS.astype(np.float32)
        flat = np.concatenate([kernel.reshape(-1), bias])
        legacy = int(np.sum(flat.view(np.int32).astype(np.int64) * multipliers(flat.size)))
        assert dtype_offset(["float32", "float32"]) == 0
        assert trail_hash([kernel, bias]) == legacy

    def test_uses_all_64_bits(self) -> None:
        """A float64 weight's low word counts, and the hash is not cut to 32 bits."""
        low_bit = np.array([1.0]).view(np.int64)
        low_bit += 1  # the last mantissa bit, far below float32 resolution
        assert trail_hash([low_bit.view(np.float64)]) != trail_hash([np.array([1.0])])
        values = {trail_hash([KERNEL + k]) >> 32 for k in range(8)}
        assert len(values) > 1  # the high half varies too


class TestHashHex:
    def test_sixteen_digits_twos_complement(self) -> None:
        assert hash_hex(-1) == "ffffffffffffffff"
        assert hash_hex(-2) == "fffffffffffffffe"
        assert hash_hex(0x123456789ABCDEF0) == "123456789abcdef0"
        assert hash_hex(1 << 40) == "0000010000000000"
        assert hash_hex(5) == "0000000000000005"
