"""Resolving a cell request on the host: matrix.toml is loaded and checked here, once.

The cell (repromatrix.cell, in the pinned venv) then runs from the resolved ``CellRequest``
alone; its workers get the same request as JSON, never a path to re-parse.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from repromatrix.config.matrix import Matrix, load_matrix, load_variants_file
from repromatrix.errors import UsageError
from repromatrix.model import TRACE_STEPS, CellRequest, Variant


def resolve_request(
    matrix_path: str | Path,
    *,
    cell: str,
    output: str,
    variants: tuple[str, ...] = (),
    runner_label: str | None = None,
    data: str | None = None,
    target: str | None = None,
    rows: int | None = None,
    process_per_variant: bool = False,
    emulated: str | None = None,
    qemu: Mapping[str, str | None] | None = None,
    worker_python: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
    trace_steps: int = TRACE_STEPS,
    trace_step: int | None = None,
    variants_file: str | None = None,
) -> CellRequest:
    """The request of one cell: the command line's choices over the matrix's defaults.

    ``data`` and ``target`` None: the matrix's; ``variants`` empty: the experiment's list, or
    with ``variants_file`` (extra variants, config.matrix.load_variants_file) that file's.
    """
    matrix = load_matrix(matrix_path)
    if variants_file is not None:
        extra = load_variants_file(variants_file, matrix)
        matrix = dataclasses.replace(matrix, variants={**matrix.variants, **extra})
        variants = variants or tuple(extra)
    return CellRequest(
        cell=cell,
        variants=chosen_variants(matrix, variants),
        pins=matrix.pins,
        seed=matrix.experiment.seed,
        data=data if data is not None else matrix.data_path(),
        target=target if target is not None else matrix.experiment.target,
        output=output,
        entry=matrix.experiment.entry,
        entry_root=str(matrix.path.parent),
        runner_label=runner_label,
        rows=rows,
        process_per_variant=process_per_variant,
        emulated=emulated,
        qemu=qemu,
        worker_python=worker_python,
        env=dict(env or {}),
        trace_steps=trace_steps,
        trace_step=trace_step,
    )


def chosen_variants(matrix: Matrix, names: tuple[str, ...]) -> tuple[Variant, ...]:
    """The named variants in the order given (none named: the experiment's), or a usage error."""
    names = names or matrix.experiment.variants
    unknown = [n for n in names if n not in matrix.variants]
    if unknown:
        raise UsageError(f"no variant named {unknown[0]!r} in {matrix.path.name}; "
                         f"known: {', '.join(sorted(matrix.variants))}")
    return tuple(matrix.variants[n] for n in names)
