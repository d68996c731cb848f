"""Running a cell under qemu-user, emulating another x86_64 CPU on this machine.

qemu's TCG computes approximate instructions (rsqrtps, rcpps) its own way, not as any real chip
does: an emulated cell stands for "another vendor", not a faithful copy of the named model.
Only x86_64 hosts are supported: TensorFlow's x86 wheel needs AVX, which qemu-x86_64 emulates
(models Haswell and newer) since qemu 7.2.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from typing import Callable, Sequence

from repromatrix.errors import ToolError

QEMU = "qemu-x86_64"
INSTALL_HINT = "install it with: sudo apt-get install qemu-user (Debian/Ubuntu)"


def parse_cpu_models(help_text: str) -> list[str]:
    """CPU model names from ``qemu-x86_64 -cpu help`` ("x86 Haswell   Intel Core ...")."""
    models = []
    for line in help_text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "x86":
            models.append(parts[1])
    return sorted(set(models))


def find_qemu(
    model: str,
    which: Callable[[str], str | None] = shutil.which,
    machine: str | None = None,
    help_text: Callable[[str], str] | None = None,
) -> str:
    """Path of qemu-x86_64 after checking the host and the model name; ToolError otherwise."""
    machine = (machine or platform.machine()).lower()
    if machine not in ("x86_64", "amd64"):
        raise ToolError(f"CPU emulation needs an x86_64 host (this one is {machine})")
    binary = which(QEMU)
    if binary is None:
        raise ToolError(f"{QEMU} not found on PATH: {INSTALL_HINT}")
    models = parse_cpu_models((help_text or _cpu_help)(binary))
    if model not in models:
        import difflib

        # One suggestion: with several, ties (Haswell-v1..v4) come back in no stable order.
        close = difflib.get_close_matches(model, models, n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; see `{QEMU} -cpu help`"
        raise ToolError(f"qemu knows no CPU model {model!r}{hint}")
    return binary


def _cpu_help(binary: str) -> str:
    completed = subprocess.run([binary, "-cpu", "help"], capture_output=True, text=True, check=False)
    return completed.stdout


def qemu_command(binary: str, model: str, python: str, arguments: Sequence[str]) -> list[str]:
    """The command line that runs ``python arguments...`` on the emulated CPU."""
    return [binary, "-cpu", model, python, *arguments]
