"""The ``repromatrix`` command line: init, run, aggregate, lab, plan, error-artifact.

Every error a user can cause ends in one ``repromatrix: error: ...`` line and exit code 2;
set REPROMATRIX_TRACEBACK=1 to see the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from repromatrix import __version__
from repromatrix.config.arguments import check_cell_id, env_pair, positive
from repromatrix.config.options import add_matrix_option
from repromatrix.errors import ConfigError, ReproError, UsageError
from repromatrix.files import MiB, UnreadableFile, read_bounded
from repromatrix.model import TRACE_STEPS

MAX_LOG_BYTES = 1 * MiB  # the end of a failed run's log: far more than the lines an artifact keeps
DESCRIPTION = """\
Does a Keras training run give bit-identical results across operating systems, CPU
architectures and CPU vendors? `run` trains the experiment on this machine and writes one JSON
artifact per cell; `aggregate` turns artifacts from many machines into one comparison table that
says where results diverge and which TensorFlow op is to blame."""


def add_run_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="train the experiment's variants on this machine and write the cell's artifact",
        description="Train every requested variant of the experiment on this machine, probe "
        "single TensorFlow ops, record the machine's fingerprint, and write one JSON artifact "
        "(format: docs/artifact.md). Runs inside the pinned venv; `nox -s repro` calls it.",
    )
    parser.add_argument("--cell", default="local", help="cell id, used as the artifact's name "
                        "(default: local)")
    parser.add_argument("--runner-label", help="the CI runner label this cell ran on, if any")
    add_matrix_option(parser)
    parser.add_argument("--variant", action="append", dest="variants", default=[], metavar="NAME",
                        help="run only this variant (repeatable; default: the matrix's "
                        "experiment.variants)")
    parser.add_argument("--variants-file", metavar="FILE",
                        help="extra variants: a TOML file of [variants.NAME] tables, as in "
                        "matrix.toml (repromatrix remedy writes one); without --variant, only "
                        "its variants run")
    parser.add_argument("--data", help="a CSV with a header row: any number of feature columns "
                        "and a target (default: the matrix's data, normally the built-in set)")
    parser.add_argument("--target", help="the target column of --data: a name or a 0-based index "
                        "(default: the matrix's target, normally 'target')")
    parser.add_argument("--rows", type=positive, help="use only the first N rows (steps)")
    parser.add_argument("--output", help="artifact path (default: artifacts/<cell>.json)")
    parser.add_argument("--env", action="append", type=env_pair, default=[], metavar="NAME=VALUE",
                        help="environment for the whole cell, set before TensorFlow loads "
                        "(repeatable), e.g. TF_ENABLE_ONEDNN_OPTS=0")
    parser.add_argument("--process-per-variant", action="store_true",
                        help="run each variant in its own process (slower; the default shares "
                        "one process because it gives identical digests)")
    parser.add_argument("--emulate", metavar="MODEL",
                        help="run under qemu-x86_64 emulating this CPU model (e.g. Haswell)")
    parser.add_argument("--emulate-arch", choices=("arm64",),
                        help="run Linux arm64's build of the pins under qemu-aarch64 (Debian's "
                        "arm64 Python, fetched and cached in ~/.cache/repromatrix/arm64; --emulate "
                        "picks the CPU model, default neoverse-n1)")
    parser.add_argument("--estimates", metavar="SPEC",
                        help="with --emulate: the rsqrtps/rcpps estimate table qemu computes "
                        "from, instead of its exact 1/sqrt(x) and 1/x: host (this CPU's, "
                        "measured), intel-model, a shipped table's name, or an artifact or table "
                        "file to replay (builds a patched qemu once; docs/lab.md)")
    parser.add_argument("--emulated", help=argparse.SUPPRESS)  # set on the child under qemu
    trace = parser.add_mutually_exclusive_group()
    trace.add_argument("--trace-steps", type=int, default=TRACE_STEPS, metavar="K",
                       help="record every op's output of the first K training steps in a short "
                       "extra pass per variant, for the aggregator's root cause (default: 2; 0: none)")
    trace.add_argument("--trace-step", type=positive, metavar="N",
                       help="trace only training step N (e.g. a first divergent step beyond K)")
    parser.set_defaults(func=_run)


def run_output(args: argparse.Namespace) -> str:
    """Where ``run`` writes its artifact (``nox -s repro`` looks there too)."""
    return args.output or str(Path("artifacts") / f"{args.cell}.json")


def _run(args: argparse.Namespace) -> int:
    from repromatrix.cell.runner import check_output, prepare, run_cell
    from repromatrix.config.request import resolve_request

    check_cell_id(args.cell)  # before it becomes the default --output path
    if args.trace_steps < 0:
        raise UsageError(f"--trace-steps {args.trace_steps}: must be 0 or more")
    output = run_output(args)
    check_output(Path(output))  # an unwritable --output fails first, as it did in the cell
    qemu_origin, worker_python = (_emulated_facts(args.emulated, dict(args.env)) if args.emulated
                                  else (None, ()))
    request = resolve_request(
        args.matrix,  # loaded and checked once, here: the cell gets the resolved request
        cell=args.cell,
        variants=tuple(args.variants),
        output=output,
        runner_label=args.runner_label,
        data=args.data,
        target=args.target,
        rows=args.rows,
        process_per_variant=args.process_per_variant,
        emulated=args.emulated,
        env=dict(args.env),
        trace_steps=args.trace_steps,
        trace_step=args.trace_step,
        variants_file=args.variants_file,
        qemu=qemu_origin,
        worker_python=worker_python,
    )
    if args.estimates and (not args.emulate or args.emulate_arch):
        raise UsageError("--estimates needs --emulate MODEL: it sets the estimate table of an "
                         "emulated x86_64 CPU")
    if args.emulate_arch and not args.emulated:
        from repromatrix.host import arm64

        prepare(request)  # bad data or variants fail before anything is fetched
        return arm64.run_emulated(sys.argv[1:], args.cell, args.emulate or arm64.DEFAULT_MODEL,
                                  request.output, request.pins)
    if args.emulate and not args.emulated:
        prepare(request)  # bad data or variants fail here, not after a slow emulated start
        return _run_emulated(args, request.output)
    os.environ.update(request.env)  # before TensorFlow is imported, so that it sees them
    return run_cell(request)


def _emulated_facts(model: str,
                    env: dict[str, str]) -> tuple[dict[str, str | None], tuple[str, ...]]:
    """In the process qemu runs: where that qemu came from (for the fingerprint) and how a worker
    is started on the same emulated CPU, read here so that the cell needs no emulation layer."""
    from repromatrix.emulation import qemu

    environ = {**os.environ, **env}  # the environment the cell's fingerprint used to read
    return (qemu.fingerprint_fields(environ),
            tuple(qemu.emulated_command(model, sys.executable, [], environ)))


def _run_emulated(args: argparse.Namespace, output: str) -> int:
    """Re-run this same command under qemu, on the same interpreter and venv."""
    from repromatrix.emulation import qemu

    argv = [a for a in sys.argv[1:]]
    child = ["-m", "repromatrix", *argv, "--emulated", args.emulate, "--output", output]
    env = dict(os.environ)
    if args.estimates:
        binary, table, env = _estimating_qemu(args.emulate, args.estimates, env)
        command = qemu.qemu_command(binary, args.emulate, sys.executable, child,
                                    estimates=table)
        # The cell's workers start on the same patched qemu with the same table (the variable
        # above is inherited), not on whatever qemu a lookup would find.
        env[qemu.PREFIX_VARIABLE] = json.dumps(command[:command.index(sys.executable)])
        what = f"{qemu.QEMU} -cpu {args.emulate}, estimates: {table[0]}"
    else:
        binary = qemu.find_qemu(args.emulate)
        command = qemu.qemu_command(binary, args.emulate, sys.executable, child)
        what = f"{qemu.QEMU} -cpu {args.emulate}"
    print(f"repromatrix: {args.cell}: running under {what} "
          "(emulation is about 10x slower; TensorFlow alone takes a minute or two to load)",
          file=sys.stderr, flush=True)
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stderr is not None
    for line in process.stderr:
        # qemu warns once per CPUID bit it cannot emulate; nothing the user can act on.
        if "TCG doesn't support requested feature" not in line:
            sys.stderr.write(line)
    return process.wait()


def _estimating_qemu(model: str, spec: str,
                     env: dict[str, str]) -> tuple[str, tuple[str, str], dict[str, str]]:
    """The patched qemu (built once), the table's (label, SHA-256), and the environment that
    hands the table to qemu."""
    from repromatrix.emulation import qemu, qemu_build
    from repromatrix.host import estimate_sources

    resolved = estimate_sources.resolve(spec)
    built = qemu_build.ensure(env)
    binary = qemu.adopt(built.path, model, "estimates-build",
                        f"Debian's qemu {built.version} + estimates patch {built.patch[:12]}")
    table = (resolved.label, resolved.tables.sha256())
    env = {**env, qemu.ESTIMATES_VARIABLE: str(estimate_sources.table_file(resolved.tables, env))}
    return binary, table, env


def add_error_artifact_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "error-artifact",
        help="write the artifact of a cell that failed, with the tail of its log",
        description="Write an error artifact for a cell whose run produced none, so the "
        "aggregated table shows the failure instead of silently missing a row. An existing valid "
        "artifact at --output is kept (a run that failed in one variant still wrote its results).",
    )
    parser.add_argument("--cell", required=True)
    parser.add_argument("--runner-label")
    parser.add_argument("--log", help="the failed run's log file (its last lines are kept)")
    parser.add_argument("--message", default="the cell's run failed before writing its artifact")
    parser.add_argument("--steps", metavar="JSON",
                        help="the workflow's toJSON(steps): the first failed step of the cell is "
                        "named and its log (see ci/cell_steps.py) replaces --log")
    parser.add_argument("--output", required=True)
    parser.set_defaults(func=_error_artifact)


def _error_artifact(args: argparse.Namespace) -> int:
    from repromatrix import artifact

    check_cell_id(args.cell)  # refused as `run` refuses it
    output = Path(args.output)
    if output.exists() and not output.is_file():  # never read (or replace) a device or a FIFO
        raise UsageError(f"--output {output}: exists and is not a regular file")
    if artifact.is_cell_artifact(output):
        print(f"repromatrix: {output} already holds an artifact; kept", file=sys.stderr)
        return 0
    from repromatrix.cell.fingerprint import machine
    from repromatrix.ci import cell_steps

    message, log_path, step_id, log = args.message, args.log, None, ""
    step = cell_steps.failed_step(cell_steps.parse_steps(args.steps)) if args.steps else None
    if step is not None:
        message, step_id, log_path = cell_steps.message(step), step.id, step.log
        if step.log is None:
            log = f"(no log here: {step.name} is an action; its log is on the run's page)"
    if log_path:
        try:  # only its last lines are kept: read the end of a large log
            log = read_bounded(log_path, MAX_LOG_BYTES, tail=True).decode("utf-8", "replace")
        except UnreadableFile as error:
            log = f"(log {log_path} unreadable: {error.reason})"
    # The host's view of the machine: the cell never ran, but OS, arch and CPU are still known.
    artifact.write(output, artifact.error_document(args.cell, args.runner_label, message, log,
                                                   step=step_id, fingerprint=machine()))
    print(f"repromatrix: wrote error artifact {output}", file=sys.stderr)
    return 0


def add_worker_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("_worker")  # internal: one process group of `run`
    parser.add_argument("request")
    parser.add_argument("result")
    parser.set_defaults(func=lambda args: _worker(args))


def _worker(args: argparse.Namespace) -> int:
    from repromatrix.cell.runner import CellRequest, run_worker

    os.environ.update(CellRequest.from_json(args.request).env)
    return run_worker(args.request, args.result)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="repromatrix", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"repromatrix {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    add_run_parser(subparsers)
    for module_name in ("repromatrix.report.command", "repromatrix.host.lab", "repromatrix.ci.plan",
                        "repromatrix.ci.github", "repromatrix.ci.comment",
                        "repromatrix.host.preflight_command", "repromatrix.host.lock",
                        "repromatrix.ci.scaffold", "repromatrix.host.remedy"):
        _add_subcommand(subparsers, module_name)
    add_error_artifact_parser(subparsers)
    add_worker_parser(subparsers)
    return parser


def _add_subcommand(subparsers: argparse._SubParsersAction, module_name: str) -> None:
    """Each command module declares its own parser (``add_parser``) and entry point (``run``)."""
    import importlib

    importlib.import_module(module_name).add_parser(subparsers)


def _report(message: str) -> None:
    """One error line; on GitHub also an annotation, so the failure shows on the run's page."""
    print(f"repromatrix: error: {message}", file=sys.stderr)
    from repromatrix.ci import github

    if github.on_github(os.environ):
        github.error(message, os.environ, stream=sys.stderr, title="repromatrix")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as error:
        for problem in error.problems:
            _report(problem)
        return error.exit_code
    except ReproError as error:
        if os.environ.get("REPROMATRIX_TRACEBACK"):
            raise
        _report(str(error))
        return error.exit_code
    except OSError as error:  # an unwritable --output, a full disk: the user's to fix, in one line
        if os.environ.get("REPROMATRIX_TRACEBACK"):
            raise
        where = f"{error.filename}: " if error.filename else ""
        _report(f"{where}{error.strerror or error}")
        return 2
    except KeyboardInterrupt:
        print("repromatrix: interrupted", file=sys.stderr)
        return 130
