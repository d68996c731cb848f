"""Loading and validating ``matrix.toml``: the experiment, its pins, its variants and its runners.

Every problem in the file is collected before anything fails, so a user fixes them all in one go.
Each message names the key and the line it is on; unknown keys get the closest valid name.
Runners are also checked against what GitHub's hosted images can actually do for the pinned stack
(``PLATFORM FACTS`` below), so an impossible cell fails here, not forty minutes into a CI run.
The result is a tree of frozen dataclasses; nothing else in the project reads the TOML directly.
The format is documented in docs/matrix.md.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # the runner imports this module inside the pinned Python 3.9 venv
    import tomli as tomllib

from repromatrix.config.checks import (
    ID_PATTERN,  # noqa: F401 - re-exported: older callers import it from here
    Problems,
    check_choice,
    check_keys,
    describe,
    env_problem,
    is_id,
    string_list,
    string_table,
    suggest,
    target_column,
    typed_value,
)
from repromatrix.config.defaults import apply_defaults
from repromatrix.entry import parse_entry
from repromatrix.errors import ConfigError
from repromatrix.files import MiB, UnreadableFile, read_bounded

# The plain model lives where the pinned cell can import it without this loader; re-exported.
from repromatrix.model import NO_DATA, SWITCHES, Pins, Platform, Variant  # noqa: F401
from repromatrix.platform_facts import (  # noqa: F401 - preflight and tests import them here
    EXACT_PYTHON,
    HOSTED_LABELS,
    MOVING_LABELS,
    NO_PYTHON_MINOR,
    RETIRED_LABELS,
    WHEEL_GAPS,
)

DEFAULT_MATRIX = Path("matrix.toml")

OPTIMIZERS = ("default", "adam", "rmsprop", "legacy-rmsprop", "sgd")
BACKENDS = ("tensorflow", "jax", "torch")  # Keras 3's backends; a variant setting (keras3.py)
OSES = ("linux", "macos", "windows")
ARCHES = ("x86_64", "arm64")
PYTHON_SOURCES = ("setup-python", "uv", "nearest")
# ID_PATTERN (cell ids, variant names, labels) comes from config_checks, shared with the CLI.
# Every pattern ends in \Z, not $ (which also matches before a final newline), and is fullmatched.
VERSION_PATTERN = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\Z")
# PEP 508 distribution names, and exact versions only: a pin with ">=" would not be a pin.
PACKAGE_PATTERN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
PACKAGE_VERSION_PATTERN = re.compile(r"^[0-9][0-9A-Za-z.+!_-]*\Z")
MAX_REPEAT = 10
MAX_SEED = 2**32 - 1  # numpy.random.seed refuses anything larger
# TensorFlow takes a 32-bit count and starts that many threads; no CPU it runs on has more cores.
MAX_THREADS = 1024
MAX_MATRIX_BYTES = 16 * MiB  # a real matrix file is a few KB

# --- PLATFORM FACTS -----------------------------------------------------------------------------
# What GitHub-hosted runners offer for the pinned stack (HOSTED_LABELS, RETIRED_LABELS,
# MOVING_LABELS, EXACT_PYTHON, NO_PYTHON_MINOR, WHEEL_GAPS) is data: resources/platforms.toml,
# loaded by repromatrix.platform_facts and imported above.


@dataclass(frozen=True)
class Runner:
    label: str
    os: str
    arch: str
    python: str  # one of PYTHON_SOURCES
    repeat: int = 1

    @property
    def platform(self) -> str:
        return f"{self.os}-{self.arch}"

    def cell_ids(self) -> list[str]:
        """One stable cell id per repeat: ``<label>-1``, ``<label>-2``..."""
        return [f"{self.label}-{i}" for i in range(1, self.repeat + 1)]


@dataclass(frozen=True)
class Excluded:
    """A runner left out on purpose, with the reason; with os and arch, a whole platform."""

    label: str
    reason: str
    os: str | None = None
    arch: str | None = None

    @property
    def platform(self) -> str | None:
        return f"{self.os}-{self.arch}" if self.os and self.arch else None


EMULATED_ARCHES = ("arm64",)  # another architecture a lab cell can run under qemu


@dataclass(frozen=True)
class LabCell:
    id: str
    emulate: str | None = None  # a qemu CPU model name
    env: Mapping[str, str] = field(default_factory=dict)  # over [lab].env, for this cell only
    arch: str | None = None  # "arm64": Linux arm64's build under qemu-aarch64 (repromatrix.host.arm64)
    # The emulated x86 CPU's rsqrtps/rcpps table (host/estimate_sources.py): "host",
    # "intel-model", "other-vendor", a shipped table's name, or a file (relative to matrix.toml);
    # None: qemu's own.
    estimates: str | None = None
    # Only these of the lab's variants, in this cell (None: all of them).
    variants: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Lab:
    rows: int
    env: Mapping[str, str]
    variants: tuple[str, ...]
    cells: tuple[LabCell, ...]


@dataclass(frozen=True)
class Experiment:
    seed: int
    data: str  # "builtin", "none" (a user experiment loads its own) or a path relative to the file
    target: str | int
    variants: tuple[str, ...]
    # "package.module:function" or "path/to/file.py:function" (docs/experiments.md); None: the
    # built-in report-41 experiment.
    entry: str | None = None


@dataclass(frozen=True)
class Matrix:
    path: Path
    experiment: Experiment
    pins: Pins
    variants: Mapping[str, Variant]
    runners: tuple[Runner, ...]
    excluded: tuple[Excluded, ...]
    lab: Lab | None

    def data_path(self) -> str:
        """The data setting with relative paths resolved against the matrix file's folder."""
        if self.experiment.data in ("builtin", NO_DATA):
            return self.experiment.data
        return str((self.path.parent / self.experiment.data).resolve())

    def runner(self, label: str) -> Runner | None:
        return next((r for r in self.runners if r.label == label), None)

    def cells(self) -> list[tuple[str, Runner]]:
        """Every CI cell id with its runner, sorted by cell id."""
        return sorted(((cell, r) for r in self.runners for cell in r.cell_ids()),
                      key=lambda pair: pair[0])


# --- sections -----------------------------------------------------------------------------------


def _load_variants(raw: Any, problems: Problems) -> dict[str, Variant]:
    variants: dict[str, Variant] = {}
    for name, table in (raw or {}).items():
        where = ("variants", name)
        if not isinstance(table, dict):
            problems.add(where, f"expected a table, got {describe(table)}")
            continue
        if not is_id(name):
            problems.add(where, "a variant name may use letters, digits, '.', '_' and '-' only")
        check_keys(table, ("optimizer", "env", "threads", "op_determinism", "description",
                           "backend", "switches", "base"), where, problems)
        backend = typed_value(table, "backend", str, where, problems)
        if backend is not None:
            check_choice(backend, BACKENDS, where + ("backend",), problems)
        optimizer = typed_value(table, "optimizer", str, where, problems, default="default")
        if optimizer not in OPTIMIZERS:
            problems.add(where + ("optimizer",), f"unknown optimizer {optimizer!r}; one of "
                         f"{', '.join(OPTIMIZERS)}.{suggest(optimizer, OPTIMIZERS)}")
        variants[name] = Variant(
            name=name,
            optimizer=optimizer,
            env=_load_env(table, where, problems),
            threads=_load_threads(table, where, problems),
            op_determinism=typed_value(table, "op_determinism", bool, where, problems, default=False),
            description=typed_value(table, "description", str, where, problems, default=""),
            backend=backend,
            switches=_load_switches(table, where, problems),
            base=typed_value(table, "base", str, where, problems),
        )
    if not variants:
        problems.add(("variants",), "at least one variant is needed")
    return variants


def _load_env(table: Mapping[str, Any], where: tuple[str, ...], problems: Problems
              ) -> dict[str, str]:
    """An ``env`` table; names and values the OS would refuse are refused here, at load time."""
    env = {}
    raw = string_table(typed_value(table, "env", dict, where, problems), where + ("env",), problems)
    for name, value in raw.items():
        problem = env_problem(name, value)
        if problem:
            problems.add(where + ("env",), problem)
        else:
            env[name] = value
    return env


def _load_switches(table: Mapping[str, Any], where: tuple[str, ...], problems: Problems
                   ) -> dict[str, bool]:
    """A ``switches`` table: known names (model.SWITCHES), true or false each."""
    raw = typed_value(table, "switches", dict, where, problems)
    if raw is None:
        return {}
    where = where + ("switches",)
    switches = {}
    for name, value in raw.items():
        if name not in SWITCHES:
            problems.add(where + (name,), f"unknown switch; one of {', '.join(sorted(SWITCHES))}."
                         f"{suggest(name, tuple(SWITCHES))}")
        elif not isinstance(value, bool):
            problems.add(where + (name,), f"expected true or false, got {describe(value)}")
        else:
            switches[name] = value
    return switches


def _load_threads(table: Mapping[str, Any], where: tuple[str, ...], problems: Problems
                  ) -> dict[str, int] | None:
    raw = typed_value(table, "threads", dict, where, problems)
    if raw is None:
        return None
    where = where + ("threads",)
    check_keys(raw, ("intra_op", "inter_op"), where, problems)
    threads = {}
    for key in ("intra_op", "inter_op"):
        count = typed_value(raw, key, int, where, problems, default=0)
        if not 0 <= count <= MAX_THREADS:
            problems.add(where + (key,), f"must be between 0 (TensorFlow's choice) and "
                         f"{MAX_THREADS}")
            count = 0
        threads[key] = count
    return threads


def _variant_list(
    table: Mapping[str, Any], where: tuple[str, ...], variants: Mapping[str, Variant],
    problems: Problems
) -> tuple[str, ...]:
    """The table's ``variants`` list, by default every variant."""
    if "variants" not in table:
        return tuple(variants)  # none at all is reported once, at [variants]
    raw = table["variants"]
    where = where + ("variants",)
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw) or not raw:
        problems.add(where, f"expected a non-empty array of variant names, got {describe(raw)}")
        return ()
    for name in raw:
        if name not in variants:
            problems.add(where, f"no variant named {name!r} in [variants].",
                         hint=functools.partial(suggest, name, variants))
    if len(set(raw)) != len(raw):
        problems.add(where, "lists a variant twice")
    return tuple(raw)


def _load_experiment(doc: Mapping[str, Any], variants: Mapping[str, Variant],
                     problems: Problems) -> Experiment:
    where = ("experiment",)
    raw = typed_value(doc, "experiment", dict, (), problems, default={}, required=True)
    check_keys(raw, ("seed", "data", "target", "variants", "entry"), where, problems)
    seed = typed_value(raw, "seed", int, where, problems, default=42)
    if not 0 <= seed <= MAX_SEED:
        problems.add(where + ("seed",), f"must be between 0 and {MAX_SEED} (numpy's seed range)")
    entry = _load_entry(raw, variants, problems)
    # A user experiment without data loads its own; the built-in one always has data.
    data = typed_value(raw, "data", str, where, problems, default=NO_DATA if entry else "builtin")
    if not data:
        problems.add(where + ("data",), "expected \"builtin\" or a CSV path")
    if data == NO_DATA and not entry:
        problems.add(where + ("data",), "the built-in experiment needs data: \"builtin\" or a CSV")
    target = typed_value(raw, "target", (str, int), where, problems, default="target")
    try:
        target_column(target)
    except ValueError as error:
        problems.add(where + ("target",), str(error))
    return Experiment(
        seed=seed,
        data=data,
        target=target,
        variants=_variant_list(raw, where, variants, problems),
        entry=entry,
    )


def _load_entry(raw: Mapping[str, Any], variants: Mapping[str, Variant], problems: Problems
                ) -> str | None:
    """The user experiment's entry (syntax only: resolving it is the runner's job)."""
    from repromatrix.errors import ExperimentError

    entry = typed_value(raw, "entry", str, ("experiment",), problems)
    if entry is None:
        return None
    try:
        parse_entry(entry)
    except ExperimentError as error:
        problems.add(("experiment", "entry"), str(error))
        return None
    # The user's function compiles the model, so a variant cannot pick the optimizer: it gets
    # the variant in its context and may branch on the name instead.
    for name, variant in variants.items():
        if variant.optimizer != "default":
            problems.add(("variants", name, "optimizer"), f"{variant.optimizer!r} applies to the "
                         "built-in experiment only; with experiment.entry the function compiles "
                         "the model (it receives the variant: branch on its name); remove the key "
                         "or set \"default\"")
    return entry


def _load_pins(doc: Mapping[str, Any], problems: Problems) -> Pins:
    raw = typed_value(doc, "pins", dict, (), problems, default={}, required=True)
    check_keys(raw, ("python", "packages"), ("pins",), problems)
    python = typed_value(raw, "python", str, ("pins",), problems, default="", required=True)
    if python and not VERSION_PATTERN.fullmatch(python):
        problems.add(("pins", "python"), f"expected an exact version like '3.9.2', got {python!r}")
    packages = string_table(typed_value(raw, "packages", dict, ("pins",), problems, default={},
                                  required=True), ("pins", "packages"), problems)
    for name, version in packages.items():
        where = ("pins", "packages", name)
        if not PACKAGE_PATTERN.fullmatch(name):
            problems.add(where, "not a valid distribution name")
        if not PACKAGE_VERSION_PATTERN.fullmatch(version):
            problems.add(where, f"expected an exact version like '2.12.0', got {version!r}")
    platforms = {}
    for key, table in typed_value(doc, "platforms", dict, (), problems, default={}).items():
        platform = _load_platform(key, table, packages, problems)
        if platform is not None:
            platforms[key] = platform
    return Pins(python=python, packages=packages, platforms=platforms)


def _load_platform(key: str, table: Any, packages: Mapping[str, str], problems: Problems
                   ) -> Platform | None:
    where = ("platforms", key)
    if not isinstance(table, dict):
        problems.add(where, f"expected a table, got {describe(table)}")
        return None
    if key.count("-") != 1 or key.split("-")[0] not in OSES or key.split("-")[1] not in ARCHES:
        choices = [f"{o}-{a}" for o in OSES for a in ARCHES]
        problems.add(where, f"expected '<os>-<arch>', one of {', '.join(choices)}.",
                     hint=lambda: suggest(key, choices))
    check_keys(table, ("replace", "pulls"), where, problems)
    replace = string_table(typed_value(table, "replace", dict, where, problems), where + ("replace",),
                            problems)
    for name in replace:
        if name not in packages:
            problems.add(where + ("replace", name), "replaces a package that is not pinned.",
                         hint=functools.partial(suggest, name, packages))
    pulls = string_list(typed_value(table, "pulls", list, where, problems, default=[]),
                         where + ("pulls",), problems)
    # Both become `name==version` lines for pip: "a==b" would pass here and fail on the runner.
    for name, installed in replace.items():
        if not PACKAGE_PATTERN.fullmatch(installed):
            problems.add(where + ("replace", name),
                         f"{installed!r} is not a valid distribution name")
    for index, name in enumerate(pulls):
        if not PACKAGE_PATTERN.fullmatch(name):
            problems.add(where + ("pulls",),
                         f"item {index}: {name!r} is not a valid distribution name")
    return Platform(key=key, replace=replace, pulls=tuple(pulls))


def _load_runners(doc: Mapping[str, Any], problems: Problems) -> tuple[Runner, ...]:
    runners = []
    seen: set[str] = set()
    for index, table in enumerate(typed_value(doc, "runners", list, (), problems, default=[])):
        where = (f"runners[{index}]",)
        if not isinstance(table, dict):
            problems.add(where, f"expected a table, got {describe(table)}")
            continue
        check_keys(table, ("label", "os", "arch", "python", "repeat"), where, problems)
        label = typed_value(table, "label", str, where, problems, default="", required=True)
        os_name = typed_value(table, "os", str, where, problems, default="", required=True)
        arch = typed_value(table, "arch", str, where, problems, default="", required=True)
        # required: an implicit "nearest" would silently replace the pinned Python
        python = typed_value(table, "python", str, where, problems, default="", required=True)
        repeat = typed_value(table, "repeat", int, where, problems, default=1)
        check_choice(os_name, OSES, where + ("os",), problems)
        check_choice(arch, ARCHES, where + ("arch",), problems)
        check_choice(python, PYTHON_SOURCES, where + ("python",), problems)
        if label and not is_id(label):
            problems.add(where + ("label",), "a label may use letters, digits, '.', '_' and '-' only")
        if label and label in seen:
            problems.add(where + ("label",), f"runner {label!r} is listed twice")
        seen.add(label)
        if not 1 <= repeat <= MAX_REPEAT:
            problems.add(where + ("repeat",), f"must be between 1 and {MAX_REPEAT}")
        runner = Runner(label=label, os=os_name, arch=arch, python=python, repeat=repeat)
        for cell in runner.cell_ids() if is_id(label) else ():
            if not is_id(cell):
                problems.add(where + ("label",), f"cell id {cell!r} is too long (64 characters "
                             "at most): shorten the label")
                break
        runners.append(runner)
    return tuple(runners)


def _load_excluded(doc: Mapping[str, Any], runners: tuple[Runner, ...], problems: Problems
                   ) -> tuple[Excluded, ...]:
    excluded = []
    runner_labels = {r.label for r in runners}
    for index, table in enumerate(typed_value(doc, "excluded", list, (), problems, default=[])):
        where = (f"excluded[{index}]",)
        if not isinstance(table, dict):
            problems.add(where, f"expected a table, got {describe(table)}")
            continue
        check_keys(table, ("label", "reason", "os", "arch"), where, problems)
        label = typed_value(table, "label", str, where, problems, default="", required=True)
        reason = typed_value(table, "reason", str, where, problems, default="", required=True)
        os_name = typed_value(table, "os", str, where, problems)
        arch = typed_value(table, "arch", str, where, problems)
        check_choice(os_name or "", OSES, where + ("os",), problems)
        check_choice(arch or "", ARCHES, where + ("arch",), problems)
        if (os_name is None) != (arch is None):
            problems.add(where, "give both os and arch (to exclude the whole platform), or neither")
        if label and label in runner_labels:
            problems.add(where + ("label",), f"{label!r} is both a runner and excluded")
        excluded.append(Excluded(label=label, reason=reason, os=os_name, arch=arch))
    return tuple(excluded)


def _load_lab(doc: Mapping[str, Any], variants: Mapping[str, Variant], problems: Problems
              ) -> Lab | None:
    raw = typed_value(doc, "lab", dict, (), problems)
    if raw is None:
        return None
    where = ("lab",)
    check_keys(raw, ("rows", "env", "variants", "cells"), where, problems)
    rows = typed_value(raw, "rows", int, where, problems, default=64)
    if rows < 1:
        problems.add(where + ("rows",), "must be at least 1")
    env = _load_env(raw, where, problems)
    lab_variants = _variant_list(raw, where, variants, problems)
    cells = []
    for index, table in enumerate(typed_value(raw, "cells", list, where, problems, default=[])):
        cell_where = (f"lab.cells[{index}]",)
        if not isinstance(table, dict):
            problems.add(cell_where, f"expected a table, got {describe(table)}")
            continue
        check_keys(table, ("id", "emulate", "env", "arch", "estimates", "variants"), cell_where,
                   problems)
        cell_id = typed_value(table, "id", str, cell_where, problems, default="", required=True)
        if cell_id and not is_id(cell_id):
            problems.add(cell_where + ("id",), "an id may use letters, digits, '.', '_' and '-' only")
        emulate = typed_value(table, "emulate", str, cell_where, problems)
        cell_env = _load_env(table, cell_where, problems)
        arch = typed_value(table, "arch", str, cell_where, problems)
        if arch is not None and arch not in EMULATED_ARCHES:
            problems.add(cell_where + ("arch",), f"{arch!r}: the lab emulates "
                         f"{', '.join(EMULATED_ARCHES)} (or omit arch: this machine's)")
        estimates = typed_value(table, "estimates", str, cell_where, problems)
        if estimates is not None and (emulate is None or arch is not None):
            problems.add(cell_where + ("estimates",), "sets an emulated x86_64 CPU's estimate "
                         "table: the cell needs emulate = \"MODEL\" (and no arch)")
        cell_variants = (_variant_list(table, cell_where, variants, problems)
                         if "variants" in table else None)
        for name in cell_variants or ():
            if name in variants and name not in lab_variants:
                problems.add(cell_where + ("variants",), f"{name!r} is not one of the lab's "
                             f"variants ({', '.join(lab_variants)})")
        cells.append(LabCell(id=cell_id, emulate=emulate, env=cell_env, arch=arch,
                             estimates=estimates, variants=cell_variants))
    if not cells:
        problems.add(where + ("cells",), "the lab needs at least one [[lab.cells]]")
    if len({c.id for c in cells}) != len(cells):
        problems.add(where + ("cells",), "cell ids must be unique")
    return Lab(rows=rows, env=env, variants=lab_variants, cells=tuple(cells))


# --- combinations -------------------------------------------------------------------------------
# Checked only on values that passed their own checks, so one typo gives one message.


def _check_runner_facts(runners: tuple[Runner, ...], excluded: tuple[Excluded, ...], pins: Pins,
                        problems: Problems) -> None:
    # the first rule excluding each platform: one look-up per runner, not a scan of every rule
    exclusions: dict[str, int] = {}
    for rule_index, rule in enumerate(excluded):
        if rule.platform:
            exclusions.setdefault(rule.platform, rule_index)
    for index, runner in enumerate(runners):
        where = (f"runners[{index}]",)
        if runner.os not in OSES or runner.arch not in ARCHES:
            continue
        _check_label(runner.label, runner.os, runner.arch, where, problems)
        if runner.platform in exclusions:
            rule_index = exclusions[runner.platform]
            line = problems.line((f"excluded[{rule_index}]",))
            problems.add(where + ("arch",), f"{runner.platform} is excluded at line {line}: "
                         f"{excluded[rule_index].reason}")
        if runner.python in PYTHON_SOURCES:
            _check_python(runner, pins, where, problems)
        _check_wheels(runner, pins, where, problems)


def _check_label(label: str, os_name: str, arch: str, where: tuple[str, ...],
                 problems: Problems) -> None:
    if label in RETIRED_LABELS:
        problems.add(where + ("label",), f"GitHub's {label!r} image is {RETIRED_LABELS[label]}")
    elif label in MOVING_LABELS:
        problems.add(where + ("label",), f"{label!r} moves to a new image without notice, so a "
                     f"result could not be tied to one; name the image, e.g. "
                     f"'{MOVING_LABELS[label]}'")
    elif label in HOSTED_LABELS:
        known_os, known_arch = HOSTED_LABELS[label]
        if os_name != known_os:
            problems.add(where + ("os",), f"{label!r} is a {known_os} runner, not {os_name}")
        if arch != known_arch:
            problems.add(where + ("arch",), f"{label!r} is an {known_arch} runner, not {arch}")


def _check_python(runner: Runner, pins: Pins, where: tuple[str, ...], problems: Problems) -> None:
    if runner.platform in NO_PYTHON_MINOR.get(pins.python_minor, frozenset()):
        problems.add(where + ("python",), f"no Python {pins.python_minor} build exists for "
                     f"{runner.platform}: this runner cannot run the pinned stack")
        return
    facts = EXACT_PYTHON.get(pins.python)
    if facts is None or runner.python == "nearest":
        return  # no facts for this version: trust the file
    if runner.platform not in facts.get(runner.python, frozenset()):
        better = [source for source, where_exact in facts.items()
                  if runner.platform in where_exact] or ["nearest"]
        source_name = "actions/setup-python" if runner.python == "setup-python" else "uv"
        problems.add(where + ("python",), f"{source_name} has no Python {pins.python} for "
                     f"{runner.platform}; use python = \"{better[0]}\"")


def _check_wheels(runner: Runner, pins: Pins, where: tuple[str, ...], problems: Problems) -> None:
    platform = pins.platforms.get(runner.platform)
    replace = platform.replace if platform else {}
    for name, version in pins.packages.items():
        installed = replace.get(name, name)
        gaps = WHEEL_GAPS.get((installed, version), {})
        if runner.platform not in gaps:
            continue
        alternative = gaps[runner.platform]
        if alternative is None:
            problems.add(where + ("arch",), f"no {installed} {version} build exists for "
                         f"{runner.platform}: this runner cannot run the pinned stack")
        else:
            problems.add(where + ("arch",), f"no {installed} {version} wheel exists for "
                         f"{runner.platform}; add [platforms.{runner.platform}] "
                         f"replace = {{ {name} = \"{alternative}\" }}")


def _check_excluded_labels(excluded: tuple[Excluded, ...], problems: Problems) -> None:
    for index, rule in enumerate(excluded):
        if rule.os in OSES and rule.arch in ARCHES:
            _check_label(rule.label, rule.os or "", rule.arch or "", (f"excluded[{index}]",),
                         problems)


def _check_lab_ids(lab: Lab | None, runners: tuple[Runner, ...], problems: Problems) -> None:
    if lab is None:
        return
    ci_cells = {cell for runner in runners for cell in runner.cell_ids()}
    for index, cell in enumerate(lab.cells):
        if cell.id in ci_cells:  # both may end up in one aggregation, where ids must be unique
            problems.add((f"lab.cells[{index}]", "id"), f"{cell.id!r} is also a CI cell id")


def keras_generation(packages: Mapping[str, str]) -> int | None:
    """3 when the pins give Keras 3 (keras >= 3, or tensorflow >= 2.16 whose tf.keras is Keras 3
    and which pulls it), 2 when they give Keras 2, None when the pins do not say."""
    def major_minor(version: str) -> tuple[int, int] | None:
        parts = re.match(r"^(\d+)\.(\d+)", version)
        return (int(parts.group(1)), int(parts.group(2))) if parts else None

    keras = major_minor(packages.get("keras", ""))
    if keras is not None:
        return 3 if keras[0] >= 3 else 2
    tensorflow = major_minor(packages.get("tensorflow", ""))
    if tensorflow is not None:
        return 3 if tensorflow >= (2, 16) else 2
    return None


def _check_backends(variants: Mapping[str, Variant], pins: Pins, experiment: Experiment,
                    problems: Problems) -> None:
    """``backend`` needs Keras 3 and the user's own experiment (the built-in one is tf.keras)."""
    generation = keras_generation(pins.packages)
    for name, variant in variants.items():
        if variant.backend is None or variant.backend not in BACKENDS:
            continue
        where = ("variants", name, "backend")
        if generation == 2:
            problems.add(where, "a backend is a Keras 3 setting, and these pins give Keras 2 "
                         "(pin keras >= 3, or tensorflow >= 2.16); remove the key")
        elif experiment.entry is None:
            problems.add(where, "the built-in experiment is written for tf.keras; a backend "
                         "needs your own experiment ([experiment] entry)")


# --- entry points -------------------------------------------------------------------------------


def load_matrix(path: Path | str = DEFAULT_MATRIX) -> Matrix:
    """Read and validate a matrix file; raise ``ConfigError`` listing every problem found."""
    path = Path(path)
    try:
        text = read_bounded(path, MAX_MATRIX_BYTES).decode("utf-8")
    except UnreadableFile as error:
        if error.kind == "missing":
            raise ConfigError([f"{path}: no such file (use --matrix PATH)"]) from None
        raise ConfigError([f"{path}: {error.reason}"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: cannot read: {error}"]) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib's message ends with "(at line N, column M)": lead with the line like the others
        line = re.search(r"at line (\d+)", str(error))
        prefix = f"{path}:{line.group(1)}" if line else str(path)
        raise ConfigError([f"{prefix}: not valid TOML: {error}"]) from None
    return parse_matrix(doc, path, text)


def parse_matrix(doc: Mapping[str, Any], path: Path, text: str = "") -> Matrix:
    """Validate an already parsed document over the package defaults (``defaults.py``);
    ``text`` is only used to find line numbers."""
    doc = apply_defaults(doc)
    problems = Problems(path, text)
    check_keys(doc, ("experiment", "pins", "platforms", "variants", "runners", "excluded", "lab"),
                (), problems)
    variants = _load_variants(typed_value(doc, "variants", dict, (), problems, default={}), problems)
    experiment = _load_experiment(doc, variants, problems)
    pins = _load_pins(doc, problems)
    runners = _load_runners(doc, problems)
    excluded = _load_excluded(doc, runners, problems)
    lab = _load_lab(doc, variants, problems)
    _check_runner_facts(runners, excluded, pins, problems)
    _check_excluded_labels(excluded, problems)
    _check_lab_ids(lab, runners, problems)
    _check_backends(variants, pins, experiment, problems)
    problems.raise_if_any()
    return Matrix(path=path, experiment=experiment, pins=pins, variants=variants, runners=runners,
                  excluded=excluded, lab=lab)


def load_variants_file(path: Path | str, matrix: Matrix) -> dict[str, Variant]:
    """Extra variants from a TOML file of ``[variants.NAME]`` tables (matrix.toml's format;
    ``repromatrix remedy`` writes one per cell), checked as the matrix's are; a name the matrix
    already has is refused, so that a result is never filed under the wrong variant."""
    path = Path(path)
    try:
        text = read_bounded(path, MAX_MATRIX_BYTES).decode("utf-8")
        doc = tomllib.loads(text)
    except UnreadableFile as error:
        raise ConfigError([f"{path}: {error.reason}"]) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError([f"{path}: not valid TOML: {error}"]) from None
    problems = Problems(path, text)
    check_keys(doc, ("variants",), (), problems)
    variants = _load_variants(typed_value(doc, "variants", dict, (), problems, default={}),
                              problems)
    for name in variants:
        if name in matrix.variants:
            problems.add(("variants", name), f"{matrix.path.name} already has a variant {name!r}")
    problems.raise_if_any()
    return variants
