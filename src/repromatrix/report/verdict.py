"""The verdict a reader wants first, as raw (unescaped) text shared by the renderers.

One line per variant that names machines (cell ids), never group letters: identical on all N
cells, or which cells differ from which, from which step, the root-cause op, the likely cause,
how large the difference is (largest relative weight difference, final loss difference) and
whether it grows or stays bounded over training. Figures have 3 significant digits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from repromatrix.report.compare import Aggregate, Comparison, Group, VariantResult
from repromatrix.report.likely_causes import causes_summary

MAX_NAMED = 3  # cells named per side of a verdict; the grid shows them all
# Keras picks RMSprop when compile() gets no optimizer (Keras 2's and 3's default argument is
# "rmsprop"), so a variant that asks for "default" trains with RMSprop.
OPTIMIZER_NAMES = {"default": "RMSprop, Keras's default", "adam": "Adam", "rmsprop": "RMSprop",
                   "legacy-rmsprop": "legacy RMSprop", "sgd": "SGD"}
GROWS_FACTOR = 10.0  # the late maximum must exceed the early one this much to call it growing
MIN_TREND_STEPS = 4  # diverged steps needed before a trend is named


# Said once under the verdicts when a variant diverges: the search exists; nothing is claimed.
REMEDY_HINT = ("What makes them agree: `repromatrix remedy` (`nox -s remedy`) tries the known "
               "remedies on the lab's cells that disagree and reports the ones it verified "
               "(docs/remedy.md).")


def remedy_hint(agg: Aggregate) -> str | None:
    return REMEDY_HINT if agg.diverges else None


def names(cells: Sequence[str], limit: int = MAX_NAMED) -> str:
    """``a, b and 2 more`` (raw)."""
    shown = ", ".join(cells[:limit])
    return shown + (f" and {len(cells) - limit:d} more" if len(cells) > limit else "")


def optimizer_name(optimizer: str) -> str:
    return OPTIMIZER_NAMES.get(optimizer.lower(), optimizer)


def sig3(value: float) -> str:
    """3 significant digits: 0.00213 -> "0.00213", 2.4e-07 -> "2.4e-07"."""
    return f"{value:.3g}"


def largest_relative(comparison: Comparison) -> float | None:
    """The largest relative element difference of any weight tensor (None: no raw data)."""
    values = [d.max_rel for d in comparison.tensor_diffs if d.max_rel is not None]
    return max(values) if values else None


def trend(comparison: Comparison) -> str | None:
    """"grows over training" or "stays bounded over training", from the per-step difference of
    the weight sums after the first divergent step; None when too few steps diverged."""
    series = comparison.series
    step = comparison.first_divergent_step
    if series is None or step is None:
        return None
    values = [v for s, v in zip(series.steps, series.values) if s >= step]
    if len(values) < MIN_TREND_STEPS:
        return None
    half = len(values) // 2
    early, late = max(values[:half]), max(values[half:])
    # values are log10 of the difference: growing means the late half reaches 10x the early one
    if late - early >= 1.0:
        return "grows over training"
    return "stays bounded over training"


def _loss_of(agg: Aggregate, result: VariantResult, cell: str) -> float | None:
    for record in agg.loaded.cells:
        if record.cell == cell:
            variant = record.variant(result.name)
            return None if variant is None else variant.loss
    return None


def size_text(agg: Aggregate, result: VariantResult, comparison: Comparison) -> str:
    """e.g. "weights differ by up to 0.00213 relative, final loss by 1.2e-06 (0.287 vs 0.287)"."""
    parts = []
    relative = largest_relative(comparison)
    if relative is not None:
        parts.append(f"weights differ by up to {sig3(relative)} relative")
    reference = result.groups[0].representative
    a, b = _loss_of(agg, result, reference), _loss_of(agg, result, comparison.representative)
    if a is not None and b is not None:
        if a == b:
            parts.append("final loss equal")
        else:
            parts.append(f"final loss by {sig3(abs(a - b))} (of {sig3(a)})")
    return ", ".join(parts)


def _where(comparison: Comparison) -> str:
    step = comparison.first_divergent_step
    if step == 0:
        return "before training (step 0)"
    if step is not None:
        return f"from step {step:d}"
    if comparison.trail_lengths is not None:
        return "in the final weights only"
    return "(no trail to locate the step)"


def _why(comparison: Comparison) -> str:
    root = comparison.root_cause
    parts = []
    if root is not None:
        parts.append(f"root op {root.group} in the {root.phase}")
    elif comparison.suspect_ops:
        parts.append("suspect op " + ", ".join(comparison.suspect_ops))
    if comparison.likely_causes:
        parts.append("likely cause " + causes_summary(comparison.likely_causes))
    return ", ".join(parts)


def comparison_clause(agg: Aggregate, result: VariantResult, comparison: Comparison) -> str:
    group = next(g for g in result.groups if g.letter == comparison.letter)
    ref = result.groups[0]
    compared = sum(len(g.cells) for g in result.groups)
    if len(ref.cells) > 2 and len(ref.cells) + len(group.cells) == compared:
        others = f"the other {len(ref.cells):d} cells"  # the grid names them
    else:
        others = names(ref.cells)
    text = f"{names(group.cells)} {'differs' if len(group.cells) == 1 else 'differ'} from " \
           f"{others} {_where(comparison)}"
    details = [part for part in (_why(comparison), size_text(agg, result, comparison),
                                 trend(comparison)) if part]
    return text + (" (" + "; ".join(details) + ")" if details else "")


def pair_reading(comparison: Comparison) -> str:
    """The detail line of one comparison: the root cause read from the op traces, else what the
    op probe suggests (raw text)."""
    if comparison.root_cause is not None:
        return "root cause: " + comparison.root_cause.reading()
    if comparison.probe_compared:
        return "no op trace; op probe suspects: {}; differ but unused: {}".format(
            ", ".join(comparison.suspect_ops) or "-", ", ".join(comparison.unused_ops) or "-")
    return "no op trace or op probe to name an op"


def _identical(groups: Sequence[Group], by_sums: bool) -> str:
    cells = groups[0].cells
    if len(cells) == 1:
        return f"only 1 cell ({cells[0]}), nothing to compare yet"
    what = "same float32 weight sums" if by_sums else "bit-identical"
    return f"{what} on all {len(cells):d} cells"


def verdict(agg: Aggregate, result: VariantResult) -> str:
    """The variant's verdict without its name (raw text)."""
    missing = len(result.not_compared)
    tail = f"; {missing:d} cell{'' if missing == 1 else 's'} not compared" if missing else ""
    if not result.groups:
        return "no cell has a usable result" + tail
    by_sums = result.compared_by == "sums"
    if not result.diverges:
        return _identical(result.groups, by_sums) + tail
    clauses = [comparison_clause(agg, result, c) for c in result.comparisons]
    note = " (compared by weight sums only)" if by_sums else ""
    return "; ".join(clauses) + note + tail


def optimizer_of(result: VariantResult) -> str | None:
    """The optimizer's real name, e.g. "RMSprop, Keras's default"; None when not recorded."""
    for key, text in result.settings or ():
        if key == "optimizer":
            try:
                value = json.loads(text)
            except ValueError:
                value = text
            return optimizer_name(value) if isinstance(value, str) else None
    return None


def headline(agg: Aggregate) -> str:
    """e.g. "1 of 2 variants differs across 3 cells" or "identical on all 3 cells"."""
    cells = len(agg.loaded.cells)
    cell_word = f"{cells:d} cell{'' if cells == 1 else 's'}"
    variants = agg.variants
    if not variants:
        return f"{cell_word}, no variant results"
    differing = sum(1 for v in variants if v.diverges)
    if differing == 0:
        if cells > 1 and all(v.groups and len(v.groups[0].cells) > 1 for v in variants):
            return f"all {len(variants):d} variant{'' if len(variants) == 1 else 's'} " \
                   f"identical across {cell_word}"
        return f"{cell_word}, {len(variants):d} variant{'' if len(variants) == 1 else 's'}, " \
               "no difference found"
    verb = "differs" if differing == 1 else "differ"
    return f"{differing:d} of {len(variants):d} variant{'' if len(variants) == 1 else 's'} " \
           f"{verb} across {cell_word}"


Found = list[tuple[VariantResult, Comparison]]


def machine_pairs(agg: Aggregate) -> list[tuple[str, str, Found]]:
    """(other representative, reference representative, the variants that compared them), one
    entry per pair of machines whichever variants compared them, sorted: the details' blocks."""
    pairs: dict[tuple[str, str], Found] = {}
    for result in agg.variants:
        for comparison in result.comparisons:
            key = (comparison.representative, result.groups[0].representative)
            pairs.setdefault(key, []).append((result, comparison))
    return [(other, reference, found) for (other, reference), found in sorted(pairs.items())]


def shared_readings(found: Found) -> list[tuple[str, str]]:
    """(variant names, reading): variants whose comparison reads the same are named together, so
    a root cause both optimizers share (the forward pass of step 1) is said once."""
    out: list[tuple[list[str], str]] = []
    for result, comparison in found:
        reading = pair_reading(comparison)
        for names_, text in out:
            if text == reading:
                names_.append(result.name)
                break
        else:
            out.append(([result.name], reading))
    return [(", ".join(names_), text) for names_, text in out]
