"""Keras 3 on JAX: the per-step trail, hashed by its own small jitted function after each step.

Keras 3's JAX trainer (``keras/src/backend/jax/trainer.py``) jits ``train_step(state, data)``,
a pure function returning ``(logs, state)``, and ``fit`` calls ``self.train_function`` once per
step without waiting for its result (asynchronous dispatch). The recorder wraps the train
function: after each step it dispatches one jitted hash of the new state's variables (a device
array, not read yet) and keeps it in a list. Nothing syncs per step; the list is read once after
``fit``. The train step itself is left as Keras compiles it: hashing inside it cost a bigger XLA
program to compile (the recorder's main cost on short runs, measured in docs/performance.md) and
would let XLA fuse the step differently; the hash is compiled once, for the weights before
training and every step alike.

JAX computes in 32 bits unless x64 is switched on (which would change Keras' numerics), so the
hash is two 32-bit linear hashes of the weights' bits (the high and low halves of
``trail.multipliers``; integer sums, so no reduction order matters) and the chart's sum is a
float32 sum. Trails are only compared within one backend.

The op set is the jaxpr's primitive names (``dot_general``, ``logistic``); the probe runs
probe.py's single ops through jax, jitted, under those names, so that a probed op that differs
between two machines can be matched against the step's op set; ``fingerprint_fields`` records
jax's versions and the options and environment that change its numbers.

Runs inside the pinned venv (Python 3.9+): jax is imported lazily.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from repromatrix.cell.probe_inputs import probe_inputs
from repromatrix.cell.trail import multipliers


class JaxTrailRecorder:
    """Hashes ``keras3.trail_variables`` (the weights, then seed and metric state), each in its
    own dtype. Keras' jitted step gets and returns them as values in its state tuple
    (trainable, non-trainable, optimizer, metrics variables), so each is found there by its
    position, fixed when the recorder starts (the model is built by then: user_plan.build)."""

    def __init__(self, model: Any, steps: int) -> None:
        import jax
        import jax.numpy as jnp

        from repromatrix.cell.keras3_state import trail_variables

        self._model = model
        del steps  # no buffer: one small array per step
        variables = trail_variables(model)
        self._positions = state_positions(model, variables)
        sizes = [int(np.prod(v.shape)) for v in variables]
        factors = multipliers(sum(sizes)).astype(np.uint64)
        # arguments, not closed-over constants: a big model's multipliers stay out of the program
        self._factors = (jnp.asarray((factors >> 32).astype(np.uint32)),
                         jnp.asarray((factors & 0xFFFFFFFF).astype(np.uint32)))
        self._measure = jax.jit(measure)
        self._rows = [self._measure([v.value for v in variables], *self._factors)]
        self._original_make = model.make_train_function
        model.make_train_function = self._make_train_function

    def _make_train_function(self, force: bool = False) -> Any:
        self._original_make(force)  # sets model.train_function (and returns None)
        function = self._model.train_function
        if getattr(function, "_repromatrix", False):
            return function
        positions, factors, hashed, rows = self._positions, self._factors, self._measure, self._rows

        def step(state: Any, iterator: Any) -> Any:
            logs, state = function(state, iterator)
            # dispatched before the next step is: that step's donation of these buffers waits
            # for this read, and nothing waits for the hash (a device array, read after fit)
            rows.append(hashed([state[part][index] for part, index in positions], *factors))
            return logs, state

        step._repromatrix = True  # type: ignore[attr-defined]
        self._model.train_function = step
        return step

    def restore(self) -> None:
        for name in ("make_train_function", "train_function"):
            self._model.__dict__.pop(name, None)

    def result(self) -> dict[str, Any]:
        rows = np.asarray([np.asarray(row) for row in self._rows], dtype=np.uint32)
        return {"steps": len(rows) - 1,
                "digest": [f"{int(h):08x}{int(low):08x}" for h, low, _ in rows],
                "sum": [float(s) for s in rows[:, 2].copy().view(np.float32)]}


def measure(values: list[Any], high: Any, low: Any) -> Any:
    """[high hash, low hash, float32 sum's bits] as uint32: two 32-bit linear hashes of every
    value's bits (integer sums: no reduction order matters) and the float32 sum of all values."""
    import jax
    import jax.numpy as jnp

    flat = [jnp.ravel(v) for v in values]
    bits = jnp.concatenate([jax.lax.bitcast_convert_type(
        v, {2: jnp.uint16, 4: jnp.uint32}[v.dtype.itemsize]).astype(jnp.uint32)
        if jnp.issubdtype(v.dtype, jnp.floating) else v.astype(jnp.uint32) for v in flat])
    total = jnp.sum(jnp.concatenate([v.astype(jnp.float32) for v in flat]))
    return jnp.stack([jnp.sum(bits * high), jnp.sum(bits * low),
                      jax.lax.bitcast_convert_type(total, jnp.uint32)])


def state_positions(model: Any, variables: list[Any]) -> list[tuple[int, int]]:
    """(part, index) of each variable in the jitted step's state: 0 trainable, 1 non-trainable,
    3 metrics variables (the order of ``JAXTrainer``'s state tuple; 2 is the optimizer's)."""
    where: dict[int, tuple[int, int]] = {}
    for part, listed in ((0, model.trainable_variables), (1, model.non_trainable_variables),
                         (3, model.metrics_variables)):
        for index, variable in enumerate(listed):
            where.setdefault(id(variable), (part, index))
    missing = [v.path for v in variables if id(v) not in where]
    if missing:
        raise ValueError(f"variables outside Keras' train state: {', '.join(missing)}")
    return [where[id(v)] for v in variables]


def train_step_primitives(model: Any, x: Any, y: Any) -> list[str]:
    """The primitive names of the jaxpr of the model's train step on one batch, nested too."""
    import jax

    # lists, as Keras' JAX trainer passes them: LossScaleOptimizer's cond returns the
    # optimizer's variables as a list in one branch and as given in the other, and jax requires
    # both branches to have one structure
    state = ([v.value for v in model.trainable_variables],
             [v.value for v in model.non_trainable_variables],
             [v.value for v in model.optimizer.variables],
             [v.value for v in model.metrics_variables])
    return jaxpr_primitives(jax.make_jaxpr(model.train_step)(state, (x[:1], y[:1])))


def jaxpr_primitives(closed: Any) -> list[str]:
    """The primitive names of a (closed) jaxpr, those of nested jaxprs (jit, custom_jvp...) too."""
    names: set[str] = set()

    def walk(jaxpr: Any) -> None:
        for equation in jaxpr.eqns:
            names.add(equation.primitive.name)
            for value in equation.params.values():
                for sub in value if isinstance(value, (list, tuple)) else (value,):
                    inner = getattr(sub, "jaxpr", None)
                    if inner is not None:
                        walk(inner if hasattr(inner, "eqns") else inner.jaxpr)
    walk(closed.jaxpr)
    return sorted(names)


# --- the probe: probe.py's single ops through jax, named as the jaxpr names them -----------------


@dataclass(frozen=True)
class JaxCase:
    op: str  # the jaxpr primitive the function binds ("rsqrt", "logistic", "dot_general"...)
    case: str  # unique; starts with "jax ", so it never matches a TensorFlow or torch case
    function: Callable[[Any], Callable[..., Any]]  # jax -> the function to jit
    args: tuple[np.ndarray, ...]

    def run(self, jax: Any) -> Any:
        # Jitted, as Keras' train step is: XLA compiles the op, as it compiles the step (eager
        # dispatch may take another kernel). The inputs are arguments, never closed-over
        # constants, which XLA could fold at compile time with its own evaluator.
        return jax.jit(self.function(jax))(*self.args)

    def primitives(self, jax: Any) -> list[str]:
        """What the op set would list for this case (``jit`` and the op itself)."""
        return jaxpr_primitives(jax.make_jaxpr(jax.jit(self.function(jax)))(*self.args))


def probe_cases() -> list[JaxCase]:
    """The ops a Keras 3 step on JAX uses, on probe.py's inputs, named by their primitive
    (checked with ``jax.make_jaxpr`` on jax 0.10.2: ``jnp.divide`` binds ``div``,
    ``jax.nn.sigmoid`` ``logistic``, ``jnp.matmul`` ``dot_general``, ``jnp.sum`` ``reduce_sum``;
    a mean is ``reduce_sum`` and ``div``, so it has no case of its own)."""
    i = probe_inputs()
    # (primitive, inputs, jax -> function, arguments)
    table: list[tuple[str, str, Callable[[Any], Callable[..., Any]], tuple[np.ndarray, ...]]] = [
        ("rsqrt", "every 4th float32 in 1..4", lambda jax: jax.lax.rsqrt, (i.roots,)),
        ("sqrt", "every 4th float32 in 1..4", lambda jax: jax.numpy.sqrt, (i.roots,)),
        ("div", "1 / x, x in 1..4", lambda jax: lambda x: jax.numpy.divide(1.0, x), (i.roots,)),
        ("div", "a / b, random", lambda jax: jax.numpy.divide, (i.wide, i.positive)),
        ("exp", "-20..20", lambda jax: jax.numpy.exp, (i.exps,)),
        ("log", "0.01..100", lambda jax: jax.numpy.log, (i.positive,)),
        ("tanh", "-8..8", lambda jax: jax.numpy.tanh, (i.wide,)),
        ("logistic", "-8..8", lambda jax: jax.nn.sigmoid, (i.wide,)),
        ("square", "-8..8", lambda jax: jax.numpy.square, (i.wide,)),
        ("mul", "random", lambda jax: jax.numpy.multiply, (i.wide, i.positive)),
        ("add", "random", lambda jax: jax.numpy.add, (i.wide, i.positive)),
        ("add", "1000x64 + bias", lambda jax: jax.numpy.add,
         (i.wide[: 1000 * 64].reshape(1000, 64), i.bias)),
        ("dot_general", "1000x100 @ 100x100", lambda jax: jax.numpy.matmul, (i.a_big, i.b_big)),
        ("dot_general", "1x41 @ 41x64", lambda jax: jax.numpy.matmul, (i.a_row, i.b_row)),
        ("dot_general", "64x64 @ 64x16", lambda jax: jax.numpy.matmul, (i.a_mid, i.b_mid)),
        ("reduce_sum", "2^20 floats", lambda jax: jax.numpy.sum, (i.summed,)),
    ]
    return [JaxCase(op, f"jax {op}[{inputs}]", function, args)
            for op, inputs, function, args in table]


def run_probe() -> list[tuple[str, str, np.ndarray]]:
    """(op, case, float32 result) of every case, run jitted through jax."""
    import jax

    return [(case.op, case.case, np.asarray(case.run(jax))) for case in probe_cases()]


# --- the fingerprint -----------------------------------------------------------------------------

# jax.config options that change the numbers a step computes (not merely which programs are
# allowed, as jax_numpy_rank_promotion or jax_numpy_dtype_promotion="strict" do).
NUMERICS_CONFIG = (
    "jax_allow_f16_reductions",  # float16 sums without widening
    "jax_default_matmul_precision",  # dot_general's precision
    "jax_default_prng_impl",  # the random bits: initializers, dropout, shuffling
    "jax_disable_jit",  # op by op instead of one XLA program (other fusion, other rounding)
    "jax_disable_most_optimizations",  # XLA's passes, fusion among them
    "jax_enable_x64",  # 64-bit floats and integers
    "jax_exec_time_optimization_effort",
    "jax_optimization_level",
    "jax_random_seed_offset",
    "jax_softmax_custom_jvp",  # softmax's gradient formula
    "jax_threefry_partitionable",  # threefry's bits for a given key
)
# Environment read by jax or XLA at start-up. XLA's CPU thread pool is not exposed by jax (0.10.2:
# neither jax.devices()[0] nor its client reports it); its knobs (--xla_cpu_multi_thread_eigen...)
# are in XLA_FLAGS.
NUMERICS_ENV = ("JAX_PLATFORMS", "XLA_FLAGS")


def plain(value: Any) -> Any:
    """A config value as JSON: an enum by its value (jax's StrEnums), anything unknown as text."""
    if isinstance(value, enum.Enum):
        value = value.value
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def fingerprint_fields() -> dict[str, Any]:
    """The ``jax`` object: versions, numerics options, environment and device, nothing that
    depends on the time or on paths."""
    import os

    import jax
    import jaxlib

    values = getattr(jax.config, "values", {})
    device = jax.devices()[0]
    return {
        "version": str(jax.__version__),
        "jaxlib": str(jaxlib.__version__),
        "config": {name: plain(values.get(name)) for name in NUMERICS_CONFIG},  # None: no such option
        "env": {name: os.environ.get(name) for name in NUMERICS_ENV},
        "backend": str(jax.default_backend()),
        "device_kind": str(device.device_kind),
        "devices": int(jax.device_count()),
    }


# --- the backends.Backend protocol (what the runner, the probe and the fingerprint call) ---------


def trail_recorder(model: Any, steps: int) -> JaxTrailRecorder:
    return JaxTrailRecorder(model, steps=steps)


def train_step_ops(model: Any, x: Any, y: Any, recorder: Any) -> dict[str, Any]:
    """The jaxpr's primitives, traced with the real x and y (the recorder is not needed)."""
    return {"ops": train_step_primitives(model, x, y)}
