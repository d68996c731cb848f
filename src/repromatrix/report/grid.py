"""The cells-by-variants grid shared by the compact text and markdown reports (raw strings).

What every cell shares (OS, Python, drift, ...) is said once above the grid; the grid keeps only
the machine columns that differ between rows, then one column per variant: ``=`` when the cell's
weights equal the variant's reference, ``ref`` for the reference cells, else the first divergent
step and the root-cause op. The weight sums are in the details, not here.

Deliberate differences (the cell environment a lab cell or ``--env`` sets, recorded in the
experiment's ``env``) are "what was varied", not a problem with the input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from repromatrix.report.compare import Aggregate, Comparison, VariantResult
from repromatrix.report.model import CellRecord, leaf_text
from repromatrix.report.table import cell_status

SAME = "="
REFERENCE = "ref"
NONE = "-"
MAX_VARIED = 8  # cell environment variables named in the "varied" line


def shared_label(agg: Aggregate) -> str:
    """"All cells" above a grid of several, "The cell" above a grid of one."""
    return "All cells" if len(agg.loaded.cells) > 1 else "The cell"


@dataclass(frozen=True)
class Grid:
    shared: tuple[tuple[str, str], ...]  # (column, value) every row has
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    variant_columns: int  # the last this many columns are variants (our own text)


def _cpu(cell: CellRecord) -> str:
    """The CPU, with the emulated model only when the CPU text does not already say so."""
    cpu = cell.cpu or NONE
    if cell.emulated and "emulat" not in cpu.lower():
        cpu += f" (emulated {cell.emulated})"
    return cpu


def _env(cell: CellRecord) -> str:
    """The cell environment set for this cell (experiment.env), e.g. ``TF_ENABLE_ONEDNN_OPTS=1``."""
    pairs = [(key[len("env."):], leaf_text(value)) for key, value in cell.experiment
             if key.startswith("env.")]
    return " ".join(f"{k}={v}" for k, v in pairs) or NONE


MACHINE_COLUMNS = (
    ("runner", lambda c: c.runner_label or NONE),
    ("OS", lambda c: c.os or NONE),
    ("arch", lambda c: c.arch or NONE),
    ("CPU", _cpu),
    ("cell env", _env),  # renamed "env NAME" when every cell sets one variable
    ("Python", lambda c: c.python or NONE),
    ("drift", lambda c: "; ".join(c.drift) if c.drift else "none"),
    ("status", lambda c: cell_status(c, "ok, with problems (listed below)")),
)


def variant_mark(cell: CellRecord, result: VariantResult) -> str:
    variant = cell.variant(result.name)
    letter = result.letter_of(cell.cell)
    if letter is None:
        if variant is None:
            return "absent"
        return "FAILED" if variant.status == "error" else "not compared"
    if letter == result.groups[0].letter:
        return REFERENCE if result.diverges else SAME
    comparison = next(c for c in result.comparisons if c.letter == letter)
    mark = _mark(comparison)
    # Letters only where two differing groups would read the same: they tell which cells agree
    # with each other. Elsewhere a letter would only be one more code to learn.
    if sum(1 for c in result.comparisons if _mark(c) == mark) > 1:
        return f"{letter}: {mark}"
    return mark


def _mark(comparison: Comparison) -> str:
    step = comparison.first_divergent_step
    where = "final weights" if step is None else f"step {step:d}"
    op = comparison.root_cause.group if comparison.root_cause is not None else (
        ", ".join(comparison.suspect_ops) if comparison.suspect_ops else "")
    return where + (f" {op}" if op else "")


def build_grid(agg: Aggregate) -> Grid:
    cells = list(agg.loaded.cells)
    machine = [[fn(c) for _, fn in MACHINE_COLUMNS] for c in cells]
    extra_rows: list[list[str]] = []
    for duplicate in agg.loaded.duplicates:
        extra_rows.append([duplicate.cell.cell] + [NONE] * (len(MACHINE_COLUMNS) - 1)
                          + ["IGNORED: duplicate id"] + [NONE] * len(agg.variants))
    for rejected in agg.loaded.rejected:
        extra_rows.append([os.path.basename(rejected.source)] + [NONE] * (len(MACHINE_COLUMNS) - 1)
                          + ["REJECTED: " + rejected.reason] + [NONE] * len(agg.variants))
    shared: list[tuple[str, str]] = []
    keep: list[int] = []
    for index, (name, _) in enumerate(MACHINE_COLUMNS):
        values = {row[index] for row in machine}
        if name == "status" and extra_rows:
            keep.append(index)  # the ignored and rejected files say why in this column
        elif len(values) == 1:  # one cell too: its facts on one line, the grid stays narrow
            if values != {NONE}:  # nothing to say when no cell knows it (e.g. no runner)
                shared.append((name, next(iter(values))))
        elif values != {NONE}:
            keep.append(index)
    headers = ["cell"] + [MACHINE_COLUMNS[i][0] for i in keep] + [v.name for v in agg.variants]
    headers = _env_header(headers, cells, keep)
    rows: list[tuple[str, ...]] = []
    single = _single_env_name(cells)
    for cell, facts in zip(cells, machine):
        if single is not None:  # the variable is in the header: the value alone
            facts = [f.split("=", 1)[1] if name == "cell env" and "=" in f else f
                     for (name, _), f in zip(MACHINE_COLUMNS, facts)]
        rows.append(tuple([cell.cell] + [facts[i] for i in keep]
                          + [variant_mark(cell, v) for v in agg.variants]))
    for extra in extra_rows:
        rows.append(tuple([extra[0]] + [extra[1 + i] for i in keep]
                          + extra[1 + len(MACHINE_COLUMNS):]))
    return Grid(tuple(shared), tuple(headers), tuple(rows), len(agg.variants))


def _single_env_name(cells: list[CellRecord]) -> str | None:
    """The variable's name when every cell sets exactly one, the same one (the lab's case)."""
    names = {tuple(key for key, _ in c.experiment if key.startswith("env.")) for c in cells}
    if len(names) == 1:
        (only,) = names
        if len(only) == 1:
            return only[0][len("env."):]
    return None


def _env_header(headers: list[str], cells: list[CellRecord], keep: list[int]) -> list[str]:
    single = _single_env_name(cells)
    if single is None:
        return headers
    return [f"env {single}" if h == "cell env" else h for h in headers]


def varied(agg: Aggregate) -> list[str]:
    """What was varied on purpose: the cell environments (when they differ) and each variant's
    settings (raw text)."""
    out = []
    envs: dict[str, list[str]] = {}
    for cell in agg.loaded.cells:
        if cell.experiment:
            envs.setdefault(_env(cell), []).append(cell.cell)
    if len(envs) > 1:  # the grid's env column shows which cell has which value
        names = sorted({key[len("env."):] for c in agg.loaded.cells for key, _ in c.experiment
                        if key.startswith("env.")})
        shown = ", ".join(names[:MAX_VARIED]) + (" ..." if len(names) > MAX_VARIED else "")
        out.append(f"the cell environment ({shown}, the grid's env column)")
    return out
