"""``repromatrix preflight``, the command: every CI runner's platform (preflight.py) and every
arm64 lab cell (``arm64.check``), checked and rendered as one table.

Apart from preflight.py because the arm64 cell reuses preflight's resolver and platform tags:
with the cell checks in preflight.py the two modules imported each other.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Callable

from repromatrix.config.matrix import Lab, LabCell, Matrix, load_matrix
from repromatrix.config.options import add_matrix_option
from repromatrix.errors import UsageError
from repromatrix.host import arm64, lock
from repromatrix.host.lab import select_cells
from repromatrix.host.preflight import (
    DEFAULT_JOBS,
    PLATFORM_TAGS,
    PYPI,
    PipSettings,
    PlatformResult,
    Row,
    check_platforms,
    details_of,
    pip_available,
    problems_of,
    rows_of,
    table_lines,
    target_of,
    verdict_of,
)

# --- arm64 lab cells ------------------------------------------------------------------------------


CHECK_VERDICTS = {True: "ready", False: "FAILS", None: "not checked"}


@dataclass(frozen=True)
class CellResult:
    cell: LabCell
    checks: tuple[arm64.Check, ...]

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.checks)


def arm64_cells(matrix: Matrix, named: Sequence[str]) -> list[LabCell]:
    """The lab's arm64 cells, then those named with --cell (``lab-arm64`` is an optional cell,
    not in the default lab: ``repromatrix lab --cell lab-arm64`` adds it)."""
    lab = matrix.lab or Lab(rows=0, env={}, variants=(), cells=())
    cells = [cell for cell in lab.cells if cell.arch == "arm64"]
    for cell in select_cells(lab, list(named)).cells if named else ():
        if cell.arch != "arm64":
            raise UsageError(f"--cell {cell.id}: preflight checks arm64 lab cells, and this one "
                             "runs on this machine's architecture")
        if cell not in cells:
            cells.append(cell)
    return cells


def check_cells(cells: Sequence[LabCell], matrix: Matrix, pip: PipSettings,
                check: Callable[..., Sequence[arm64.Check]] = arm64.check) -> list[CellResult]:
    """What each arm64 cell needs, checked as the lab prepares it, with nothing downloaded."""
    results = []
    for cell in cells:
        print(f"repromatrix preflight: {cell.id}: checking qemu-aarch64, Debian's interpreter and "
              "the arm64 wheels (nothing is downloaded)", file=sys.stderr, flush=True)
        model = cell.emulate or arm64.DEFAULT_MODEL
        results.append(CellResult(cell, tuple(check(matrix.pins, model, pip=pip.pip))))
    return results


def check_estimate_cells(matrix: Matrix,
                         availability: Callable[[], tuple[bool, str]] | None = None,
                         ) -> list[CellResult]:
    """Each emulated x86 cell with ``estimates``: its table readable, the patched qemu there or
    buildable (nothing is downloaded or built)."""
    import platform

    from repromatrix.emulation import qemu_build
    from repromatrix.host import estimate_sources
    from repromatrix.host.lab import estimate_spec

    lab = matrix.lab or Lab(rows=0, env={}, variants=(), cells=())
    cells = [cell for cell in lab.cells if cell.estimates]
    if not cells or (platform.system(), platform.machine().lower()) not in (
            ("Linux", "x86_64"), ("Linux", "amd64")):
        return []  # the emulated x86 cells run on Linux x86_64 only: nothing to check elsewhere
    ok, text = (availability or qemu_build.availability)()
    results = []
    for cell in cells:
        assert cell.estimates is not None
        try:
            resolved = estimate_sources.resolve(estimate_spec(cell.estimates, matrix.path.parent))
            table = arm64.Check("estimate table", True,
                                f"{resolved.label} (sha256 {resolved.tables.sha256()[:12]})")
        except UsageError as error:
            table = arm64.Check("estimate table", False, str(error))
        results.append(CellResult(cell, (table, arm64.Check("patched qemu", ok, text))))
    return results


# --- the table ------------------------------------------------------------------------------------


def render(rows: Sequence[Row], results: Mapping[str, PlatformResult], matrix: Matrix,
           cells: Sequence[CellResult] = ()) -> str:
    table = [("runner", "platform", "result", "details")]
    for row in rows:
        result = results.get(row.platform or "")
        details = details_of(result) if result else ("unknown platform: give the entry os and "
                                                     "arch" if row.platform is None else "")
        table.append((row.label + (" (excluded)" if row.excluded else ""), row.platform or "?",
                      verdict_of(row, result), details))
    lines = table_lines(table)
    if cells:
        lab_table = [("lab cell", "needs", "result", "details")]
        lab_table += [(cell.cell.id, item.what, CHECK_VERDICTS[item.ok], item.text)
                      for cell in cells for item in cell.checks]
        lines += ["", *table_lines(lab_table)]
    problems = [p for row in rows
                for p in problems_of(row, results.get(row.platform or ""),
                                     target_of(row.platform, matrix) if row.platform else None)]
    problems += [f"{cell.cell.id}: {item.text}" for cell in cells for item in cell.checks
                 if item.ok is False]
    head = (f"pins: Python {matrix.pins.python}, "
            + ", ".join(f"{n}=={v}" for n, v in matrix.pins.packages.items()))
    return "\n".join([head, "", *lines] + (["", *problems] if problems else [])) + "\n"


def exit_code(rows: Sequence[Row], results: Mapping[str, PlatformResult],
              cells: Sequence[CellResult] = ()) -> int:
    """1 when a CI runner (not an excluded entry) cannot install the pins, or an arm64 lab cell
    lacks something; else 0."""
    failing = [r for r in rows if not r.excluded
               and not (r.platform in results and results[r.platform or ""].ok)]
    return 1 if failing or any(not cell.ok for cell in cells) else 0


# --- command --------------------------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "preflight",
        help="check with pip's resolver that every CI runner's platform can install the pins",
        description="For every [[runners]] entry (and every [[excluded]] one, expected to fail), "
        "resolve matrix.toml's pins for that platform with `pip install --dry-run --report` "
        "(wheels only, the pinned Python's minor version), without installing anything. Arm64 "
        "lab cells are checked too (qemu-aarch64, Debian's interpreter, arm64 wheels), and on "
        "Linux x86_64 the lab's cells with `estimates` (their table, and the patched qemu: built "
        "or buildable); only indexes are read, nothing is downloaded or built. Prints a table and "
        "what is missing. Exit 0: every runner resolves; 1: some runner or lab cell cannot; 2: "
        "usage error. Needs PyPI.",
    )
    add_matrix_option(parser)
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                        help=f"pip resolutions at a time (default: {DEFAULT_JOBS})")
    parser.add_argument("--pip-python", default=sys.executable,
                        help="the interpreter whose pip resolves (default: this one)")
    parser.add_argument("--index-url", default=PYPI, help=f"package index (default: {PYPI}); "
                        "pip's environment variables and user configuration are ignored so the answer is "
                        "the index's")
    parser.add_argument("--cell", action="append", dest="cells", default=[], metavar="ID",
                        help="also check this arm64 lab cell (repeatable), e.g. lab-arm64, "
                        "which `repromatrix lab --cell lab-arm64` adds to the lab")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    matrix = load_matrix(args.matrix)
    # A lock that no longer matches the pins would stop every CI cell: say so before resolving.
    for platform in lock.platforms(matrix):
        lock.check(matrix.path, lock.inputs(matrix, platform, lock.own_requirements()))
    cells = arm64_cells(matrix, args.cells)
    pip = PipSettings(pip_available(args.pip_python), args.index_url,
                      os.environ.get("PIP_CERT") or None)
    rows = rows_of(matrix)
    platforms = sorted({r.platform for r in rows if r.platform and r.platform in PLATFORM_TAGS})
    print(f"repromatrix preflight: resolving {len(platforms)} platforms with pip "
          f"({args.jobs} at a time; each takes a while)", file=sys.stderr, flush=True)
    results = check_platforms(matrix, platforms, pip, args.jobs)
    cell_results = check_cells(cells, matrix, pip) + check_estimate_cells(matrix)
    sys.stdout.write(render(rows, results, matrix, cell_results))
    return exit_code(rows, results, cell_results)
