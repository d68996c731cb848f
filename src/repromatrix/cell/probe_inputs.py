"""The single-op probe's inputs: fixed bytes on every machine, shared by every backend's probe.

Apart from probe.py, which runs them, because the backends' probes (torch_backend.py,
jax_backend.py) read the same inputs while probe.py picks the backend: in one module the two
imported each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def floats_between(low: float, high: float, stride: int) -> np.ndarray:
    """Every ``stride``-th float32 in [low, high), by bit pattern (consecutive floats, no rounding)."""
    start = np.array(low, dtype=np.float32).view(np.uint32)
    stop = np.array(high, dtype=np.float32).view(np.uint32)
    return np.arange(int(start), int(stop), stride, dtype=np.uint32).view(np.float32)


def _random(shape: tuple[int, ...], seed: int, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return np.random.RandomState(seed).uniform(low, high, size=shape).astype(np.float32)


@dataclass(frozen=True)
class ProbeInputs:
    """The probe's inputs, shared by every backend's probe (TensorFlow's below, torch_backend's
    and jax_backend's), so that a case means the same bytes whichever library runs it."""

    roots: np.ndarray  # every 4th float32 in [1, 4)
    wide: np.ndarray  # 2^20 in [-8, 8)
    positive: np.ndarray  # 2^20 in [0.01, 100)
    exps: np.ndarray  # 2^20 in [-20, 20)
    a_big: np.ndarray  # 1000x100
    b_big: np.ndarray  # 100x100
    a_row: np.ndarray  # 1x41, the report's input row
    b_row: np.ndarray  # 41x64, its first kernel
    a_mid: np.ndarray  # 64x64
    b_mid: np.ndarray  # 64x16
    bias: np.ndarray  # 64
    summed: np.ndarray  # 2^20 in [-100, 100)


def probe_inputs() -> ProbeInputs:
    # [1, 4) covers two binades, where the mantissa-indexed estimate tables of approximate
    # reciprocal square root instructions differ between CPU vendors; every 4th float is 2**22
    # values, enough to hit those differences and cheap (about 20 ms) natively.
    return ProbeInputs(
        roots=floats_between(1.0, 4.0, 4),
        wide=_random((1 << 20,), seed=1, low=-8.0, high=8.0),
        positive=_random((1 << 20,), seed=2, low=0.01, high=100.0),
        exps=_random((1 << 20,), seed=3, low=-20.0, high=20.0),
        a_big=_random((1000, 100), seed=4), b_big=_random((100, 100), seed=5),
        a_row=_random((1, 41), seed=6, high=100.0), b_row=_random((41, 64), seed=7),
        a_mid=_random((64, 64), seed=8), b_mid=_random((64, 16), seed=9),
        bias=_random((64,), seed=10),
        summed=_random((1 << 20,), seed=11, low=-100.0, high=100.0),
    )
