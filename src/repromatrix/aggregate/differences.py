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
from typing import Optional, Tuple

# numpy dtype name -> (struct format of one element, bits per element, is float)
FORMATS = {
    "float16": ("e", 16, True), "float32": ("f", 32, True), "float64": ("d", 64, True),
    "int8": ("b", 8, False), "int16": ("h", 16, False), "int32": ("i", 32, False),
    "int64": ("q", 64, False), "uint8": ("B", 8, False), "uint16": ("H", 16, False),
    "uint32": ("I", 32, False), "uint64": ("Q", 64, False), "bool": ("?", 8, False),
}
_UNSIGNED = {16: "H", 32: "I", 64: "Q"}
SMALLEST_NORMAL = {"float16": 2.0**-14, "float32": 2.0**-126, "float64": 2.0**-1022}


@dataclass(frozen=True)
class ElementStats:
    elements: int
    differing: int
    max_ulp: Optional[int]  # over differing same-sign finite pairs; None when there is none
    max_abs: Optional[float]  # largest |a - b| (inf when a NaN or infinity differs)
    max_rel: Optional[float]  # largest |a - b| / max(|a|, |b|)
    sign_changes: int  # differing pairs across zero beyond the subnormals: no ULP distance


def values(data: bytes, dtype: str) -> Optional[Tuple[object, ...]]:
    """The elements of little-endian ``data`` of ``dtype``; None for an unknown dtype or size."""
    spec = FORMATS.get(dtype)
    if spec is None:
        return None
    size = struct.calcsize(spec[0])
    if len(data) % size:
        return None
    return struct.unpack("<%d%s" % (len(data) // size, spec[0]), data)


def float_ulp(a: float, b: float, dtype: str) -> Optional[int]:
    """ULP distance of two finite floats in their own dtype, where it means something: for the
    same sign, and across zero only between subnormals (evenly spaced there); None otherwise."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    code, width, _ = FORMATS[dtype]
    unsigned = _UNSIGNED[width]
    magnitude = (1 << (width - 1)) - 1
    bits_a = struct.unpack("<" + unsigned, struct.pack("<" + code, a))[0] & magnitude
    bits_b = struct.unpack("<" + unsigned, struct.pack("<" + code, b))[0] & magnitude
    if a != 0 and b != 0 and (a < 0) == (b < 0):
        return abs(bits_a - bits_b)  # same sign: the magnitudes' bit patterns are ordered
    if max(abs(a), abs(b)) < SMALLEST_NORMAL[dtype]:
        return bits_a + bits_b  # steps to zero on each side
    return None


def element_stats(a: bytes, b: bytes, dtype: str) -> Optional[ElementStats]:
    """Differences of two equally shaped buffers of ``dtype``; None if they cannot be compared."""
    left, right = values(a, dtype), values(b, dtype)
    if left is None or right is None or len(left) != len(right):
        return None
    is_float = FORMATS[dtype][2]
    differing = sign_changes = 0
    max_ulp: Optional[int] = None
    max_abs: Optional[float] = None
    max_rel: Optional[float] = None
    for x, y in zip(left, right):
        if x == y or (is_float and x != x and y != y):  # equal, or both NaN
            if not is_float or math.copysign(1.0, x) == math.copysign(1.0, y):  # type: ignore[arg-type]
                continue
        differing += 1
        x_f, y_f = float(x), float(y)  # type: ignore[arg-type]
        diff = abs(x_f - y_f)
        diff = diff if math.isfinite(diff) else math.inf
        scale = max(abs(x_f), abs(y_f))
        rel = diff / scale if scale and math.isfinite(scale) and math.isfinite(diff) else (
            math.inf if diff else 0.0)
        max_abs = diff if max_abs is None else max(max_abs, diff)
        max_rel = rel if max_rel is None else max(max_rel, rel)
        if is_float:
            ulp = float_ulp(x_f, y_f, dtype)
            if ulp is None:
                sign_changes += 1
            else:
                max_ulp = ulp if max_ulp is None else max(max_ulp, ulp)
        else:
            max_ulp = int(diff) if max_ulp is None else max(max_ulp, int(diff))
    return ElementStats(len(left), differing, max_ulp, max_abs, max_rel, sign_changes)
