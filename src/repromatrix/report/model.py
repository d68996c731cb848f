"""The validated, immutable view of the artifacts that the comparison works on.

Strings in here are raw (unescaped) artifact data; renderers escape them. Everything is a
tuple or a frozen dataclass so results cannot depend on dict or file order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from repromatrix.floats import f32_bits

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


# A variant's ``settings`` object: sorted (top-level key, canonical JSON text of its value).
Settings = tuple[tuple[str, str], ...]


def _json_value(text: str) -> Any:
    """The value of a canonical JSON text; the text itself if it cannot be parsed back."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def settings_value(settings: Settings | None) -> dict | None:
    """The settings as a JSON object again (for JSON output); None when unknown."""
    if settings is None:
        return None
    return {key: _json_value(text) for key, text in settings}


def _plain(value: Any) -> str:
    """Strings as they are, anything else as compact JSON (``1``, ``null``, ``[1, 2]``)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def _pairs(value: Any, first: tuple[str, ...] = ()) -> str:
    """``K=V`` pairs of an object (keys in ``first`` first, then sorted), space-separated."""
    if not isinstance(value, dict):
        return _plain(value)
    keys = [k for k in first if k in value] + sorted(k for k in value if k not in first)
    return " ".join(f"{key}={_plain(value[key])}" for key in keys)


def settings_text(settings: Settings | None) -> str | None:
    """One compact, raw (unescaped) description, e.g.
    ``optimizer default; env TF_ENABLE_ONEDNN_OPTS=0; threads intra_op=1 inter_op=1;
    op determinism``. Only the optimizer is always named; the rest only when not default.
    None when the settings are unknown."""
    if settings is None:
        return None
    values = {key: _json_value(text) for key, text in settings}
    parts: list[str] = []
    if "optimizer" in values:
        parts.append("optimizer " + _plain(values["optimizer"]))
    env = values.get("env")
    if env not in (None, {}):
        parts.append("env " + _pairs(env))
    threads = values.get("threads")
    if threads is not None:
        parts.append("threads " + _pairs(threads, ("intra_op", "inter_op")))
    determinism = values.get("op_determinism")
    if determinism is True:
        parts.append("op determinism")
    elif determinism not in (None, False):
        parts.append("op_determinism=" + _plain(determinism))
    for key in sorted(values):
        if key not in ("optimizer", "env", "threads", "op_determinism") and values[key] not in (
            None,
            False,
            "",
            {},
            [],
        ):
            parts.append(f"{key}={_plain(values[key])}")
    return "; ".join(parts) if parts else "no settings given"


@dataclass(frozen=True)
class ErrorInfo:
    message: str
    log_tail: str


@dataclass(frozen=True)
class TensorRecord:
    name: str
    shape: tuple[int, ...]
    sha256: str | None
    data: bytes | None  # little-endian bytes of ``dtype``, already base64-decoded
    dtype: str = "float32"  # the artifact's "dtype" (first artifacts: always float32)


@dataclass(frozen=True)
class Trail:
    digests: tuple[str, ...]  # index 0 = before training, k = after step k
    sums: tuple[float, ...]  # float64 magnitudes for the chart; may be empty


@dataclass(frozen=True)
class VariantRecord:
    name: str
    status: str  # "ok" | "error"
    before: tuple[float, ...] | None  # six float32 sums, None if missing or invalid
    after: tuple[float, ...] | None
    digest: str | None
    trail: Trail | None
    tensors: tuple[TensorRecord, ...]
    train_step_ops: tuple[str, ...]
    error: ErrorInfo | None
    settings: Settings | None = None  # None when the artifact has no settings object
    # Probe results of the variant's own process (run with a different environment), or None
    # when the artifact has none: then the cell's top-level probe applies.
    probe: tuple[ProbeRecord, ...] | None = None
    op_trace: Any | None = None  # root_cause.OpTrace: every op output of the traced steps
    loss: float | None = None  # the last training loss (float32 value), None when not recorded
    # The variant's own process's backend fields (its ``jax``, ``torch`` and ``keras`` objects),
    # flattened as the cell's fingerprint is ("torch.ATEN_CPU_CAPABILITY", "keras.jit_compile").
    backend_fields: tuple[tuple[str, object], ...] = ()

    @property
    def backend(self) -> str | None:
        """Keras 3's backend of the variant ("jax", "torch"); None: TensorFlow (the default)."""
        value = (settings_value(self.settings) or {}).get("backend")
        return value if isinstance(value, str) else None

    @property
    def jit_compile(self) -> bool:
        return dict(self.backend_fields).get("keras.jit_compile") is True

    @property
    def has_digest(self) -> bool:
        return self.digest is not None

    @property
    def after_bits(self) -> tuple[int, ...] | None:
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
    runner_label: str | None
    os: str
    arch: str
    cpu: str
    python: str
    drift: tuple[str, ...]  # "name: pinned -> found"
    emulated: str | None
    fingerprint: tuple[tuple[str, FlatValue], ...]  # sorted dotted keys
    experiment: tuple[tuple[str, FlatValue], ...]
    probe: tuple[ProbeRecord, ...]
    variants: tuple[VariantRecord, ...]  # sorted by name
    error: ErrorInfo | None
    problems: tuple[str, ...]  # what was wrong with this file but did not stop it loading

    def variant(self, name: str) -> VariantRecord | None:
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
    cells: tuple[CellRecord, ...]  # unique cell ids, sorted by id
    duplicates: tuple[Duplicate, ...]
    rejected: tuple[Rejected, ...]
