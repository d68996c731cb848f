"""Grouping cells by identical results and explaining how the groups differ.

Identity is decided by the whole-model digest (or, for sums-only input, by the float32 bit
patterns of the after-training sums); sums are never compared with a tolerance. For each
group that differs from the reference group the comparison finds where (first divergent
training step), how much (sum difference, ULP distance) and why (probe ops that differ
between the two machines and that the train step actually uses).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from repromatrix.floats import f32_bits
from repromatrix.report.differences import ElementStats, element_dtype, element_stats
from repromatrix.report.escape import clean
from repromatrix.report.likely_causes import LikelyCause, causes_summary, likely_causes
from repromatrix.report.model import (
    CellRecord,
    Loaded,
    ProbeRecord,
    Settings,
    TensorRecord,
    VariantRecord,
    leaf_value,
    settings_text,
)
from repromatrix.report.root_cause import (
    INITIAL_WEIGHTS_DIFFER,
    RootCause,
    before_training_notes,
    find_root_cause,
    rerun_command,
)

FLOOR_LOG10 = -16.0  # log10 of a zero difference is drawn here (and said so)
CEILING_LOG10 = 39.0  # a NaN/infinite difference is drawn here: beyond any float32
MAX_CHART_POINTS = 100  # keeps the mermaid block of a PR comment small
MAX_LISTED = 5  # settings variants and cells per settings variant named in a problem line


@dataclass(frozen=True)
class Group:
    letter: str
    cells: tuple[str, ...]  # sorted
    representative: str  # the cell whose data stands for the group in comparisons


@dataclass(frozen=True)
class FingerprintDiff:
    key: str  # flattened dotted key, e.g. "cpu.vendor"
    reference: object  # leaf value in the reference representative, None if absent
    other: object


@dataclass(frozen=True)
class TensorDiff:
    name: str
    max_ulp: int | None  # None when the raw data is not in both artifacts
    dtype: str = "float32"  # the reference tensor's: max_ulp counts steps of this dtype
    # Beside the ULP distance (which skips elements that cross zero): the largest absolute and
    # relative element difference, None when the raw data is not in both artifacts.
    max_abs: float | None = None
    max_rel: float | None = None

    @property
    def units(self) -> str:
        """``ULP`` for float32 (as the tables always said), else e.g. ``float64 ULP``."""
        return "ULP" if self.dtype == "float32" else f"{element_dtype(self.dtype)} ULP"


@dataclass(frozen=True)
class Series:
    """log10 |sum_ref[k] - sum_other[k]| per (downsampled) step, for the chart."""

    letter: str
    steps: tuple[int, ...]  # first step of each bucket
    values: tuple[float, ...]  # bucket maximum, clamped to [FLOOR_LOG10, CEILING_LOG10]
    last_step: int


@dataclass(frozen=True)
class Comparison:
    """One non-reference group against the reference group, via their representatives."""

    letter: str
    representative: str
    first_divergent_step: int | None
    trail_lengths: tuple[int, int] | None  # (reference, other) when both have a trail
    max_abs_sum_diff: float | None
    max_ulp: int | None
    suspect_ops: tuple[str, ...]
    unused_ops: tuple[str, ...]  # probe ops that differ but are not in the train step
    probe_compared: bool  # both cells had probe results and the train step's op list
    tensor_diffs: tuple[TensorDiff, ...]
    fingerprint_diffs: tuple[FingerprintDiff, ...]
    series: Series | None
    notes: tuple[str, ...]
    root_cause: RootCause | None = None  # from the op traces (root_cause.py)
    likely_causes: tuple[LikelyCause, ...] = ()  # known numeric causes in the fingerprint


@dataclass(frozen=True)
class NotCompared:
    cell: str
    reason: str


@dataclass(frozen=True)
class VariantResult:
    name: str
    compared_by: str  # "digest" | "sums" | "none"
    groups: tuple[Group, ...]  # groups[0] is the reference group
    comparisons: tuple[Comparison, ...]  # one per groups[1:]
    not_compared: tuple[NotCompared, ...]
    notes: tuple[str, ...]
    summary: str  # the verdict without the variant name, plain (unescaped) text
    # From the reference representative, else the smallest cell id that has settings.
    settings: Settings | None = None

    @property
    def diverges(self) -> bool:
        return len(self.groups) > 1

    @property
    def settings_text(self) -> str | None:
        return settings_text(self.settings)

    @property
    def reference(self) -> Group | None:
        return self.groups[0] if self.groups else None

    def letter_of(self, cell: str) -> str | None:
        for group in self.groups:
            if cell in group.cells:
                return group.letter
        return None


@dataclass(frozen=True)
class Aggregate:
    loaded: Loaded
    variants: tuple[VariantResult, ...]  # sorted by name
    problems: tuple[str, ...]
    requested_reference: str | None

    @property
    def diverges(self) -> bool:
        return any(v.diverges for v in self.variants)


def letter(index: int) -> str:
    """A, B, ..., Z, AA, AB, ... (spreadsheet style) so any number of groups gets a label."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(ord("A") + rest) + out
    return out


def order_groups(keys: dict[str, Hashable], reference: str | None) -> list[list[str]]:
    """Cells with equal keys grouped; the reference group first, then by size and smallest id.

    The reference group is the one holding ``reference`` if given, else the largest; ties
    go to the group with the smallest cell id, so the lettering never depends on input order.
    """
    by_key: dict[Hashable, list[str]] = {}
    for cell in sorted(keys):
        by_key.setdefault(keys[cell], []).append(cell)
    groups = sorted(by_key.values(), key=lambda cells: (-len(cells), cells[0]))
    if reference is not None:
        for index, cells in enumerate(groups):
            if reference in cells:
                groups.insert(0, groups.pop(index))
                break
    return groups


def effective_probe(cell: CellRecord, variant: VariantRecord) -> tuple[ProbeRecord, ...]:
    """The probe that ran in the variant's process: its own when recorded, else the cell's."""
    return cell.probe if variant.probe is None else variant.probe


def _representative(
    members: Sequence[str], usable: dict[str, tuple[CellRecord, VariantRecord]]
) -> str:
    """The member with the most data (digest, trail, raw tensors, probe), then a native one (an
    emulated CPU as the reference would add emulation to every comparison's likely causes),
    then the smallest id."""

    def missing(cid: str) -> tuple[int, bool, str]:
        cell, variant = usable[cid]
        have = (
            variant.digest is not None,
            variant.trail is not None,
            any(t.data is not None for t in variant.tensors),
            bool(effective_probe(cell, variant)),
        )
        return (have.count(False), cell.emulated is not None, cid)

    return min(members, key=missing)


def tensor_max_ulp(a: bytes, b: bytes, dtype: str = "float32") -> int | None:
    """Largest ULP distance between two equally long buffers of ``dtype``, in that dtype's own
    steps (float64 steps for float64; value differences for integers). None if the lengths
    differ, the dtype is unknown, or every differing element crosses zero, where a ULP distance
    means nothing (differences.py)."""
    return _max_ulp(element_stats(a, b, dtype))


def _max_ulp(stats: ElementStats | None) -> int | None:
    """0 for equal buffers, else the largest meaningful ULP distance (None: none, or no stats)."""
    if stats is None:
        return None
    return 0 if not stats.differing else stats.max_ulp


def first_divergent_step(ref: Sequence[str], other: Sequence[str]) -> int | None:
    """First index at which two trails differ, over their common prefix; None if none."""
    for index, (a, b) in enumerate(zip(ref, other)):
        if a != b:
            return index
    return None


def max_abs_sum_diff(ref: Sequence[float], other: Sequence[float]) -> float | None:
    """Largest |a - b| over the after-training sums; inf if a NaN/inf sum differs."""
    if len(ref) != len(other):
        return None
    worst = 0.0
    for a, b in zip(ref, other):
        if f32_bits(a) == f32_bits(b):
            continue
        diff = abs(a - b)
        worst = max(worst, diff if math.isfinite(diff) else math.inf)
    return worst


def _log10_clamped(diff: float) -> float:
    if not math.isfinite(diff):
        return CEILING_LOG10
    if diff <= 10.0**FLOOR_LOG10:
        return FLOOR_LOG10
    return min(CEILING_LOG10, math.log10(diff))


def divergence_series(letter_: str, ref: VariantRecord, other: VariantRecord) -> Series | None:
    """Per-step log10 of the weight-sum difference, downsampled by bucket maximum.

    Steps whose digests are equal count as 0 difference (the float64 ``trail.sum`` may differ
    by reduction order alone, so it is only trusted where the weights really differ).
    Bucket maxima keep a single spike visible after downsampling.
    """
    if ref.trail is None or other.trail is None:
        return None
    count = min(
        len(ref.trail.digests), len(other.trail.digests), len(ref.trail.sums), len(other.trail.sums)
    )
    if count == 0:
        return None
    values = []
    for k in range(count):
        same = ref.trail.digests[k] == other.trail.digests[k]
        values.append(
            FLOOR_LOG10 if same else _log10_clamped(abs(ref.trail.sums[k] - other.trail.sums[k]))
        )
    buckets = min(count, MAX_CHART_POINTS)
    steps, maxima = [], []
    for b in range(buckets):
        start, stop = b * count // buckets, (b + 1) * count // buckets
        steps.append(start)
        maxima.append(max(values[start:stop]))
    return Series(letter=letter_, steps=tuple(steps), values=tuple(maxima), last_step=count - 1)


def estimate_label(cell: CellRecord) -> str:
    """Whose rsqrtps/rcpps estimate table a cell measured, for the likely cause: the emulator's
    table as the lab named it, qemu's exact computation, or the real CPU's vendor and model."""
    flat = dict(cell.fingerprint)

    def text(key: str) -> str:
        value = leaf_value(flat.get(key))
        return value if isinstance(value, str) else ""

    digest = text("cpu.estimates.sha256")[:12] or "not measured"
    if text("cpu.qemu.estimates"):
        return f"{text('cpu.qemu.estimates')} {digest}"
    if leaf_value(flat.get("cpu.emulated")):
        return f"qemu's exact 1/sqrt(x) and 1/x (no table) {digest}"
    who = " ".join(part for part in (text("cpu.vendor"), text("cpu.model")) if part)
    return f"{who or 'unknown CPU'} {digest}"


def fingerprint_diffs(ref: CellRecord, other: CellRecord) -> tuple[FingerprintDiff, ...]:
    a, b = dict(ref.fingerprint), dict(other.fingerprint)
    return tuple(
        FingerprintDiff(key, a.get(key), b.get(key))
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    )


def _abs_rel(stats: ElementStats | None) -> tuple[float | None, float | None]:
    return (None, None) if stats is None else (stats.max_abs, stats.max_rel)


def _tensor_diffs(
    ref: VariantRecord, other: VariantRecord
) -> tuple[tuple[TensorDiff, ...], int | None]:
    """Tensors whose bytes differ (sha256, or raw data when no hash), and the overall max ULP."""
    theirs: dict[str, TensorRecord] = {}
    for tensor in other.tensors:
        theirs.setdefault(tensor.name, tensor)
    diffs: list[TensorDiff] = []
    overall: int | None = None
    compared_equal = False
    seen: set[str] = set()
    for mine in ref.tensors:
        if mine.name in seen:
            continue
        seen.add(mine.name)
        other_tensor = theirs.get(mine.name)
        if other_tensor is None:
            diffs.append(TensorDiff(mine.name, None, mine.dtype))
            continue
        ulp = None
        same_dtype = mine.dtype == other_tensor.dtype
        stats = None
        if mine.data is not None and other_tensor.data is not None and same_dtype:
            # in the tensor's own units: float64 steps for float64 weights
            stats = element_stats(mine.data, other_tensor.data, mine.dtype)
            ulp = _max_ulp(stats)
            if ulp is not None and stats is not None and stats.differing:
                overall = ulp if overall is None else max(overall, ulp)
            elif ulp == 0:
                compared_equal = True
        hashes_differ = (
            mine.sha256 is not None
            and other_tensor.sha256 is not None
            and mine.sha256 != other_tensor.sha256
        )
        if (hashes_differ or (stats is not None and stats.differing)
                or mine.shape != other_tensor.shape or not same_dtype):
            diffs.append(TensorDiff(mine.name, ulp, mine.dtype, *(_abs_rel(stats))))
    for tensor in other.tensors:  # tensors only the other cell has
        if tensor.name not in seen:
            seen.add(tensor.name)
            diffs.append(TensorDiff(tensor.name, None, tensor.dtype))
    if overall is None and compared_equal and not any(d.max_abs is not None for d in diffs):
        overall = 0  # raw data compared and equal (a difference across zero has no ULP figure)
    return tuple(diffs), overall


def _probe_ops(
    ref: tuple[CellRecord, VariantRecord],
    other: tuple[CellRecord, VariantRecord],
    train_ops: set[str],
    notes: list[str],
) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(suspects, differs-but-unused, compared): probe cases matched by ``case``, named by
    ``op``; each side's probe is the variant's own if it has one, else its cell's."""
    ref_probe, other_probe = effective_probe(*ref), effective_probe(*other)
    if not ref_probe or not other_probe:
        missing = [
            cell.cell + (" (its variant-level probe)" if variant.probe is not None else "")
            for (cell, variant), probe in ((ref, ref_probe), (other, other_probe))
            if not probe
        ]
        notes.append(
            "no op probe results for {}, so no suspect op can be named".format(", ".join(missing))
        )
        return (), (), False
    mine: dict[str, tuple[str, str]] = {}
    for entry in ref_probe:
        mine.setdefault(entry.case, (entry.op, entry.sha256))
    theirs: dict[str, tuple[str, str]] = {}
    for entry in other_probe:
        theirs.setdefault(entry.case, (entry.op, entry.sha256))
    differing: set[str] = set()
    for case in sorted(set(mine) & set(theirs)):
        if mine[case][1] != theirs[case][1]:
            differing.update((mine[case][0], theirs[case][0]))
    only_one = sorted(set(mine) ^ set(theirs))
    if only_one:
        notes.append(f"{len(only_one):d} probe case(s) ran on only one of the two cells")
    if differing and not train_ops:
        notes.append(
            "probe ops differ ({}) but the train step's op list is missing, so none can be "
            "called a suspect".format(", ".join(sorted(differing)))
        )
        return (), (), False
    return tuple(sorted(differing & train_ops)), tuple(sorted(differing - train_ops)), True


def compare_pair(
    letter_: str,
    ref_cell: CellRecord,
    ref: VariantRecord,
    other_cell: CellRecord,
    other: VariantRecord,
) -> Comparison:
    notes: list[str] = []
    first: int | None = None
    lengths: tuple[int, int] | None = None
    if ref.trail is not None and other.trail is not None:
        lengths = (len(ref.trail.digests), len(other.trail.digests))
        first = first_divergent_step(ref.trail.digests, other.trail.digests)
        common = min(lengths)
        if lengths[0] != lengths[1]:
            equal = "" if first is not None else " and are equal"
            notes.append(
                f"the trails have different lengths ({lengths[0]:d} and {lengths[1]:d} entries); "
                f"only the first {common:d} were compared{equal}"
            )
        elif first is None and ref.digest != other.digest:
            notes.append("every trail entry is equal although the final weights differ")
    elif ref.digest is not None or other.digest is not None:
        notes.append("a training trail is missing, so the first divergent step is unknown")
    sum_diff = None
    if ref.after is not None and other.after is not None:
        sum_diff = max_abs_sum_diff(ref.after, other.after)
        if sum_diff is None:
            notes.append("the after-training sums have different lengths")
    tensor_diffs, max_ulp = _tensor_diffs(ref, other)
    suspects, unused, probed = _probe_ops(
        (ref_cell, ref),
        (other_cell, other),
        set(ref.train_step_ops) | set(other.train_step_ops),
        notes,
    )
    if first == 0:  # the train step's ops are not what computed the initial weights
        suspects, unused = (), tuple(sorted(set(suspects) | set(unused)))
        notes.extend(before_training_notes(unused))
    blame = find_root_cause(ref.op_trace, other.op_trace, (ref_cell.cell, other_cell.cell), first,
                            rerun_command(ref.name, ref_cell.cell, other_cell.cell))
    notes.extend(blame.notes)
    differences = fingerprint_diffs(ref_cell, other_cell)
    # the variants' own backend fields (torch's kernels, jax's XLA_FLAGS) are causes too
    mine, theirs = dict(ref.backend_fields), dict(other.backend_fields)
    backend_diffs = [FingerprintDiff(key, mine.get(key), theirs.get(key))
                     for key in sorted(set(mine) | set(theirs)) if mine.get(key) != theirs.get(key)]
    return Comparison(
        letter=letter_,
        representative=other_cell.cell,
        first_divergent_step=first,
        trail_lengths=lengths,
        max_abs_sum_diff=sum_diff,
        max_ulp=max_ulp,
        suspect_ops=suspects,
        unused_ops=unused,
        probe_compared=probed,
        tensor_diffs=tensor_diffs,
        fingerprint_diffs=differences,
        series=divergence_series(letter_, ref, other),
        notes=tuple(notes),
        root_cause=blame.root,
        likely_causes=likely_causes([*differences, *backend_diffs],
                                    blame.root.op_type if blame.root else None,
                                    (estimate_label(ref_cell), estimate_label(other_cell)),
                                    backend=ref.backend,
                                    jit_compile=ref.jit_compile or other.jit_compile),
    )


def _clause(comparison: Comparison, reference: str, by_sums: bool) -> tuple[str, str]:
    """(what differs, why) for one group, e.g. ("B diverges from A at step 1", "suspect: Rsqrt")."""
    step = comparison.first_divergent_step
    who = "{} {} from {}".format(comparison.letter, "diverges" if step else "differs", reference)
    if by_sums:
        what = who + " in the after-training sums"
    elif step == 0:
        what = who + " already before training (step 0)"
    elif step is not None:
        what = who + f" at step {step:d}"
    elif (
        comparison.trail_lengths is not None
        and comparison.trail_lengths[0] != comparison.trail_lengths[1]
    ):
        what = who + " (trails of different lengths, equal over the common part)"
    elif comparison.trail_lengths is not None:
        what = who + " (every trail entry is equal, only the final weights differ)"
    else:
        what = who + " (no trail to locate the step)"
    if step == 0 and not by_sums:
        why = INITIAL_WEIGHTS_DIFFER
    elif comparison.suspect_ops:
        why = "suspect{}: {}".format(
            "s" if len(comparison.suspect_ops) > 1 else "",
            ", ".join(comparison.suspect_ops),
        )
    elif comparison.unused_ops:
        why = "no suspect: the ops that differ ({}) are not in the train step".format(", ".join(
            comparison.unused_ops
        ))
    elif comparison.probe_compared:
        why = "no probed op differs"
    else:
        why = ""
    if comparison.root_cause is not None:  # the trace's proof outranks the probe's heuristic
        root = comparison.root_cause
        why = f"root cause: {root.group} at step {root.step:d}" + (
            f" (likely: {causes_summary(comparison.likely_causes)})"
            if comparison.likely_causes else "")
    return what, why


def summarize(
    groups: Sequence[Group], comparisons: Sequence[Comparison], compared_by: str, not_compared: int
) -> str:
    """The verdict line (without the variant name)."""
    tail = (
        f"; {not_compared:d} cell{'' if not_compared == 1 else 's'} not compared"
        if not_compared
        else ""
    )
    if not groups:
        return "no cell has a usable result" + tail
    by_sums = compared_by == "sums"
    sums_note = ", compared by weight sums only" if by_sums else ""
    if len(groups) == 1:
        cells = groups[0].cells
        if len(cells) == 1:
            return f"only 1 cell ({cells[0]}), nothing to compare yet{sums_note}{tail}"
        if by_sums:
            return f"same float32 weight sums on all {len(cells):d} cells{sums_note}{tail}"
        return f"bit-identical on all {len(cells):d} cells{tail}"
    clauses = [_clause(c, groups[0].letter, by_sums) for c in comparisons]
    if len(clauses) == 1:
        body = "; ".join(part for part in clauses[0] if part)
    else:
        body = "; ".join(what + (f" ({why})" if why else "") for what, why in clauses)
    return f"{len(groups):d} results{sums_note} — {body}{tail}"


def _not_compared_reason(cell: CellRecord, variant: VariantRecord | None) -> str | None:
    if variant is None:
        return "cell failed" if cell.status == "error" else "variant not in this artifact"
    if variant.status == "error":
        message = variant.error.message if variant.error else "no message"
        return "variant failed: " + clean(message, 200)
    if variant.status == "invalid":
        return "invalid variant data"
    return None


def compare_variant(
    name: str, cells: Sequence[CellRecord], reference: str | None
) -> VariantResult:
    notes: list[str] = []
    not_compared: list[NotCompared] = []
    usable: dict[str, tuple[CellRecord, VariantRecord]] = {}
    for cell in cells:
        variant = cell.variant(name)
        reason = _not_compared_reason(cell, variant)
        if reason is not None:
            not_compared.append(NotCompared(cell.cell, reason))
        elif variant is not None:
            usable[cell.cell] = (cell, variant)
    all_digest = bool(usable) and all(v.digest is not None for _, v in usable.values())
    keys: dict[str, Hashable] = {}
    if all_digest:
        compared_by = "digest"
        keys = {cid: v.digest for cid, (_, v) in usable.items()}
    else:
        compared_by = "sums"
        with_digest = sorted(cid for cid, (_, v) in usable.items() if v.digest is not None)
        if with_digest:
            notes.append(
                f"mixed input: {len(usable) - len(with_digest):d} of {len(usable):d} cells have no "
                "whole-model digest, so all cells of this "
                "variant were compared by their float32 weight sums"
            )
        for cid, (_, variant) in sorted(usable.items()):
            bits = variant.after_bits
            if bits is None:
                reason = "no usable after-training sums" + (
                    " (needed: other cells have sums only)" if variant.digest else ""
                )
                not_compared.append(NotCompared(cid, reason))
            else:
                keys[cid] = bits
    if not keys:
        compared_by = "none"
    ref_choice = reference if reference in keys else None
    if reference is not None and ref_choice is None and keys:
        notes.append(
            "the requested reference cell has no usable result here; "
            "the largest group is the reference"
        )
    ordered = order_groups(keys, ref_choice)
    groups: list[Group] = []
    for index, members in enumerate(ordered):
        representative = ref_choice if ref_choice in members else _representative(members, usable)
        groups.append(Group(letter(index), tuple(members), representative))
        if compared_by == "sums":
            digests = {usable[cid][1].digest for cid in members} - {None}
            if len(digests) > 1:
                notes.append(
                    f"group {letter(index)}: equal sums but different digests (the weights differ)"
                )
    comparisons = []
    if groups:
        ref_cell, ref_variant = usable[groups[0].representative]
        for group in groups[1:]:
            other_cell, other_variant = usable[group.representative]
            comparisons.append(
                compare_pair(group.letter, ref_cell, ref_variant, other_cell, other_variant)
            )
    not_compared.sort(key=lambda n: n.cell)
    settings = None
    if groups:
        settings = usable[groups[0].representative][1].settings
    if settings is None:
        settings = next(
            (
                v.settings
                for v in (c.variant(name) for c in sorted(cells, key=lambda c: c.cell))
                if v is not None and v.settings is not None
            ),
            None,
        )
    return VariantResult(
        name=name,
        compared_by=compared_by,
        groups=tuple(groups),
        comparisons=tuple(comparisons),
        not_compared=tuple(not_compared),
        notes=tuple(notes),
        summary=summarize(groups, comparisons, compared_by, len(not_compared)),
        settings=settings,
    )


def settings_problems(name: str, cells: Sequence[CellRecord]) -> list[str]:
    """A line when cells ran the same variant with different settings (cells without a
    settings object, such as sums-only input, are left out)."""
    by_settings: dict[Settings, list[str]] = {}
    for cell in sorted(cells, key=lambda c: c.cell):
        variant = cell.variant(name)
        if variant is not None and variant.settings is not None:
            by_settings.setdefault(variant.settings, []).append(cell.cell)
    if len(by_settings) < 2:
        return []
    ordered = sorted(by_settings.items(), key=lambda item: (-len(item[1]), item[1][0]))
    parts = []
    for settings, members in ordered[:MAX_LISTED]:
        shown = ", ".join(clean(m, 100) for m in members[:MAX_LISTED])
        if len(members) > MAX_LISTED:
            shown += f" and {len(members) - MAX_LISTED:d} more"
        parts.append(f"[{clean(settings_text(settings), 200)}] on {shown}")
    if len(ordered) > MAX_LISTED:
        parts.append(f"{len(ordered) - MAX_LISTED:d} more different settings")
    return [
        "variant {} was run with different settings on different cells: {}".format(clean(name, 100), "; ".join(parts))
    ]


def _experiment_problems(cells: Sequence[CellRecord]) -> list[str]:
    """Cells that ran different experiments cannot be compared meaningfully: say so."""
    experiments = [dict(c.experiment) for c in cells if c.experiment]  # sums-only input has none
    all_keys = sorted({key for experiment in experiments for key in experiment})
    # Leaves are JSON texts, which never start with "<", so the marker cannot collide.
    # The experiment's env is the cell environment set on purpose (a lab cell's env, --env): what
    # was varied, shown as such by the report, not a mismatch.
    keys = [k for k in all_keys if not k.startswith("env.")
            and len({e.get(k, "<absent>") for e in experiments}) > 1]
    if not keys:
        return []
    return [
        "the cells did not all run the same experiment (differences in: {})".format(", ".join(keys[:20]))
    ]


def global_problems(loaded: Loaded) -> tuple[str, ...]:
    out: list[str] = []
    for rejected in loaded.rejected:
        out.append(f"{rejected.source}: ignored, {rejected.reason}")
    for duplicate in loaded.duplicates:
        out.append(
            f"{duplicate.cell.source}: ignored, duplicate cell id {duplicate.cell.cell} (already "
            f"read from {duplicate.kept_source})"
        )
    for cell in loaded.cells:
        if cell.status == "error":
            message = cell.error.message if cell.error else "no message"
            out.append(f"{cell.source}: cell {cell.cell} failed: {message}")
        out.extend(f"{cell.source}: {problem}" for problem in cell.problems)
    out.extend(_experiment_problems(loaded.cells))
    return tuple(out)


def compare(loaded: Loaded, reference: str | None = None) -> Aggregate:
    """Compare every variant found in any cell. ``reference`` must be a loaded cell id."""
    names = sorted({v.name for cell in loaded.cells for v in cell.variants})
    problems = list(global_problems(loaded))
    for name in names:
        problems.extend(settings_problems(name, loaded.cells))
    return Aggregate(
        loaded=loaded,
        variants=tuple(compare_variant(name, loaded.cells, reference) for name in names),
        problems=tuple(problems),
        requested_reference=reference,
    )
