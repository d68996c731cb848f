"""The validated, immutable view of the artifacts that the comparison works on.

Strings in here are raw (unescaped) artifact data; renderers escape them. Everything is a
tuple or a frozen dataclass so results cannot depend on dict or file order.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from typing import Optional, Tuple

from repromatrix.aggregate.f32 import f32_bits

# Leaf values of a flattened fingerprint: the JSON text of a scalar, or a tuple of them
# (for lists). JSON text keeps "null" and null apart and makes NaN compare equal to itself.
FlatValue = object


def leaf_value(leaf: object) -> object:
    """The JSON value back from a leaf (a list for tuples), for JSON output."""
    if isinstance(leaf, tuple):
        return [leaf_value(item) for item in leaf]
    if not isinstance(leaf, str):
        return leaf
    try:
        return json.loads(leaf)
    except ValueError:
        return leaf


def leaf_text(leaf: object) -> str:
    """Display text of a leaf: strings without their JSON quotes, lists space-separated."""
    if isinstance(leaf, tuple):
        return " ".join(leaf_text(item) for item in leaf)
    value = leaf_value(leaf)
    return value if isinstance(value, str) else str(leaf)


@dataclass(frozen=True)
class ErrorInfo:
    message: str
    log_tail: str


@dataclass(frozen=True)
class TensorRecord:
    name: str
    shape: Tuple[int, ...]
    sha256: Optional[str]
    data: Optional[bytes]  # little-endian float32, already base64-decoded


@dataclass(frozen=True)
class Trail:
    digests: Tuple[str, ...]  # index 0 = before training, k = after step k
    sums: Tuple[float, ...]  # float64 magnitudes for the chart; may be empty


@dataclass(frozen=True)
class VariantRecord:
    name: str
    status: str  # "ok" | "error"
    before: Optional[Tuple[float, ...]]  # six float32 sums, None if missing or invalid
    after: Optional[Tuple[float, ...]]
    digest: Optional[str]
    trail: Optional[Trail]
    tensors: Tuple[TensorRecord, ...]
    train_step_ops: Tuple[str, ...]
    error: Optional[ErrorInfo]

    @property
    def has_digest(self) -> bool:
        return self.digest is not None

    @property
    def after_bits(self) -> Optional[Tuple[int, ...]]:
        if self.after is None:
            return None
        bits = tuple(f32_bits(v) for v in self.after)
        return None if any(b is None for b in bits) else bits  # type: ignore[return-value]


@dataclass(frozen=True)
class ProbeRecord:
    op: str
    case: str
    sha256: str


@dataclass(frozen=True)
class CellRecord:
    cell: str
    source: str  # file the cell was read from, as given on the command line
    kind: str  # "cell" (full artifact) | "sums" (sums-only input)
    status: str  # "ok" | "error"
    runner_label: Optional[str]
    os: str
    arch: str
    cpu: str
    python: str
    drift: Tuple[str, ...]  # "name: pinned -> found"
    emulated: Optional[str]
    fingerprint: Tuple[Tuple[str, FlatValue], ...]  # sorted dotted keys
    experiment: Tuple[Tuple[str, FlatValue], ...]
    probe: Tuple[ProbeRecord, ...]
    variants: Tuple[VariantRecord, ...]  # sorted by name
    error: Optional[ErrorInfo]
    problems: Tuple[str, ...]  # what was wrong with this file but did not stop it loading

    def variant(self, name: str) -> Optional[VariantRecord]:
        for variant in self.variants:
            if variant.name == name:
                return variant
        return None


@dataclass(frozen=True)
class Rejected:
    """A file that could not be read as an artifact at all."""

    source: str
    reason: str


@dataclass(frozen=True)
class Duplicate:
    """A cell whose id was already taken by an earlier file (by file name order)."""

    cell: CellRecord
    kept_source: str


@dataclass(frozen=True)
class Loaded:
    cells: Tuple[CellRecord, ...]  # unique cell ids, sorted by id
    duplicates: Tuple[Duplicate, ...]
    rejected: Tuple[Rejected, ...]
