"""The platform facts shipped in ``resources/platforms.toml``, read once at import.

Data, not code: which GitHub-hosted labels exist and what they run, where the pinned Python and
wheels are missing, and what pip sees on each ``<os>-<arch>`` (wheel tags, marker values). The
matrix loader (config/matrix.py) and preflight (host/preflight.py) take their tables from here.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # imported on the pinned Python 3.9 too, through the matrix loader
    import tomli as tomllib

from repromatrix import resources

PATH = resources.path("platforms.toml")


def _load() -> dict[str, Any]:
    return tomllib.loads(PATH.read_text(encoding="utf-8"))


_FACTS = _load()

HOSTED_LABELS: Mapping[str, tuple[str, str]] = {
    label: (os, arch) for label, (os, arch) in _FACTS["hosted_labels"].items()}
RETIRED_LABELS: Mapping[str, str] = dict(_FACTS["retired_labels"])
MOVING_LABELS: Mapping[str, str] = dict(_FACTS["moving_labels"])
EXACT_PYTHON: Mapping[str, Mapping[str, frozenset[str]]] = {
    version: {source: frozenset(platforms) for source, platforms in sources.items()}
    for version, sources in _FACTS["exact_python"].items()}
NO_PYTHON_MINOR: Mapping[str, frozenset[str]] = {
    minor: frozenset(platforms) for minor, platforms in _FACTS["no_python_minor"].items()}
# (distribution, version) -> platform -> the distribution to pin there instead, or None if the
# platform has no build of it under any name.
WHEEL_GAPS: Mapping[tuple[str, str], Mapping[str, str | None]] = {
    (gap["distribution"], gap["version"]): {p["platform"]: p.get("use") for p in gap["platforms"]}
    for gap in _FACTS["wheel_gaps"]}
PLATFORM_TAGS: Mapping[str, tuple[str, ...]] = {
    platform: tuple(tags) for platform, tags in _FACTS["platform_tags"].items()}
MARKER_ENV: Mapping[str, Mapping[str, str]] = {
    platform: dict(markers) for platform, markers in _FACTS["marker_env"].items()}
