"""The contract between repromatrix and a user's own experiment ("bring your own experiment").

``matrix.toml`` names the experiment with ``[experiment] entry = "package.module:function"`` or
``entry = "path/to/file.py:function"`` (relative to the matrix file). The runner calls

    function(context: ExperimentContext) -> TrainingPlan | <a trained Keras model>

right after ``reset_seeds(context.seed)``, once per variant, in a fresh Keras session:

- return a ``TrainingPlan`` (a *compiled* model, the training arrays and ``fit`` arguments) and the
  runner calls ``model.fit`` itself, recording the per-step trail and the train step's op set;
- or train inside the function and return the trained model: the artifact then has no trail
  (``trail: null`` and a ``trail_absent`` reason), since the steps ran out of the runner's sight.

This module is importable without TensorFlow (and on Python 3.9): the checks below look at
attributes only, so unit tests drive them with fake objects. The full description is
docs/experiments.md.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import math
import pkgutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable

from repromatrix.entry import (  # parse_entry: re-exported, the runner and scaffold call it here
    Entry,
    parse_entry,  # noqa: F401
)
from repromatrix.errors import ExperimentError

if TYPE_CHECKING:  # only for the annotations: data pulls numpy, matrix is loaded by the caller
    from repromatrix.cell.data import Dataset
    from repromatrix.config.matrix import Variant

BUILTIN_NAME = "report-41"  # the artifact's experiment.name when no entry is given
# fit() arguments the runner owns: x and y come from the plan; a validation set would add
# evaluation steps the trail does not follow.
RESERVED_FIT_KEYS = ("x", "y", "validation_data", "validation_split", "validation_steps",
                     "validation_freq", "validation_batch_size")
KERAS_DEFAULT_BATCH_SIZE = 32  # what model.fit uses when batch_size is not given


@dataclass(frozen=True)
class ExperimentContext:
    """What the experiment function receives.

    ``data`` is the matrix's data set (``[experiment] data`` or ``--data``), or None when the
    matrix names none: the function then loads its own (never download at run time: a cell must
    not depend on the network). ``rows``, when set (``--rows``, the lab), asks for only the first
    N training rows: the runner trims a plan's arrays itself; a self-training function should
    honour it. ``variant`` is the variant being run; branch on ``variant.name`` to compile
    differently per variant (``variant.optimizer`` is always "default" for a user experiment).
    """

    seed: int
    data: Dataset | None
    variant: Variant
    rows: int | None = None

    @property
    def variant_name(self) -> str:
        return self.variant.name


@dataclass(frozen=True)
class TrainingPlan:
    """A compiled Keras model and what to fit it on; the runner calls
    ``model.fit(x, y, **fit_kwargs)`` (``verbose=0`` unless given)."""

    model: Any
    x: Any  # an array with .shape and .dtype: (rows, *model input shape)
    y: Any  # an array with .shape and .dtype: (rows, ...)
    fit_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return int(self.x.shape[0])

    @property
    def batch_size(self) -> int:
        return int(self.fit_kwargs.get("batch_size") or KERAS_DEFAULT_BATCH_SIZE)

    @property
    def epochs(self) -> int:
        return int(self.fit_kwargs.get("epochs", 1))

    def optimizer_steps(self) -> int:
        """An upper bound of the optimizer steps ``fit`` will take: the trail buffer's size."""
        per_epoch = self.fit_kwargs.get("steps_per_epoch")
        if per_epoch is None:
            per_epoch = math.ceil(self.rows / self.batch_size)
        return self.epochs * int(per_epoch)

    def fit_record(self) -> dict[str, Any]:
        """What the artifact records of the fit call (plain JSON values only)."""
        return {"epochs": self.epochs, "batch_size": self.batch_size,
                "shuffle": bool(self.fit_kwargs.get("shuffle", True)), "rows": self.rows,
                "steps": self.optimizer_steps(),
                "kwargs": sorted(str(k) for k in self.fit_kwargs)}


@dataclass(frozen=True)
class TrainedModel:
    """The other outcome: the function trained the model itself."""

    model: Any


# --- entry: resolution (parsing is in repromatrix.entry) --------------------------------------------------------------


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def locate(entry: Entry, base: Path) -> Path | None:
    """Check that the module or file exists without running it; its source path if known.

    This runs before TensorFlow is imported (the user's module usually imports it at the top), so a
    typo costs a second, not a minute.
    """
    if entry.is_file:
        path = (base / entry.target).resolve()
        if not path.is_file():
            siblings = [p.name for p in path.parent.glob("*.py")] if path.parent.is_dir() else []
            raise ExperimentError(f"experiment entry {entry.text!r}: no file {path}"
                                  f"{_suggest(path.name, siblings)}")
        return path
    return _locate_module(entry, base)


def _locate_module(entry: Entry, base: Path) -> Path | None:
    parent = entry.target.rpartition(".")[0]
    with _on_path(base):
        try:
            spec = importlib.util.find_spec(entry.target)
        except ModuleNotFoundError as error:  # a parent package is missing
            spec, missing = None, error.name or parent
        except Exception as error:  # noqa: BLE001 - a parent package's own import failed
            raise ExperimentError(f"experiment entry {entry.text!r}: importing {parent} failed: "
                                  f"{type(error).__name__}: {error}".splitlines()[0]) from None
        else:
            missing = entry.target
        if spec is None:
            raise ExperimentError(f"experiment entry {entry.text!r}: no module named {missing!r}"
                                  f"{_suggest(missing.rpartition('.')[2], _siblings(missing))}")
    origin = spec.origin
    return Path(origin) if origin and origin.endswith(".py") else None


def _siblings(module: str) -> list[str]:
    """Names next to ``module`` (in its package, or top-level ones), for suggestions."""
    parent = module.rpartition(".")[0]
    if not parent:
        return sorted({m.name for m in pkgutil.iter_modules()})
    try:
        package = importlib.import_module(parent)
    except Exception:  # noqa: BLE001 - no suggestions then
        return []
    return sorted(m.name for m in pkgutil.iter_modules(getattr(package, "__path__", [])))


class _on_path:
    """Put the matrix file's folder first on sys.path while resolving, so a module next to the
    matrix file is found as users expect from ``python -m``; restored afterwards."""

    def __init__(self, base: Path) -> None:
        self.base = str(base.resolve())

    def __enter__(self) -> None:
        sys.path.insert(0, self.base)

    def __exit__(self, *exc: object) -> None:
        try:
            sys.path.remove(self.base)
        except ValueError:
            pass


def check_defined(entry: Entry, source: Path | None) -> None:
    """Fail early if the source plainly does not define the function (statically, by ``ast``).

    Skipped when the module could bind it dynamically (``import *``, ``globals()``, ``setattr``):
    the import in ``load_function`` then gives the final answer.
    """
    if source is None:
        return
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    except (OSError, UnicodeDecodeError):
        return
    except SyntaxError as error:
        raise ExperimentError(f"experiment entry {entry.text!r}: {source.name}:{error.lineno}: "
                              f"syntax error: {error.msg}") from None
    names = _top_level_names(tree)
    if names is None or entry.function in names:
        return
    functions = sorted(n for n in names if not n.startswith("_"))
    raise ExperimentError(f"experiment entry {entry.text!r}: {source.name} defines no "
                          f"{entry.function!r}{_suggest(entry.function, functions)}")


def _top_level_names(tree: ast.Module) -> set[str] | None:
    """Names bound at module level; None when the module may bind names we cannot see."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return None
        if isinstance(node, ast.Name) and node.id in ("globals", "setattr", "exec", "vars"):
            return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:  # assignments, also inside if/try at top level
            for child in ast.walk(node):
                if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                    names.add(child.id)
                elif isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                    names.add(child.name)
    return names


def load_function(entry: Entry, base: Path) -> Callable[[ExperimentContext], Any]:
    """Import the module or file and return its function (this runs the module's top level)."""
    module = _import(entry, base)
    if not hasattr(module, entry.function):
        public = [n for n in dir(module) if not n.startswith("_")]
        raise ExperimentError(f"experiment entry {entry.text!r}: {entry.target} has no "
                              f"{entry.function!r}{_suggest(entry.function, public)}")
    function = getattr(module, entry.function)
    if not callable(function):
        raise ExperimentError(f"experiment entry {entry.text!r}: {entry.function} is a "
                              f"{type(function).__name__}, not a function")
    return function  # type: ignore[no-any-return]


def _import(entry: Entry, base: Path) -> ModuleType:
    with _on_path(base):
        try:
            if not entry.is_file:
                return importlib.import_module(entry.target)
            path = (base / entry.target).resolve()
            name = f"repromatrix_user_{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ExperimentError(f"experiment entry {entry.text!r}: cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses and pickling look modules up by name
            spec.loader.exec_module(module)
            return module
        except ExperimentError:
            raise
        except Exception as error:  # noqa: BLE001 - the user's module failed on import
            raise ExperimentError(f"experiment entry {entry.text!r}: importing {entry.target} "
                                  f"failed: {type(error).__name__}: {error}".splitlines()[0]
                                  ) from error


# --- the function's result ----------------------------------------------------------------------


def check_outcome(result: Any, entry: str) -> TrainingPlan | TrainedModel:
    """Classify and validate what the function returned, before any training by the runner."""
    if isinstance(result, TrainingPlan) or _looks_like_plan(result):
        plan = result if isinstance(result, TrainingPlan) else TrainingPlan(
            result.model, result.x, result.y, dict(getattr(result, "fit_kwargs", {}) or {}))
        check_plan(plan, entry)
        return plan
    if _is_model(result):
        return TrainedModel(result)
    raise ExperimentError(f"experiment {entry}: returned {_kind(result)}; expected a "
                          "repromatrix.contract.TrainingPlan(model, x, y, fit_kwargs) or a "
                          "trained Keras model")


def _looks_like_plan(value: Any) -> bool:
    """A TrainingPlan from another import of this module (e.g. a file entry re-importing it)."""
    return type(value).__name__ == "TrainingPlan" and all(
        hasattr(value, a) for a in ("model", "x", "y"))


def _is_model(value: Any) -> bool:
    return all(hasattr(value, a) for a in ("fit", "get_weights", "weights", "compile"))


def _kind(value: Any) -> str:
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return "None" if value is None else f"a {type(value).__name__}"


def check_plan(plan: TrainingPlan, entry: str) -> None:
    """The model is a compiled Keras model and x, y fit it; fit_kwargs are ours to pass on."""
    if not _is_model(plan.model):
        raise ExperimentError(f"experiment {entry}: TrainingPlan.model is {_kind(plan.model)}, "
                              "not a Keras model")
    if not is_compiled(plan.model):
        raise ExperimentError(f"experiment {entry}: the model is not compiled; call "
                              "model.compile(optimizer=..., loss=...) before returning it")
    if not isinstance(plan.fit_kwargs, Mapping):
        raise ExperimentError(f"experiment {entry}: TrainingPlan.fit_kwargs is "
                              f"{_kind(plan.fit_kwargs)}, expected a dict")
    reserved = sorted(k for k in plan.fit_kwargs if k in RESERVED_FIT_KEYS)
    if reserved:
        raise ExperimentError(f"experiment {entry}: fit_kwargs may not set {', '.join(reserved)} "
                              "(x and y are the plan's own; validation is not traced)")
    for key in ("batch_size", "epochs", "steps_per_epoch"):
        value = plan.fit_kwargs.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            raise ExperimentError(f"experiment {entry}: fit_kwargs[{key!r}] must be a whole "
                                  f"number >= 1, got {value!r}")
    for name in ("x", "y"):
        array = getattr(plan, name)
        if not hasattr(array, "shape") or not hasattr(array, "dtype") or len(array.shape) < 1:
            raise ExperimentError(f"experiment {entry}: TrainingPlan.{name} is {_kind(array)}; "
                                  "expected an array (numpy) with a first axis of rows")
    if plan.x.shape[0] != plan.y.shape[0]:
        raise ExperimentError(f"experiment {entry}: x has {plan.x.shape[0]} rows but y has "
                              f"{plan.y.shape[0]}")
    if plan.x.shape[0] < 1:
        raise ExperimentError(f"experiment {entry}: x has no rows")
    check_input_shape(plan.model, tuple(plan.x.shape), entry)


def is_compiled(model: Any) -> bool:
    """Keras 2 sets ``_is_compiled``; Keras 3 has ``compiled``; both leave optimizer None before."""
    for attribute in ("_is_compiled", "compiled"):
        value = getattr(model, attribute, None)
        if isinstance(value, bool):
            return value
    return getattr(model, "optimizer", None) is not None


def input_shape(model: Any) -> tuple[int | None, ...] | None:
    """The model's single input shape (batch axis included) if it is known before training."""
    try:
        shape = model.input_shape
    except (AttributeError, ValueError, RuntimeError):  # not built yet: Keras knows no shape
        return None
    if isinstance(shape, list):  # several inputs: x as one array cannot be checked here
        return None
    return tuple(shape) if isinstance(shape, tuple) else None


def check_input_shape(model: Any, x_shape: tuple[int, ...], entry: str) -> None:
    expected = input_shape(model)
    if expected is None:
        return
    got = (None,) + tuple(x_shape[1:])
    fits = len(expected) == len(got) and all(
        e is None or e == g for e, g in zip(expected[1:], got[1:]))
    if not fits:
        shown = ", ".join("None" if d is None else str(d) for d in expected)
        raise ExperimentError(f"experiment {entry}: x has shape {tuple(x_shape)} but the model's "
                              f"input is ({shown}): each row must have shape "
                              f"{tuple(expected[1:])}")
