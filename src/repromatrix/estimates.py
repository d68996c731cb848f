"""The x86 estimate instructions (rsqrtps, rcpps) as tables: their format, model and sources.

A real x86 CPU computes ``rsqrtps`` and ``rcpps`` (and their scalar and VEX forms) from a small
table: the estimate depends on the input's top 12 mantissa bits (and, for rsqrt, the parity of
its exponent), other exponents only scale it. The tables differ between vendors, and qemu's
TCG computes neither: it returns the correctly rounded ``1/sqrt(x)`` and ``1/x``. An emulated
cell is faithful to a real CPU when qemu is given that CPU's table (``emulation/qemu_build.py``
builds a qemu that reads one, in the format below).

The format, which qemu's patch reads (``REPROMATRIX_QEMU_ESTIMATES``): 8,192 rsqrt entries, then
4,096 rcp entries, each the float32 bit pattern of the estimate, little-endian:

- rsqrt entry ``p * 4096 + m``: the estimate for ``(1 + m / 4096) * 2**p``, ``p`` in {0, 1};
- rcp entry ``m``: the estimate for ``1 + m / 4096``.

:func:`estimate_rsqrt` and :func:`estimate_rcp` say how an entry answers any input (the scaling
and the special cases); the patch in ``resources/qemu/`` does the same in C. This module is a
shared leaf (stdlib only) so that the cell, which measures tables, and the host, which hands
them to qemu, read one definition.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

INDEX_BITS = 12
BUCKETS = 1 << INDEX_BITS  # 4096 mantissa buckets
RSQRT_ENTRIES = 2 * BUCKETS  # two exponent parities
RCP_ENTRIES = BUCKETS
TABLE_BYTES = 4 * (RSQRT_ENTRIES + RCP_ENTRIES)
_LOW_BITS = 23 - INDEX_BITS  # mantissa bits below the table's index
DEFAULT_NAN = 0xFFC00000
ENTRY_LOW, ENTRY_HIGH = 0x3E800000, 0x3F800000  # the bits of 0.25 and 1.0
MAX_ENCODED_CHARS = 4 * TABLE_BYTES  # an encoded table is ~12.5 KB; far above that is not one
POSITIVE_INFINITY = 0x7F800000
QUIET_BIT = 0x00400000


def bucket_input(index: int, parity: int = 0, low: int = 0) -> int:
    """The float32 bits of the input ``(1 + index / 4096) * 2**parity``, plus ``low`` in the
    mantissa bits below the index (0: the bucket's first input; 2047: its last)."""
    return (127 + parity) << 23 | index << _LOW_BITS | low


def rsqrt_inputs(low: int = 0) -> list[int]:
    """The inputs whose rsqrt estimates make the rsqrt table, in its order."""
    return [bucket_input(index, parity, low) for parity in (0, 1) for index in range(BUCKETS)]


def rcp_inputs(low: int = 0) -> list[int]:
    """The inputs whose rcp estimates make the rcp table, in its order."""
    return [bucket_input(index, 0, low) for index in range(BUCKETS)]


@dataclass(frozen=True)
class Tables:
    """One CPU's estimate tables: float32 bit patterns, in the format above."""

    rsqrt: tuple[int, ...]
    rcp: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.rsqrt) != RSQRT_ENTRIES or len(self.rcp) != RCP_ENTRIES:
            raise ValueError(f"estimate tables need {RSQRT_ENTRIES} rsqrt and {RCP_ENTRIES} rcp "
                             f"entries, not {len(self.rsqrt)} and {len(self.rcp)}")
        # Every entry estimates 1/f of an input in [1, 4), about [0.5, 1]: a positive normal
        # float, here within [0.25, 1]. The scaling rules (here and in qemu's patch) rely on it;
        # anything else is not a table.
        wrong = next((v for v in (*self.rsqrt, *self.rcp) if not ENTRY_LOW <= v <= ENTRY_HIGH),
                     None)
        if wrong is not None:
            raise ValueError(f"an estimate table entry is 0x{wrong:08X}, not a float in [0.25, 1]")

    def to_bytes(self) -> bytes:
        """The file qemu's patch reads."""
        return struct.pack(f"<{RSQRT_ENTRIES + RCP_ENTRIES}I", *self.rsqrt, *self.rcp)

    @classmethod
    def from_bytes(cls, data: bytes) -> Tables:
        if len(data) != TABLE_BYTES:
            raise ValueError(f"an estimate table file has {TABLE_BYTES} bytes, not {len(data)}")
        values = struct.unpack(f"<{RSQRT_ENTRIES + RCP_ENTRIES}I", data)
        return cls(tuple(values[:RSQRT_ENTRIES]), tuple(values[RSQRT_ENTRIES:]))

    def sha256(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def encode(self) -> str:
        """The tables for an artifact: zlib-compressed (level 9, deterministic), base64."""
        return base64.b64encode(zlib.compress(self.to_bytes(), 9)).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> Tables:
        if len(text) > MAX_ENCODED_CHARS:
            raise ValueError(f"not an encoded estimate table ({len(text)} characters)")
        try:
            # at most one byte more than a table: a larger stream is refused, not inflated
            data = zlib.decompressobj().decompress(
                base64.b64decode(text.encode("ascii"), validate=True), TABLE_BYTES + 1)
        except (ValueError, zlib.error) as error:
            raise ValueError(f"not an encoded estimate table ({error})") from None
        return cls.from_bytes(data)


def estimate_rsqrt(tables: Tables, x: int) -> int:
    """The rsqrt estimate of the float32 bits ``x`` that a CPU with these tables gives."""
    sign, exponent, mantissa = x >> 31, (x >> 23) & 0xFF, x & 0x7FFFFF
    if exponent == 0xFF:
        if mantissa:
            return x | QUIET_BIT  # a NaN comes back quieted
        return DEFAULT_NAN if sign else 0  # -inf is invalid; rsqrt(+inf) = +0
    if exponent == 0:
        return sign << 31 | POSITIVE_INFINITY  # +-0 and denormals (read as zero): +-inf
    if sign:
        return DEFAULT_NAN
    e = exponent - 127
    parity = e & 1
    k = (e - parity) // 2  # rsqrt(x * 4**k) = rsqrt(x) / 2**k: only the exponent moves
    return tables.rsqrt[parity * BUCKETS + (mantissa >> _LOW_BITS)] - (k << 23)


def estimate_rcp(tables: Tables, x: int) -> int:
    """The rcp estimate of the float32 bits ``x`` that a CPU with these tables gives."""
    sign, exponent, mantissa = x >> 31, (x >> 23) & 0xFF, x & 0x7FFFFF
    if exponent == 0xFF:
        return x | QUIET_BIT if mantissa else sign << 31  # NaN quieted; rcp(+-inf) = +-0
    if exponent == 0:
        return sign << 31 | POSITIVE_INFINITY
    entry = tables.rcp[mantissa >> _LOW_BITS]
    result_exponent = ((entry >> 23) & 0xFF) - (exponent - 127)
    if result_exponent <= 0:
        return sign << 31  # a result that would be subnormal is flushed to +-0
    return sign << 31 | result_exponent << 23 | (entry & 0x7FFFFF)


def estimate_arrays(tables: Tables, x: Any) -> tuple[Any, Any]:
    """:func:`estimate_rsqrt` and :func:`estimate_rcp` of a numpy uint32 array, element-wise
    (the same rules, vectorised, for checking the model against hardware on millions of inputs;
    numpy is imported only here)."""
    import numpy as np

    x = np.asarray(x, dtype=np.uint32)
    sign, exponent, mantissa = x >> 31, (x >> 23) & 0xFF, x & 0x7FFFFF
    index = (mantissa >> _LOW_BITS).astype(np.int64)
    nan, infinite, zero = exponent == 0xFF, (exponent == 0xFF) & (mantissa == 0), exponent == 0
    quiet = x | np.uint32(QUIET_BIT)
    signed_infinity = (sign << 31) | np.uint32(POSITIVE_INFINITY)
    e = exponent.astype(np.int64) - 127
    parity = e & 1
    rsqrt_table = np.asarray(tables.rsqrt, dtype=np.int64)
    scaled = rsqrt_table[parity * BUCKETS + index] - (((e - parity) // 2) << 23)
    rsqrt = np.where(sign == 1, np.uint32(DEFAULT_NAN), scaled.astype(np.uint32))
    rsqrt = np.where(zero, signed_infinity, rsqrt)
    rsqrt = np.where(infinite, np.where(sign == 1, np.uint32(DEFAULT_NAN), np.uint32(0)), rsqrt)
    rsqrt = np.where(nan & ~infinite, quiet, rsqrt)
    entry = np.asarray(tables.rcp, dtype=np.int64)[index]
    result_exponent = ((entry >> 23) & 0xFF) - e
    rcp = ((sign.astype(np.int64) << 31) | (result_exponent << 23) | (entry & 0x7FFFFF))
    rcp = np.where(result_exponent <= 0, sign << 31, rcp.astype(np.uint32))
    rcp = np.where(zero, signed_infinity, rcp)
    rcp = np.where(infinite, sign << 31, rcp)
    rcp = np.where(nan & ~infinite, quiet, rcp)
    return rsqrt.astype(np.uint32), rcp.astype(np.uint32)


# Inputs the probe checks beyond the tables: zeros, denormals, infinities, NaNs, negatives, the
# largest and smallest normals (where rcp's result leaves the normal range) and a few exponents.
SPECIAL_INPUTS: tuple[int, ...] = (
    0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00400000,
    0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFBFFFFF, 0x7FC12345,
    0xBF800000, 0xC0400000, 0xFF7FFFFF,
    0x00800000, 0x00FFFFFF, 0x7F7FFFFF, 0x7F000000, 0x7E800000, 0x7E7FFFFF, 0x7EFFF000,
    0x3F800000, 0x3FFFFFFF, 0x40000000, 0x407FFFFF, 0x3E800000, 0x1F000000, 0x5F3759DF,
)


def _rounded(value: float, significant_bits: int) -> int:
    """float32 bits of a positive ``value`` rounded to nearest at ``significant_bits`` bits."""
    exponent = math.floor(math.log2(value))
    step = 2.0 ** (exponent - significant_bits + 1)
    rounded = round(value / step) * step  # Python rounds ties to even
    return struct.unpack("<I", struct.pack("<f", rounded))[0]


def intel_model() -> Tables:
    """Intel's estimate as Bochs models it (``cpu/sse_rcp.cc``): a 10-bit rsqrt and an 11-bit
    rcp table, each entry 1/f(the centre of its input interval) rounded to nearest with 12
    mantissa bits. Computed from that description, not copied; a model of Intel, not a
    measurement: which Intel generations it matches is not verified."""
    rsqrt = []
    for parity in (0, 1):
        for index in range(BUCKETS):
            coarse = index >> 2  # 10 index bits
            centre = (1.0 + (coarse + 0.5) / 1024.0) * 2.0**parity
            rsqrt.append(_rounded(1.0 / math.sqrt(centre), 13))
    rcp = []
    for index in range(BUCKETS):
        coarse = index >> 1  # 11 index bits
        centre = 1.0 + (coarse + 0.5) / 2048.0
        rcp.append(_rounded(1.0 / centre, 13))
    return Tables(tuple(rsqrt), tuple(rcp))


def mismatches(tables: Tables, inputs: Sequence[int], rsqrt: Sequence[int],
               rcp: Sequence[int]) -> int:
    """How many of the measured ``rsqrt``/``rcp`` results of ``inputs`` the tables do not give."""
    wrong = 0
    for x, got_rsqrt, got_rcp in zip(inputs, rsqrt, rcp):
        wrong += estimate_rsqrt(tables, x) != got_rsqrt
        wrong += estimate_rcp(tables, x) != got_rcp
    return wrong
