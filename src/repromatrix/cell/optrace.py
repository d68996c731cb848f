"""Op trace: every op output of the first training steps, in execution order, for root-cause search.

Runs inside the pinned venv (Python 3.9). The recorder is TensorFlow's debugger dump
(``tf.debugging.experimental.enable_dump_debug_info`` with ``FULL_TENSOR``, read back with
``DebugDataReader``), a TensorFlow feature that sees every op of a ``tf.function`` whatever built
it: ``collect`` is Keras-agnostic and takes the name fragment of the train function's graph
(``train_function`` for Keras 2), so a Keras 3 on TensorFlow pass can reuse it with its own
fragment. ``builtin_trace`` (the built-in experiment) and ``user_trace`` (a user's TrainingPlan)
run on Keras 2 and on Keras 3's TensorFlow backend (``keras_flavour``: ``multi_step_on_iterator``,
Sqrt also unrecorded, see ``KERAS3_UNRECORDED_OP_TYPES``).

The trace is taken in a separate, short pass (re-seeded, same initial weights) after the main
training, so the main run keeps its speed; the pass records its own trail and says whether it
reproduced the main run's trail for the traced steps.

Faithfulness: the debugger attaches a debug op to every output it records, and an output with an
extra consumer cannot be rewritten away by grappler. Measured on TensorFlow 2.12 (the function's
post-optimization graphs from run metadata, main run against traced pass): the remapper fuses
MatMul+BiasAdd into ``_FusedMatMul`` (with oneDNN on: MatMul+BiasAdd+Sigmoid/Tanh into
``_MklNativeFusedMatMul``), and the arithmetic optimizer's broadcast minimisation turns RMSprop's
``(lr * g) * rsqrt(d)`` into ``g * (lr * rsqrt(d))``. With those outputs recorded, the traced graph
rounded differently from the main run (default optimizer; and both optimizers with oneDNN on).
So the outputs of ``UNRECORDED_OP_TYPES`` are not recorded; a record whose input came from such
an op lists, as its inputs, the recorded outputs that op computed from (``through`` names the
unrecorded op types in between), so the aggregator can still prove a group's inputs identical.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from repromatrix.cell import user_plan
from repromatrix.cell.keras_session import fresh_session
from repromatrix.cell.report41 import build_model, compile_model
from repromatrix.contract import TrainedModel

DATA_LIMIT = 16384  # keep the bytes of outputs up to this size (a 41x64 float32 kernel: 10,496)
MAX_RECORDS = 5000  # per trace; about 240 per step for the built-in experiment
TOOL = "tf.debugging.experimental.enable_dump_debug_info(FULL_TENSOR)"
KERAS2_TRAIN_FUNCTION = "train_function"
# Keras 3's TensorFlow trainer calls this tf.function once per step (keras/src/backend/tensorflow/
# trainer.py); the step itself is the nested ``one_step_on_data``, inside its graph.
KERAS3_TRAIN_FUNCTION = "multi_step_on_iterator"
# ... which calls ``one_step_on_data(iterator.get_next())``: the step graph's arguments ``data``,
# ``data_1``, ... (x, y, sample weights) are not traced inside it (a function argument), but they
# are the outer graph's recorded ``IteratorGetNext`` outputs 0, 1, ..., so the forward pass's first
# ops get traced inputs and can be blamed.
KERAS3_STEP_GRAPH = "one_step_on_data"
KERAS3_STEP_ARGUMENT = re.compile(r"^data(?:_(\d+))?$")
# Op types whose outputs grappler's rewrites consume as intermediates (see the module docstring);
# recording them would keep the traced graph from being rewritten as the main run's is.
UNRECORDED_OP_TYPES = ("BiasAdd", "MatMul", "Mul")
# Keras 3's RMSprop computes ``(lr * g) / sqrt(d)``, which grappler's arithmetic optimizer turns
# into ``(lr * g) * rsqrt(d)`` only when the Sqrt has no other consumer (SqrtDivToRsqrtMulStage):
# with Sqrt recorded, the traced pass divided by sqrt and rounded otherwise (measured, TF 2.21).
# Keras 2's set stays as it was, so that Keras 2 artifacts keep their bytes.
KERAS3_UNRECORDED_OP_TYPES = UNRECORDED_OP_TYPES + ("Sqrt",)


def op_regex(unrecorded: tuple[str, ...]) -> str:
    """The dump's ``op_regex`` (``re.match`` on the op type): every type but these."""
    return "^(?!(?:{})$)".format("|".join(unrecorded))
# TensorFlow's op callback never instruments these (OP_CALLBACK_SKIP_OPS): exact copies, walked
# through like the unrecorded types but not named in a group.
PASS_THROUGH_OP_TYPES = ("Identity",)


@dataclass(frozen=True)
class TraceRequest:
    """``--trace-steps K`` (the first K steps; 0: no trace) or ``--trace-step N`` (only step N)."""

    steps: int = 2
    step: int | None = None

    def window(self) -> tuple[int, int] | None:
        """(first, last) traced step, 1-based and inclusive; None when nothing is traced."""
        if self.step is not None:
            return (self.step, self.step)
        return (1, self.steps) if self.steps > 0 else None


def graph_name(name: str | None) -> str:
    """A graph's name without TensorFlow's per-process uid (``__inference_f_123`` -> ``f``)."""
    match = re.match(r"^__inference_(.*)_\d+$", name or "")
    return match.group(1) if match else (name or "")


def output_bytes(value: Any) -> tuple[str, list[int], bytes]:
    """(dtype, shape, canonical little-endian bytes) of one op output."""
    array = np.asarray(value)
    if array.dtype.kind in "biufc":
        raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    else:  # strings, objects: their repr stands for the bytes (equal values, equal text)
        raw = repr(array.tolist()).encode("utf-8", "backslashreplace")
    return str(array.dtype), [int(n) for n in array.shape], raw


def _skip_source_capture() -> None:
    """The dump copies every Python source file on each op's stack, which took 4 of 10 s of a
    two-step pass here; the trace needs no stack, so it records none (best effort)."""
    try:
        from tensorflow.core.protobuf import debug_event_pb2
        from tensorflow.python.debug.lib import dumping_callback

        callback = dumping_callback._state.dumping_callback  # noqa: SLF001 - see docstring
        host = callback._hostname  # noqa: SLF001
        callback._process_stack_frames = lambda: debug_event_pb2.CodeLocation(host_name=host)
    except Exception:  # noqa: BLE001 - another TensorFlow: slower, not wrong
        pass


def collect(run: Callable[[], Any], first_step: int,
            function_fragment: str = KERAS2_TRAIN_FUNCTION,
            unrecorded: tuple[str, ...] = UNRECORDED_OP_TYPES) -> dict[str, Any]:
    """Run ``run`` (K calls of the train function) under the debugger dump; return the records."""
    import tensorflow as tf

    root = tempfile.mkdtemp(prefix="repromatrix-optrace-")
    try:
        tf.debugging.experimental.enable_dump_debug_info(
            root, tensor_debug_mode="FULL_TENSOR", circular_buffer_size=-1, op_regex=op_regex(unrecorded))
        try:
            _skip_source_capture()
            run()
        finally:
            tf.debugging.experimental.disable_dump_debug_info()
        return read_dump(root, first_step, function_fragment, unrecorded)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _load(reader: Any) -> None:
    """``reader.update()`` without its first two steps, the source files and stack frames: the
    trace records no stack (``_skip_source_capture``) and reads none, and reading the source
    files' file crashed the process now and then (SIGSEGV in PyRandomRecordReader, TensorFlow
    2.21, measured here in 2 of 6 cells of 8 traced Keras 3 variants)."""
    parts = ("_load_graphs", "_load_graph_execution_traces", "_load_execution")
    if all(hasattr(reader, name) for name in parts):
        for name in parts:
            getattr(reader, name)()
    else:  # another TensorFlow's reader
        reader.update()


def read_dump(root: str, first_step: int, function_fragment: str,
              unrecorded: tuple[str, ...] = UNRECORDED_OP_TYPES) -> dict[str, Any]:
    """Records of the train function's graphs, split into steps by the function's executions.

    Each call of the train function is one eager "execution", written after the call returns;
    an op output belongs to the first call that ended after it was recorded (its wall time).
    Inputs point to the latest earlier record of the same graph, op and slot, or stay a name
    when they were not traced (resource handles, function arguments); an input computed by an
    unrecorded op (``UNRECORDED_OP_TYPES``) is replaced by that op's own inputs, recursively.
    """
    from tensorflow.python.debug.lib import debug_events_reader

    with debug_events_reader.DebugDataReader(root) as reader:
        _load(reader)
        calls = [e for e in reader.executions()
                 if e.graph_id and function_fragment in graph_name(e.op_type)]
        train_graphs = {e.graph_id for e in calls}
        ends = [e.wall_time for e in calls]
        records: list[dict[str, Any]] = []
        data: dict[str, str] = {}  # sha256 -> base64 of the output bytes
        latest: dict[tuple[str, str, int], int] = {}
        arguments: list[int] = []  # records of Keras 3's step graph
        small: dict[int, bytes] = {}  # record -> its output bytes, when up to DATA_LIMIT
        truncated = 0
        for trace in reader.graph_execution_traces():
            if not train_graphs.intersection(trace.graph_ids):
                continue  # tf.data's functions and other graphs: not the train step
            if len(records) >= MAX_RECORDS:
                truncated += 1
                continue
            call = next((i for i, end in enumerate(ends) if trace.wall_time <= end), len(ends) - 1)
            graph = reader.graph_by_id(trace.graph_id)
            path = "/".join(graph_name(reader.graph_by_id(g).name) for g in trace.graph_ids
                            if reader.graph_by_id(g).name)
            def creation(op_name: str, graph: Any = graph) -> tuple[str, list[str]] | None:
                try:
                    digest = graph.get_op_creation_digest(op_name)
                except KeyError:  # created outside this graph (e.g. a function argument)
                    return None
                return digest.op_type, list(digest.input_names or ())

            def recorded(op_name: str, slot: int, graph_id: str = trace.graph_id) -> int | None:
                return latest.get((graph_id, op_name, slot))

            own = creation(trace.op_name) or ("", [])
            inputs, through = resolve_inputs(own[1], creation, recorded, unrecorded)
            dtype, shape, raw = output_bytes(reader.graph_execution_trace_to_tensor_value(trace))
            record: dict[str, Any] = {
                "step": first_step + call, "graph": path, "op_type": trace.op_type,
                "op_name": trace.op_name, "slot": int(trace.output_slot), "dtype": dtype,
                "shape": shape, "sha256": hashlib.sha256(raw).hexdigest()[:32], "inputs": inputs,
            }
            if through:
                record["through"] = through
            if graph_name(graph.name) == KERAS3_STEP_GRAPH:
                arguments.append(len(records))
            if len(raw) <= DATA_LIMIT:
                small[len(records)] = raw
            latest[(trace.graph_id, trace.op_name, int(trace.output_slot))] = len(records)
            records.append(record)
        link_step_arguments(records, arguments)
        for index, raw in small.items():
            # Bytes are kept only where the aggregator may need them: an op whose inputs were
            # all traced (only such an op can be blamed), small, and once per distinct content.
            if all(isinstance(i, int) for i in records[index]["inputs"]):
                data.setdefault(records[index]["sha256"], base64.b64encode(raw).decode("ascii"))
    return {"records": canonical_order(records), "data": data, "truncated": truncated,
            "calls": len(calls)}


def link_step_arguments(records: list[dict[str, Any]], arguments: list[int]) -> None:
    """Replace a Keras 3 step argument (``data_1:0``) among the inputs of the records of the step
    graph (``arguments``: their indices) by the calling graph's
    ``IteratorGetNext:1`` record of the same step. After the whole dump is read: the executor may
    write the iterator's output after the first ops of the step that consumes it."""
    nexts = {(r["graph"], r["step"], r["slot"]): i for i, r in enumerate(records)
             if r["op_type"] == "IteratorGetNext"}
    outer_paths = {i: records[i]["graph"].rpartition("/")[0] for i in arguments}
    for index in arguments:
        record = records[index]
        linked = []
        for name in record["inputs"]:
            found = None
            if isinstance(name, str):
                found = step_argument(name, nexts, outer_paths[index], record["step"])
            linked.append(name if found is None else found)
        record["inputs"] = linked


def step_argument(name: str, nexts: dict[tuple[str, int, int], int], outer_path: str,
                  step: int) -> int | None:
    """The record of a Keras 3 step argument (``data_1:0``): ``IteratorGetNext:1`` of the calling
    graph (``outer_path``) in the same step (``KERAS3_STEP_ARGUMENT``); None for any other name."""
    op_name, _, slot = name.rpartition(":")
    match = KERAS3_STEP_ARGUMENT.match(op_name)
    if match is None or slot != "0":
        return None
    return nexts.get((outer_path, step, int(match.group(1) or 0)))


def resolve_inputs(names: list[str],
                   creation: Callable[[str], tuple[str, list[str]] | None],
                   recorded: Callable[[str, int], int | None],
                   unrecorded: tuple[str, ...] = UNRECORDED_OP_TYPES,
                   ) -> tuple[list[Any], list[str]]:
    """A record's inputs: each input tensor name ("op:slot") becomes the index of its record; one
    computed by an unrecorded or pass-through op is replaced by that op's inputs, recursively;
    anything else stays a name (not traced, so it cannot be checked). Also the unrecorded op types
    walked through, ancestors first, once each. ``creation`` gives an op's (type, input names) in
    the same graph, ``recorded`` the index of an output's latest record."""
    inputs: list[Any] = []
    through: list[str] = []
    seen: set[str] = set()  # ops already walked: shared ancestors once, and no loops

    def visit(name: str) -> None:
        op_name, _, slot = name.rpartition(":")
        if not op_name:  # a name without a slot
            op_name, slot = name, "0"
        index = recorded(op_name, int(slot or 0))
        if index is not None:
            if index not in inputs:
                inputs.append(index)
            return
        made = creation(op_name)
        walkable = made is not None and made[0] in unrecorded + PASS_THROUGH_OP_TYPES
        if not walkable:
            if name not in inputs:
                inputs.append(name)
            return
        if op_name in seen:
            return
        seen.add(op_name)
        op_type, sources = made  # type: ignore[misc]
        for source in sources:
            visit(source)
        if op_type in unrecorded and op_type not in through:
            through.append(op_type)

    for name in names:
        visit(name)
    return inputs, through


def canonical_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records in a deterministic execution order: per step, a topological order of the
    data dependencies with ties broken by (graph, op name, slot), so that independent ops that
    the executor ran in another order give the same artifact bytes; inputs renumbered."""
    import heapq

    order: list[int] = []
    for step in sorted({r["step"] for r in records}):
        members = [i for i, r in enumerate(records) if r["step"] == step]
        waiting = {i: 0 for i in members}
        consumers: dict[int, list[int]] = {i: [] for i in members}
        for i in members:
            for source in records[i]["inputs"]:
                if isinstance(source, int) and source in waiting:
                    waiting[i] += 1
                    consumers[source].append(i)

        def key(i: int) -> tuple[str, str, int, int]:
            return (records[i]["graph"], records[i]["op_name"], records[i]["slot"], i)

        ready = [key(i) for i in members if waiting[i] == 0]
        heapq.heapify(ready)
        while ready:
            index = heapq.heappop(ready)[3]
            order.append(index)
            for consumer in consumers[index]:
                waiting[consumer] -= 1
                if waiting[consumer] == 0:
                    heapq.heappush(ready, key(consumer))
    position = {old: new for new, old in enumerate(order)}
    return [{**records[i], "inputs": [position[x] if isinstance(x, int) else x
                                      for x in records[i]["inputs"]]} for i in order]


def builtin_trace(variant: Any, data: Any, seed: int, request: TraceRequest,
                  main_trail: dict[str, Any] | None) -> dict[str, Any]:
    """The trace of one variant, or why there is none: a failing trace never costs the result."""
    try:
        return _builtin_trace(variant, data, seed, request, main_trail)
    except Exception as error:  # noqa: BLE001 - the main run's record is complete without it
        return {"absent": f"trace failed: {type(error).__name__}: {error}".splitlines()[0][:300]}


def _builtin_trace(variant: Any, data: Any, seed: int, request: TraceRequest,
                   main_trail: dict[str, Any] | None) -> dict[str, Any]:
    """The traced pass of the built-in experiment (Keras 2): same seed, model and data as the
    main run, steps before the window untraced, the window under the dump."""
    window = request.window()
    if window is None:
        return {"absent": "not requested (--trace-steps 0)"}
    first, last = window
    if last > data.rows:
        return {"absent": f"step {last} is beyond the {data.rows} training steps"}
    flavour = _fresh_session(seed)
    if isinstance(flavour, str):
        return {"absent": flavour}
    fragment, unrecorded = flavour
    model = build_model(data.features)
    compile_model(model, variant.optimizer)
    build_optimizer(model)
    trail = StepTrail(model)

    def fit(rows: slice) -> None:
        model.fit(x=data.x[rows], y=data.y[rows], batch_size=1, epochs=1, verbose=0,
                  shuffle=False, callbacks=[trail.callback()])

    if first > 1:
        fit(slice(0, first - 1))
        model.train_function = None  # retrace under the dump (it instruments new graphs only)
    dump = collect(lambda: fit(slice(first - 1, last)), first, fragment, unrecorded)
    return _result(first, last, trail, main_trail, dump, unrecorded)


def _fresh_session(seed: int) -> Any:
    """Keras' (graph-name fragment, unrecorded op types), or the reason there is no trace; on
    success a cleared session, re-seeded as the main run seeds (Keras 3 draws initial weights
    from its own seed)."""
    flavour = keras_flavour()
    if isinstance(flavour, str):
        return flavour
    fresh_session(seed)
    return flavour


def user_trace(function: Any, entry: str, variant: Any, data: Any, seed: int,
               rows: int | None, request: TraceRequest,
               main_trail: dict[str, Any] | None) -> dict[str, Any]:
    """The traced pass of a user experiment that returned a TrainingPlan: the function is called
    again, re-seeded, and its plan fitted for the first K steps under the dump."""
    try:
        return _user_trace(function, entry, variant, data, seed, rows, request, main_trail)
    except Exception as error:  # noqa: BLE001 - the main run's record is complete without it
        return {"absent": f"trace failed: {type(error).__name__}: {error}".splitlines()[0][:300]}


def _user_trace(function: Any, entry: str, variant: Any, data: Any, seed: int,
                rows: int | None, request: TraceRequest,
                main_trail: dict[str, Any] | None) -> dict[str, Any]:
    window = request.window()
    if window is None:
        return {"absent": "not requested (--trace-steps 0)"}
    first, last = window
    if first != 1:  # a user's fit cannot be resumed mid-epoch as the built-in slices its rows
        return {"absent": "--trace-step N is for the built-in experiment; a user experiment "
                          "traces its first K steps (--trace-steps K)"}
    flavour = keras_flavour()
    if isinstance(flavour, str):
        return {"absent": flavour}
    fragment, unrecorded = flavour
    # the main run's own pass: a fresh seeded session, the function called, its plan trimmed and
    # its model built
    outcome = user_plan.prepare(function, entry, variant, data, seed, rows)
    if isinstance(outcome, TrainedModel):
        return {"absent": "the experiment trained the model itself"}
    plan = outcome
    if last > plan.optimizer_steps():
        return {"absent": f"step {last} is beyond the {plan.optimizer_steps()} training steps"}
    model = plan.model
    build_optimizer(model)
    trail = StepTrail(model)
    kwargs = {"verbose": 0, **plan.fit_kwargs}
    callbacks = [*(kwargs.pop("callbacks", None) or []), trail.callback(), _stop_after(last)]
    dump = collect(lambda: model.fit(plan.x, plan.y, callbacks=callbacks, **kwargs), first,
                   fragment, unrecorded)
    return _result(first, last, trail, main_trail, dump, unrecorded)


def keras_flavour() -> tuple[str, tuple[str, ...]] | str:
    """(train function's name fragment, unrecorded op types) of the installed Keras, or why there
    is no trace: Keras 3's JAX and PyTorch backends run no TensorFlow graph."""
    from repromatrix.cell import keras3

    if not keras3.is_keras3():
        return KERAS2_TRAIN_FUNCTION, UNRECORDED_OP_TYPES
    backend = keras3.backend_name()
    if backend != "tensorflow":
        return (f"the op trace reads TensorFlow's debugger; Keras 3's {backend} backend runs no "
                f"TensorFlow graph")
    return KERAS3_TRAIN_FUNCTION, KERAS3_UNRECORDED_OP_TYPES


def _stop_after(steps: int) -> Any:
    """A callback that ends ``fit`` after this many optimizer steps (Keras 2 checks
    ``stop_training`` after every batch)."""
    import tensorflow as tf

    class StopAfter(tf.keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.done = 0

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.done += 1
            if self.done >= steps:
                self.model.stop_training = True

    return StopAfter()


def _result(first: int, last: int, trail: StepTrail, main_trail: dict[str, Any] | None,
            dump: dict[str, Any],
            unrecorded: tuple[str, ...] = UNRECORDED_OP_TYPES) -> dict[str, Any]:
    return {
        "tool": TOOL,
        "unrecorded_op_types": list(unrecorded),
        "steps": list(range(first, last + 1)),
        "data_limit": DATA_LIMIT,
        "trail": trail.digests[:last + 1],
        "reproduces_main_trail": (None if not main_trail else
                                  list(main_trail["digest"][:last + 1]) == trail.digests[:last + 1]),
        **dump,
    }


def build_optimizer(model: Any) -> None:
    """Create the optimizer's slot variables before the first call: a ``tf.function`` whose first
    trace creates variables is traced a second time, and under the dump each trace is costly."""
    optimizer = model.optimizer
    variables = model.trainable_variables
    if hasattr(optimizer, "_create_all_weights"):  # tf.keras.optimizers.legacy
        optimizer._create_all_weights(variables)  # noqa: SLF001 - what its apply_gradients calls
    else:
        optimizer.build(variables)  # a no-op when already built


class StepTrail:
    """The trail's digests (``trail.trail_hash``) read after each step with numpy, not in the
    graph: the traced pass runs a few steps, and the in-graph recorder's ops would be traced and
    recorded too (measured: a fifth of the traced pass's time). It hashes what the main run's
    recorder hashes: Keras 2's weights, Keras 3's ``keras3_state.trail_variables``."""

    def __init__(self, model: Any) -> None:
        from repromatrix.cell import keras3

        self._model = model
        self._keras3 = keras3.is_keras3()
        self.digests = [self._digest()]  # row 0: before training

    def _arrays(self) -> list[np.ndarray]:
        if self._keras3:
            from repromatrix.cell.keras3_state import trail_variables

            return [np.asarray(v.numpy()) for v in trail_variables(self._model)]
        return [np.asarray(w) for w in self._model.get_weights()]

    def _digest(self) -> str:
        from repromatrix.cell.trail import hash_hex, trail_hash

        return hash_hex(trail_hash(self._arrays()))

    def callback(self) -> Any:
        import tensorflow as tf

        trail = self

        class AfterEachStep(tf.keras.callbacks.Callback):
            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                trail.digests.append(trail._digest())  # noqa: SLF001 - its own helper

        return AfterEachStep()
