"""Machine-readable output, documented in docs/aggregate.md.

Strings are the artifacts' own (unescaped: JSON escaping is enough for a JSON consumer);
keys are sorted, non-ASCII is escaped and non-finite numbers become null, so the bytes are
the same on every platform and the output is strict JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from repromatrix.artifact import json_safe
from repromatrix.floats import f32_bits, format_f32
from repromatrix.report.compare import Aggregate, Comparison, VariantResult
from repromatrix.report.likely_causes import likely_causes_json
from repromatrix.report.model import CellRecord, leaf_value, settings_value
from repromatrix.report.root_cause import root_cause_json

FORMAT = "repromatrix-aggregate"
SCHEMA = 1


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _sums(values: Sequence[float] | None) -> dict[str, list[Any]] | None:
    if values is None:
        return None
    return {
        "values": [_finite(v) for v in values],
        "bits": ["0x%08x" % (f32_bits(v) or 0) for v in values],
        "text": [format_f32(v) for v in values],
    }


def _cell(cell: CellRecord, agg: Aggregate, status: str) -> dict[str, Any]:
    variants = {}
    for variant in cell.variants:
        result = next((r for r in agg.variants if r.name == variant.name), None)
        variants[variant.name] = {
            "status": variant.status,
            "group": result.letter_of(cell.cell) if result and status != "duplicate" else None,
            "before": _sums(variant.before),
            "after": _sums(variant.after),
            "settings": settings_value(variant.settings),
            "error": None
            if variant.error is None
            else {"message": variant.error.message, "log_tail": variant.error.log_tail},
        }
    return {
        "cell": cell.cell,
        "source": cell.source,
        "kind": cell.kind,
        "status": status,
        "runner_label": cell.runner_label,
        "os": cell.os,
        "arch": cell.arch,
        "cpu": cell.cpu,
        "python": cell.python,
        "drift": list(cell.drift),
        "emulated": cell.emulated,
        "error": None
        if cell.error is None
        else {"message": cell.error.message, "log_tail": cell.error.log_tail},
        "problems": list(cell.problems),
        "variants": variants,
    }


def _finite_values(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {k: _finite(v) if isinstance(v, float) else v for k, v in record.items()}


def _comparison(c: Comparison) -> dict[str, Any]:
    return {
        "representative": c.representative,
        "first_divergent_step": c.first_divergent_step,
        "trail_lengths": None if c.trail_lengths is None else list(c.trail_lengths),
        "max_abs_sum_diff": _finite(c.max_abs_sum_diff),
        "max_ulp": c.max_ulp,
        "suspect_ops": list(c.suspect_ops),
        "differs_but_unused_ops": list(c.unused_ops),
        "probe_compared": c.probe_compared,
        "differing_tensors": [
            {"name": d.name, "max_ulp": d.max_ulp, "dtype": d.dtype,
             "max_abs_diff": _finite(d.max_abs), "max_rel_diff": _finite(d.max_rel)}
            for d in c.tensor_diffs
        ],
        "root_cause": _finite_values(root_cause_json(c.root_cause)),
        "likely_causes": likely_causes_json(c.likely_causes),
        "fingerprint_differences": [
            {"key": d.key, "reference": leaf_value(d.reference), "other": leaf_value(d.other)}
            for d in c.fingerprint_diffs
        ],
        "chart": None
        if c.series is None
        else {
            "steps": list(c.series.steps),
            "log10_abs_sum_diff": list(c.series.values),
            "last_step": c.series.last_step,
        },
        "notes": list(c.notes),
    }


def _variant(result: VariantResult) -> dict[str, Any]:
    comparisons = result.comparisons
    steps = [c.first_divergent_step for c in comparisons if c.first_divergent_step is not None]
    diffs = [c.max_abs_sum_diff for c in comparisons if c.max_abs_sum_diff is not None]
    ulps = [c.max_ulp for c in comparisons if c.max_ulp is not None]
    return {
        "verdict": f"{result.name}: {result.summary}",
        "summary": result.summary,
        "compared_by": result.compared_by,
        "settings": settings_value(result.settings),
        "settings_text": result.settings_text,
        "diverges": result.diverges,
        "reference": result.groups[0].letter if result.groups else None,
        "reference_cell": result.groups[0].representative if result.groups else None,
        "groups": {g.letter: list(g.cells) for g in result.groups},
        "representatives": {g.letter: g.representative for g in result.groups},
        "first_divergent_step": min(steps) if steps else None,
        "max_abs_sum_diff": _finite(max(diffs)) if diffs else None,
        "max_ulp": max(ulps) if ulps else None,
        "suspect_ops": sorted({op for c in comparisons for op in c.suspect_ops}),
        "differs_but_unused_ops": sorted({op for c in comparisons for op in c.unused_ops}),
        "comparisons": {c.letter: _comparison(c) for c in comparisons},
        "not_compared": [{"cell": n.cell, "reason": n.reason} for n in result.not_compared],
        "notes": list(result.notes),
    }


def to_dict(agg: Aggregate) -> dict[str, Any]:
    cells = [_cell(c, agg, c.status) for c in agg.loaded.cells]
    cells += [
        dict(_cell(d.cell, agg, "duplicate"), duplicate_of=d.kept_source)
        for d in agg.loaded.duplicates
    ]
    return {
        "format": FORMAT,
        "schema": SCHEMA,
        "diverges": agg.diverges,
        "requested_reference": agg.requested_reference,
        "cells": cells,
        "rejected": [{"source": r.source, "reason": r.reason} for r in agg.loaded.rejected],
        "variants": {v.name: _variant(v) for v in agg.variants},
        "problems": list(agg.problems),
    }


def render_json(agg: Aggregate) -> str:
    return (
        json.dumps(
            json_safe(to_dict(agg)), sort_keys=True, indent=2, ensure_ascii=True, allow_nan=False
        )
        + "\n"
    )
