"""Running one cell: every requested variant, the probe and the fingerprint, into one artifact.

Variants that can share a TensorFlow process (same environment, threads and determinism
setting) run in this process one after another; that gives the same digests as one process per
variant (tested) and saves an import of TensorFlow per variant. Variants that need a fresh process
run in a child ``repromatrix _worker`` whose partial result is merged back. A variant that fails
is recorded as failed with its traceback tail; the others are still written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from repromatrix import artifact, contract
from repromatrix.data import BUILTIN, Dataset, load_dataset
from repromatrix.errors import ReproError, UsageError
from repromatrix.matrix import NO_DATA, Matrix, Variant, load_matrix

Log = Callable[[str], None]
USER_ERROR_EXIT = 3  # a worker's "the user must fix something"; its message is in the result file


def stderr_log(message: str) -> None:
    print(f"repromatrix: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class CellRequest:
    """Everything a run needs; serialisable, so a worker process gets exactly the same request."""

    cell: str
    matrix_path: str
    variants: tuple[str, ...]
    output: str
    runner_label: str | None = None
    data: str | None = None  # None: the matrix's data
    target: str | None = None  # None: the matrix's target
    rows: int | None = None
    process_per_variant: bool = False
    emulated: str | None = None  # the qemu CPU model when this process runs under emulation
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the whole cell

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CellRequest:
        raw = json.loads(text)
        raw["variants"] = tuple(raw["variants"])
        return cls(**raw)


@dataclass(frozen=True)
class Prepared:
    matrix: Matrix
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
    """Validate everything that can be wrong before TensorFlow is imported (fast, clear failures)."""
    check_output(Path(request.output))
    matrix = load_matrix(request.matrix_path)
    names = request.variants or matrix.experiment.variants
    unknown = [n for n in names if n not in matrix.variants]
    if unknown:
        raise UsageError(f"no variant named {unknown[0]!r} in {matrix.path.name}; "
                         f"known: {', '.join(sorted(matrix.variants))}")
    data = request.data if request.data is not None else matrix.data_path()
    target: str | int = request.target if request.target is not None else matrix.experiment.target
    entry = _prepare_entry(matrix)
    # The report's model takes the data's width (its input_shape=(train_X_arr.shape[1],)), so a
    # CSV of any width fits either experiment; the built-in set is still checked for its 41.
    if entry is None and data == NO_DATA:
        raise UsageError("the built-in experiment needs data: --data builtin or a CSV")
    dataset = _user_dataset(data, target, request.rows)
    return Prepared(matrix=matrix, variants=tuple(matrix.variants[n] for n in names),
                    dataset=dataset, entry=entry)


def _prepare_entry(matrix: Matrix) -> contract.Entry | None:
    """Parse and locate the user's entry without running it: a typo fails before TensorFlow."""
    if matrix.experiment.entry is None:
        return None
    entry = contract.parse_entry(matrix.experiment.entry)
    source = contract.locate(entry, matrix.path.parent)
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


def run_group(request: CellRequest, prepared: Prepared, group: tuple[Variant, ...],
              log: Log) -> dict[str, Any]:
    """Run variants in this process; return fingerprint, probe, variant records and timings."""
    environ_at_start = dict(os.environ)  # reset_seeds() sets PYTHONHASHSEED later
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    log(f"{request.cell}: importing TensorFlow")
    from repromatrix import experiment, fingerprint, probe

    tf = experiment.tensorflow_module()
    _configure_process(tf, group[0])
    seconds["import"] = time.perf_counter() - started
    # Import the user's module now (it usually imports TensorFlow itself): a failing import or a
    # missing function ends the run before the fingerprint and probe.
    user_function = (contract.load_function(prepared.entry, prepared.matrix.path.parent)
                     if prepared.entry else None)

    mark = time.perf_counter()
    pins = prepared.matrix.pins
    platform_key = fingerprint.platform_key()
    prints = fingerprint.collect(tf, pins.watched_packages(platform_key), environ_at_start,
                                 emulated=request.emulated)
    log(f"{request.cell}: {prints['cpu']['model'] or 'unknown CPU'}, Python "
        f"{prints['python']['version']}, TensorFlow {prints['tensorflow']['version']}")
    seconds["fingerprint"] = time.perf_counter() - mark

    mark = time.perf_counter()
    probed = probe.run_probe()
    seconds["probe"] = time.perf_counter() - mark
    log(f"{request.cell}: probed {len(probed)} single-op cases in {seconds['probe']:.1f} s")

    records: dict[str, Any] = {}
    for variant in group:
        mark = time.perf_counter()
        try:
            records[variant.name] = _train(request, prepared, variant, user_function, log)
        except ReproError:
            raise  # the user's experiment is unusable: one line and exit 2, not a failed variant
        except Exception as error:  # noqa: BLE001 - one failing variant must not lose the others
            records[variant.name] = failed_variant(variant, error)
            log(f"{request.cell}: {variant.name} FAILED: {error}")
        seconds[f"variant:{variant.name}"] = time.perf_counter() - mark
        if records[variant.name]["status"] == "ok":
            log(f"{request.cell}: {variant.name} done in {seconds[f'variant:{variant.name}']:.1f} s, "
                f"digest {records[variant.name]['digest'][:12]}")
    return {"fingerprint": prints, "probe": probed, "variants": records, "seconds": seconds}


def _train(request: CellRequest, prepared: Prepared, variant: Variant, user_function: Any,
           log: Log) -> dict[str, Any]:
    """One variant: the built-in experiment, or the user's function through the contract."""
    from repromatrix import experiment

    seed = prepared.matrix.experiment.seed
    if prepared.entry is None:
        assert prepared.dataset is not None  # the built-in experiment always has data
        log(f"{request.cell}: training {variant.name} "
            f"({prepared.dataset.rows} steps, optimizer {variant.optimizer})")
        return experiment.run_variant(variant, prepared.dataset, seed)
    log(f"{request.cell}: training {variant.name} ({prepared.entry.text})")
    return experiment.run_user_variant(user_function, prepared.entry.text, variant,
                                       prepared.dataset, seed, rows=request.rows)


def _configure_process(tf: Any, variant: Variant) -> None:
    """Apply the settings that must precede TensorFlow's first op (shared by the whole group)."""
    if variant.threads:
        tf.config.threading.set_intra_op_parallelism_threads(variant.threads.get("intra_op", 0))
        tf.config.threading.set_inter_op_parallelism_threads(variant.threads.get("inter_op", 0))
    if variant.op_determinism:
        tf.config.experimental.enable_op_determinism()


def failed_variant(variant: Variant, error: BaseException) -> dict[str, Any]:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return {
        "status": "error",
        "settings": variant.settings(),
        "error": {"message": f"{type(error).__name__}: {error}".splitlines()[0],
                  "log_tail": artifact.log_tail(text)},
    }


def run_group_in_child(request: CellRequest, group: tuple[Variant, ...], log: Log) -> dict[str, Any]:
    """Run a group in a fresh ``python -m repromatrix _worker`` with the group's environment."""
    child = CellRequest(**{**asdict(request), "variants": tuple(v.name for v in group),
                           "process_per_variant": False})
    env = {**os.environ, **request.env, **dict(group[0].env)}
    with tempfile.TemporaryDirectory(prefix="repromatrix-") as folder:
        result_path = Path(folder) / "group.json"
        command = [sys.executable, "-m", "repromatrix", "_worker", child.to_json(), str(result_path)]
        if request.emulated:
            # qemu-user does not follow exec of a native binary: without this the worker would
            # run on the host CPU while the artifact says "emulated".
            from repromatrix import qemu

            command = qemu.emulated_command(request.emulated, command[0], command[1:])
        completed = subprocess.run(command, env=env, check=False)
        if result_path.exists() and completed.returncode == USER_ERROR_EXIT:
            # The worker hit an error the user must fix: raise it here, once, as one line.
            raise ReproError(json.loads(result_path.read_text(encoding="utf-8"))["user_error"])
        if completed.returncode != 0 or not result_path.exists():
            message = f"worker for {', '.join(v.name for v in group)} exited with {completed.returncode}"
            log(f"{request.cell}: {message}")
            return {"variants": {v.name: failed_variant(v, RuntimeError(message)) for v in group},
                    "seconds": {}}
        return json.loads(result_path.read_text(encoding="utf-8"))


def run_cell(request: CellRequest, log: Log = stderr_log) -> int:
    """Run the cell and write its artifact; 0 if every variant succeeded, else 1."""
    prepared = prepare(request)
    started_utc = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    groups = process_groups(prepared.variants, request.process_per_variant)
    in_process = len(groups) == 1 and not request.process_per_variant and not groups[0][0].env
    results = []
    for group in groups:
        if in_process:
            results.append(run_group(request, prepared, group, log))
        else:
            results.append(run_group_in_child(request, group, log))
    document = merge(request, prepared, groups, results, started_utc)
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
    pins = prepared.matrix.pins
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
        "seed": prepared.matrix.experiment.seed,
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


def run_worker(request_json: str, result_path: str, log: Log = stderr_log) -> int:
    """Entry point of ``repromatrix _worker``: run one group here, write its partial result."""
    request = CellRequest.from_json(request_json)
    try:
        prepared = prepare(request)
        result = run_group(request, prepared, prepared.variants, log)
    except ReproError as error:  # handed to the parent, which reports it once
        Path(result_path).write_text(json.dumps({"user_error": str(error)}), encoding="utf-8")
        return USER_ERROR_EXIT
    Path(result_path).write_text(json.dumps(result, sort_keys=True), encoding="utf-8")
    return 0
