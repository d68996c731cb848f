"""Applying a variant's in-process switches (model.SWITCHES) before its framework's first op.

Each switch is a library setting no environment variable reaches; the variant's process group
sets it once, before training, so the whole group runs with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def apply(tf: Any, switches: Mapping[str, bool]) -> None:
    """Set each switch; ``tf`` is the TensorFlow module the worker imported."""
    if "grappler.arithmetic_optimization" in switches:
        # Read when a function's graph is optimised, so it must be set before the first one.
        tf.config.optimizer.set_experimental_options(
            {"arithmetic_optimization": switches["grappler.arithmetic_optimization"]})
    if "torch.mkldnn" in switches:
        import torch

        torch.backends.mkldnn.enabled = switches["torch.mkldnn"]
