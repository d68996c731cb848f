"""float32 helpers: bit patterns, ULP distance and numpy-compatible shortest printing; and the
ULP distance of whole tensors in their own dtype (float64 weights are measured in float64 units).

Shared by the runner (which writes exact float32 values and bits into artifacts) and the
aggregator (which compares and prints them). Pure ``struct``/``decimal`` so the aggregator does
not need numpy. The printing matches
``str(numpy.float32(x))`` so that vectors read exactly as the original report printed them.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import SupportsFloat

_SIGN = 0x80000000
_MAX_FINITE_BITS = 0x7F7FFFFF


def f32_bits(x: float) -> int | None:
    """The float32 bit pattern nearest to ``x``, or None if ``x`` overflows float32."""
    try:
        return struct.unpack("<I", struct.pack("<f", x))[0]
    except (OverflowError, struct.error, TypeError):
        return None


def f32_from_bits(bits: int) -> float:
    """The float32 with this bit pattern, as an (exact) Python float."""
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0]


def to_f32(x: float) -> float | None:
    """``x`` rounded to float32 (exact in float64), or None if it does not fit."""
    bits = f32_bits(x)
    return None if bits is None else f32_from_bits(bits)


def float32_bits(value: SupportsFloat) -> str:
    """The artifact's form of a float32 bit pattern: ``0x`` and 8 lowercase hex digits."""
    bits = f32_bits(float(value))
    if bits is None:
        raise OverflowError(f"{value!r} does not fit in float32")
    return f"0x{bits:08x}"


def float32_value(value: SupportsFloat) -> float:
    """A float32 (numpy scalar or float) as the exact Python float the artifact stores."""
    exact = to_f32(float(value))
    if exact is None:
        raise OverflowError(f"{value!r} does not fit in float32")
    return exact


def ordered(bits: int, width: int = 32) -> int:
    """Map a ``width``-bit float's bit pattern to an integer that orders like the float.

    IEEE floats are sign-magnitude; turning them into a signed integer line makes
    adjacent floats differ by exactly 1 across zero (+0 and -0 both map to 0).
    """
    sign = 1 << (width - 1)
    if bits & sign:
        return -(bits & (sign - 1))
    return bits


def ulp_distance(a_bits: int, b_bits: int, width: int = 32) -> int:
    """Number of ``width``-bit float steps between two bit patterns (0 for +0 vs -0)."""
    return abs(ordered(a_bits, width) - ordered(b_bits, width))


@dataclass(frozen=True)
class Layout:
    """How a dtype's little-endian bytes read: ``struct`` code per word, words per element, and
    the float width in bits (None: an integer or bool, whose "ULP" is one unit)."""

    code: str
    words: int
    float_width: int | None

    @property
    def itemsize(self) -> int:
        return struct.calcsize("<" + self.code) * self.words


# The dtypes a tensor record may name (trail.dtype_name gives numpy's names).
LAYOUTS: dict[str, Layout] = {
    "float16": Layout("H", 1, 16), "bfloat16": Layout("H", 1, 16),
    "float32": Layout("I", 1, 32), "float64": Layout("Q", 1, 64),
    "complex64": Layout("I", 2, 32), "complex128": Layout("Q", 2, 64),
    "bool": Layout("B", 1, None),
    "int8": Layout("b", 1, None), "uint8": Layout("B", 1, None),
    "int16": Layout("h", 1, None), "uint16": Layout("H", 1, None),
    "int32": Layout("i", 1, None), "uint32": Layout("I", 1, None),
    "int64": Layout("q", 1, None), "uint64": Layout("Q", 1, None),
}


def dtype_itemsize(dtype: str) -> int | None:
    """Bytes per element of a known dtype, None for one this version does not know."""
    layout = LAYOUTS.get(dtype)
    return None if layout is None else layout.itemsize


def _rounding_interval(bits: int) -> tuple[Decimal, Decimal, bool]:
    """(low, high, even) such that a decimal in (low, high) parses back to the positive
    finite float32 ``bits``; on the bounds themselves only if the mantissa is even."""
    value = Decimal(f32_from_bits(bits))
    below = Decimal(f32_from_bits(bits - 1)) if bits > 0 else -value
    if bits >= _MAX_FINITE_BITS:
        above = value + (value - below)  # past max finite the gap stays the same
    else:
        above = Decimal(f32_from_bits(bits + 1))
    return (value + below) / 2, (value + above) / 2, bits % 2 == 0


def _shortest_digits(bits: int) -> Decimal:
    """Shortest decimal that round-trips to the positive finite float32 ``bits``."""
    value = f32_from_bits(bits)
    exact = Decimal(value)
    low, high, even = _rounding_interval(bits)

    def round_trips(candidate: Decimal) -> bool:
        return low < candidate < high or (even and (candidate == low or candidate == high))

    for precision in range(1, 10):
        nearest = Decimal(format(value, f".{precision - 1:d}e"))
        if round_trips(nearest):
            return nearest
        # The correctly rounded candidate can miss a lopsided interval (at powers of two),
        # so its neighbours in the last digit are tried too; the closest one wins.
        step = Decimal(1).scaleb(nearest.adjusted() - precision + 1)
        found = [c for c in (nearest - step, nearest + step) if round_trips(c)]
        if found:
            return min(found, key=lambda c: abs(c - exact))
    return exact  # unreachable: 9 significant digits always round-trip a float32


def format_f32(x: float) -> str:
    """``str(numpy.float32(x))`` as numpy 1.x prints it: shortest round-trip digits,
    positional in [1e-4, 1e16), else exponent form like ``1e-05``."""
    if math.isnan(x):
        return "nan"
    bits = f32_bits(x)
    if bits is None:  # beyond float32 range: float32 would hold an infinity
        return "inf" if x > 0 else "-inf"
    return _format_bits(bits)


@lru_cache(maxsize=65536)  # keyed by bits, not float: 0.0 == -0.0 would share an entry
def _format_bits(bits: int) -> str:
    sign = "-" if bits & _SIGN else ""
    magnitude = bits & ~_SIGN & 0xFFFFFFFF
    if magnitude == 0:
        return sign + "0.0"
    if magnitude >= 0x7F800000:
        return (
            "inf"
            if magnitude == 0x7F800000 and not sign
            else ("-inf" if magnitude == 0x7F800000 else "nan")
        )
    with localcontext() as ctx:
        ctx.prec = 400  # float32 values have at most ~150 significant decimal digits
        digits = _shortest_digits(magnitude).normalize()
        absolute = f32_from_bits(magnitude)
        # numpy < 2.3 (the numpy of TensorFlow 2.12 and of the original report) prints
        # float32 scalars positionally in [1e-4, 1e16); newer numpy stops at 1e6.
        if 1e-4 <= absolute < 1e16:
            text = format(digits, "f")
            return sign + (text if "." in text else text + ".0")
        sig, _, _ = str(digits.scaleb(-digits.adjusted())).partition("E")
        exponent = digits.adjusted()
        direction = "-" if exponent < 0 else "+"
        return f"{sign}{sig}e{direction}{abs(exponent):02d}"


def format_vector(values: Sequence[float] | None) -> str:
    """A list of float32 values printed like ``print([np.float32, ...])`` in numpy < 2."""
    if values is None:
        return "(missing)"
    return "[" + ", ".join(format_f32(v) for v in values) + "]"
