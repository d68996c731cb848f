"""The candidate remedies (resources/remedies.toml) and which ones a divergence brings.

A candidate is a change to a variant (environment, threads, op determinism, in-process switches,
or the built-in experiment's optimizer). Which candidates are tried follows from the divergence:
the variant's stack (a knob its library never reads is never tried), its root op and its likely
causes. Pairs of two are formed by the search (remedy_search.py) from candidates that are each
partial.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from repromatrix import environment, resources
from repromatrix.errors import ConfigError
from repromatrix.model import Variant

if sys.version_info >= (3, 11):
    import tomllib
else:  # `repromatrix remedy` runs in the pinned venv, Python 3.9 for the report's stack
    import tomli as tomllib

KERAS2 = "keras2"  # Keras 2 on TensorFlow; Keras 3 stacks are named by backend
STACKS = (KERAS2, "tensorflow", "jax", "torch")
EVERY = "*"
CANDIDATES_PATH = resources.path("remedies.toml")


@dataclass(frozen=True)
class Candidate:
    id: str
    what: str
    source: str
    stacks: tuple[str, ...]
    causes: tuple[str, ...] = ()
    root_ops: tuple[str, ...] = ()
    root_ops_with: tuple[str, ...] = ()  # a root op brings it only beside one of these causes
    builtin: bool = False  # only the built-in experiment (its optimizer is repromatrix's)
    env: Mapping[str, str] = field(default_factory=dict)
    threads: Mapping[str, int] | None = None
    op_determinism: bool = False
    switches: Mapping[str, bool] = field(default_factory=dict)
    optimizer: str | None = None
    parts: tuple[str, ...] = ()  # a pair: the ids it combines

    def applied_to(self, variant: Variant) -> Variant:
        """The variant with this change, named ``<variant>.<id>``; the user's function sees the
        original name (``base``)."""
        return replace(
            variant,
            name=f"{variant.name}.{self.id.replace('+', '.')}",  # a variant name has no '+'
            env=environment.combine(variant.env, self.env),
            threads=dict(self.threads) if self.threads is not None else variant.threads,
            op_determinism=variant.op_determinism or self.op_determinism,
            switches={**variant.switches, **self.switches},
            optimizer=self.optimizer or variant.optimizer,
            description=f"{variant.name} with {self.id}: {self.what}",
            base=variant.base or variant.name,
        )

    def changes(self) -> dict[str, Any]:
        """What it sets, as a matrix.toml variant table's keys."""
        found: dict[str, Any] = {}
        if self.optimizer:
            found["optimizer"] = self.optimizer
        if self.env:
            found["env"] = dict(sorted(self.env.items()))
        if self.threads is not None:
            found["threads"] = dict(self.threads)
        if self.op_determinism:
            found["op_determinism"] = True
        if self.switches:
            found["switches"] = dict(sorted(self.switches.items()))
        return found


def pair(first: Candidate, second: Candidate) -> Candidate | None:
    """Both changes at once, or None when they set the same thing differently."""
    if first.optimizer and second.optimizer and first.optimizer != second.optimizer:
        return None
    if any(first.env.get(k, v) != v for k, v in second.env.items() if k != environment.XLA_FLAGS):
        return None  # XLA_FLAGS is a list of flags: the two are merged
    if first.threads is not None and second.threads is not None:
        return None
    if any(first.switches.get(k, v) != v for k, v in second.switches.items()):
        return None
    return Candidate(
        id=f"{first.id}+{second.id}", what=f"{first.what}; and {second.what}",
        source=f"{first.source}; {second.source}",
        stacks=tuple(s for s in first.stacks if s in second.stacks),
        env=environment.combine(first.env, second.env), threads=first.threads or second.threads,
        op_determinism=first.op_determinism or second.op_determinism,
        switches={**first.switches, **second.switches},
        optimizer=first.optimizer or second.optimizer, builtin=first.builtin or second.builtin,
        parts=(first.id, second.id))


def load(text: str | None = None) -> tuple[Candidate, ...]:
    """The shipped candidates (or those of ``text``, a remedies.toml), checked."""
    doc = tomllib.loads(text if text is not None else CANDIDATES_PATH.read_text(encoding="utf-8"))
    found = []
    problems = []
    for index, raw in enumerate(doc.get("candidates", [])):
        where = f"remedies.toml: candidates[{index}]"
        unknown = set(raw) - {"id", "what", "source", "stacks", "causes", "root_ops",
                              "root_ops_with", "builtin",
                              "env", "threads", "op_determinism", "switches", "optimizer"}
        if unknown:
            problems.append(f"{where}: unknown keys {', '.join(sorted(unknown))}")
            continue
        if not {"id", "what", "source", "stacks"} <= set(raw):
            problems.append(f"{where}: needs id, what, source and stacks")
            continue
        bad = [s for s in raw["stacks"] if s not in STACKS]
        if bad:
            problems.append(f"{where}: unknown stack {bad[0]!r}; one of {', '.join(STACKS)}")
            continue
        found.append(Candidate(
            id=raw["id"], what=raw["what"], source=raw["source"], stacks=tuple(raw["stacks"]),
            causes=tuple(raw.get("causes", ())), root_ops=tuple(raw.get("root_ops", ())),
            root_ops_with=tuple(raw.get("root_ops_with", ())),
            builtin=bool(raw.get("builtin", False)), env=dict(raw.get("env", {})),
            threads=raw.get("threads"), op_determinism=bool(raw.get("op_determinism", False)),
            switches=dict(raw.get("switches", {})), optimizer=raw.get("optimizer")))
    ids = [c.id for c in found]
    problems += [f"remedies.toml: candidate id {i!r} twice" for i in sorted(set(ids))
                 if ids.count(i) > 1]
    if problems:
        raise ConfigError(problems)
    return tuple(found)


@dataclass(frozen=True)
class Finding:
    """What one comparison of the divergence says: the root op (with the ops fused into it) and
    the likely causes' names."""

    root_ops: tuple[str, ...]
    causes: tuple[str, ...]


def brings(candidate: Candidate, finding: Finding) -> bool:
    if EVERY in candidate.causes or set(candidate.causes) & set(finding.causes):
        return True
    if candidate.root_ops_with and not set(candidate.root_ops_with) & set(finding.causes):
        return False
    return any(fnmatch.fnmatchcase(op, pattern) for op in finding.root_ops
               for pattern in candidate.root_ops)


def choose(candidates: Iterable[Candidate], stack: str, builtin: bool,
           findings: Iterable[Finding]) -> tuple[Candidate, ...]:
    """The candidates for a divergence on ``stack``, in the file's order: those its stack reads
    that one of its findings brings."""
    findings = tuple(findings)
    return tuple(c for c in candidates
                 if stack in c.stacks and (builtin or not c.builtin)
                 and any(brings(c, f) for f in findings))
