"""The estimate-table format and model (repromatrix.estimates): pure functions, any host."""

from __future__ import annotations

import math
import random
import struct

import numpy as np
import pytest

from repromatrix import estimates as E


def as_float(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


@pytest.fixture(scope="module")
def intel() -> E.Tables:
    return E.intel_model()


class TestTables:
    def test_bytes_round_trip_and_layout(self, intel: E.Tables) -> None:
        data = intel.to_bytes()
        assert len(data) == E.TABLE_BYTES == 49152
        # the first rsqrt entry, then the first rcp entry after 8192 words, little-endian
        assert struct.unpack_from("<I", data, 0)[0] == intel.rsqrt[0]
        assert struct.unpack_from("<I", data, 4 * E.RSQRT_ENTRIES)[0] == intel.rcp[0]
        assert E.Tables.from_bytes(data) == intel

    def test_encode_is_deterministic_and_round_trips(self, intel: E.Tables) -> None:
        assert intel.encode() == E.intel_model().encode()
        assert E.Tables.decode(intel.encode()) == intel
        assert intel.sha256() == E.Tables.from_bytes(intel.to_bytes()).sha256()

    @pytest.mark.parametrize("bad", ["", "not base64!", "aGVsbG8="])
    def test_decode_refuses_what_is_not_a_table(self, bad: str) -> None:
        with pytest.raises(ValueError):
            E.Tables.decode(bad)

    def test_wrong_sizes_are_refused(self, intel: E.Tables) -> None:
        with pytest.raises(ValueError, match="49152 bytes"):
            E.Tables.from_bytes(intel.to_bytes()[:-4])
        with pytest.raises(ValueError, match="8192 rsqrt"):
            E.Tables(intel.rsqrt[:-1], intel.rcp)

    def test_table_inputs_are_each_buckets_first_value(self) -> None:
        rsqrt = E.rsqrt_inputs()
        assert len(rsqrt) == E.RSQRT_ENTRIES and len(E.rcp_inputs()) == E.RCP_ENTRIES
        assert as_float(rsqrt[0]) == 1.0 and as_float(rsqrt[E.BUCKETS]) == 2.0
        assert as_float(rsqrt[1]) == 1.0 + 1 / 4096
        assert E.rcp_inputs(2047)[0] == 0x3F8007FF  # the bucket's last input


class TestIntelModel:
    def test_known_entries(self, intel: E.Tables) -> None:
        # rsqrt(1.0): 1/sqrt(1 + 1/2048) at 12 mantissa bits is 1 - 2**-12 (Bochs: 0x3F7FF000);
        # this project's AMD EPYC gives 0x3F7FF800. rcp(1.0): 1/(1 + 1/4096) -> 1 - 2**-12.
        assert intel.rsqrt[0] == 0x3F7FF000
        assert intel.rcp[0] == 0x3F7FF000

    def test_coarser_index_than_the_format(self, intel: E.Tables) -> None:
        """10 index bits for rsqrt, 11 for rcp: runs of 4 and 2 equal entries, never longer."""
        assert all(len(set(intel.rsqrt[i:i + 4])) == 1 for i in range(0, E.RSQRT_ENTRIES, 4))
        assert all(len(set(intel.rcp[i:i + 2])) == 1 for i in range(0, E.RCP_ENTRIES, 2))
        assert intel.rsqrt[0] != intel.rsqrt[4] and intel.rcp[0] != intel.rcp[2]

    def test_every_entry_is_within_the_documented_error(self, intel: E.Tables) -> None:
        """Intel documents |relative error| <= 1.5 * 2**-12 for both instructions."""
        for index, x in enumerate(E.rsqrt_inputs(2047) + E.rsqrt_inputs()):
            exact = 1 / math.sqrt(as_float(x))
            assert abs(as_float(intel.rsqrt[index % E.RSQRT_ENTRIES]) - exact) / exact <= 1.5 * 2**-12
        for index, x in enumerate(E.rcp_inputs()):
            exact = 1 / as_float(x)
            assert abs(as_float(intel.rcp[index]) - exact) / exact <= 1.5 * 2**-12


class TestScaling:
    def test_rsqrt_scales_by_powers_of_four(self, intel: E.Tables) -> None:
        for x in (0x3F812345, 0x40400000):
            base = as_float(E.estimate_rsqrt(intel, x))
            for k in (-20, -1, 1, 30):
                scaled = x + (2 * k << 23)  # x * 4**k
                assert as_float(E.estimate_rsqrt(intel, scaled)) == base / 2.0**k

    def test_rcp_scales_and_flushes_what_would_be_subnormal(self, intel: E.Tables) -> None:
        base = as_float(E.estimate_rcp(intel, 0x3FC00000))  # 1.5
        assert as_float(E.estimate_rcp(intel, 0x41C00000)) == base / 16  # 24
        assert as_float(E.estimate_rcp(intel, 0xC1C00000)) == -base / 16
        assert E.estimate_rcp(intel, 0x7F000000) == 0  # 2**127: 1/x is subnormal -> +0
        assert E.estimate_rcp(intel, 0xFF000000) == 0x80000000

    @pytest.mark.parametrize(("x", "rsqrt", "rcp"), [
        (0x00000000, 0x7F800000, 0x7F800000),  # +0 -> +inf
        (0x80000000, 0xFF800000, 0xFF800000),  # -0 -> -inf
        (0x00000001, 0x7F800000, 0x7F800000),  # a denormal reads as zero
        (0x7F800000, 0x00000000, 0x00000000),  # +inf
        (0xFF800000, 0xFFC00000, 0x80000000),  # -inf: rsqrt invalid, rcp -0
        (0xBF800000, 0xFFC00000, 0xBF7FF000),  # -1: rsqrt invalid, rcp keeps the sign
        (0x7F800001, 0x7FC00001, 0x7FC00001),  # a signalling NaN is quieted
        (0xFFC12345, 0xFFC12345, 0xFFC12345),  # a quiet NaN passes
    ])
    def test_special_cases(self, intel: E.Tables, x: int, rsqrt: int, rcp: int) -> None:
        assert E.estimate_rsqrt(intel, x) == rsqrt
        assert E.estimate_rcp(intel, x) == rcp

    def test_arrays_agree_with_the_scalar_rules(self, intel: E.Tables) -> None:
        generator = random.Random(5)
        inputs = [generator.getrandbits(32) for _ in range(20000)] + list(E.SPECIAL_INPUTS)
        rsqrt, rcp = E.estimate_arrays(intel, np.array(inputs, dtype=np.uint32))
        assert [int(v) for v in rsqrt] == [E.estimate_rsqrt(intel, x) for x in inputs]
        assert [int(v) for v in rcp] == [E.estimate_rcp(intel, x) for x in inputs]

    def test_mismatches_counts_each_wrong_result(self, intel: E.Tables) -> None:
        inputs = [0x3F800000, 0x40000000]
        rsqrt = [E.estimate_rsqrt(intel, x) for x in inputs]
        rcp = [E.estimate_rcp(intel, x) for x in inputs]
        assert E.mismatches(intel, inputs, rsqrt, rcp) == 0
        assert E.mismatches(intel, inputs, [rsqrt[0] ^ 1, rsqrt[1]], [0, rcp[1]]) == 2


class TestRefusals:
    def test_entries_outside_a_quarter_to_one_are_not_a_table(self, intel: E.Tables) -> None:
        for wrong in (0x00000000, 0x3E7FFFFF, 0x3F800001, 0x7FC00000, 0xBF000000):
            with pytest.raises(ValueError, match=f"0x{wrong:08X}"):
                E.Tables((wrong,) + intel.rsqrt[1:], intel.rcp)

    def test_a_compressed_stream_larger_than_a_table_is_not_inflated(self) -> None:
        import base64
        import zlib

        bomb = base64.b64encode(zlib.compress(b"\0" * (64 * 2**20), 9)).decode()
        with pytest.raises(ValueError, match="49152 bytes"):
            E.Tables.decode(bomb)
        with pytest.raises(ValueError, match="characters"):
            E.Tables.decode("A" * (E.MAX_ENCODED_CHARS + 4))


# Entries of Bochs's cpu/sse_rcp.cc tables (16-bit fractions, shifted left by 8 into the float's
# mantissa), read from bochs-emu/Bochs on 2026-12-02: the model is computed, these pin it to them.
BOCHS_RCP = {0: 0x7FF0, 1: 0x7FD0, 16: 0x7DF8, 2047: 0x0008}  # index: 11-bit rcp entry
BOCHS_RSQRT0 = {0: 0x34F8}  # biased exponent even: inputs in [2, 4)
BOCHS_RSQRT1 = {0: 0x7FF0, 13: 0x7E58}  # biased exponent odd: inputs in [1, 2)


def test_the_intel_model_equals_bochss_tables_where_pinned(intel: E.Tables) -> None:
    for index, fraction in BOCHS_RCP.items():
        assert intel.rcp[index * 2] & 0x7FFFFF == fraction << 8
    for index, fraction in BOCHS_RSQRT1.items():
        assert intel.rsqrt[index * 4] & 0x7FFFFF == fraction << 8
    for index, fraction in BOCHS_RSQRT0.items():
        assert intel.rsqrt[E.BUCKETS + index * 4] & 0x7FFFFF == fraction << 8
