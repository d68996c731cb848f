"""Running one cell: every requested variant, the probe and the fingerprint, into one artifact.

The ``run`` process is a light supervisor: it never imports TensorFlow and never runs the user's
code. Variants that can share a TensorFlow process (same environment, threads and determinism
setting) run in one child worker (``python -m repromatrix.cell.worker``) one after another; that gives the same digests
as one process per variant (tested) and saves an import of TensorFlow per variant. The worker
appends to a journal as it goes (its fingerprint and probe, "starting variant X", each finished
variant's record, "done"), so whatever ends it (an exception, ``sys.exit``, ``os._exit(0)``, a
segfault) costs at most the variant in progress: that one is recorded as failed with the cause
(exit code or signal, the log's tail), and the variants after it resume in a fresh worker.
"""

from __future__ import annotations

import collections
import faulthandler
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from repromatrix import artifact, contract, environment
from repromatrix.cell.data import BUILTIN, Dataset, load_dataset
from repromatrix.errors import ReproError, UsageError

# The request arrives resolved (the host read matrix.toml): the cell imports no host layer.
from repromatrix.model import NO_DATA, CellRequest, Variant

Log = Callable[[str], None]
USER_ERROR_EXIT = 3  # a worker's "the user must fix something"; its message is in the result file


def stderr_log(message: str) -> None:
    print(f"repromatrix: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Prepared:
    variants: tuple[Variant, ...]
    dataset: Dataset | None  # None: a user experiment that loads its own data
    entry: contract.Entry | None = None  # None: the built-in report-41 experiment

    @property
    def experiment_name(self) -> str:
        return self.entry.text if self.entry else contract.BUILTIN_NAME


def check_output(path: Path) -> None:
    """Fail before training, not after, when the artifact could not be written."""
    if path.is_dir():
        raise UsageError(f"--output {path}: is a folder; give a file name such as {path / 'cell.json'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--output {path}: cannot create its folder: {error.strerror}") from None
    if not os.access(path.parent, os.W_OK):
        raise UsageError(f"--output {path}: its folder is not writable")


def prepare(request: CellRequest) -> Prepared:
    """Validate everything that can be wrong before TensorFlow is imported (fast, clear failures).

    The matrix file and the variant names were checked by the host that resolved the request."""
    check_output(Path(request.output))
    entry = _prepare_entry(request)
    # The report's model takes the data's width (its input_shape=(train_X_arr.shape[1],)), so a
    # CSV of any width fits either experiment; the built-in set is still checked for its 41.
    if entry is None and request.data == NO_DATA:
        raise UsageError("the built-in experiment needs data: --data builtin or a CSV")
    dataset = _user_dataset(request.data, request.target, request.rows)
    return Prepared(variants=request.variants, dataset=dataset, entry=entry)


def _prepare_entry(request: CellRequest) -> contract.Entry | None:
    """Parse and locate the user's entry without running it: a typo fails before TensorFlow."""
    if request.entry is None:
        return None
    entry = contract.parse_entry(request.entry)
    source = contract.locate(entry, Path(request.entry_root))
    contract.check_defined(entry, source)
    return entry


def _user_dataset(data: str, target: str | int, rows: int | None) -> Dataset | None:
    """A user experiment's data: none, the built-in set, or a CSV with any number of features."""
    if data == NO_DATA:
        return None
    if data == BUILTIN:
        return load_dataset(data, target=target, rows=rows)
    return load_dataset(data, target=target, rows=rows, features=None)  # the header's count


def process_groups(variants: tuple[Variant, ...], one_per_variant: bool) -> list[tuple[Variant, ...]]:
    """Split variants into groups that can share a process, keeping the requested order."""
    if one_per_variant:
        return [(v,) for v in variants]
    groups: dict[tuple[Any, ...], list[Variant]] = {}
    for variant in variants:
        groups.setdefault(variant.process_key(), []).append(variant)
    return [tuple(group) for group in groups.values()]


Emit = Callable[[dict[str, Any]], None]


def run_group(request: CellRequest, prepared: Prepared, group: tuple[Variant, ...],
              log: Log, emit: Emit = lambda event: None) -> dict[str, Any]:
    """Run variants in this process; return fingerprint, probe, variant records and timings.

    ``emit`` receives the journal's events as they happen: ``setup`` (fingerprint, probe),
    ``start`` before each variant and ``variant`` with its record when it is finished.
    """
    environ_at_start = dict(os.environ)  # reset_seeds() sets PYTHONHASHSEED later
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    from repromatrix.cell import keras3

    keras3.check_backend_installed(group[0])  # one line now, not an ImportError after a minute
    log(f"{request.cell}: importing TensorFlow")
    from repromatrix.cell import experiment, fingerprint, probe

    tf = experiment.tensorflow_module()
    _configure_process(tf, group[0])
    seconds["import"] = time.perf_counter() - started
    # Import the user's module now (it usually imports TensorFlow itself): a failing import or a
    # missing function ends the run before the fingerprint and probe.
    user_function = (contract.load_function(prepared.entry, Path(request.entry_root))
                     if prepared.entry else None)

    mark = time.perf_counter()
    pins = request.pins
    platform_key = fingerprint.platform_key()
    # Keras 3: its version and its backend's libraries, pinned or not (nothing on Keras 2)
    prints = fingerprint.collect(tf, pins.watched_packages(platform_key)
                                 + keras3.fingerprint_packages(), environ_at_start,
                                 emulated=request.emulated, qemu=request.qemu)
    prints.update(keras3.fingerprint_fields())
    log(f"{request.cell}: {prints['cpu']['model'] or 'unknown CPU'}, Python "
        f"{prints['python']['version']}, TensorFlow {prints['tensorflow']['version']}")
    seconds["fingerprint"] = time.perf_counter() - mark

    mark = time.perf_counter()
    probed = probe.run_probe()
    seconds["probe"] = time.perf_counter() - mark
    log(f"{request.cell}: probed {len(probed)} single-op cases in {seconds['probe']:.1f} s")
    emit({"event": "setup", "fingerprint": prints, "probe": probed, "seconds": dict(seconds)})

    records: dict[str, Any] = {}
    for variant in group:
        emit({"event": "start", "variant": variant.name})
        mark = time.perf_counter()
        try:
            records[variant.name] = _train(request, prepared, variant, user_function, log)
        except ReproError:
            raise  # the user's experiment is unusable: one line and exit 2, not a failed variant
        except (Exception, SystemExit) as error:  # noqa: BLE001 - one failing variant must not lose the others
            records[variant.name] = failed_variant(variant, error)
            log(f"{request.cell}: {variant.name} FAILED: "
                f"{records[variant.name]['error']['message']}")
        seconds[f"variant:{variant.name}"] = time.perf_counter() - mark
        emit({"event": "variant", "variant": variant.name, "record": records[variant.name],
              "seconds": seconds[f"variant:{variant.name}"]})
        if records[variant.name]["status"] == "ok":
            log(f"{request.cell}: {variant.name} done in {seconds[f'variant:{variant.name}']:.1f} s, "
                f"digest {records[variant.name]['digest'][:12]}")
    return {"fingerprint": prints, "probe": probed, "variants": records, "seconds": seconds}


def _train(request: CellRequest, prepared: Prepared, variant: Variant, user_function: Any,
           log: Log) -> dict[str, Any]:
    """One variant: the built-in experiment, or the user's function through the contract."""
    from repromatrix.cell import experiment
    from repromatrix.cell.optrace import TraceRequest

    seed = request.seed
    trace = TraceRequest(request.trace_steps, request.trace_step)

    def progress(line: str) -> None:
        log(f"{request.cell}: {variant.name}: {line}")

    if prepared.entry is None:
        assert prepared.dataset is not None  # the built-in experiment always has data
        log(f"{request.cell}: training {variant.name} "
            f"({prepared.dataset.rows} steps, optimizer {variant.optimizer})")
        return experiment.run_variant(variant, prepared.dataset, seed, log=progress, trace=trace)
    log(f"{request.cell}: training {variant.name} ({prepared.entry.text})")
    return experiment.run_user_variant(user_function, prepared.entry.text, variant,
                                       prepared.dataset, seed, rows=request.rows, log=progress,
                                       trace=trace)


def _configure_process(tf: Any, variant: Variant) -> None:
    """Apply the settings that must precede TensorFlow's first op (shared by the whole group)."""
    if variant.threads:
        tf.config.threading.set_intra_op_parallelism_threads(variant.threads.get("intra_op", 0))
        tf.config.threading.set_inter_op_parallelism_threads(variant.threads.get("inter_op", 0))
    if variant.op_determinism:
        tf.config.experimental.enable_op_determinism()
    from repromatrix.cell import switches

    switches.apply(tf, variant.switches)


def failed_variant(variant: Variant, error: BaseException) -> dict[str, Any]:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    message = f"{type(error).__name__}: {error}"
    if isinstance(error, SystemExit):
        message = f"SystemExit: the experiment called sys.exit({error.code!r})"
    # a user experiment's failure after its function compiled carries what it compiled
    # (user_plan.labelled_failure), so the label names that optimizer, not "default"
    from repromatrix.cell.user_plan import SETTINGS_ATTRIBUTE

    settings = getattr(error, SETTINGS_ATTRIBUTE, None)
    return failed_record(variant, message, text, settings if isinstance(settings, dict) else None)


def failed_record(variant: Variant, message: str, log: str,
                  settings: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "status": "error",
        "settings": settings if settings is not None else variant.settings(),
        "error": {"message": message.splitlines()[0] if message.strip() else "failed",
                  "log_tail": artifact.log_tail(log)},
    }


def exit_cause(returncode: int) -> str:
    """How a worker ended, in words: ``was killed by SIGSEGV (Segmentation fault)``,
    ``exited with code 3``."""
    if returncode < 0:
        try:
            number = signal.Signals(-returncode)
            return f"was killed by {number.name} ({signal.strsignal(number) or 'a signal'})"
        except ValueError:
            return f"was killed by signal {-returncode}"
    if returncode > 255:  # Windows: NTSTATUS codes such as 0xC0000005 (access violation)
        return f"exited with code {returncode:#x}"
    return f"exited with code {returncode}"


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The worker's events; a last line cut short by a crash is left out."""
    events = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


class Journal:
    """The worker's side: one JSON line per event, flushed at once, so a crash loses nothing."""

    def __init__(self, path: Path) -> None:
        self._stream = path.open("a", encoding="utf-8")

    def __call__(self, event: dict[str, Any]) -> None:
        self._stream.write(json.dumps(artifact.json_safe(event), sort_keys=True) + "\n")
        self._stream.flush()


@dataclass
class WorkerOutcome:
    """What one worker produced: a group result (as ``run_group`` returns) for the variants it
    dealt with, and the variants left for a fresh worker."""

    ran: tuple[Variant, ...]
    result: dict[str, Any]
    remaining: tuple[Variant, ...]
    lost: tuple[str, ...] = ()  # variants failed by the worker's abnormal end (not logged by it)


def outcome_of(group: tuple[Variant, ...], events: list[dict[str, Any]], returncode: int,
               log_text: str) -> WorkerOutcome:
    """Read a finished worker's journal: its results, and after an abnormal end (any exit code, a
    signal, or exit 0 without "done") the variant it was training as failed with the cause."""
    result: dict[str, Any] = {"variants": {}, "seconds": {}}
    started: str | None = None
    done = False
    for event in events:
        kind = event.get("event")
        if kind == "user_error":
            raise ReproError(str(event.get("message")))
        if kind == "setup":
            result.update(fingerprint=event["fingerprint"], probe=event["probe"])
            result["seconds"].update(event.get("seconds", {}))
        elif kind == "start":
            started = event["variant"]
        elif kind == "variant":
            result["variants"][event["variant"]] = event["record"]
            result["seconds"][f"variant:{event['variant']}"] = event.get("seconds", 0.0)
        elif kind == "done":
            done = True
    finished = result["variants"]
    if done and all(v.name in finished for v in group):
        return WorkerOutcome(group, result, ())
    cause = exit_cause(returncode)
    if started is not None and started not in finished:
        victim = next(v for v in group if v.name == started)
        finished[started] = failed_record(
            victim, f"the process running {started} {cause} before it finished", log_text)
        remaining = tuple(v for v in group if v.name not in finished)
        return WorkerOutcome(tuple(v for v in group if v not in remaining), result, remaining,
                             lost=(started,))
    # It ended before any variant started (or between two): a fresh worker would likely end the
    # same way, so the rest fail with the cause rather than being retried forever.
    lost = tuple(v.name for v in group if v.name not in finished)
    for variant in group:
        if variant.name in lost:
            finished[variant.name] = failed_record(
                variant, f"the worker {cause} before {variant.name} started", log_text)
    return WorkerOutcome(group, result, (), lost=lost)


def run_group_in_child(request: CellRequest, group: tuple[Variant, ...],
                       log: Log) -> Iterator[tuple[tuple[Variant, ...], dict[str, Any]]]:
    """Run a group in ``python -m repromatrix.cell.worker`` processes with the group's environment;
    yields (variants, result) per worker: one normally, more if a worker ended abnormally."""
    remaining = group
    while remaining:
        outcome = _run_worker_process(request, remaining, log)
        for name in outcome.lost:
            log(f"{request.cell}: {name} FAILED: {outcome.result['variants'][name]['error']['message']}")
        if outcome.remaining:
            log(f"{request.cell}: resuming {', '.join(v.name for v in outcome.remaining)} "
                "in a fresh process")
        yield outcome.ran, outcome.result
        remaining = outcome.remaining


def _run_worker_process(request: CellRequest, group: tuple[Variant, ...], log: Log) -> WorkerOutcome:
    child = request.only(group)
    env = environment.combine({**os.environ, **request.env}, group[0].process_env())
    with tempfile.TemporaryDirectory(prefix="repromatrix-") as folder:
        journal = Path(folder) / "journal.jsonl"
        # Under emulation the host gave qemu's prefix: qemu-user does not follow exec of a
        # native binary, and without it the worker would run on the host CPU while the artifact
        # says "emulated".
        python = list(request.worker_python) or [sys.executable]
        # The cell's own entry, not the CLI's `_worker`: the worker imports no host layer.
        command = [*python, "-m", "repromatrix.cell.worker", child.to_json(), str(journal)]
        returncode, log_text = _pass_through(command, env)
        return outcome_of(group, read_journal(journal), returncode, log_text)


def _pass_through(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``command``, echoing its stderr line by line; its exit code and the last log lines."""
    tail: collections.deque[str] = collections.deque(maxlen=artifact.LOG_TAIL_LINES)
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True,
                               encoding="utf-8", errors="replace")
    assert process.stderr is not None
    try:
        for line in process.stderr:
            sys.stderr.write(line)
            sys.stderr.flush()
            tail.append(line.rstrip("\n"))
        return process.wait(), "\n".join(tail)
    except BaseException:  # Ctrl-C: the worker got it too; do not leave it behind
        process.kill()
        process.wait()
        raise


def run_cell(request: CellRequest, log: Log = stderr_log) -> int:
    """Run the cell and write its artifact; 0 if every variant succeeded, else 1."""
    prepared = prepare(request)
    started_utc = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    ran: list[tuple[Variant, ...]] = []
    results: list[dict[str, Any]] = []
    for group in process_groups(prepared.variants, request.process_per_variant):
        for variants, result in run_group_in_child(request, group, log):
            ran.append(variants)
            results.append(result)
    document = merge(request, prepared, ran, results, started_utc)
    output = Path(request.output)
    artifact.write(output, document)
    failed = sorted(name for name, record in document["variants"].items()
                    if record.get("status") != "ok")
    log(f"{request.cell}: wrote {output}" + (f" ({', '.join(failed)} FAILED)" if failed else ""))
    return 1 if failed or document["status"] != "ok" else 0


def merge(request: CellRequest, prepared: Prepared, groups: list[tuple[Variant, ...]],
          results: list[dict[str, Any]], started_utc: str) -> dict[str, Any]:
    """One artifact from the groups' results; fingerprint and probe from the first group that ran.

    A group with its own environment may probe differently (oneDNN switched off, say); its
    variants then carry their own ``probe`` so that suspects are matched against the right one.
    """
    main = next((r for r in results if "fingerprint" in r), None)
    variants: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for group, result in zip(groups, results):
        seconds.update(result.get("seconds", {}))
        for variant in group:
            record = result["variants"][variant.name]
            if main is not None and "probe" in result and result["probe"] != main["probe"]:
                record = {**record, "probe": result["probe"]}
            variants[variant.name] = record
    pins = request.pins
    error = None
    if main is None:
        error = {"message": "no variant group produced results", "log_tail": ""}
    fingerprint = main["fingerprint"] if main else {}
    drift_items = artifact.drift(
        pins,
        fingerprint.get("platform", ""),
        fingerprint.get("python", {}).get("version", ""),
        fingerprint.get("packages", {}),
    ) if main else []
    experiment = {
        "name": prepared.experiment_name,
        "seed": request.seed,
        "epochs": 1,
        "batch_size": 1,
        "shuffle": False,
        "data": prepared.dataset.describe() if prepared.dataset else None,
        "env": dict(sorted(request.env.items())),
    }
    if prepared.entry is not None:
        # The user's function chooses these per variant: each variant's record has its "fit".
        experiment.update(epochs=None, batch_size=None, shuffle=None)
    return artifact.cell_document(
        cell=request.cell,
        runner_label=request.runner_label,
        experiment=experiment,
        pins=pins,
        drift_items=drift_items,
        fingerprint=fingerprint,
        variants=variants,
        probe=main["probe"] if main else [],
        timing={"started_utc": started_utc,
                "seconds": {k: round(v, 3) for k, v in sorted(seconds.items())}},
        error=error,
    )


def run_worker(request_json: str, journal_path: str, log: Log = stderr_log) -> int:
    """Entry point of a worker (cell/worker.py, or ``repromatrix _worker``): run one group here,
    journalling as it goes."""
    faulthandler.enable()  # a segfault prints the Python stack, which lands in the log tail
    request = CellRequest.from_json(request_json)
    journal = Journal(Path(journal_path))
    try:
        prepared = prepare(request)
        run_group(request, prepared, prepared.variants, log, emit=journal)
    except ReproError as error:  # handed to the supervisor, which reports it once
        journal({"event": "user_error", "message": str(error)})
        return USER_ERROR_EXIT
    journal({"event": "done"})
    return 0
