"""The defaults layer under a user's ``matrix.toml`` (the cibuildwheel pattern).

Precedence, lowest first: ``resources/defaults.toml`` shipped in the package, then the user's
file, then environment variables (read where they apply). The merge works on the raw TOML data,
before validation, so the loader checks one document and every problem in what the user wrote
still points at its line. A table the user writes replaces the default one as a whole (their
``[[runners]]`` replace the default runner set); only ``[lab]`` is merged key by key.

Runs inside the pinned venv too (the cell runner loads the matrix): Python 3.9, stdlib only.
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from repromatrix import resources

if sys.version_info >= (3, 11):
    import tomllib
else:  # the runner imports this module inside the pinned Python 3.9 venv
    import tomli as tomllib

DEFAULTS_PATH = resources.path("defaults.toml")


def load_defaults(path: Path = DEFAULTS_PATH) -> dict[str, Any]:
    """The package's defaults file, parsed (a broken install is a bug, so no friendly error)."""
    return tomllib.loads(path.read_text(encoding="utf-8"))


def apply_defaults(doc: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
    """The user's document with every table they left out filled in from the defaults.

    Values of the wrong type are left as they are for the loader to report; nothing the user
    wrote is changed, only missing keys are added.
    """
    defaults = load_defaults() if defaults is None else defaults
    merged = copy.deepcopy(dict(doc))
    experiment = merged.get("experiment")
    experiment = experiment if isinstance(experiment, dict) else {}
    builtin = "entry" not in experiment
    if "variants" not in merged:
        kind = defaults["builtin"] if builtin else defaults["entry"]
        merged["variants"] = copy.deepcopy(kind["variant"])
        if builtin and "variants" not in experiment and isinstance(merged.get("experiment"), dict):
            merged["experiment"]["variants"] = list(defaults["builtin"]["variants"])
    if "runners" not in merged:
        merged["runners"] = copy.deepcopy(defaults["runners"])
        merged.setdefault("excluded", copy.deepcopy(defaults["excluded"]))
    lab = merged.get("lab", {})
    if isinstance(lab, dict):
        merged["lab"] = {**copy.deepcopy(defaults["lab"]), **lab}
        chosen = merged["experiment"].get("variants") if isinstance(
            merged.get("experiment"), dict) else None
        if "variants" not in lab and isinstance(chosen, list):
            merged["lab"]["variants"] = list(chosen)  # the lab runs what the experiment runs
    derived = derived_platforms(_pinned_packages(merged), defaults["facts"])
    platforms = merged.get("platforms", {})
    if derived and isinstance(platforms, dict):
        merged["platforms"] = {**derived, **platforms}
    return merged


def _pinned_packages(doc: Mapping[str, Any]) -> dict[str, str]:
    pins = doc.get("pins")
    packages = pins.get("packages") if isinstance(pins, dict) else None
    if not isinstance(packages, dict):
        return {}
    return {name: version for name, version in packages.items() if isinstance(version, str)}


def derived_platforms(packages: Mapping[str, str], facts: list[Mapping[str, str]]
                      ) -> dict[str, dict[str, Any]]:
    """``[platforms.<os>-<arch>]`` tables that follow from the pins and the known facts."""
    platforms: dict[str, dict[str, Any]] = {}
    for fact in facts:
        version = packages.get(fact["package"])
        if version is None or not _in_range(version, fact.get("from"), fact.get("below")):
            continue
        table = platforms.setdefault(fact["platform"], {})
        if "replace" in fact:
            table.setdefault("replace", {})[fact["package"]] = fact["replace"]
        if "pulls" in fact:
            table.setdefault("pulls", []).append(fact["pulls"])
    return dict(sorted(platforms.items()))


def _in_range(version: str, low: str | None, below: str | None) -> bool:
    key = _release(version)
    if key is None:  # not a plain release: no known facts apply
        return False
    # the facts' bounds are plain releases, so their keys are never None
    return ((low is None or key >= cast("tuple[int, ...]", _release(low)))
            and (below is None or key < cast("tuple[int, ...]", _release(below))))


def _release(version: str) -> tuple[int, ...] | None:
    """``(2, 12, 0)`` for ``2.12.0`` (pre-releases and local tags compare as their release)."""
    match = re.match(r"^(\d+(?:\.\d+)*)", version)
    return tuple(int(part) for part in match.group(1).split(".")) if match else None
