"""Reading artifact files into validated records, without ever raising on bad input.

Artifacts arrive from many CI jobs; one truncated upload or a cell from an older schema
must not hide the results of all the others. So every function here turns bad input into a
``Rejected`` entry or a problem string attached to the cell, and the report shows it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from repromatrix.artifact import KIND_CELL, KIND_SUMS, SCHEMA  # noqa: E402 - one definition
from repromatrix.files import UnreadableFile, read_bounded
from repromatrix.floats import dtype_itemsize, to_f32
from repromatrix.report.model import (
    CellRecord,
    Duplicate,
    ErrorInfo,
    Loaded,
    ProbeRecord,
    Rejected,
    Settings,
    TensorRecord,
    Trail,
    VariantRecord,
)
from repromatrix.report.root_cause import parse_op_trace

KINDS = {KIND_CELL: "cell", KIND_SUMS: "sums"}
MAX_FILE_BYTES = 256 * 1024 * 1024  # far above a real artifact; stops a runaway file
MAX_PROBLEMS_PER_FILE = 30
MAX_FLAT_KEYS = 2000
MAX_DEPTH = 8
MAX_ID_CHARS = 1000


def source_sort_key(source: str) -> tuple[str, str]:
    """File name first, so 'first by file name order' does not depend on the folder given."""
    return (os.path.basename(source), source)


def expand_paths(paths: Iterable[str | Path]) -> tuple[list[str], list[str]]:
    """Files to read (folders give their ``*.json``, non-recursively) and paths that are missing.

    The result is deduplicated by real path and sorted by file name, so the order of the
    arguments never changes the output.
    """
    files: dict[str, str] = {}
    missing: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            try:
                found = [p for p in path.iterdir() if p.suffix == ".json" and p.is_file()]
            except OSError:
                missing.append(path.as_posix())
                continue
            for child in found:
                files.setdefault(os.path.realpath(child), child.as_posix())
        elif path.exists():
            files.setdefault(os.path.realpath(path), path.as_posix())
        else:
            missing.append(path.as_posix())
    return sorted(files.values(), key=source_sort_key), sorted(missing)


def decode_bytes(raw: bytes) -> tuple[str, list[str]]:
    """Text of a file: UTF-8 (BOM tolerated), UTF-16 with BOM (PowerShell '>' writes it).

    Undecodable bytes are replaced rather than rejected, so one bad byte in a log tail
    does not lose a whole cell; the replacement is reported.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), ["file is UTF-16; artifacts should be UTF-8"]
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", errors="replace")
        return text, [f"non-UTF-8 bytes (first at offset {exc.start:d}) were replaced"]


class _Problems:
    """Collects problems for one file, bounded so a hostile file cannot flood the report."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS_PER_FILE:
            self.items.append(message)
        else:
            self.dropped += 1

    def result(self) -> tuple[str, ...]:
        extra = [f"... and {self.dropped:d} more problems"] if self.dropped else []
        return tuple(self.items + extra)


# JSON has no NaN or infinity: the runner writes non-finite floats as these strings.
NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _is_number(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        isinstance(value, str) and value in NON_FINITE)


def _number(value: Any) -> float:
    """A JSON number, or one of the runner's non-finite strings, as a float."""
    return NON_FINITE[value] if isinstance(value, str) else float(value)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# Bulk data compared through its digest: the estimate tables (12 KiB, compressed), whose
# SHA-256 ``cpu.estimates.sha256`` is the fingerprint's key.
UNCOMPARED = frozenset({"cpu.estimates.tables"})


# Digests compared and shown by their first 16 hex digits (64 bits: still one table each, and a
# 64-digit value would be the widest cell of every fingerprint table in a PR comment).
SHORTENED = frozenset({"cpu.estimates.sha256", "cpu.qemu.estimates_sha256"})


def _shortened(item: tuple[str, object]) -> tuple[str, object]:
    key, leaf = item
    if key in SHORTENED and isinstance(leaf, str) and len(leaf) > 18:
        return key, _leaf(json.loads(leaf)[:16]) if leaf.startswith('"') else leaf[:16]
    return item


def _leaf(value: object) -> str:
    """Canonical text of a JSON value, so equality never depends on NaN or key order."""
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def flatten(value: object, prefix: str = "", depth: int = 0) -> list[tuple[str, object]]:
    """Nested dicts to sorted ``(dotted.key, leaf)``; lists of scalars become tuples."""
    if isinstance(value, dict) and depth < MAX_DEPTH:
        out: list[tuple[str, object]] = []
        for key in sorted(value):
            out.extend(flatten(value[key], f"{prefix}.{key}" if prefix else key, depth + 1))
            if len(out) > MAX_FLAT_KEYS:
                break
        return out[:MAX_FLAT_KEYS]
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return [(prefix, tuple(sorted(_leaf(v) for v in value)))]
    return [(prefix, _leaf(value))]


def _sums(value: object, what: str, problems: _Problems) -> tuple[float, ...] | None:
    """A vector of float32 sums, rounded to float32; None (with a problem) if unusable."""
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(_is_number(v) for v in value):
        problems.add(f"{what} is not a list of numbers")
        return None
    out = []
    for number in value:
        try:
            as_float = _number(number)
        except OverflowError:  # an integer too large even for float64
            as_float = math.inf if number > 0 else -math.inf
        rounded = to_f32(as_float)
        # Beyond float32 range the value is shown as infinite, which is what float32 holds.
        out.append(math.copysign(math.inf, as_float) if rounded is None else rounded)
    if not all(math.isfinite(v) for v in out):
        problems.add(f"{what} contain NaN or infinite values")
    return tuple(out)


def _error_info(value: object) -> ErrorInfo | None:
    if not isinstance(value, dict):
        return None
    message = value.get("message")
    log_tail = value.get("log_tail")
    return ErrorInfo(
        message=message if isinstance(message, str) else _leaf(message),
        log_tail=log_tail if isinstance(log_tail, str) else "",
    )


def _tensor(value: object, where: str, problems: _Problems) -> TensorRecord | None:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        problems.add(f"{where}: tensor entry without a name")
        return None
    name = value["name"]
    shape_raw = value.get("shape")
    shape: tuple[int, ...] = ()
    if isinstance(shape_raw, list) and all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40 for d in shape_raw
    ):
        shape = tuple(shape_raw)
    else:
        problems.add(f"{where}: tensor {name} has no valid shape")
    dtype = value.get("dtype", "float32")
    if not isinstance(dtype, str):
        problems.add(f"{where}: tensor {name} dtype is not a string")
        dtype = "?"
    itemsize = dtype_itemsize(dtype) or 1  # an unknown dtype: its data is kept, not measured
    data = None
    if isinstance(value.get("data"), str):
        try:
            data = base64.b64decode(value["data"], validate=True)
        except (binascii.Error, ValueError):
            problems.add(f"{where}: tensor {name} data is not valid base64")
        count = 1
        for dim in shape:
            count *= dim
        if data is not None and (len(data) % itemsize or (shape and len(data) != itemsize * count)):
            problems.add(f"{where}: tensor {name} data does not match its shape")
            data = None
    return TensorRecord(name=name, shape=shape, sha256=_str_or_none(value.get("sha256")), data=data,
                        dtype=dtype)


def _trail(value: object, where: str, problems: _Problems) -> Trail | None:
    if value is None:
        return None
    digests = _dict(value).get("digest")
    if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests) or not digests:
        problems.add(f"{where}: trail.digest is not a list of strings")
        return None
    sums_raw = _dict(value).get("sum")
    sums: tuple[float, ...] = ()
    if isinstance(sums_raw, list) and all(_is_number(s) for s in sums_raw):
        try:
            sums = tuple(_number(s) for s in sums_raw)
        except OverflowError:
            sums = ()
    if len(sums) != len(digests):
        problems.add(f"{where}: trail.sum does not have one entry per trail.digest")
    steps = _dict(value).get("steps")
    if _is_number(steps) and steps != len(digests) - 1:
        problems.add(
            f"{where}: trail.steps is {_leaf(steps)} but trail.digest has {len(digests):d} entries"
        )
    return Trail(digests=tuple(digests), sums=sums)


def _settings(value: object, where: str, problems: _Problems) -> Settings | None:
    """The variant's ``settings`` as sorted (key, canonical JSON text); None if absent.

    Mistyped known fields are noted but kept (shown as their JSON text), so a report still
    says what the artifact claims.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.add(f"{where}: settings is not an object")
        return None
    checks = (
        ("optimizer", lambda v: isinstance(v, str), "a string"),
        (
            "env",
            lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
            "an object of strings",
        ),
        (
            "threads",
            lambda v: (
                v is None
                or (
                    isinstance(v, dict)
                    and all(isinstance(x, int) and not isinstance(x, bool) for x in v.values())
                )
            ),
            "null or an object of integers",
        ),
        ("op_determinism", lambda v: isinstance(v, bool), "true or false"),
    )
    for key, valid, what in checks:
        if key in value and not valid(value[key]):
            problems.add(f"{where}: settings.{key} is not {what}")
    return tuple(sorted((str(key), _leaf(item)) for key, item in value.items()))


# A variant record's objects about its own process's backend (cell/keras3.py variant_fields).
BACKEND_OBJECTS = ("jax", "keras", "torch")


def _variant(name: str, value: object, kind: str, problems: _Problems) -> VariantRecord:
    where = f"variant {json.dumps(name, ensure_ascii=False)}"
    if not isinstance(value, dict):
        problems.add(f"{where} is not an object")
        return VariantRecord(
            name,
            "invalid",
            None,
            None,
            None,
            None,
            (),
            (),
            ErrorInfo("variant is not an object", ""),
        )
    status = value.get("status")
    if status not in ("ok", "error"):
        if kind == "cell" or status is not None:
            problems.add(
                f'{where}: status {_leaf(status)} is not "ok" or "error"; treated as ok'
            )
        status = "ok"
    sums = _dict(value.get("weight_sums"))
    before = _sums(sums.get("before"), where + ": before sums", problems)
    after = _sums(sums.get("after"), where + ": after sums", problems)
    if status == "ok" and after is None and "after" not in sums:
        problems.add(f"{where}: weight_sums.after is missing")
    digest = value.get("digest")
    if digest is not None and (
        not isinstance(digest, str) or not digest or len(digest) > MAX_ID_CHARS
    ):
        problems.add(f"{where}: digest is not a string")
        digest = None
    tensors_raw = value.get("tensors")
    tensors: list[TensorRecord] = []
    if isinstance(tensors_raw, list):
        for entry in tensors_raw:
            tensor = _tensor(entry, where, problems)
            if tensor is not None:
                tensors.append(tensor)
    elif tensors_raw is not None:
        problems.add(f"{where}: tensors is not a list")
    ops_raw = value.get("train_step_ops")
    ops: tuple[str, ...] = ()
    if isinstance(ops_raw, list) and all(isinstance(op, str) for op in ops_raw):
        ops = tuple(sorted(set(ops_raw)))
    elif ops_raw is not None:
        problems.add(f"{where}: train_step_ops is not a list of strings")
    return VariantRecord(
        name=name,
        status=status,
        before=before,
        after=after,
        digest=digest,
        trail=_trail(value.get("trail"), where, problems),
        tensors=tuple(tensors),
        train_step_ops=ops,
        error=_error_info(value.get("error")),
        settings=_settings(value.get("settings"), where, problems),
        # Present but unusable gives an empty probe (no suspects named) rather than falling
        # back to the cell's probe, which was run in a different environment.
        probe=None if value.get("probe") is None else _probe(value["probe"], problems, where),
        op_trace=parse_op_trace(value.get("op_trace"), where, problems.add),
        loss=_loss(value.get("loss")),
        backend_fields=tuple(flatten({key: value[key] for key in BACKEND_OBJECTS
                                      if isinstance(value.get(key), dict)})),
    )


def _loss(value: object) -> float | None:
    """The recorded final loss; anything but a number (older artifacts: absent) is unknown."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _probe(value: object, problems: _Problems, where: str = "") -> tuple[ProbeRecord, ...]:
    prefix = where + ": " if where else ""
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(prefix + "probe is not a list")
        return ()
    out = []
    for entry in value:
        entry = _dict(entry)
        op, case, sha = entry.get("op"), entry.get("case"), entry.get("sha256")
        if isinstance(op, str) and isinstance(case, str) and isinstance(sha, str):
            out.append(ProbeRecord(op=op, case=case, sha256=sha))
        else:
            problems.add(prefix + "probe entry without op, case and sha256 ignored")
    return tuple(out)


def _drift(value: object, problems: _Problems) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add("drift is not a list")
        return ()
    out = []
    for entry in value:
        if isinstance(entry, dict):
            out.append(
                "{}: {} -> {}".format(
                    _leaf(entry.get("name")).strip('"'),
                    _leaf(entry.get("pinned")).strip('"'),
                    _leaf(entry.get("found")).strip('"'),
                )
            )
        else:
            out.append(_leaf(entry))
    return tuple(sorted(out))


def _check_estimates(cpu: dict[str, Any], problems: _Problems) -> None:
    """An emulated cell given an estimate table must have measured that table: else its qemu did
    not apply it (a qemu without the estimates patch), and the cell is not the CPU it names."""
    given = _dict(cpu.get("qemu")).get("estimates_sha256")
    measured = _dict(cpu.get("estimates")).get("sha256")
    if isinstance(given, str) and given and given != measured:
        problems.add(f"its emulator was given the estimate table {given[:12]} but computed "
                     f"{str(measured)[:12] if measured else 'no table'}: that qemu does not "
                     "apply estimate tables, so the cell is not the CPU it names")


def _machine(fingerprint: dict[str, Any], pins: dict[str, Any]) -> dict[str, Any]:
    """The few fingerprint fields shown as table columns, as display strings."""
    os_info = _dict(fingerprint.get("os"))
    cpu = _dict(fingerprint.get("cpu"))
    distro = _str_or_none(os_info.get("distro"))
    system = " ".join(
        s for s in (_str_or_none(os_info.get("system")), _str_or_none(os_info.get("release"))) if s
    )
    python = _str_or_none(_dict(fingerprint.get("python")).get("version"))
    emulated = cpu.get("emulated")
    return {
        "os": distro or system,
        "arch": _str_or_none(fingerprint.get("arch")) or "",
        "cpu": _str_or_none(cpu.get("model")) or _str_or_none(cpu.get("vendor")) or "",
        "python": python or _str_or_none(pins.get("python")) or "",
        "emulated": None if emulated in (None, False, "") else _leaf(emulated).strip('"'),
    }


def parse_artifact(
    text: str, source: str, early: Sequence[str] = ()
) -> CellRecord | Rejected:
    """One artifact's text to a ``CellRecord``, or a ``Rejected`` saying why it cannot be used."""
    problems = _Problems()
    for message in early:
        problems.add(message)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return Rejected(source, f"not valid JSON ({str(exc)[:200]})")
    if not isinstance(data, dict):
        return Rejected(source, "not a JSON object")
    schema = data.get("schema")
    if schema != SCHEMA or isinstance(schema, bool) or not isinstance(schema, int):
        return Rejected(
            source,
            f"unsupported schema {_leaf(schema)[:40]} (this aggregator reads schema {SCHEMA:d})",
        )
    kind_raw = data.get("kind")
    kind = KINDS.get(kind_raw) if isinstance(kind_raw, str) else None
    if kind is None:
        return Rejected(source, "unknown kind {}".format(_leaf(data.get("kind"))[:80]))
    cell = data.get("cell")
    if not isinstance(cell, str) or not cell.strip() or len(cell) > MAX_ID_CHARS:
        return Rejected(source, "missing or invalid cell id")
    status = data.get("status", "ok" if kind == "sums" else None)
    if status not in ("ok", "error"):
        problems.add(f'status {_leaf(status)[:40]} is not "ok" or "error"; treated as ok')
        status = "ok"
    fingerprint = data.get("fingerprint")
    if not isinstance(fingerprint, dict):
        if status != "error":  # a failed cell is one problem ("cell ... failed"), not two
            problems.add("fingerprint is missing")
        fingerprint = {}
    variants_raw = data.get("variants")
    variants: list[VariantRecord] = []
    if isinstance(variants_raw, dict):
        for name in sorted(variants_raw):
            if not name.strip() or len(name) > MAX_ID_CHARS:
                problems.add("a variant with an empty or overlong name was ignored")
                continue
            variants.append(_variant(name, variants_raw[name], kind, problems))
    elif status == "ok" or variants_raw is not None:
        problems.add("variants is missing or not an object")
    machine = _machine(fingerprint, _dict(data.get("pins")))
    _check_estimates(_dict(fingerprint.get("cpu")), problems)
    runner_label = data.get("runner_label")
    return CellRecord(
        cell=cell,
        source=source,
        kind=kind,
        status=status,
        runner_label=runner_label if isinstance(runner_label, str) else None,
        os=machine["os"],
        arch=machine["arch"],
        cpu=machine["cpu"],
        python=machine["python"],
        drift=_drift(data.get("drift"), problems),
        emulated=machine["emulated"],
        fingerprint=tuple(_shortened(item) for item in flatten(fingerprint)
                          if item[0] not in UNCOMPARED),
        experiment=tuple(flatten(_dict(data.get("experiment")))),
        probe=_probe(data.get("probe"), problems),
        variants=tuple(variants),
        error=_error_info(data.get("error")),
        problems=problems.result(),
    )


def read_file(source: str) -> CellRecord | Rejected:
    """Read and parse one file; I/O errors become a ``Rejected`` entry."""
    try:  # a regular file only (a FIFO would hang, /dev/zero never end), read up to the bound
        raw = read_bounded(source, MAX_FILE_BYTES)
    except UnreadableFile as exc:
        return Rejected(source, exc.reason)
    text, early = decode_bytes(raw)
    return parse_artifact(text, source, early)


def collect(parsed: Iterable[CellRecord | Rejected]) -> Loaded:
    """Sort by file name, keep the first cell of each id, mark the others as duplicates."""
    ordered = sorted(parsed, key=lambda item: source_sort_key(item.source))
    kept: dict[str, CellRecord] = {}
    duplicates: list[Duplicate] = []
    rejected: list[Rejected] = []
    for item in ordered:
        if isinstance(item, Rejected):
            rejected.append(item)
        elif item.cell in kept:
            duplicates.append(Duplicate(cell=item, kept_source=kept[item.cell].source))
        else:
            kept[item.cell] = item
    return Loaded(
        cells=tuple(sorted(kept.values(), key=lambda c: c.cell)),
        duplicates=tuple(duplicates),
        rejected=tuple(rejected),
    )


def load(files: Iterable[str]) -> Loaded:
    """Read every file (already expanded) into one ``Loaded``; never raises on file content."""
    return collect(read_file(source) for source in files)
