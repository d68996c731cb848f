"""Builders of synthetic artifacts (schema 1) for the aggregator tests.

Exposed through the session-scoped ``art`` fixture (session scope so hypothesis tests may
use it too). The builders produce exactly the documented shape, so a test that mangles one
field knows everything else is valid.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import types
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

BEFORE = [-9.959677, 0.0, -5.590966, 0.0, -1.1521256, 0.0]
AFTER_AMD = [-159.85245, -5.7658424, 57.23868, 0.47032726, 0.13733912, -0.25829855]
AFTER_INTEL = [-168.1607, -6.258976, 50.797672, 0.42788112, 0.15801406, -0.26924044]
KERNEL = [0.5, -0.25, 1.0, 2.0]
BIAS = [0.0, -0.0]
DEFAULT_OPS = ["AddV2", "MatMul", "Mul", "Rsqrt", "Sigmoid", "Tanh"]
ADAM_OPS = ["AddV2", "MatMul", "Mul", "RealDiv", "Sigmoid", "Sqrt", "Tanh"]


def f32_bytes(values: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(values):d}f", *values)


def bump_ulps(value: float, ulps: int) -> float:
    """The float32 ``ulps`` steps above ``value`` (positive values only, for test data)."""
    bits = struct.unpack("<I", struct.pack("<f", value))[0]
    return struct.unpack("<f", struct.pack("<I", bits + ulps))[0]


def tensor(name: str, shape: list[int], values: Sequence[float]) -> dict[str, Any]:
    data = f32_bytes(values)
    return {
        "name": name,
        "shape": shape,
        "dtype": "float32",
        "sha256": hashlib.sha256(data).hexdigest(),
        "data": base64.b64encode(data).decode("ascii"),
    }


def variant(
    *,
    trail: Sequence[str] = ("t0", "t1", "t2", "t3"),
    trail_sums: Sequence[float] | None = None,
    after: Sequence[float] = AFTER_AMD,
    kernel: Sequence[float] = KERNEL,
    ops: Sequence[str] = DEFAULT_OPS,
    digest: str | None = None,
    status: str = "ok",
    settings: dict[str, Any] | None = None,
    variant_probe: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    tensors = [tensor("dense/kernel:0", [2, 2], kernel), tensor("dense/bias:0", [2], BIAS)]
    if digest is None:
        digest = hashlib.sha256(
            json.dumps([t["sha256"] for t in tensors] + list(trail)).encode()
        ).hexdigest()
    sums = list(trail_sums) if trail_sums is not None else [float(k) for k in range(len(trail))]
    out = {
        "status": status,
        "settings": dict(
            {"optimizer": "default", "env": {}, "op_determinism": False, "threads": None},
            **(settings or {}),
        ),
        "weight_sums": {
            "before": list(BEFORE),
            "after": list(after),
            "before_bits": [],
            "after_bits": [],
        },
        "tensors": tensors,
        "digest": digest,
        "loss": 0.5,
        "loss_bits": "0x3f000000",
        "trail": {"steps": len(trail) - 1, "digest": list(trail), "sum": sums},
        "train_step_ops": list(ops),
        "error": None,
    }
    if variant_probe is not None:  # written by the runner only when it differs from the cell's
        out["probe"] = variant_probe
    return out


def probe(rsqrt: str = "r-amd", sqrt: str = "s", exp: str = "e-amd") -> list[dict[str, str]]:
    return [
        {"op": "Rsqrt", "case": "Rsqrt[f32 1..4 2^20]", "sha256": rsqrt},
        {"op": "Sqrt", "case": "Sqrt[f32 1..4 2^20]", "sha256": sqrt},
        {"op": "Exp", "case": "Exp[f32 -10..10]", "sha256": exp},
    ]


def cell(
    cell_id: str,
    variants: dict[str, Any] | None = None,
    *,
    vendor: str = "AuthenticAMD",
    model: str = "AMD EPYC 7763",
    probe_entries: list[dict[str, str]] | None = None,
    status: str = "ok",
    error: dict[str, str] | None = None,
    drift: list[dict[str, str]] | None = None,
    emulated: str | None = None,
    runner_label: str | None = "ubuntu-24.04",
) -> dict[str, Any]:
    return {
        "schema": 1,
        "kind": "repromatrix-cell",
        "status": status,
        "cell": cell_id,
        "runner_label": runner_label,
        "experiment": {
            "name": "report-41",
            "seed": 42,
            "epochs": 1,
            "batch_size": 1,
            "shuffle": False,
            "data": {
                "source": "builtin:report41.csv",
                "sha256": "abc",
                "rows": 3,
                "features": 41,
                "target": "target",
            },
        },
        "pins": {"python": "3.9.2", "packages": {"tensorflow": "2.12.0"}},
        "drift": drift or [],
        "fingerprint": {
            "os": {"system": "Linux", "release": "6.8", "version": "#1", "distro": "Ubuntu 24.04"},
            "arch": "x86_64",
            "platform": "linux-x86_64",
            "cpu": {
                "vendor": vendor,
                "model": model,
                "flags": ["avx", "avx2", "fma"],
                "logical_cores": 2,
                "emulated": emulated,
            },
            "python": {"version": "3.9.18", "implementation": "CPython", "compiler": "GCC"},
            "packages": {"tensorflow": "2.12.0"},
        },
        "variants": variants
        if variants is not None
        else {"default-optimizer": variant(), "adam": variant(ops=ADAM_OPS)},
        "probe": probe() if probe_entries is None else probe_entries,
        "error": error,
        "timing": {"started_utc": "2024-01-01T00:00:00Z", "seconds": {"import": 1.0}},
    }


def sums_cell(
    cell_id: str,
    after: Sequence[float],
    *,
    vendor: str = "AuthenticAMD",
    name: str = "default-optimizer",
) -> dict[str, Any]:
    return {
        "schema": 1,
        "kind": "repromatrix-sums",
        "cell": cell_id,
        "runner_label": None,
        "fingerprint": {
            "os": {"system": "Windows"},
            "cpu": {"vendor": vendor, "model": vendor + " box"},
        },
        "variants": {name: {"weight_sums": {"before": list(BEFORE), "after": list(after)}}},
    }


def intel_cell(cell_id: str = "ubuntu-intel") -> dict[str, Any]:
    """Diverges from the default AMD cell at step 1 in the default optimizer only; Rsqrt
    and Exp give different probe bytes, and only Rsqrt is in that train step."""
    kernel = [bump_ulps(KERNEL[0], 3), KERNEL[1], KERNEL[2], bump_ulps(KERNEL[3], 1)]
    return cell(
        cell_id,
        {
            "default-optimizer": variant(
                trail=("t0", "x1", "x2", "x3"),
                trail_sums=(0.0, 1.001, 2.01, 3.1),
                after=AFTER_INTEL,
                kernel=kernel,
            ),
            "adam": variant(ops=ADAM_OPS),
        },
        vendor="GenuineIntel",
        model="Intel Xeon Platinum 8370C",
        probe_entries=probe(rsqrt="r-intel", exp="e-intel"),
    )


def two_group_docs() -> list[dict[str, Any]]:
    return [cell("ubuntu-amd-1"), cell("ubuntu-amd-2"), intel_cell()]


def write(
    directory: Path, docs: Iterable[Any], names: Sequence[str] | None = None
) -> list[Path]:
    """Write each doc (dict -> JSON, str/bytes as is) to ``directory``; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, doc in enumerate(docs):
        name = (
            names[index] if names else "%s.json" % (doc["cell"] if isinstance(doc, dict) else index)
        )
        path = directory / name
        if isinstance(doc, bytes):
            path.write_bytes(doc)
        elif isinstance(doc, str):
            path.write_text(doc, encoding="utf-8")
        else:
            path.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def art() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        BEFORE=BEFORE,
        AFTER_AMD=AFTER_AMD,
        AFTER_INTEL=AFTER_INTEL,
        KERNEL=KERNEL,
        DEFAULT_OPS=DEFAULT_OPS,
        ADAM_OPS=ADAM_OPS,
        tensor=tensor,
        variant=variant,
        probe=probe,
        cell=cell,
        sums_cell=sums_cell,
        intel_cell=intel_cell,
        two_group_docs=two_group_docs,
        write=write,
        bump_ulps=bump_ulps,
        f32_bytes=f32_bytes,
    )
