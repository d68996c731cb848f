"""The environment a test starts a cell in: the host's, minus what hosts set differently.

A plain module (not conftest.py) so that test modules can import it by name: another test folder has a
conftest.py of its own, and two modules called ``conftest`` cannot both be imported by name.
"""

from __future__ import annotations

import os

# Variables that change a cell's numbers or its output's encoding. Hosts differ in them (a CI
# image may export OMP_NUM_THREADS; a user may export TF_ENABLE_ONEDNN_OPTS=1), so a cell started
# by a test never inherits them: it gets the pins below, and a test that needs another value
# passes it on the command line (`--env NAME=VALUE`), where the artifact records it.
HOST_NUMERIC_PREFIXES = ("TF_", "XLA_", "JAX_", "KERAS_", "ATEN_", "TORCH_", "OMP_", "MKL_",
                         "KMP_", "DNNL_", "ONEDNN_", "OPENBLAS_", "LC_", "LANG", "PYTHONHASHSEED")

# oneDNN off: TensorFlow turns it on by itself only on CPUs with AVX512_VNNI (some of the machines
# the suite runs on have it, some do not), and every cell a test compares must agree on it.
# The C.UTF-8 locale: text and sorting that do not depend on the host's language.
CELL_PINS = {"TF_ENABLE_ONEDNN_OPTS": "0", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


def pinned_host_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) without what a host sets differently, plus the pins."""
    source = dict(os.environ if environ is None else environ)
    kept = {k: v for k, v in source.items() if not k.startswith(HOST_NUMERIC_PREFIXES)}
    return {**kept, **CELL_PINS}
