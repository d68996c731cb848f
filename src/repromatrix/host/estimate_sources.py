"""Which estimate table an emulated cell's qemu uses: ``estimates = "..."`` resolved to a file.

A lab cell (or ``repromatrix run --emulate MODEL --estimates SPEC``) names its table as:

- ``"host"``: this CPU's, measured now with the cell's own probe (``cell/estimate_probe.py``);
- ``"intel-model"``: :func:`repromatrix.estimates.intel_model`, a model of Intel computed from
  Bochs's description, labelled as a model, not a measurement (it equals, bit for bit, the
  table measured on an Intel Xeon of family 6, model 167: ``GenuineIntel-6-167``);
- ``"other-vendor"``: another vendor's table than this CPU's, whatever this CPU is: the first
  shipped table measured on a CPU of another vendor whose table differs from this CPU's, else the
  Intel model on a CPU that is not Intel's. The default lab uses it, so that its emulated
  "other CPU" differs from the native one on an AMD host and on an Intel host alike;
- the name of a table shipped in ``resources/estimates/`` (measured on a real CPU: vendor, family,
  model, e.g. ``AuthenticAMD-25-17``), so that a user on one vendor can emulate another;
- a path: an artifact whose cell measured its table (a CI cell on an Intel Xeon runner), a JSON
  file in the shipped format, or a raw 49,152-byte table file.

The table is written to ``<cache>/estimates/<sha256>.bin``, which the patched qemu reads.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from repromatrix import estimates
from repromatrix.errors import UsageError
from repromatrix.files import UnreadableFile, read_bounded

# A table file is 49,152 bytes and an artifact well under a few MiB; far larger is not either.
MAX_FILE_BYTES = 64 * 2**20

OTHER_VENDOR = "other-vendor"
BUILTIN = ("host", "intel-model", OTHER_VENDOR)


@dataclass(frozen=True)
class Resolved:
    label: str  # what the fingerprint records as the table's origin (no commas: qemu's -E)
    tables: estimates.Tables


def shipped() -> dict[str, dict]:
    """The tables in ``resources/estimates/``, by name (the file name without ``.json``)."""
    folder = resources.files("repromatrix.resources").joinpath("estimates")
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            found[entry.name[:-5]] = json.loads(entry.read_text(encoding="utf-8"))
    return dict(sorted(found.items()))


def host_label() -> str:
    from repromatrix.cell.fingerprint import read_cpu

    cpu = read_cpu(platform.system(), None)
    return f"this CPU ({cpu.get('vendor') or '?'} {cpu.get('model') or '?'})"


def resolve(spec: str, base: Path | None = None) -> Resolved:
    """The table ``spec`` names (see the module's doc); UsageError for one that cannot be read."""
    if spec == "host":
        from repromatrix.cell import estimate_probe

        try:
            return Resolved(_clean(host_label()), estimate_probe.measure_tables())
        except estimate_probe.Unavailable as error:
            raise UsageError(f"estimates = \"host\": {error}") from None
    if spec == "intel-model":
        return Resolved(INTEL_MODEL_LABEL, estimates.intel_model())
    if spec == OTHER_VENDOR:
        return other_vendor()
    tables = shipped()
    if spec in tables:
        return _from_document(tables[spec], f"shipped table {spec}", spec)
    path = Path(spec)
    if base is not None and not path.is_absolute():
        path = base / path
    try:
        data = read_bounded(path, MAX_FILE_BYTES)
    except UnreadableFile as error:
        if error.kind == "missing":
            known = ", ".join([*BUILTIN, *tables])
            raise UsageError(f"estimates {spec!r}: no such file, and not one of: {known}") from None
        raise UsageError(f"estimates {spec!r}: {error.reason}") from None
    if len(data) == estimates.TABLE_BYTES:
        try:
            return Resolved(_clean(f"file {path.name}"), estimates.Tables.from_bytes(data))
        except ValueError as error:
            raise UsageError(f"estimates {spec!r}: {error}") from None
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UsageError(f"estimates {spec!r}: neither an artifact, a table JSON nor a "
                         f"{estimates.TABLE_BYTES}-byte table") from None
    return _from_document(document, f"{path.name}", spec)


INTEL_MODEL_LABEL = "intel-model (Bochs's model of Intel; not a measurement)"


def other_vendor() -> Resolved:
    """A table of another vendor than this CPU's, that differs from this CPU's (module doc)."""
    from repromatrix.cell import estimate_probe
    from repromatrix.cell.fingerprint import read_cpu

    try:
        mine = estimate_probe.measure_tables().sha256()
    except estimate_probe.Unavailable as error:
        raise UsageError(f"estimates = \"{OTHER_VENDOR}\": {error}") from None
    vendor = read_cpu(platform.system(), None).get("vendor") or ""
    for name, document in shipped().items():
        if document.get("vendor") == vendor:
            continue
        found = _from_document(document, f"{OTHER_VENDOR}: shipped table {name}", name)
        if found.tables.sha256() != mine:
            return found
    model = estimates.intel_model()
    if vendor != "GenuineIntel" and model.sha256() != mine:
        return Resolved(f"{OTHER_VENDOR}: {INTEL_MODEL_LABEL}", model)
    raise UsageError(f"estimates = \"{OTHER_VENDOR}\": no shipped table of a vendor other than "
                     f"{vendor or 'this CPU'}'s differs from this CPU's")


def _from_document(document: object, origin: str, spec: str) -> Resolved:
    """A table from an artifact (``fingerprint.cpu.estimates``) or a shipped-table document."""
    if not isinstance(document, dict):
        raise UsageError(f"estimates {spec!r}: not a JSON object")
    cpu: dict | None = None
    if "fingerprint" in document:  # an artifact
        fingerprint = document.get("fingerprint")
        found = fingerprint.get("cpu") if isinstance(fingerprint, dict) else None
        cpu = found if isinstance(found, dict) else {}
    record = cpu.get("estimates") if cpu is not None else document
    if not isinstance(record, dict) or not record.get("tables"):
        raise UsageError(f"estimates {spec!r}: records no measured estimate table (an artifact "
                         "from a cell that ran on x86_64 with this version has one)")
    if not isinstance(record.get("tables"), str):
        raise UsageError(f"estimates {spec!r}: its table is not an encoded table")
    if record.get("mismatches"):
        raise UsageError(f"estimates {spec!r}: its table does not describe that CPU's "
                         f"instructions ({record['mismatches']} checked inputs disagree)")
    try:
        tables = estimates.Tables.decode(str(record["tables"]))
    except ValueError as error:
        raise UsageError(f"estimates {spec!r}: {error}") from None
    if record.get("sha256") and record["sha256"] != tables.sha256():
        raise UsageError(f"estimates {spec!r}: its table does not match its recorded SHA-256")
    source = cpu if cpu is not None else document
    who = " ".join(str(source.get(k)) for k in ("vendor", "model") if source.get(k))
    cell = document.get("cell") if cpu is not None else None
    label = f"{origin}: {who}" if who else origin
    if cell:
        label += f" (cell {cell})"
    return Resolved(_clean(label), tables)


def _clean(label: str) -> str:
    return label.replace(",", ";")


def table_file(tables: estimates.Tables, environ: Mapping[str, str] = os.environ) -> Path:
    """The table as the file qemu reads, in the cache, named by its SHA-256 (written once)."""
    from repromatrix.emulation.debian.cache import cache_root

    path = cache_root(environ) / "estimates" / f"{tables.sha256()}.bin"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_bytes(tables.to_bytes())
        os.replace(temporary, path)
    return path
