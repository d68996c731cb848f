"""The remedy search's report: per diverging variant, each candidate's verdict and cost, and the
lines that apply a verified remedy (a matrix.toml variant CI can confirm on real runners)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from repromatrix.host.remedy_search import (
    FAILED,
    NOT_RUN,
    PARTIAL,
    VERIFIED,
    Divergence,
    Outcome,
    ranked,
)
from repromatrix.model import Variant

# The built-in experiment's optimizer remedies as the line of code that applies them.
CODE = {"adam": "model.compile(optimizer='adam', loss='mae')",
        "legacy-rmsprop": "model.compile(optimizer=tf.keras.optimizers.legacy.RMSprop(), loss='mae')"}


def outcome_line(outcome: Outcome) -> str:
    """e.g. "verified: adam (optimizer adam); time 0.94x, final loss -0.00121; reused ..."."""
    parts = [f"{outcome.verdict}: {outcome.candidate.id} ({changes_text(outcome.candidate.changes())})"]
    if outcome.verdict == PARTIAL and outcome.reconciled:
        parts.append("reconciles " + "; ".join(outcome.reconciled))
    if outcome.groups and outcome.verdict not in (VERIFIED,):
        parts.append(f"{len(outcome.groups)} groups: "
                     + " | ".join(", ".join(g) for g in outcome.groups))
    if outcome.time_ratio is not None:
        parts.append(f"training time {outcome.time_ratio:.2f}x the original's")
    if outcome.loss_change is not None:
        parts.append("final loss unchanged" if outcome.loss_change == 0
                     else f"final loss {outcome.loss_change:+.3g}")
    if outcome.reused:
        parts.append(f"already run on {', '.join(outcome.reused)}")
    if outcome.detail:
        parts.append(outcome.detail)
    return "; ".join(parts)


def pair_lines(label: str, cells: set[str], outcomes: Sequence[Outcome]) -> list[str]:
    """For one comparison: which candidates reconcile its cells, and which change nothing
    there because those cells already have that setting."""
    judged = [o for o in outcomes if o.verdict not in (FAILED, NOT_RUN)]
    yes = [o.candidate.id for o in judged if label in o.reconciled]
    already = [o.candidate.id for o in judged if label not in o.reconciled
               and cells <= set(o.unchanged)]
    no = [o.candidate.id for o in judged if label not in o.reconciled and o.candidate.id not in already]
    lines = [f"reconciled by: {', '.join(yes)}" if yes else "reconciled by no candidate"]
    if no:
        lines.append(f"not by: {', '.join(no)}")
    if already:
        lines.append(f"changes nothing there (these cells have it already): {', '.join(already)}")
    return lines


def changes_text(changes: Mapping[str, Any]) -> str:
    words = []
    for key, value in changes.items():
        if isinstance(value, dict):
            words.append(f"{key} " + " ".join(f"{k}={_plain(v)}" for k, v in value.items()))
        elif value is True:
            words.append(key.replace("_", " "))
        else:
            words.append(f"{key} {_plain(value)}")
    return "; ".join(words)


def _plain(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))  # a TOML basic string: JSON's escapes are TOML's


def _key(name: str) -> str:
    bare = name.replace("_", "").replace("-", "").isalnum() and name.isascii()
    return name if bare else json.dumps(name)


def variant_table(name: str, variant: Variant, description: str, base: bool = False) -> list[str]:
    """A variant as a matrix.toml ``[variants.NAME]`` table (what the loader reads back)."""
    lines = [f"[variants.{_key(name)}]"]
    if variant.optimizer != "default":
        lines.append(f"optimizer = {toml_value(variant.optimizer)}")
    if variant.backend:
        lines.append(f"backend = {toml_value(variant.backend)}")
    if variant.env:
        lines.append(f"env = {toml_value(dict(sorted(variant.env.items())))}")
    if variant.threads:
        lines.append(f"threads = {toml_value(dict(variant.threads))}")
    if variant.op_determinism:
        lines.append("op_determinism = true")
    if variant.switches:
        lines.append(f"switches = {toml_value(dict(sorted(variant.switches.items())))}")
    if base and variant.base is not None:
        lines.append(f"base = {toml_value(variant.base)}")
    lines.append(f"description = {toml_value(description)}")
    return lines


def matrix_lines(divergence: Divergence, outcome: Outcome, verified: bool = True) -> list[str]:
    """The matrix.toml variant that applies the remedy, for CI to confirm (or to try)."""
    variant = divergence.variant
    how = "verified by repromatrix remedy" if verified else "a candidate repromatrix remedy could not run"
    lines = variant_table(f"{variant.name}-{outcome.candidate.id.replace('+', '-')}",
                          outcome.candidate.applied_to(variant),
                          f"{variant.name} with {outcome.candidate.id} ({how})")
    if divergence.builtin and outcome.candidate.optimizer in CODE:
        lines.append(f"# in the report's code: {CODE[outcome.candidate.optimizer]}")
    if not divergence.builtin:
        lines.append("# your function branches on variant.name: give this name the original's code")
    return lines


def render(divergences: Sequence[Divergence], outcomes: Mapping[str, Sequence[Outcome]],
           notes: Sequence[str], machine: str) -> str:
    lines = [f"repromatrix remedy: {len(divergences)} diverging variant"
             f"{'s' if len(divergences) != 1 else ''}, candidates run on {machine}"]
    lines += [f"  note: {n}" for n in notes]
    applying: list[str] = []
    trying: list[str] = []  # candidates only CI can run: their lines, unverified
    for divergence in divergences:
        found = ranked(outcomes.get(divergence.variant.name, ()))
        lines.append("")
        lines.append(f"{divergence.variant.name}: {len(divergence.groups)} groups over "
                     f"{len(divergence.cells)} cells ("
                     + " | ".join(", ".join(g) for g in divergence.groups) + ")")
        for pair in divergence.pairs:
            root = ["root op " + "+".join(pair.finding.root_ops)] if pair.finding.root_ops else []
            causes = ["likely cause " + ", ".join(pair.finding.causes)] if pair.finding.causes else []
            lines.append(f"  {pair.label()}: {'; '.join(root + causes) or 'no cause named'}")
            lines += [f"    {line}" for line in pair_lines(pair.label(), set(pair.reference + pair.other), found)]
        if not found:
            lines.append("  no candidate applies to this stack and these causes")
        for outcome in found:
            lines.append(f"  - {outcome_line(outcome)}")
        for outcome in found:
            if outcome.verdict == VERIFIED:
                applying += ["", f"# {divergence.variant.name}: {outcome.candidate.what}",
                             *matrix_lines(divergence, outcome)]
                break
        if not any(o.verdict == VERIFIED for o in found):
            untried = [o for o in found if o.verdict == NOT_RUN]
            lines.append("  no candidate verified here" + (
                f"; not run here: {', '.join(o.candidate.id for o in untried)}" if untried else ""))
            for outcome in untried:
                trying += ["", f"# {divergence.variant.name}: {outcome.candidate.what}",
                           *matrix_lines(divergence, outcome, verified=False)]
    if applying:
        lines += ["", "To confirm on real machines, add to matrix.toml (and to [experiment] "
                  "variants), push, and read the CI table:", *applying]
    if trying:
        lines += ["", "Not verified (their cells run only in CI); to try them there, add to "
                  "matrix.toml (and to [experiment] variants) and push:", *trying]
    return "\n".join(lines) + "\n"


def as_json(divergences: Sequence[Divergence], outcomes: Mapping[str, Sequence[Outcome]],
            notes: Sequence[str]) -> dict[str, Any]:
    return {"notes": list(notes), "variants": {
        d.variant.name: {
            "groups": [list(g) for g in d.groups],
            "comparisons": [{"cells": p.label(), "root_ops": list(p.finding.root_ops),
                             "causes": list(p.finding.causes)} for p in d.pairs],
            "candidates": [{"id": o.candidate.id, "verdict": o.verdict,
                            "changes": o.candidate.changes(), "source": o.candidate.source,
                            "groups": [list(g) for g in o.groups],
                            "reconciles": list(o.reconciled), "reused": list(o.reused),
                            "unchanged": list(o.unchanged),
                            "time_ratio": o.time_ratio, "loss_change": o.loss_change,
                            "detail": o.detail}
                           for o in ranked(outcomes.get(d.variant.name, ()))]}
        for d in sorted(divergences, key=lambda d: d.variant.name)}}
