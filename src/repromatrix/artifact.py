"""The per-cell artifact: building, writing and the error artifact of a failed cell.

The format is documented in docs/artifact.md. Output is canonical JSON (sorted keys, fixed
indentation, trailing newline), so equal results are equal bytes; everything that varies from
run to run by nature (durations, the start time) is confined to the top-level ``timing`` object.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only a type here: the artifact format imports no layer
    from repromatrix.config.matrix import Pins

SCHEMA = 1
KIND_CELL = "repromatrix-cell"
KIND_SUMS = "repromatrix-sums"  # sums-only input, e.g. the original report's machines
LOG_TAIL_LINES = 60


def dumps(document: Mapping[str, Any]) -> str:
    """Canonical JSON. NaN and infinities are refused: they would make invalid JSON for readers."""
    return json.dumps(document, sort_keys=True, indent=1, allow_nan=False, ensure_ascii=False) + "\n"


def write(path: Path, document: Mapping[str, Any]) -> None:
    """Write atomically: a reader (or a crash) never sees half an artifact. An error names
    ``path``, never the temporary file next to it (a full disk says which file it cost)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(json_safe(document))
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise _naming(path, error) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide artifacts from other users
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _naming(path, error) from None
        raise


def _naming(path: Path, error: OSError) -> OSError:
    """The same error about ``path`` (a write error carries no file name at all)."""
    return OSError(error.errno, error.strerror or str(error), str(path))


def json_safe(value: Any) -> Any:
    """Replace non-finite floats by strings ("nan", "inf", "-inf"): NaN and Infinity are not JSON,
    strict parsers reject them, and a diverged loss is a result, not a crash."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def drift(pins: Pins, platform_key: str, python_version: str,
          installed: Mapping[str, str | None]) -> list[dict[str, str | None]]:
    """Every pinned item whose installed version differs from its pin, sorted by name."""
    found: list[dict[str, str | None]] = [
        {"name": "python", "pinned": pins.python, "found": python_version}]
    for line in pins.requirements(platform_key):
        name, _, version = line.partition("==")
        found.append({"name": name, "pinned": version, "found": installed.get(name)})
    return sorted((item for item in found if item["pinned"] != item["found"]),
                  key=lambda item: str(item["name"]))


def cell_document(
    *,
    cell: str,
    runner_label: str | None,
    experiment: Mapping[str, Any],
    pins: Pins,
    drift_items: list[dict[str, str | None]],
    fingerprint: Mapping[str, Any],
    variants: Mapping[str, Any],
    probe: list[dict[str, str]],
    timing: Mapping[str, Any],
    error: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": KIND_CELL,
        "status": "error" if error else "ok",
        "cell": cell,
        "runner_label": runner_label,
        "experiment": dict(experiment),
        "pins": {"python": pins.python, "packages": dict(pins.packages)},
        "drift": drift_items,
        "fingerprint": dict(fingerprint),
        "variants": dict(variants),
        "probe": probe,
        "error": dict(error) if error else None,
        "timing": dict(timing),
    }


def log_tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def error_document(cell: str, runner_label: str | None, message: str, log: str,
                   step: str | None = None,
                   fingerprint: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The artifact of a cell that produced no results: what failed (``step``: the workflow
    step's id, when known), the end of its log, and the machine as the host side saw it."""
    error: dict[str, Any] = {
        "message": message.strip().splitlines()[0] if message.strip() else "failed",
        "log_tail": log_tail(log)}
    if step is not None:
        error["step"] = step
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": KIND_CELL,
        "status": "error",
        "cell": cell,
        "runner_label": runner_label,
        "error": error,
        "variants": {},
        "timing": {},
    }
    if fingerprint is not None:
        document["fingerprint"] = dict(fingerprint)
    return document


def is_cell_artifact(path: Path) -> bool:
    """True when ``path`` already holds a readable artifact of this schema (kept, not replaced)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("schema") == SCHEMA and \
        document.get("kind") == KIND_CELL
