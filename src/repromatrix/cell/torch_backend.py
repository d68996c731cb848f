"""Keras 3 on PyTorch: the per-step trail, the train step's aten ops, a probe through torch, and
what the fingerprint records of torch.

Keras 3's torch trainer (``keras/src/backend/torch/trainer.py``) runs ``self.train_step`` eagerly:
``make_train_function`` wraps it in a plain Python function (``torch.compile`` only with
``jit_compile=True``; ``"auto"`` resolves to False on torch), and every op runs synchronously on
the CPU. So the cheapest correct trail is the TensorFlow recorder's own hash computed with torch
ops right after each step, in the same Python call: no graph to add it to, and no sync that the
step did not already pay. The hash is exactly ``trail.trail_hash`` (one int64 linear hash over
the bit patterns with ``trail.multipliers``; torch's int64 products and sums wrap modulo 2**64 as
numpy's do), and the sum is the float64 sum of all weights, as on TensorFlow.

The op set is recorded on the real first step, under a ``TorchDispatchMode`` that only watches
(every aten op, forward and backward, passes through unchanged); the trail's own ops run outside
it, so they are never blamed. Ops are named as torch prints an overload packet (``aten.mm``), and
the probe below uses the same names, so that a probed op that differs can be matched.

Runs inside the pinned venv (Python 3.9+): torch is imported lazily.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from repromatrix.cell.probe_inputs import probe_inputs
from repromatrix.cell.trail import dtype_offset, multipliers, trail_result, word_width


def _words(torch: Any, tensor: Any) -> Any:
    """``trail.hash_words`` in torch: each element's bit pattern, sign-extended to int64."""
    flat = tensor.detach().reshape(-1)
    if flat.dtype == torch.bool:
        return flat.to(torch.int64)
    width = word_width(flat.element_size())
    signed = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[width]
    if flat.dtype != signed:
        flat = flat.view(signed)  # a bitcast: same bytes, read as signed integers
    return flat.to(torch.int64)


def dtype_names(tensors: list[Any]) -> list[str]:
    """numpy's names of torch dtypes ("float32", "bool"; "bfloat16" as ml_dtypes names it)."""
    return [str(t.dtype).replace("torch.", "") for t in tensors]


def measure(torch: Any, tensors: list[Any], factors: Any, offset: int) -> Any:
    """[trail hash, float64 sum's bits] of these tensors as one int64 pair (a torch tensor)."""
    words = torch.cat([_words(torch, t) for t in tensors])
    weight_hash = torch.sum(words * factors) + offset
    total = torch.sum(torch.cat([t.detach().reshape(-1).to(torch.float64) for t in tensors]))
    return torch.stack([weight_hash, total.reshape(()).view(torch.int64)])


def hash_factors(torch: Any, tensors: list[Any]) -> tuple[Any, int]:
    """The multipliers and dtype offset ``trail.trail_hash`` uses for tensors of these shapes."""
    size = sum(t.numel() * t.element_size() // word_width(t.element_size())
               if t.dtype != torch.bool else t.numel() for t in tensors)
    return torch.from_numpy(multipliers(size)), dtype_offset(dtype_names(tensors))


def torch_hash(tensors: list[Any]) -> int:
    """The trail hash of these torch tensors (``trail.trail_hash``'s torch twin; tests compare)."""
    import torch

    factors, offset = hash_factors(torch, tensors)
    return int(measure(torch, tensors, factors, offset)[0])


def op_name(packet: str) -> str:
    """An aten overload packet's name without the in-place mark (``aten._foreach_sqrt_`` ->
    ``aten._foreach_sqrt``): the in-place form computes the same, and one name per computation
    lets one probe case match both (Keras' RMSprop calls the in-place sqrt, Adam the other)."""
    return packet[:-1] if packet.endswith("_") and not packet.endswith("__") else packet


class OpWatcher:
    """A dispatch mode that records the aten ops it sees (``op_name``), and nothing else: each op
    runs exactly as it would without it."""

    def __init__(self) -> None:
        from torch.utils._python_dispatch import TorchDispatchMode

        names: set[str] = set()

        class Mode(TorchDispatchMode):  # type: ignore[misc,valid-type]
            def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                                   kwargs: Any = None) -> Any:
                names.add(op_name(str(func.overloadpacket)))
                return func(*args, **(kwargs or {}))

        self.names = names
        self.mode = Mode()


class TorchTrailRecorder:
    """Wraps ``model.train_step``: step 1 runs under an ``OpWatcher``; after every step, the
    weights' hash and sum are appended (a small tensor; read once after ``fit``)."""

    def __init__(self, model: Any, steps: int) -> None:
        import torch

        if getattr(model, "jit_compile", False):  # torch.compile would trace this wrapper
            raise ValueError("the model is compiled with jit_compile=True (torch.compile)")
        self._torch = torch
        self._model = model
        del steps  # one small tensor per step, no buffer to size
        self._had_own = "train_step" in vars(model)
        self._original = model.train_step
        from repromatrix.cell.keras3_state import trail_variables

        # listed once: walking a subclassed model's layers for them cost more than the hash per
        # step; each variable's current value is read every step (an assignment may replace it)
        self._variables = trail_variables(model)
        weights = self._tensors()
        self._factors, self._offset = hash_factors(torch, weights)
        self._rows = [self._measure()]
        self.ops: list[str] | None = None  # the aten ops of the first step, once it ran
        model.train_step = self._train_step

    def _tensors(self) -> list[Any]:
        return [v.value for v in self._variables]

    def _measure(self) -> Any:
        with self._torch.no_grad():
            return measure(self._torch, self._tensors(), self._factors, self._offset)

    def _train_step(self, data: Any) -> Any:
        if self.ops is None:
            watcher = OpWatcher()
            with watcher.mode:
                logs = self._original(data)
            self.ops = sorted(watcher.names)
        else:
            logs = self._original(data)
        self._rows.append(self._measure())
        return logs

    def restore(self) -> None:
        """Give the model its own train step back."""
        if self._had_own:
            self._model.train_step = self._original
        else:
            self._model.__dict__.pop("train_step", None)

    def result(self) -> dict[str, Any]:
        rows = self._torch.stack(self._rows).numpy()
        return trail_result(len(self._rows) - 1, rows)


# --- the probe: probe.py's single ops through torch, named in the op set's vocabulary ------------


def probe_cases() -> list[tuple[str, str, Callable[[Any], Any]]]:
    """(op, case, torch -> result) for the ops a Keras 3 step on torch uses, on probe.py's inputs
    (the case names start with "torch", so they never match a TensorFlow case)."""
    i = probe_inputs()
    roots, wide, positive, exps, summed = i.roots, i.wide, i.positive, i.exps, i.summed
    a_big, b_big, a_row, b_row, a_mid, b_mid, bias = (i.a_big, i.b_big, i.a_row, i.b_row,
                                                      i.a_mid, i.b_mid, i.bias)
    # (aten op, inputs, torch function, its arguments)
    table: list[tuple[str, str, str, tuple[Any, ...]]] = [
        ("rsqrt", "every 4th float32 in 1..4", "rsqrt", (roots,)),
        ("sqrt", "every 4th float32 in 1..4", "sqrt", (roots,)),
        ("div", "1 / x, x in 1..4", "div", (np.ones_like(roots), roots)),
        ("div", "a / b, random", "div", (wide, positive)),
        ("exp", "-20..20", "exp", (exps,)),
        ("log", "0.01..100", "log", (positive,)),
        ("tanh", "-8..8", "tanh", (wide,)),
        ("sigmoid", "-8..8", "sigmoid", (wide,)),
        ("mul", "random", "mul", (wide, positive)),
        ("add", "random", "add", (wide, positive)),
        ("add", "1000x64 + bias", "add", (wide[: 1000 * 64].reshape(1000, 64), bias)),
        ("mm", "1000x100 @ 100x100", "mm", (a_big, b_big)),
        ("mm", "1x41 @ 41x64", "mm", (a_row, b_row)),
        ("mm", "64x64 @ 64x16", "mm", (a_mid, b_mid)),
        ("sum", "2^20 floats", "sum", (summed,)),
        ("mean", "2^20 floats", "mean", (summed,)),
        # Keras' torch optimizers update all weights at once with the _foreach_ kernels
        ("_foreach_sqrt", "every 4th float32 in 1..4", "_foreach_sqrt", ([roots],)),
        ("_foreach_div", "a / b, random", "_foreach_div", ([wide], [positive])),
    ]

    def runner(function: str, args: tuple[Any, ...]) -> Callable[[Any], Any]:
        def run(torch: Any) -> Any:
            tensors = [[torch.from_numpy(a) for a in arg] if isinstance(arg, list)
                       else torch.from_numpy(arg) for arg in args]
            result = getattr(torch, function)(*tensors)
            return result[0] if isinstance(result, (list, tuple)) else result
        return run

    return [(f"aten.{op}", f"torch aten.{op}[{inputs}]", runner(function, args))
            for op, inputs, function, args in table]


def run_probe() -> list[tuple[str, str, np.ndarray]]:
    """(op, case, float32 result) of every case, run through torch."""
    import torch

    with torch.no_grad():
        return [(op, case, run(torch).numpy()) for op, case, run in probe_cases()]


# --- the fingerprint -----------------------------------------------------------------------------


def fingerprint_fields() -> dict[str, Any]:
    """The ``torch`` object: version, threads, which CPU kernels and libraries it uses."""
    import torch

    def answer(read: Callable[[], Any]) -> Any:
        try:
            return read()
        except (AttributeError, RuntimeError):  # an older torch without that question
            return None

    return {
        "version": torch.__version__,
        "git_version": str(getattr(torch.version, "git_version", "")),
        "cuda": torch.version.cuda,  # None for the CPU build: a CUDA build is recorded as such
        "intra_op_threads": torch.get_num_threads(),
        "inter_op_threads": torch.get_num_interop_threads(),
        "cpu_capability": answer(torch.backends.cpu.get_cpu_capability),  # AVX2, AVX512...
        "mkldnn": bool(torch.backends.mkldnn.is_available()),  # oneDNN
        "mkldnn_enabled": bool(torch.backends.mkldnn.enabled),
        "mkl": bool(torch.backends.mkl.is_available()),
        "openmp": bool(torch.backends.openmp.is_available()),
        "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
        "float32_matmul_precision": answer(torch.get_float32_matmul_precision),
        # torch's own switch of CPU kernels (default, avx2, avx512...); threads are in env
        "ATEN_CPU_CAPABILITY": os.environ.get("ATEN_CPU_CAPABILITY"),
        "parallel_info": [line.strip() for line in torch.__config__.parallel_info().splitlines()
                          if line.strip()],
    }


# --- the backends.Backend protocol (what the runner, the probe and the fingerprint call) ---------


def trail_recorder(model: Any, steps: int) -> TorchTrailRecorder:
    return TorchTrailRecorder(model, steps=steps)


def train_step_ops(model: Any, x: Any, y: Any, recorder: Any) -> dict[str, Any]:
    """torch has no graph to trace: the recorder watched the real first step's aten ops."""
    ops = getattr(recorder, "ops", None)
    return {"ops": ops} if ops else {"absent": "PyTorch's op set is watched during the "
                                     "trail's first step, and no trail was recorded"}
