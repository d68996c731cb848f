"""The remedy search's logic: which runs a divergence needs, and what each candidate achieved.

For a variant whose cells disagree, each candidate (remedy_candidates.py) becomes a variant of
its own, run on every cell of that variant's comparison. A cell whose artifacts already hold a
result with the same effective settings (the same settings, the cell's environment combined with
the variant's as environment.combine does, and for a user experiment the same variant name its
function sees) is not run again: that result is the candidate's there (the adam candidate of the
default optimizer is the adam variant, already trained; ``TF_ENABLE_ONEDNN_OPTS=0`` on a cell
that has it is the original). A candidate is then:

- **verified**: every cell of the comparison has one digest;
- **partial**: fewer groups than before (the comparisons it reconciles are named);
- **no effect**: the same groups; **regrouped**: as many groups, split otherwise;
  **worse**: more groups;
- **failed**: a cell could not run it, or ran it and failed (never verified);
- **not run**: a cell is not one this machine can run (a CI runner's): the lines to try it in CI.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from repromatrix import environment
from repromatrix.host.remedy_candidates import KERAS2, Candidate, Finding
from repromatrix.model import Variant

VERIFIED, PARTIAL, NO_EFFECT, REGROUPED, WORSE, FAILED, NOT_RUN = (
    "verified", "partial", "no effect", "regrouped", "worse", "failed", "not run")
ORDER = (VERIFIED, PARTIAL, NO_EFFECT, REGROUPED, WORSE, FAILED, NOT_RUN)


@dataclass(frozen=True)
class Result:
    """One variant's outcome in one cell, from an artifact."""

    digest: str | None  # None: it failed
    seconds: float | None  # its training time (the artifact's timing, op trace included)
    loss: float | None
    error: str | None = None
    source: str = ""  # the artifact and variant it came from


@dataclass(frozen=True)
class Pair:
    """One comparison of the divergence: the reference group against another."""

    reference: tuple[str, ...]
    other: tuple[str, ...]
    finding: Finding

    def label(self) -> str:
        return f"{', '.join(self.other)} vs {', '.join(self.reference)}"


@dataclass(frozen=True)
class Divergence:
    variant: Variant
    stack: str
    builtin: bool
    groups: tuple[tuple[str, ...], ...]  # the partition of the compared cells, reference first
    pairs: tuple[Pair, ...]

    @property
    def cells(self) -> tuple[str, ...]:
        return tuple(sorted(c for g in self.groups for c in g))


@dataclass(frozen=True)
class Outcome:
    variant: str
    candidate: Candidate
    verdict: str
    groups: tuple[tuple[str, ...], ...] = ()  # the cells' partition with the candidate
    reconciled: tuple[str, ...] = ()  # Pair labels whose cells now agree
    reused: tuple[str, ...] = ()  # cells whose result an earlier run already had
    unchanged: tuple[str, ...] = ()  # cells where it changes nothing (the original's settings)
    time_ratio: float | None = None  # median over cells of candidate / original training time
    loss_change: float | None = None  # final loss with it minus without, reference cell
    detail: str = ""  # why it failed or was not run


@dataclass
class Cells:
    """What is known per cell: its environment, whether this machine can run it, its results."""

    env: dict[str, dict[str, str]] = field(default_factory=dict)
    runnable: set[str] = field(default_factory=set)
    results: dict[tuple[str, str], Result] = field(default_factory=dict)  # (cell, key) -> Result

    def add_artifact(self, document: Mapping[str, Any], source: str, builtin: bool) -> None:
        """Every variant result of one cell artifact, filed under its effective settings."""
        cell = str(document.get("cell"))
        experiment = document.get("experiment") or {}
        env = {str(k): str(v) for k, v in (experiment.get("env") or {}).items()}
        self.env.setdefault(cell, env)
        seconds = ((document.get("timing") or {}).get("seconds") or {})
        for name, record in sorted((document.get("variants") or {}).items()):
            if not isinstance(record, dict) or not isinstance(record.get("settings"), dict):
                continue
            key = effective_key(record["settings"], env, name, builtin)
            ok = record.get("status") == "ok" and isinstance(record.get("digest"), str)
            error = None if ok else str((record.get("error") or {}).get("message") or "failed")
            result = Result(digest=record["digest"] if ok else None,
                            seconds=_number(seconds.get(f"variant:{name}")),
                            loss=_number(record.get("loss")), error=error,
                            source=f"{source} ({name})")
            if ok or (cell, key) not in self.results:  # a success is never replaced by a failure
                self.results[(cell, key)] = result

    def result(self, cell: str, variant: Variant, builtin: bool) -> Result | None:
        key = effective_key(variant.settings(), self.env.get(cell, {}), _seen(variant), builtin)
        return self.results.get((cell, key))


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _seen(variant: Variant) -> str:
    return variant.base or variant.name


def effective_key(settings: Mapping[str, Any], cell_env: Mapping[str, str], name: str,
                  builtin: bool) -> str:
    """What decides a result on one cell: the settings with the environment the process really
    had, and for a user experiment the variant name its function branches on."""
    env = environment.combine(cell_env, settings.get("env") or {})
    effective = {k: v for k, v in settings.items() if k != "base"}
    effective["env"] = dict(sorted(env.items()))
    if not builtin:
        # The function compiles its own optimizer (the artifact names the one it compiled) from
        # the variant name it sees, its original's for a candidate (settings "base").
        effective.pop("optimizer", None)
        effective["name"] = settings.get("base") or name
    return json.dumps(effective, sort_keys=True)


def needed_runs(divergences: Iterable[Divergence], candidates: Mapping[str, Sequence[Candidate]],
                cells: Cells) -> dict[str, list[Variant]]:
    """Per runnable cell, the candidate variants no artifact has a result for (each once)."""
    runs: dict[str, dict[str, Variant]] = {}  # cell -> effective key -> the variant that runs it
    for divergence in divergences:
        for candidate in candidates.get(divergence.variant.name, ()):
            variant = candidate.applied_to(divergence.variant)
            for cell in divergence.cells:
                if cell in cells.runnable and cells.result(cell, variant, divergence.builtin) is None:
                    key = effective_key(variant.settings(), cells.env.get(cell, {}), _seen(variant),
                                        divergence.builtin)
                    runs.setdefault(cell, {}).setdefault(key, variant)
    return {cell: list(found.values()) for cell, found in sorted(runs.items())}


def partition(digests: Mapping[str, str]) -> tuple[tuple[str, ...], ...]:
    """Cells grouped by digest, each group sorted, groups by their first cell."""
    groups: dict[str, list[str]] = {}
    for cell, digest in sorted(digests.items()):
        groups.setdefault(digest, []).append(cell)
    return tuple(sorted(tuple(g) for g in groups.values()))


def judge(divergence: Divergence, candidate: Candidate, cells: Cells) -> Outcome:
    """The candidate's verdict on one divergence, from the results known for its cells."""
    variant = candidate.applied_to(divergence.variant)
    name = divergence.variant.name
    digests: dict[str, str] = {}
    missing: list[str] = []
    failures: list[str] = []
    not_runnable: list[str] = []
    reused: list[str] = []
    for cell in divergence.cells:
        result = cells.result(cell, variant, divergence.builtin)
        if result is None:
            (missing if cell in cells.runnable else not_runnable).append(cell)
        elif result.digest is None:
            failures.append(f"{cell}: {result.error}")
        else:
            digests[cell] = result.digest
            if not result.source.startswith("remedy:"):
                reused.append(cell)
    if not_runnable:
        return Outcome(name, candidate, NOT_RUN, reused=tuple(reused),
                       detail=f"{', '.join(not_runnable)} cannot run here (CI cells): try it in CI")
    if failures or missing:
        detail = "; ".join(failures + [f"{c}: no result" for c in missing])
        return Outcome(name, candidate, FAILED, reused=tuple(reused), detail=detail)
    groups = partition(digests)
    before = tuple(sorted(tuple(sorted(g)) for g in divergence.groups))
    if len(groups) == 1:
        verdict = VERIFIED
    elif len(groups) < len(before):
        verdict = PARTIAL
    elif groups == before:
        verdict = NO_EFFECT
    elif len(groups) == len(before):
        verdict = REGROUPED
    else:
        verdict = WORSE
    reconciled = tuple(p.label() for p in divergence.pairs
                       if len({digests[c] for c in (*p.reference, *p.other)}) == 1)
    return Outcome(name, candidate, verdict, groups=groups, reconciled=reconciled,
                   reused=tuple(reused), unchanged=unchanged_cells(divergence, variant, cells),
                   time_ratio=_time_ratio(divergence, variant, cells),
                   loss_change=_loss_change(divergence, variant, cells))


def unchanged_cells(divergence: Divergence, variant: Variant, cells: Cells) -> tuple[str, ...]:
    """The cells where the candidate's effective settings are the original's (oneDNN off on a
    cell that has it off): there it cannot change anything."""
    original = dataclasses.replace(divergence.variant, base=divergence.variant.name)
    return tuple(c for c in divergence.cells
                 if effective_key(variant.settings(), cells.env.get(c, {}), variant.name,
                                  divergence.builtin)
                 == effective_key(original.settings(), cells.env.get(c, {}), original.name,
                                  divergence.builtin))


def _time_ratio(divergence: Divergence, variant: Variant, cells: Cells) -> float | None:
    ratios = []
    for cell in divergence.cells:
        mine = cells.result(cell, variant, divergence.builtin)
        theirs = cells.result(cell, divergence.variant, divergence.builtin)
        if mine and theirs and mine.seconds and theirs.seconds:
            ratios.append(mine.seconds / theirs.seconds)
    return statistics.median(ratios) if ratios else None


def _loss_change(divergence: Divergence, variant: Variant, cells: Cells) -> float | None:
    cell = divergence.groups[0][0]
    mine = cells.result(cell, variant, divergence.builtin)
    theirs = cells.result(cell, divergence.variant, divergence.builtin)
    if mine and theirs and mine.loss is not None and theirs.loss is not None:
        return mine.loss - theirs.loss
    return None


def stack_of(variant: Variant, keras_version: str | None) -> str:
    """Keras 2 on TensorFlow, or Keras 3's backend (TensorFlow unless the variant names one)."""
    if keras_version is not None and keras_version.split(".")[0] not in ("", "0", "1", "2"):
        return variant.backend or "tensorflow"
    return KERAS2


def ranked(outcomes: Iterable[Outcome]) -> list[Outcome]:
    """Verified first, then by how many comparisons it reconciles, its cost, and its id."""
    return sorted(outcomes, key=lambda o: (ORDER.index(o.verdict), -len(o.reconciled),
                                           len(o.candidate.parts),
                                           o.time_ratio if o.time_ratio is not None else 9e9,
                                           o.candidate.id))
