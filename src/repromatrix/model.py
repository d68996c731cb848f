"""The plain model the host hands to a cell: variants, pins and the resolved cell request.

Standard library only, and Python 3.9-safe: this is what crosses from the host (which loads and
checks matrix.toml once, repromatrix.config) into the pinned venv (repromatrix.cell), so the cell
never re-reads the matrix file nor imports the host's layers. ``CellRequest`` is serialisable
because a worker process must get exactly the request its supervisor got.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NO_DATA = "none"  # [experiment] data for a user experiment that loads its own data
BUILTIN_DATA = "builtin"  # [experiment] data naming the report's own data set

_COLUMN_INDEX = re.compile(r"-?[0-9]+")  # ASCII digits only: str.isdigit() also takes "²" and "٣"


def target_column(value: str | int) -> str | int:
    """A data set's target column: a 0-based index, or a name.

    An integer or a string of ASCII digits is an index; anything else is a column name. Raises
    ValueError for a negative index (the matrix file, ``--target`` and the CSV loader agree).
    """
    if isinstance(value, str) and _COLUMN_INDEX.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and value < 0:
        raise ValueError(f"a column index starts at 0, got {value}")
    return value


# How many first steps a cell op-traces unless told (`--trace-steps`; 0: none). Cross-CPU
# divergences start at step 1; the second step shows whether they grow.
TRACE_STEPS = 2


@dataclass(frozen=True)
class Variant:
    """One named way of training the experiment."""

    name: str
    optimizer: str = "default"
    env: Mapping[str, str] = field(default_factory=dict)
    threads: Mapping[str, int] | None = None  # {"intra_op": n, "inter_op": m}
    op_determinism: bool = False
    description: str = ""
    backend: str | None = None  # Keras 3 only; None: Keras' own choice (KERAS_BACKEND or TF)
    # In-process switches set before the first op (SWITCHES names them), e.g.
    # {"grappler.arithmetic_optimization": False}
    switches: Mapping[str, bool] = field(default_factory=dict)
    # A remedy candidate's original variant: the user's function sees that name (it branches on
    # it), so only the candidate's changes differ from the original (``repromatrix remedy``).
    base: str | None = None

    def settings(self) -> dict[str, Any]:
        """What the artifact records about this variant (``backend`` only when set, so that
        artifacts without one keep their bytes)."""
        settings: dict[str, Any] = {
            "optimizer": self.optimizer,
            "env": dict(sorted(self.env.items())),
            "threads": dict(sorted(self.threads.items())) if self.threads else None,
            "op_determinism": self.op_determinism,
        }
        if self.backend is not None:
            settings["backend"] = self.backend
        if self.switches:
            settings["switches"] = dict(sorted(self.switches.items()))
        if self.base is not None:  # a remedy candidate: which variant it changes
            settings["base"] = self.base
        return settings

    def process_env(self) -> dict[str, str]:
        """The environment its process needs: its own, and Keras' backend, fixed at import."""
        env = dict(self.env)
        if self.backend is not None:
            env["KERAS_BACKEND"] = self.backend
        return env

    def process_key(self) -> tuple[Any, ...]:
        """Variants with equal keys can share one process.

        Environment variables are read when TensorFlow loads, thread counts when its runtime starts,
        and op determinism cannot be switched off again: any of them needs a fresh process.
        """
        return (
            tuple(sorted(self.process_env().items())),
            tuple(sorted(self.threads.items())) if self.threads else (),
            self.op_determinism,
            tuple(sorted(self.switches.items())),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "optimizer": self.optimizer, "env": dict(self.env),
                "threads": dict(self.threads) if self.threads is not None else None,
                "op_determinism": self.op_determinism, "description": self.description,
                "backend": self.backend, "switches": dict(self.switches), "base": self.base}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Variant:
        return cls(**raw)


# The in-process switches a variant may set (``switches``), each with what it does. They are
# applied before the variant's framework runs its first op, so they split process groups.
SWITCHES: dict[str, str] = {
    "grappler.arithmetic_optimization": "TensorFlow's grappler arithmetic optimiser "
    "(tf.config.optimizer.set_experimental_options); off, it no longer rewrites x / sqrt(y) "
    "into x * rsqrt(y)",
    "torch.mkldnn": "PyTorch's oneDNN (mkldnn) kernels (torch.backends.mkldnn.enabled)",
}


@dataclass(frozen=True)
class Platform:
    """How a real install on one ``<os>-<arch>`` differs from the plain pins."""

    key: str
    replace: Mapping[str, str] = field(default_factory=dict)  # pinned name -> installed name
    pulls: tuple[str, ...] = ()  # packages the pinned ones pull in by themselves


@dataclass(frozen=True)
class Pins:
    python: str
    packages: Mapping[str, str]
    platforms: Mapping[str, Platform] = field(default_factory=dict)

    def requirements(self, platform_key: str) -> list[str]:
        """The ``name==version`` lines to install on one platform, in a stable order."""
        platform = self.platforms.get(platform_key)
        replace = platform.replace if platform else {}
        return [f"{replace.get(name, name)}=={version}" for name, version in self.packages.items()]

    def watched_packages(self, platform_key: str) -> list[str]:
        """Every distribution whose installed version the artifact records on that platform."""
        platform = self.platforms.get(platform_key)
        names = [line.split("==")[0] for line in self.requirements(platform_key)]
        if platform:
            names += [n for n in platform.pulls if n not in names]
        return names

    @property
    def python_minor(self) -> str:
        """``3.9`` for ``3.9.2``: what a "nearest" runner asks for."""
        return ".".join(self.python.split(".")[:2])

    def to_dict(self) -> dict[str, Any]:
        # Pairs, not an object: the packages' order is the matrix file's, and the artifact's
        # "pins" keeps it, while the request is dumped with sorted keys.
        return {"python": self.python, "packages": [list(p) for p in self.packages.items()],
                "platforms": [{"key": p.key, "replace": dict(p.replace), "pulls": list(p.pulls)}
                              for p in self.platforms.values()]}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Pins:
        platforms = {p["key"]: Platform(key=p["key"], replace=dict(p["replace"]),
                                        pulls=tuple(p["pulls"])) for p in raw["platforms"]}
        return cls(python=raw["python"], packages=dict(raw["packages"]), platforms=platforms)


@dataclass(frozen=True)
class CellRequest:
    """Everything a cell's run needs, resolved by the host from matrix.toml and the command line.

    Nothing here points back at the matrix file: the cell (and each of its workers) runs from
    these values alone.
    """

    cell: str
    variants: tuple[Variant, ...]  # resolved, in the order they run
    pins: Pins
    seed: int
    data: str  # BUILTIN_DATA, NO_DATA or the path of a CSV
    target: str | int
    output: str
    entry: str | None = None  # "module:function" or "file.py:function"; None: the built-in one
    entry_root: str = "."  # the folder the entry is found from (the matrix file's)
    runner_label: str | None = None
    rows: int | None = None
    process_per_variant: bool = False
    emulated: str | None = None  # the qemu CPU model when this process runs under emulation
    qemu: Mapping[str, str | None] | None = None  # where that qemu came from (the fingerprint's)
    # How this process starts a worker's Python (qemu's prefix under emulation); empty: itself.
    worker_python: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # extra environment for the whole cell
    trace_steps: int = TRACE_STEPS  # op trace of the first K steps (optrace.py); 0: none
    trace_step: int | None = None  # or of this one step only

    def to_json(self) -> str:
        raw: dict[str, Any] = {name: getattr(self, name) for name in self.__dataclass_fields__}
        raw.update(variants=[v.to_dict() for v in self.variants], pins=self.pins.to_dict(),
                   qemu=dict(self.qemu) if self.qemu is not None else None,
                   worker_python=list(self.worker_python), env=dict(self.env))
        return json.dumps(raw, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CellRequest:
        raw = json.loads(text)
        raw["variants"] = tuple(Variant.from_dict(v) for v in raw["variants"])
        raw["pins"] = Pins.from_dict(raw["pins"])
        raw["worker_python"] = tuple(raw["worker_python"])
        return cls(**raw)

    def only(self, variants: tuple[Variant, ...]) -> CellRequest:
        """The same request for some of its variants, as one process runs them (a worker's)."""
        raw = {name: getattr(self, name) for name in self.__dataclass_fields__}
        raw.update(variants=variants, process_per_variant=False)
        return CellRequest(**raw)
