"""Element-wise differences of two raw tensors: how many differ, by how many ULP, how far apart.

A ULP distance is only meaningful between two finite numbers of the same sign (or two
subnormals, which are evenly spaced): across zero the ordered-integer distance counts every float
between them (two biases of -1e-7 and +1e-7 are "1.7e9 ULP" apart), so such pairs count towards
the absolute and relative difference only.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from repromatrix.floats import LAYOUTS

# Where a float's normal range starts, per float dtype (below it the steps are evenly spaced).
SMALLEST_NORMAL = {"float16": 2.0**-14, "bfloat16": 2.0**-126, "float32": 2.0**-126,
                   "float64": 2.0**-1022}
# A complex tensor is compared component by component, in the components' own dtype.
COMPONENT = {"complex64": "float32", "complex128": "float64"}


@dataclass(frozen=True)
class ElementStats:
    elements: int
    differing: int
    max_ulp: int | None  # over differing same-sign finite pairs; None when there is none
    max_abs: float | None  # largest |a - b| (inf when a NaN or infinity differs)
    max_rel: float | None  # largest |a - b| / max(|a|, |b|)
    sign_changes: int  # differing pairs across zero beyond the subnormals: no ULP distance


def element_dtype(dtype: str) -> str:
    """The dtype whose steps a ULP of one element counts (complex: its components')."""
    return COMPONENT.get(dtype, dtype)


def words(data: bytes, dtype: str) -> tuple[int, ...] | None:
    """The raw little-endian words of ``data`` (one per element, two per complex element), read
    through floats.LAYOUTS, the one table of dtypes; None for an unknown dtype or size."""
    layout = LAYOUTS.get(dtype)
    if layout is None or len(data) % layout.itemsize:
        return None
    count = len(data) // struct.calcsize("<" + layout.code)
    return struct.unpack(f"<{count:d}{layout.code}", data)


def float_value(bits: int, dtype: str) -> float:
    """The float a ``dtype`` bit pattern stands for (bfloat16 is float32's upper half)."""
    if dtype == "float16":
        return struct.unpack("<e", struct.pack("<H", bits))[0]
    if dtype == "bfloat16":
        return struct.unpack("<f", struct.pack("<I", bits << 16))[0]
    if dtype == "float32":
        return struct.unpack("<f", struct.pack("<I", bits))[0]
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def float_ulp(bits_a: int, bits_b: int, a: float, b: float, dtype: str) -> int | None:
    """ULP distance of two finite floats in their own dtype, where it means something: for the
    same sign, and across zero only between subnormals (evenly spaced there); None otherwise."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    width = 16 if dtype in ("float16", "bfloat16") else 32 if dtype == "float32" else 64
    magnitude = (1 << (width - 1)) - 1
    mag_a, mag_b = bits_a & magnitude, bits_b & magnitude
    if a != 0 and b != 0 and (a < 0) == (b < 0):
        return abs(mag_a - mag_b)  # same sign: the magnitudes' bit patterns are ordered
    if max(abs(a), abs(b)) < SMALLEST_NORMAL[dtype]:
        return mag_a + mag_b  # steps to zero on each side
    return None


def element_stats(a: bytes, b: bytes, dtype: str) -> ElementStats | None:
    """Differences of two equally shaped buffers of ``dtype``; None if they cannot be compared."""
    left, right = words(a, dtype), words(b, dtype)
    if left is None or right is None or len(left) != len(right):
        return None
    element = element_dtype(dtype)
    is_float = LAYOUTS[dtype].float_width is not None
    differing = sign_changes = 0
    max_ulp: int | None = None
    max_abs: float | None = None
    max_rel: float | None = None
    for word_a, word_b in zip(left, right):
        if word_a == word_b:  # the same bits: the same value, sign and NaN payload
            continue
        if is_float:
            x_f, y_f = float_value(word_a, element), float_value(word_b, element)
            if x_f != x_f and y_f != y_f:  # two NaNs with other payloads: not a difference
                continue
        else:
            x_f, y_f = float(word_a), float(word_b)
        differing += 1
        diff = abs(x_f - y_f)
        diff = diff if math.isfinite(diff) else math.inf
        scale = max(abs(x_f), abs(y_f))
        rel = diff / scale if scale and math.isfinite(scale) and math.isfinite(diff) else (
            math.inf if diff else 0.0)
        max_abs = diff if max_abs is None else max(max_abs, diff)
        max_rel = rel if max_rel is None else max(max_rel, rel)
        if is_float:
            ulp = float_ulp(word_a, word_b, x_f, y_f, element)
            if ulp is None:
                sign_changes += 1
            else:
                max_ulp = ulp if max_ulp is None else max(max_ulp, ulp)
        else:
            max_ulp = int(diff) if max_ulp is None else max(max_ulp, int(diff))
    return ElementStats(len(left), differing, max_ulp, max_abs, max_rel, sign_changes)
