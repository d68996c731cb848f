"""Root cause from two op traces: the first op whose inputs agree while its output does not.

The cell's op trace (``optrace.py``) lists every op output of the traced steps with a hash of
its bytes and the records its inputs came from. Two traces are aligned by (step, graph, op name,
output slot, occurrence) - not by position, since independent ops may run in another order - and
walked in the reference's execution order: the first output that differs while every input is a
traced record with identical bytes is the root cause. An output that differs because an input
differs is never blamed, and neither is one whose inputs were not traced (variable reads): no
hypothesis, only the evidence of the two streams.

Some op types are not recorded (``optrace.UNRECORDED_OP_TYPES``: grappler fuses or reorders them
in the main run only when the debugger does not watch them); a record's inputs then are the
recorded outputs those ops computed from, and ``through`` names them. Blaming such a record blames
the group: "MatMul+BiasAdd+Sigmoid", whose recorded inputs are identical.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

from repromatrix.report.differences import element_stats
from repromatrix.report.escape import clean

MAX_RECORDS = 20000  # per trace read from an artifact; more is refused (an artifact of its own)
MAX_TEXT = 200  # characters kept of any string read from a trace
MAX_THROUGH = 16  # unrecorded op types named in one record's group

# A divergence at step 0: the weights differ before any train step ran. The op trace, the probe's
# match against the train step's op set and the op set itself all describe the train step, so
# none of them can name what computed the initial weights.
INITIAL_WEIGHTS_DIFFER = "the initial weights already differ: the initializers ran differently"


def before_training_notes(differing_probe_ops: Sequence[str]) -> tuple[str, ...]:
    """What a step-0 divergence can and cannot say about its ops (raw text)."""
    ran = ("the probed ops that differ ({}) may be among them".format(", ".join(differing_probe_ops))
           if differing_probe_ops else "no probed op differs")
    return (f"{INITIAL_WEIGHTS_DIFFER}; no suspect can be named: the op set and the op trace "
            f"cover the train step, and the initializers ran before it ({ran})",)


@dataclass(frozen=True)
class OpRecord:
    step: int
    graph: str
    op_type: str
    op_name: str
    slot: int
    dtype: str
    shape: tuple[int, ...]
    sha256: str
    inputs: tuple[int | str, ...]  # an earlier record's index, or an untraced input's name
    data: bytes | None
    through: tuple[str, ...] = ()  # unrecorded op types between the inputs and this output


@dataclass(frozen=True)
class OpTrace:
    steps: tuple[int, ...]
    records: tuple[OpRecord, ...]
    reproduces_main_trail: bool | None
    absent: str | None = None  # why the cell has no trace (then records is empty)


@dataclass(frozen=True)
class RootCause:
    step: int
    op_type: str
    op_name: str
    graph: str
    phase: str  # "forward pass" | "backward pass" | "optimizer update" | "train step"
    dtype: str
    inputs_identical: bool
    elements: int | None
    elements_differing: int | None  # None when the output bytes are not in both traces
    max_ulp: int | None
    max_abs: float | None
    max_rel: float | None
    sign_changes: int | None
    through: tuple[str, ...] = ()  # unrecorded op types that computed the blamed op's inputs

    @property
    def group(self) -> str:
        """The blamed op type, or the group ("MatMul+BiasAdd+Sigmoid") when unrecorded ops fed it."""
        return "+".join(self.through + (self.op_type,))

    def reading(self) -> str:
        """e.g. "Rsqrt (Rsqrt_2) in the optimizer update, step 1: identical inputs, 37 of 1,024
        elements differ by at most 1 ULP (largest absolute difference 1.2e-07, relative 6e-08)"."""
        where = self.op_name
        if self.through:
            where += ", with the unrecorded {} before it".format(", ".join(self.through))
        head = f"{self.group} ({where}) in the {self.phase}, step {self.step:d}: identical inputs"
        if self.elements_differing is None or self.elements is None:
            return head + ", its output differs (bytes not kept: too large)"
        how = "{} of {} elements differ".format(format(self.elements_differing, ","),
                                            format(self.elements, ","))
        if self.max_ulp is not None:
            how += " by at most {} ULP".format(format(self.max_ulp, ","))
        if self.sign_changes:
            how += f", {self.sign_changes:d} across zero"
        if self.max_abs is not None:
            how += f" (largest absolute difference {self.max_abs:.3g}, relative {self.max_rel or 0.0:.3g})"
        return head + ", " + how


# --- reading a trace from an artifact ---------------------------------------------------------


def _text(value: object) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _blob(blobs: dict[str, Any], sha: str) -> bytes | None:
    text = blobs.get(sha)
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _record(raw: object, index: int, blobs: dict[str, Any]) -> OpRecord | None:
    if not isinstance(raw, dict):
        return None
    step, slot = _int(raw.get("step")), _int(raw.get("slot"))
    texts = [_text(raw.get(k)) for k in ("graph", "op_type", "op_name", "dtype", "sha256")]
    shape, inputs = raw.get("shape"), raw.get("inputs")
    if step is None or slot is None or any(t is None for t in texts):
        return None
    if not isinstance(shape, list) or any(_int(n) is None for n in shape):
        return None
    if not isinstance(inputs, list):
        return None
    refs: list[int | str] = []
    for item in inputs:
        if _int(item) is not None and 0 <= item < index:  # only earlier records
            refs.append(item)
        elif isinstance(item, str):
            refs.append(item[:MAX_TEXT])
        else:
            return None
    through = raw.get("through", [])
    if not isinstance(through, list) or len(through) > MAX_THROUGH or any(
            _text(t) is None for t in through):
        return None
    graph, op_type, op_name, dtype, sha = texts  # type: ignore[misc]
    return OpRecord(step, graph, op_type, op_name, slot, dtype, tuple(shape), sha,  # type: ignore[arg-type]
                    tuple(refs), _blob(blobs, sha), tuple(  # type: ignore[arg-type]
                        t[:MAX_TEXT] for t in through))


def parse_op_trace(value: object, where: str, problem: Callable[[str], None]) -> OpTrace | None:
    """The trace of a variant record (``op_trace``); None when absent or unusable (said so)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        problem(f"{where}: op_trace is not an object; ignored")
        return None
    if "absent" in value:
        return OpTrace((), (), None, absent=_text(value.get("absent")) or "not recorded")
    steps, records = value.get("steps"), value.get("records")
    if not isinstance(steps, list) or any(_int(s) is None for s in steps) or not isinstance(
            records, list):
        problem(f"{where}: op_trace has no valid steps and records; ignored")
        return None
    if len(records) > MAX_RECORDS:
        problem(f"{where}: op_trace has {len(records):d} records, more than {MAX_RECORDS:d}; "
                "ignored")
        return None
    blobs: dict[str, Any] = value["data"] if isinstance(value.get("data"), dict) else {}
    parsed = []
    for index, raw in enumerate(records):
        record = _record(raw, index, blobs)
        if record is None:
            problem(f"{where}: op_trace record {index:d} is malformed; the trace is ignored")
            return None
        parsed.append(record)
    reproduces = value.get("reproduces_main_trail")
    return OpTrace(tuple(steps), tuple(parsed), reproduces if isinstance(reproduces, bool) else None)


# --- alignment and blame --------------------------------------------------------------------

Key = tuple[int, str, str, int, int]  # step, graph, op name, slot, occurrence


def keys(records: Sequence[OpRecord], steps: Sequence[int]) -> list[Key | None]:
    """Each record's alignment key (None outside ``steps``)."""
    seen: dict[tuple[int, str, str, int], int] = {}
    out: list[Key | None] = []
    for record in records:
        if record.step not in steps:
            out.append(None)
            continue
        base = (record.step, record.graph, record.op_name, record.slot)
        seen[base] = seen.get(base, 0) + 1
        out.append(base + (seen[base],))
    return out


def _phase(records: Sequence[OpRecord], index: int) -> str:
    """Where in the train step an op ran, from what it consumed (records are stored in a fixed
    order, not in execution order): gradient ops are the backward pass; an op fed, directly or
    not, by a gradient is the optimizer update; an op in a layer's name scope is the forward
    pass. Otherwise it is only "the train step": an optimizer reads its slots from variables, an
    edge the trace does not record, so an unscoped op is not claimed for either side."""
    if records[index].op_name.startswith("gradient_tape/"):
        return "backward pass"
    seen = {index}
    pending = [index]
    while pending:  # a walk over the inputs; `seen` also guards against cycles in hostile input
        for source in records[pending.pop()].inputs:
            if not isinstance(source, int) or not 0 <= source < len(records) or source in seen:
                continue
            if records[source].op_name.startswith("gradient_tape/"):
                return "optimizer update"
            seen.add(source)
            pending.append(source)
    return "forward pass" if "/" in records[index].op_name else "train step"


@dataclass(frozen=True)
class Blame:
    root: RootCause | None
    notes: tuple[str, ...]


def _same_output(a: OpRecord, b: OpRecord) -> bool:
    return a.sha256 == b.sha256 and a.dtype == b.dtype and a.shape == b.shape


def find_root_cause(ref: OpTrace | None, other: OpTrace | None, names: tuple[str, str],
                    first_divergent: int | None, rerun: str) -> Blame:
    """Blame one op, or say why none is blamed. ``names`` are the two cells' ids (raw);
    ``rerun`` is the command that traces another step, with ``{step}`` to fill in."""
    notes: list[str] = []
    traces = (ref, other)
    if ref is None and other is None:
        return Blame(None, ())
    if first_divergent == 0:  # nothing the traced train step computed is to blame
        traced = all(t is not None and t.absent is None for t in traces)
        return Blame(None, ("the op trace covers the train step, which started from weights "
                            "that already differ, so no op is blamed",) if traced else ())
    for name, trace in zip(names, traces):
        if trace is None:
            notes.append(f"no op trace for {name}, so no root cause")
        elif trace.absent is not None:
            notes.append(f"no op trace for {name} ({trace.absent}), so no root cause")
        elif trace.reproduces_main_trail is False:
            notes.append(f"the traced pass of {name} did not reproduce its main run's trail (the "
                         "debugger's instrumentation kept grappler from rewriting the graph as "
                         "in the main run); the root cause is that of the traced pass's graph")
    if ref is None or other is None or ref.absent is not None or other.absent is not None:
        return Blame(None, tuple(notes))
    steps = sorted(set(ref.steps) & set(other.steps))
    if not steps:
        notes.append("the two op traces cover different steps, so no root cause")
        return Blame(None, tuple(notes))
    ref_keys, other_keys = keys(ref.records, steps), keys(other.records, steps)
    theirs = {key: i for i, key in enumerate(other_keys) if key is not None}
    only_ref = [k for k in ref_keys if k is not None and k not in theirs]
    only_other = len(theirs) - (len([k for k in ref_keys if k is not None]) - len(only_ref))
    mismatched = [k for i, k in enumerate(ref_keys) if k in theirs and (
        ref.records[i].op_type != other.records[theirs[k]].op_type
        or ref.records[i].through != other.records[theirs[k]].through
        or len(ref.records[i].inputs) != len(other.records[theirs[k]].inputs))]
    if only_ref or only_other or mismatched:
        notes.append(f"the op traces come from different graphs ({len(only_ref):d} op outputs only "
                     f"in {names[0]}, {only_other:d} only "
                     f"in {names[1]}, {len(mismatched):d} with another op type or inputs), so no "
                     "op is blamed")
        return Blame(None, tuple(notes))
    first_unverified: int | None = None
    for i, key in enumerate(ref_keys):
        if key is None:
            continue
        mine, their = ref.records[i], other.records[theirs[key]]
        if _same_output(mine, their):
            continue
        verdicts: list[bool | None] = []
        for item in mine.inputs:
            input_key = None if isinstance(item, str) else ref_keys[item]
            if isinstance(item, str) or input_key is None or input_key not in theirs:
                verdicts.append(None)  # not traced: cannot be checked
            else:
                verdicts.append(_same_output(ref.records[item],
                                             other.records[theirs[input_key]]))
        if all(v is True for v in verdicts):
            return Blame(_root(ref.records, i, their), tuple(notes))
        if first_unverified is None and None in verdicts and False not in verdicts:
            first_unverified = i
    if first_unverified is not None:
        r = ref.records[first_unverified]
        notes.append(f"the first differing output in the traced steps is {r.op_type} ({r.op_name}) "
                     f"at step {r.step:d}, whose "
                     "inputs were not traced (e.g. variable reads), so no op is blamed")
    elif first_divergent is not None and first_divergent > steps[-1]:
        command = rerun.replace("{step}", str(first_divergent))
        notes.append(f"the first divergent step ({first_divergent:d}) lies beyond the traced "
                     f"steps ({_span(steps)}); trace it: {command}")
    elif first_divergent is not None and first_divergent >= 1:
        notes.append(f"no op output differs in the traced steps ({_span(steps)}) although the "
                     "weights differ "
                     f"from step {first_divergent:d}")
    return Blame(None, tuple(notes))


def rerun_command(variant: str, reference: str, other: str) -> str:
    """The command that traces one step (``{step}``), to run on both machines (raw text)."""
    import shlex

    return f"nox -s repro -- --variant {shlex.quote(variant)} --trace-step {{step}} (on {reference} and on {other})"


def _span(steps: Sequence[int]) -> str:
    return str(steps[0]) if len(steps) == 1 else f"{steps[0]:d}-{steps[-1]:d}"


def _root(records: Sequence[OpRecord], index: int, their: OpRecord) -> RootCause:
    mine = records[index]
    stats = None
    if mine.data is not None and their.data is not None and mine.dtype == their.dtype:
        stats = element_stats(mine.data, their.data, mine.dtype)
    return RootCause(
        step=mine.step, op_type=mine.op_type, op_name=mine.op_name, graph=mine.graph,
        phase=_phase(records, index), dtype=mine.dtype, inputs_identical=True,
        elements=stats.elements if stats else None,
        elements_differing=stats.differing if stats else None,
        max_ulp=stats.max_ulp if stats else None, max_abs=stats.max_abs if stats else None,
        max_rel=stats.max_rel if stats else None,
        sign_changes=stats.sign_changes if stats else None, through=mine.through)


def root_cause_json(root: RootCause | None) -> dict[str, Any] | None:
    """The aggregate JSON's ``root_cause`` (raw strings; the JSON encoder escapes them)."""
    if root is None:
        return None
    return {
        "step": root.step, "op_type": root.group, "op_name": root.op_name,
        "through": list(root.through),
        "graph": root.graph, "phase": root.phase, "dtype": root.dtype,
        "inputs_identical": root.inputs_identical, "elements": root.elements,
        "elements_differing": root.elements_differing, "max_ulp": root.max_ulp,
        "max_abs_diff": root.max_abs, "max_rel_diff": root.max_rel,
        "sign_changes": root.sign_changes, "reading": root.reading(),
    }


def root_cause_line(root: RootCause) -> str:
    """The reading, escaped and bounded for a table or a PR comment."""
    return clean(root.reading(), 400)
