"""Keras 3 on JAX: the per-step trail computed inside the jitted train step.

Keras 3's JAX trainer (``keras/src/backend/jax/trainer.py``) jits ``train_step(state, data)``,
a pure function returning ``(logs, state)``, and ``fit`` calls ``self.train_function`` once per
step without waiting for its result (asynchronous dispatch). The recorder wraps ``train_step`` so
that the jitted step also returns, in its logs, a hash of the new weights; and it wraps the train
function so that each step's hash (a device array, not read yet) is kept in a list. Nothing
syncs per step; the list is read once after ``fit``.

JAX computes in 32 bits unless x64 is switched on (which would change Keras' numerics), so the
hash is two 32-bit linear hashes of the weights' bits (the high and low halves of
``trail.multipliers``; integer sums, so no reduction order matters) and the chart's sum is a
float32 sum. Trails are only compared within one backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from repromatrix.cell.trail import multipliers

KEY = "_repromatrix_trail"  # the logs entry the wrapped step adds (removed before Keras sees it)


class JaxTrailRecorder:
    def __init__(self, model: Any, steps: int) -> None:
        import jax.numpy as jnp

        self._jnp = jnp
        self._model = model
        del steps  # no buffer: one small array per step
        variables = list(model.trainable_variables) + list(model.non_trainable_variables)
        sizes = [int(np.prod(v.shape)) for v in variables]
        factors = multipliers(sum(sizes)).astype(np.uint64)
        self._low = jnp.asarray((factors & 0xFFFFFFFF).astype(np.uint32))
        self._high = jnp.asarray((factors >> 32).astype(np.uint32))
        self._rows = [self._measure([v.value for v in variables])]
        self._original_step = model.train_step
        self._original_make = model.make_train_function
        model.train_step = self._train_step
        model.make_train_function = self._make_train_function

    def _measure(self, values: list[Any]) -> Any:
        """[high hash, low hash, float32 sum's bits] as uint32."""
        import jax

        jnp = self._jnp
        flat = [jnp.ravel(v) for v in values]
        bits = jnp.concatenate([jax.lax.bitcast_convert_type(
            v, {2: jnp.uint16, 4: jnp.uint32}[v.dtype.itemsize]).astype(jnp.uint32)
            if jnp.issubdtype(v.dtype, jnp.floating) else v.astype(jnp.uint32) for v in flat])
        total = jnp.sum(jnp.concatenate([v.astype(jnp.float32) for v in flat]))
        return jnp.stack([jnp.sum(bits * self._high), jnp.sum(bits * self._low),
                          jax.lax.bitcast_convert_type(total, jnp.uint32)])

    def _train_step(self, state: Any, data: Any) -> Any:
        logs, state = self._original_step(state, data)
        logs = {**logs, KEY: self._measure(list(state[0]) + list(state[1]))}
        return logs, state

    def _make_train_function(self, force: bool = False) -> Any:
        self._original_make(force)  # sets model.train_function (and returns None)
        function = self._model.train_function
        if getattr(function, "_repromatrix", False):
            return function

        def step(state: Any, iterator: Any) -> Any:
            logs, state = function(state, iterator)
            logs = dict(logs)
            self._rows.append(logs.pop(KEY))  # a device array: no sync here
            return logs, state

        step._repromatrix = True  # type: ignore[attr-defined]
        self._model.train_function = step
        return step

    def restore(self) -> None:
        for name in ("train_step", "make_train_function", "train_function"):
            self._model.__dict__.pop(name, None)

    def result(self) -> dict[str, Any]:
        rows = np.asarray([np.asarray(row) for row in self._rows], dtype=np.uint32)
        return {"steps": len(rows) - 1,
                "digest": [f"{int(h):08x}{int(low):08x}" for h, low, _ in rows],
                "sum": [float(s) for s in rows[:, 2].copy().view(np.float32)]}


def train_step_primitives(model: Any, x: Any, y: Any) -> list[str]:
    """The primitive names of the jaxpr of the model's train step on one batch, nested too."""
    import jax

    state = (tuple(v.value for v in model.trainable_variables),
             tuple(v.value for v in model.non_trainable_variables),
             tuple(v.value for v in model.optimizer.variables),
             tuple(v.value for v in model.metrics_variables))
    jaxpr = jax.make_jaxpr(model.train_step)(state, (x[:1], y[:1]))
    names: set[str] = set()

    def walk(closed: Any) -> None:
        for equation in closed.eqns:
            names.add(equation.primitive.name)
            for value in equation.params.values():
                for sub in value if isinstance(value, (list, tuple)) else (value,):
                    inner = getattr(sub, "jaxpr", None)
                    if inner is not None:
                        walk(inner if hasattr(inner, "eqns") else inner.jaxpr)
    walk(jaxpr.jaxpr)
    return sorted(names)
