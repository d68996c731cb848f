"""Exact float32 values and bit patterns, for artifacts that must compare bit for bit."""

from __future__ import annotations

import struct
from typing import SupportsFloat


def float32_bits(value: SupportsFloat) -> str:
    """``0x`` and 8 lowercase hex digits: the IEEE 754 single-precision bit pattern."""
    return "0x" + struct.pack(">f", float(value)).hex()


def float32_value(value: SupportsFloat) -> float:
    """The float32 value as a Python float (exact: every float32 is a float64)."""
    return struct.unpack(">f", struct.pack(">f", float(value)))[0]
