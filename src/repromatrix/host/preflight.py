"""``repromatrix preflight``: can every CI runner's platform install the pinned stack?

The loader's platform facts (matrix.py) cover the stack they were checked for; a user's own pins
(a newer TensorFlow, Keras 3) are only known to work somewhere once pip has resolved them there.
This asks pip's own resolver, for each runner's platform, without installing anything:

    pip install --dry-run --ignore-installed --report FILE --only-binary=:all:
        --platform TAG... --python-version 3.9 --implementation cp --abi cp39 ... REQUIREMENTS

A failed resolution is then narrowed down to the pins that have no wheel at all (one ``--no-deps``
resolution per pin), and each ``[platforms.*] replace`` mapping is checked both ways: the mapped
pin must resolve, and the plain one is tried too, to show whether the mapping is really needed.
Resolutions run a few at a time (each fetches package metadata from PyPI: tens of seconds).

An arm64 lab cell (``[[lab.cells]] arch = "arm64"``, or ``--cell lab-arm64``) is checked the way
the lab prepares it (``arm64.check``), downloading nothing: qemu-aarch64 present or fetchable,
Debian's interpreter in the suite's index, every pin resolving for the sysroot's Python and glibc.
Exit status: 0 every runner resolves (and every arm64 lab cell can be prepared), 1 some runner or
cell cannot, 2 usage errors (bad matrix, no pip).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from repromatrix.config.matrix import HOSTED_LABELS, Matrix
from repromatrix.host.resolution import (  # pip's mechanics, also named preflight.X
    MIN_PIP,  # noqa: F401
    NETWORK_HINTS,  # noqa: F401
    PYPI,  # noqa: F401
    Installed,
    PipSettings,
    Resolution,
    Runner,
    Target,
    normal_name,
    parse_failure,  # noqa: F401
    parse_report,  # noqa: F401
    pip_available,  # noqa: F401
    pip_command,  # noqa: F401
    resolve_once,
    run_pip,
)
from repromatrix.platform_facts import MARKER_ENV, PLATFORM_TAGS

# PLATFORM_TAGS (wheel tags per "<os>-<arch>") and MARKER_ENV (what environment markers see
# there) are data: resources/platforms.toml, which says why each looks as it does.
DEFAULT_JOBS = 4
def missed_by_markers(installs: Sequence[Installed], platform: str, python: str) -> list[str]:
    """Dependencies whose marker is true on the target but that pip left out (see MARKER_ENV)."""
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pip's own copy, present wherever pip is
        # the same classes, vendored: mypy sees two distinct types
        from pip._vendor.packaging.requirements import (  # type: ignore[assignment]
            InvalidRequirement,
            Requirement,
        )
    environment = {**MARKER_ENV[platform], "python_version": ".".join(python.split(".")[:2]),
                   "python_full_version": python, "implementation_name": "cpython",
                   "platform_python_implementation": "CPython", "platform_release": "",
                   "platform_version": "", "implementation_version": python, "extra": ""}
    present = {normal_name(i.name) for i in installs}
    missed: dict[str, str] = {}
    for install in installs:
        for text in install.requires:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            name = normal_name(requirement.name)
            if requirement.marker is None or name in present or name in missed:
                continue
            if requirement.marker.evaluate(environment):
                missed[name] = f"{requirement.name}{requirement.specifier}"
    return sorted(missed.values())


def resolve(settings: PipSettings, target: Target, requirements: Sequence[str],
            no_deps: bool = False, run: Runner = run_pip, python: str = "") -> Resolution:
    """A pip resolution, redone with the target's marker-selected dependencies pip skipped."""
    resolution = resolve_once(settings, target, requirements, no_deps, run)
    if resolution.ok and not no_deps and python:
        extra = missed_by_markers(resolution.installs, target.platform, python)
        if extra:
            resolution = resolve_once(settings, target, [*requirements, *extra], no_deps, run)
    return resolution


# --- what to check --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table: a CI runner, or an excluded entry (expected to fail)."""

    label: str
    platform: str | None  # None: an excluded self-hosted label on an unknown platform
    excluded: bool
    reason: str = ""


def rows_of(matrix: Matrix) -> list[Row]:
    rows = [Row(r.label, r.platform, False) for r in matrix.runners]
    for rule in matrix.excluded:
        platform = rule.platform
        if platform is None and rule.label in HOSTED_LABELS:
            platform = "-".join(HOSTED_LABELS[rule.label])
        rows.append(Row(rule.label, platform, True, rule.reason))
    return rows


def target_of(platform: str, matrix: Matrix) -> Target:
    return Target(platform=platform, tags=PLATFORM_TAGS[platform],
                  python_minor=matrix.pins.python_minor)


@dataclass(frozen=True)
class PlatformResult:
    platform: str
    requirements: tuple[str, ...]
    full: Resolution
    unavailable: tuple[str, ...]  # pins with no wheel at all (checked one by one when full fails)
    mappings: tuple[tuple[str, str, bool], ...]  # (plain pin, mapped pin, plain one resolves)
    pulls: tuple[tuple[str, str | None], ...]  # [platforms.*] pulls and their resolved version

    @property
    def ok(self) -> bool:
        return self.full.ok


class Progress:
    """``[3/9] macos-arm64 full: resolves (21.4 s)`` on stderr as each resolution finishes."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.lock = threading.Lock()

    def more(self, count: int) -> None:
        with self.lock:
            self.total += count

    def report(self, what: str, resolution: Resolution, seconds: float) -> None:
        with self.lock:
            self.done += 1
            verdict = "resolves" if resolution.ok else "fails"
            print(f"repromatrix preflight: [{self.done}/{self.total}] {what}: {verdict} "
                  f"({seconds:.1f} s)", file=sys.stderr, flush=True)


def check_platforms(matrix: Matrix, platforms: Sequence[str], pip: PipSettings, jobs: int,
                    run: Runner = run_pip) -> dict[str, PlatformResult]:
    """Full resolutions and mapping checks in parallel; per-pin checks only where a full fails."""
    work: dict[tuple[str, str, str], tuple[Target, tuple[str, ...], bool]] = {}
    for platform in platforms:
        target = target_of(platform, matrix)
        work[(platform, "full", "")] = (target, tuple(matrix.pins.requirements(platform)), False)
        for plain, _mapped in _mappings(matrix, platform):
            work[(platform, "plain", plain)] = (target, (plain,), True)
    progress = Progress(len(work))
    results = _resolve_all(work, pip, jobs, run, progress, matrix.pins.python)
    pin_checks = {(platform, "pin", requirement): (target_of(platform, matrix), (requirement,), True)
                  for platform in platforms if not results[(platform, "full", "")].ok
                  for requirement in matrix.pins.requirements(platform)}
    progress.more(len(pin_checks))
    results.update(_resolve_all(pin_checks, pip, jobs, run, progress, matrix.pins.python))
    return {platform: _platform_result(matrix, platform, results) for platform in platforms}


def _mappings(matrix: Matrix, platform: str) -> list[tuple[str, str]]:
    """(plain pin, mapped pin) for each ``replace`` of the platform."""
    rules = matrix.pins.platforms.get(platform)
    if rules is None:
        return []
    return [(f"{name}=={matrix.pins.packages[name]}", f"{other}=={matrix.pins.packages[name]}")
            for name, other in rules.replace.items() if name in matrix.pins.packages]


def _resolve_all(work: Mapping[tuple[str, str, str], tuple[Target, tuple[str, ...], bool]],
                 pip: PipSettings, jobs: int, run: Runner, progress: Progress, python: str
                 ) -> dict[tuple[str, str, str], Resolution]:
    def one(key: tuple[str, str, str]) -> Resolution:
        target, requirements, no_deps = work[key]
        started = time.monotonic()
        resolution = resolve(pip, target, requirements, no_deps, run, python)
        what = f"{key[0]} {key[1]}" + (f" {key[2]}" if key[2] else "")
        progress.report(what, resolution, time.monotonic() - started)
        return resolution

    results: dict[tuple[str, str, str], Resolution] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(one, key): key for key in work}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
    return results


def _platform_result(matrix: Matrix, platform: str,
                     results: Mapping[tuple[str, str, str], Resolution]) -> PlatformResult:
    full = results[(platform, "full", "")]
    requirements = tuple(matrix.pins.requirements(platform))
    unavailable = tuple(r for r in requirements
                        if (platform, "pin", r) in results and not results[(platform, "pin", r)].ok)
    mappings = tuple((plain, mapped, results[(platform, "plain", plain)].ok)
                     for plain, mapped in _mappings(matrix, platform))
    rules = matrix.pins.platforms.get(platform)
    pulls = tuple((name, full.version_of(name)) for name in (rules.pulls if rules else ()))
    return PlatformResult(platform, requirements, full, unavailable, mappings, pulls)


# --- the report -----------------------------------------------------------------------------------


def problems_of(row: Row, result: PlatformResult | None, target: Target | None) -> list[str]:
    """``windows-11-arm: no wheel for tensorflow==2.12.0 on win_arm64`` lines for one row."""
    if result is None or target is None or result.ok:
        return []
    where = target.short_tags()
    if result.full.network:
        return [f"{row.label}: could not check: {result.full.message}"]
    missing = list(result.unavailable) or list(result.full.missing)
    if missing:
        return [f"{row.label}: no wheel for {m} on {where}" for m in missing]
    return [f"{row.label}: the pins do not resolve on {where}: {result.full.message}"]


def details_of(result: PlatformResult) -> str:
    parts = []
    if result.ok:
        names = {normal_name(r.split("==")[0]) for r in result.requirements}
        chosen = [i for i in result.full.installs if normal_name(i.name) in names]
        tf_like = [f"{i.name} {i.version}" for i in chosen if "tensorflow" in normal_name(i.name)]
        parts.append(f"{len(result.full.installs)} wheels" + (f"; {', '.join(tf_like)}"
                                                              if tf_like else ""))
        for name, version in result.pulls:
            parts.append(f"pulls {name} {version}" if version else f"{name} NOT pulled")
    else:
        missing = list(result.unavailable) or list(result.full.missing)
        parts.append(f"missing: {', '.join(missing)}" if missing else result.full.message)
    for plain, mapped, plain_resolves in result.mappings:
        parts.append(f"{mapped} replaces {plain}: "
                     + ("not needed, the plain pin resolves too" if plain_resolves
                        else "needed, the plain pin has no wheel here"))
    return "; ".join(parts)


def verdict_of(row: Row, result: PlatformResult | None) -> str:
    if result is None:
        return "skipped" if row.excluded else "unknown"
    if row.excluded:
        return "fails (excluded, expected)" if not result.ok else "resolves (excluded: stale?)"
    if result.full.network:
        return "not checked"
    return "resolves" if result.ok else "FAILS"


def table_lines(table: Sequence[Sequence[str]]) -> list[str]:
    """Aligned columns; the last one (details) is not padded. ``table[0]`` is the header."""
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths)) + "  "
             + line[-1] for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 7)
    return lines
