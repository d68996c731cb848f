"""``repromatrix remedy``: try the known remedies on the cells that disagree, report what works.

From a comparison (a lab run's artifacts, or CI's), every diverging variant gets the candidates
its stack, root op and likely causes bring (remedy_candidates.py). Each runs as a variant of its
own on the same cells that disagreed, the lab's cells run here as the lab runs them (in
parallel, one ``repromatrix run`` per cell; all of a cell's candidates in as few processes as
their settings allow, so one framework import per process group). Results already in the
artifacts are reused, never re-run (remedy_search.py says when). Candidates that are each
partial are then tried in pairs. The verdicts (remedy_search.py) and the lines that apply a
verified one are printed and written to ``<output-dir>/remedy.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from repromatrix.config.arguments import positive
from repromatrix.config.matrix import Lab, LabCell, Matrix, load_matrix
from repromatrix.config.options import add_matrix_option
from repromatrix.errors import UsageError
from repromatrix.host import lab as lab_module
from repromatrix.host import remedy_candidates, remedy_search, remedy_text
from repromatrix.host.remedy_candidates import Candidate, Finding
from repromatrix.host.remedy_search import PARTIAL, Cells, Divergence, Outcome, Pair
from repromatrix.model import Variant

REMEDY_SOURCE = "remedy:"  # how results of this search's own runs are told from reused ones


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "remedy",
        help="try the known remedies on the cells that disagree and report which make them agree",
        description="For each variant whose cells disagree in ARTIFACTS (default: the lab's, "
        "artifacts/lab), run the candidate remedies its root cause and likely causes bring "
        "(resources/remedies.toml: oneDNN off, ISA caps, one thread, op determinism, XLA and "
        "PyTorch knobs, the built-in experiment's optimizers, and pairs of two) on the same lab "
        "cells, and report each as verified (every cell bit-identical), partial, no effect, "
        "worse or failed, with its training time against the original and its final loss. "
        "Cells that are not this lab's (CI runners) are not run here: the report gives the "
        "matrix.toml lines to try there.",
    )
    parser.add_argument("artifacts", nargs="*", default=["artifacts/lab"],
                        help="artifact files or folders of the comparison (default: artifacts/lab)")
    add_matrix_option(parser)
    parser.add_argument("--variant", action="append", dest="variants", default=[],
                        metavar="NAME", help="only this diverging variant (repeatable)")
    parser.add_argument("--rows", type=positive, help="rows per cell, as the compared run had "
                        "(default: [lab].rows)")
    parser.add_argument("--output-dir", default="artifacts/remedy",
                        help="where the candidates' artifacts, logs and remedy.json go "
                        "(default: artifacts/remedy)")
    parser.add_argument("--candidate", action="append", dest="candidates", default=[],
                        metavar="ID", help="only this candidate (repeatable; ids in "
                        "resources/remedies.toml, docs/remedy.md)")
    parser.add_argument("--no-pairs", action="store_true",
                        help="do not try pairs of two partial candidates")
    parser.set_defaults(func=run)


def _documents(paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    from repromatrix.report.load import expand_paths

    files, missing = expand_paths(paths)
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    found = []
    for name in files:
        try:
            document = json.loads(Path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # the aggregate reports unreadable files; they have no results to reuse
        if isinstance(document, dict) and document.get("cell"):
            found.append((name, document))
    return found


def divergences(paths: Sequence[str], matrix: Matrix, wanted: Sequence[str]
                ) -> tuple[list[Divergence], list[str]]:
    """The diverging variants of the comparison, with what each comparison found; and notes on
    those that cannot be searched (not in the matrix file)."""
    from repromatrix.report.command import aggregate

    agg = aggregate(paths)
    keras = matrix.pins.packages.get("keras")
    found, notes = [], []
    for result in agg.variants:
        if not result.diverges or (wanted and result.name not in wanted):
            continue
        variant = matrix.variants.get(result.name)
        if variant is None:
            notes.append(f"{result.name}: not a variant of {matrix.path.name}, so no candidate "
                         "can be derived from it")
            continue
        letters = {g.letter: g.cells for g in result.groups}
        pairs = []
        for comparison in result.comparisons:
            root = comparison.root_cause
            ops = (*root.through, root.op_type) if root is not None else ()
            causes = tuple(dict.fromkeys(c.cause for c in comparison.likely_causes))
            pairs.append(Pair(reference=result.groups[0].cells, other=letters[comparison.letter],
                              finding=Finding(root_ops=tuple(ops), causes=causes)))
        found.append(Divergence(
            variant=variant, stack=remedy_search.stack_of(variant, keras),
            builtin=matrix.experiment.entry is None,
            groups=tuple(g.cells for g in result.groups), pairs=tuple(pairs)))
    unknown = [w for w in wanted if w not in {d.variant.name for d in found}]
    if unknown:
        raise UsageError(f"--variant {unknown[0]}: not a diverging variant of these artifacts")
    return found, notes


def lab_cells(matrix: Matrix) -> dict[str, LabCell]:
    cells = {c.id: c for c in lab_module.OPTIONAL_CELLS}
    if matrix.lab is not None:
        cells.update({c.id: c for c in matrix.lab.cells})
    return cells


def run_candidates(python: str, matrix: Matrix, runs: dict[str, list[Variant]], folder: Path,
                   rows: int) -> list[Path]:
    """One ``repromatrix run`` per cell with its candidate variants (a variants file), all cells
    at once as the lab runs them; returns the artifacts written (failed cells: error artifacts)."""
    known = lab_cells(matrix)
    lab = matrix.lab or Lab(rows=rows, env={}, variants=(), cells=())
    bare = dataclasses.replace(lab, variants=())  # the variants come from the file
    planned = []
    folder.mkdir(parents=True, exist_ok=True)
    for cell_id, variants in sorted(runs.items()):
        cell = dataclasses.replace(known[cell_id], variants=None)
        variants_file = folder / f"{cell_id}.variants.toml"
        variants_file.write_text(_variants_toml(variants), encoding="utf-8")
        output = folder / f"{cell_id}.json"
        command = lab_module.cell_command(python, str(matrix.path), bare, cell, output, rows)
        command += ["--variants-file", str(variants_file)]
        planned.append(lab_module.LabRun(cell=cell, command=command, output=output,
                                         log=folder / f"{cell_id}.log"))
        print(f"repromatrix remedy: {cell_id}: {len(variants)} candidate variant"
              f"{'s' if len(variants) != 1 else ''}: {', '.join(v.name for v in variants)}",
              file=sys.stderr, flush=True)
    if planned:
        lab_module.execute(planned, "remedy")
    return [r.output for r in planned]


def _variants_toml(variants: Sequence[Variant]) -> str:
    """The candidates as a file ``run --variants-file`` reads (with their ``base``)."""
    lines = ["# candidate variants written by repromatrix remedy"]
    for variant in variants:
        lines += remedy_text.variant_table(variant.name, variant, variant.description, base=True)
    return "\n".join(lines) + "\n"


def search(divergences_: Sequence[Divergence], cells: Cells, python: str, matrix: Matrix,
           folder: Path, rows: int, pairs: bool, only: Sequence[str] = ()
           ) -> dict[str, list[Outcome]]:
    """Round one: every chosen candidate (or only those named); round two: pairs of partial
    ones."""
    shipped = remedy_candidates.load()
    unknown = [c for c in only if c not in {s.id for s in shipped}]
    if unknown:
        raise UsageError(f"--candidate {unknown[0]}: no such candidate; known: "
                         f"{', '.join(s.id for s in shipped)}")
    if only:
        shipped = tuple(s for s in shipped if s.id in only)
    chosen: dict[str, list[Candidate]] = {}
    for divergence in divergences_:
        found = remedy_candidates.choose(shipped, divergence.stack, divergence.builtin,
                                         [p.finding for p in divergence.pairs])
        # a candidate the variant already has changes nothing: not a remedy to offer
        chosen[divergence.variant.name] = [
            c for c in found if c.applied_to(divergence.variant).settings()
            != dataclasses.replace(divergence.variant, base=divergence.variant.name).settings()]
    outcomes = _round(divergences_, chosen, cells, python, matrix, folder / "round-1", rows)
    if pairs:
        second: dict[str, list[Candidate]] = {}
        for divergence in divergences_:
            partial = [o.candidate for o in outcomes[divergence.variant.name]
                       if o.verdict == PARTIAL]
            combined = [remedy_candidates.pair(a, b) for i, a in enumerate(partial)
                        for b in partial[i + 1:]]
            second[divergence.variant.name] = [c for c in combined if c is not None]
        if any(second.values()):
            more = _round(divergences_, second, cells, python, matrix, folder / "round-2", rows)
            for name, judged in more.items():
                outcomes[name].extend(judged)
    return outcomes


def _round(divergences_: Sequence[Divergence], chosen: dict[str, list[Candidate]], cells: Cells,
           python: str, matrix: Matrix, folder: Path, rows: int) -> dict[str, list[Outcome]]:
    runs = remedy_search.needed_runs(divergences_, chosen, cells)
    for output in run_candidates(python, matrix, runs, folder, rows):
        try:
            document = json.loads(output.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        builtin = matrix.experiment.entry is None
        cells.add_artifact(document, f"{REMEDY_SOURCE}{output}", builtin)
        _file_failures(document, cells, runs, builtin)
    return {d.variant.name: [remedy_search.judge(d, c, cells) for c in chosen[d.variant.name]]
            for d in divergences_}


def _file_failures(document: dict[str, Any], cells: Cells, runs: dict[str, list[Any]],
                   builtin: bool) -> None:
    """A cell that failed as a whole (an error artifact) fails each variant it was to run."""
    cell = str(document.get("cell"))
    if document.get("status") == "ok" or cell not in runs:
        return
    message = str((document.get("error") or {}).get("message") or "the cell failed")
    for variant in runs[cell]:
        key = remedy_search.effective_key(variant.settings(), cells.env.get(cell, {}),
                                          variant.name, builtin)
        cells.results.setdefault((cell, key), remedy_search.Result(
            digest=None, seconds=None, loss=None, error=message, source=REMEDY_SOURCE))


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    matrix = load_matrix(args.matrix)
    rows = args.rows if args.rows is not None else (matrix.lab.rows if matrix.lab else None)
    if rows is None:
        raise UsageError(f"{args.matrix} has no [lab]: give --rows as the compared run had")
    found, notes = divergences(args.artifacts, matrix, args.variants)
    builtin = matrix.experiment.entry is None
    cells = Cells()
    runnable = lab_cells(matrix)
    for name, document in _documents(args.artifacts):
        cells.add_artifact(document, name, builtin)
        if document.get("cell") in runnable:
            cells.runnable.add(str(document["cell"]))
    if not found:
        print("repromatrix remedy: no variant diverges in these artifacts: nothing to remedy")
        return 0
    lab_module.check_emulation(dataclasses.replace(
        matrix.lab or Lab(rows=rows, env={}, variants=(), cells=()),
        cells=tuple(runnable[c] for c in sorted(cells.runnable))), matrix.pins,
        Path(args.matrix).parent)
    folder = Path(args.output_dir)
    outcomes = search(found, cells, sys.executable, matrix, folder, rows, not args.no_pairs,
                      args.candidates)
    machine = _machine()
    print(remedy_text.render(found, outcomes, notes, machine), end="")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "remedy.json").write_text(json.dumps(
        remedy_text.as_json(found, outcomes, notes), indent=1, sort_keys=True) + "\n",
        encoding="utf-8")
    print(f"repromatrix remedy: {folder / 'remedy.json'} written after "
          f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return 0


def _machine() -> str:
    import platform

    from repromatrix.cell.fingerprint import read_cpu

    cpu = read_cpu(platform.system(), None)
    return f"this machine ({cpu.get('model') or platform.machine()})"
