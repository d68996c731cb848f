"""The local cross-CPU lab: the same cell natively and under qemu emulating another CPU.

Waiting for CI to learn whether a change reproduces across CPU vendors is slow; emulation shows a
vendor-style divergence on one machine. The lab's cells (matrix.toml's ``[lab]``) run in parallel
as separate ``repromatrix run`` processes on the same pinned interpreter, each writing its own
artifact; a cell that fails leaves an error artifact, and the rest is still aggregated.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from repromatrix import artifact
from repromatrix.config.arguments import positive
from repromatrix.config.matrix import Lab, LabCell, Pins, load_matrix
from repromatrix.config.options import add_matrix_option
from repromatrix.errors import UsageError

HEARTBEAT_SECONDS = 20
# Cells any lab can add with --cell, beside its own: Linux arm64 under qemu-aarch64 (not in the
# default lab, which it would make too slow on 2 cores; README "An arm64 cell").
OPTIONAL_CELLS = (LabCell(id="lab-arm64", arch="arm64"),)


@dataclass(frozen=True)
class LabRun:
    cell: LabCell
    command: list[str]
    output: Path
    log: Path


def cell_command(python: str, matrix_path: str, lab: Lab, cell: LabCell, output: Path,
                 rows: int) -> list[str]:
    """The ``repromatrix run`` command line of one lab cell."""
    command = [python, "-m", "repromatrix", "run", "--cell", cell.id, "--matrix", matrix_path,
               "--rows", str(rows), "--output", str(output)]
    for variant in cell.variants or lab.variants:  # a cell may run only some of them
        command += ["--variant", variant]
    for name, value in sorted({**lab.env, **cell.env}.items()):  # a cell's own env wins
        command += ["--env", f"{name}={value}"]
    if cell.arch:
        command += ["--emulate-arch", cell.arch]
    if cell.emulate:
        command += ["--emulate", cell.emulate]
    if cell.estimates:
        command += ["--estimates", estimate_spec(cell.estimates, Path(matrix_path).parent)]
    return command


def estimate_spec(spec: str, base: Path) -> str:
    """A cell's ``estimates`` as ``run --estimates`` takes it: a file relative to matrix.toml."""
    from repromatrix.host import estimate_sources

    if spec in estimate_sources.BUILTIN or spec in estimate_sources.shipped():
        return spec
    return str(base / spec) if not Path(spec).is_absolute() else spec


def plan_runs(python: str, matrix_path: str, lab: Lab, folder: Path, rows: int) -> list[LabRun]:
    runs = []
    for cell in lab.cells:
        output = folder / f"{cell.id}.json"
        runs.append(LabRun(cell=cell, output=output, log=folder / f"{cell.id}.log",
                           command=cell_command(python, matrix_path, lab, cell, output, rows)))
    return runs


def check_emulation(lab: Lab, pins: Pins | None = None, base: Path = Path(".")) -> None:
    """Fail before any slow work if qemu or a CPU model is missing (one clear line).

    Without qemu on PATH this fetches Debian's static build into the cache, once, so that the
    cells (started next, in parallel) all find it there.
    """
    from repromatrix.emulation import qemu

    for cell in lab.cells:
        if cell.arch and pins is not None:  # the sysroot and wheels, fetched once, before the cells
            from repromatrix.host import arm64

            found_arm64 = arm64.prepare(pins, cell.emulate or arm64.DEFAULT_MODEL)
            print(f"repromatrix lab: {cell.id}: {arm64.describe(found_arm64)}", file=sys.stderr,
                  flush=True)
            continue
        if cell.emulate and cell.estimates:
            from repromatrix.emulation import qemu_build
            from repromatrix.host import estimate_sources

            estimate_sources.resolve(estimate_spec(cell.estimates, base))  # a bad table fails now
            built = qemu_build.ensure()  # built once, before the cells start
            qemu.adopt(built.path, cell.emulate, "estimates-build", "")  # a bad model fails now
            print(f"repromatrix lab: {cell.id}: estimates {cell.estimates}: {built.describe()}",
                  file=sys.stderr, flush=True)
        elif cell.emulate:
            found = qemu.located(qemu.find_qemu(cell.emulate))  # fetched from Debian if missing
            if found is not None:
                print(f"repromatrix lab: qemu {found.version}: {found.describe()}",
                      file=sys.stderr, flush=True)


def execute(runs: list[LabRun], command: str = "lab") -> dict[str, int]:
    """Start every cell at once (emulation is the slow one; the native cell runs beside it);
    progress lines are prefixed ``repromatrix <command>:``."""
    started = time.monotonic()
    processes = {}
    for run in runs:
        run.output.parent.mkdir(parents=True, exist_ok=True)
        run.output.unlink(missing_ok=True)  # never aggregate a stale result as this run's
        log = run.log.open("w", encoding="utf-8")
        processes[run.cell.id] = (subprocess.Popen(run.command, stdout=log, stderr=subprocess.STDOUT),
                                  log, run)
        print(f"repromatrix {command}: started {run.cell.id}"
              + (f" (qemu-aarch64 -cpu {run.cell.emulate or 'neoverse-n1'})" if run.cell.arch
                 else f" (qemu -cpu {run.cell.emulate}, estimates {run.cell.estimates})"
                 if run.cell.estimates
                 else f" (qemu -cpu {run.cell.emulate})" if run.cell.emulate else " (native)"),
              file=sys.stderr, flush=True)
    codes: dict[str, int] = {}
    next_report = started + HEARTBEAT_SECONDS
    while len(codes) < len(processes):
        time.sleep(0.5)
        for cell_id, (process, log, run) in processes.items():
            if cell_id in codes or process.poll() is None:
                continue
            log.close()
            codes[cell_id] = process.returncode
            state = "done" if process.returncode == 0 else f"FAILED (exit {process.returncode})"
            print(f"repromatrix {command}: {cell_id} {state} after {time.monotonic() - started:.0f} s",
                  file=sys.stderr, flush=True)
            if not run.output.exists():  # nothing lost: the table shows the failure and its log
                log_text = run.log.read_text(encoding="utf-8", errors="replace")
                artifact.write(run.output, artifact.error_document(
                    cell_id, None, f"lab cell exited with {process.returncode}", log_text))
        if time.monotonic() >= next_report and len(codes) < len(processes):
            next_report += HEARTBEAT_SECONDS
            for cell_id, (_, _, run) in sorted(processes.items()):
                if cell_id not in codes:
                    print(f"repromatrix {command}: {cell_id} running {time.monotonic() - started:.0f} s: "
                          f"{_last_line(run.log)}", file=sys.stderr, flush=True)
    return codes


def _last_line(path: Path) -> str:
    """The cell's latest progress message, without the 'repromatrix: <cell>:' prefix."""
    try:
        lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
                 if line.startswith("repromatrix")]
    except OSError:
        return ""
    return lines[-1].split(": ", 2)[-1] if lines else "starting"


def select_cells(lab: Lab, wanted: list[str]) -> Lab:
    """The lab with only the ``--cell`` ids given (its own cells or the optional ones), in order."""
    if not wanted:
        return lab
    known = {c.id: c for c in (*lab.cells, *OPTIONAL_CELLS)}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise UsageError(f"--cell {unknown[0]}: no such lab cell; known: {', '.join(known)}")
    return dataclasses.replace(lab, cells=tuple(known[w] for w in dict.fromkeys(wanted)))


REPLAY_CELL = "lab-qemu-replay"


def with_replay(lab: Lab, source: str) -> Lab:
    """The lab plus one emulated cell replaying ``source``'s estimate table (an artifact of a CI
    cell, say on an Intel Xeon), on the CPU model of the lab's first emulated x86 cell."""
    model = next((c.emulate for c in lab.cells if c.emulate and not c.arch), "Haswell")
    cell = LabCell(id=REPLAY_CELL, emulate=model, estimates=str(Path(source).resolve()))
    return dataclasses.replace(lab, cells=(*[c for c in lab.cells if c.id != REPLAY_CELL], cell))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lab",
        help="reproduce a CPU-vendor divergence on this machine: native vs qemu-emulated CPU",
        description="Run matrix.toml's [lab] cells (natively and under qemu-x86_64 emulating "
        "another CPU) on a few rows, then print the aggregated comparison. A cell's `estimates` "
        "gives its emulated CPU a vendor's rsqrtps/rcpps table (this CPU's, the Intel model, or "
        "a replayed one); without it qemu computes them exactly, as no real CPU does. AVX-512 "
        "is never emulated (docs/lab.md says what is faithful).",
    )
    add_matrix_option(parser)
    parser.add_argument("--rows", type=positive, help="rows (training steps) per cell "
                        "(default: [lab].rows)")
    parser.add_argument("--output-dir", default="artifacts/lab",
                        help="where the lab's artifacts and logs go (default: artifacts/lab)")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                        help="table format (default: text)")
    parser.add_argument("--cell", action="append", dest="cells", default=[], metavar="ID",
                        help="run only this cell (repeatable): one of [lab]'s cells, or "
                        + ", ".join(c.id for c in OPTIONAL_CELLS) + " (Linux arm64 under "
                        "qemu-aarch64)")
    parser.add_argument("--estimates-from", metavar="FILE",
                        help=f"add a cell ({REPLAY_CELL}) whose emulated CPU computes rsqrtps/"
                        "rcpps from the table FILE records: an artifact of a cell that ran on "
                        "another x86_64 CPU (a CI runner's), or a table file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    matrix = load_matrix(args.matrix)
    if matrix.lab is None or not matrix.lab.cells:
        raise UsageError(f"{args.matrix} has no [lab] cells")
    rows = args.rows if args.rows is not None else matrix.lab.rows
    lab = select_cells(matrix.lab, args.cells)
    if args.estimates_from:
        lab = with_replay(lab, args.estimates_from)
    check_emulation(lab, matrix.pins, Path(args.matrix).parent)
    folder = Path(args.output_dir)
    runs = plan_runs(sys.executable, str(args.matrix), lab, folder, rows)
    codes = execute(runs)
    outputs = [str(r.output) for r in runs]
    completed = subprocess.run([sys.executable, "-m", "repromatrix", "aggregate", *outputs,
                                "--format", args.format, "--chart-dir", str(folder)], check=False)
    for line in faithfulness(runs):
        print(f"repromatrix lab: {line}", file=sys.stderr, flush=True)
    # The table is printed either way (failed cells are rows of it); the exit code says a cell failed.
    return completed.returncode or (1 if any(codes.values()) else 0)


def faithfulness(runs: list[LabRun]) -> list[str]:
    """For each emulated cell given this CPU's own table: does it train like the native cell with
    the same environment (the emulation's faithfulness check), and which probe cases differ (qemu
    emulates no AVX-512, so a kernel that dispatches on it can differ while training agrees)."""
    import json

    def read(run: LabRun) -> dict:
        try:
            document = json.loads(run.output.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return document if isinstance(document, dict) else {}

    lines = []
    for run in runs:
        if run.cell.estimates != "host":
            continue
        native = next((r for r in runs if not r.cell.emulate and not r.cell.arch
                       and dict(r.cell.env) == dict(run.cell.env)), None)
        if native is None:
            continue
        mine, theirs = read(run), read(native)
        variants = sorted(set(mine.get("variants") or {}) & set(theirs.get("variants") or {}))
        if not variants:
            continue
        same = [v for v in variants
                if mine["variants"][v].get("digest") is not None
                and mine["variants"][v].get("digest") == theirs["variants"][v].get("digest")]
        differ = [v for v in variants if v not in same]
        probes = {p.get("case"): p.get("sha256") for p in theirs.get("probe") or []
                  if isinstance(p, dict)}
        cases = sorted(str(p.get("case")) for p in mine.get("probe") or []
                       if isinstance(p, dict) and p.get("case") in probes
                       and probes[p.get("case")] != p.get("sha256"))
        verdict = (f"{', '.join(same)} bit-identical" if same else "") + (
            f"{'; ' if same else ''}{', '.join(differ)} DIFFER: the emulated copy is not faithful "
            "here" if differ else "")
        probe = (f"; probe cases that differ under emulation: {', '.join(cases)} (the emulated "
                 f"{run.cell.emulate} has other ISA extensions than this CPU, e.g. no AVX-512, "
                 "and kernels that dispatch on them can differ)" if cases else
                 "; every probe case agrees")
        lines.append(f"faithfulness: {run.cell.id} (this CPU's estimate table) vs {native.cell.id}: "
                     f"{verdict}{probe}")
    return lines
