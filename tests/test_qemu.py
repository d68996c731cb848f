"""The qemu command line and its errors, without running qemu."""

from __future__ import annotations

import pytest

from repromatrix import qemu
from repromatrix.errors import ToolError

HELP = """Available CPUs:
x86 486                   (alias configured by machine type)
x86 Haswell               (alias configured by machine type)
x86 Haswell-v1            Intel Core Processor (Haswell)
x86 EPYC-Milan            (alias configured by machine type)
"""


class TestQemu:
    def test_parse_models(self) -> None:
        assert qemu.parse_cpu_models(HELP) == ["486", "EPYC-Milan", "Haswell", "Haswell-v1"]

    def test_found(self) -> None:
        binary = qemu.find_qemu("Haswell", which=lambda name: "/usr/bin/qemu-x86_64",
                                machine="x86_64", help_text=lambda binary: HELP)
        assert binary == "/usr/bin/qemu-x86_64"

    def test_missing_binary_says_how_to_install(self) -> None:
        with pytest.raises(ToolError, match="qemu-x86_64 not found on PATH: install it with: .*qemu-user"):
            qemu.find_qemu("Haswell", which=lambda name: None, machine="x86_64")

    def test_unknown_model_suggests(self) -> None:
        with pytest.raises(ToolError, match=r"no CPU model 'Haswel'; did you mean Haswell\?$"):
            qemu.find_qemu("Haswel", which=lambda name: "/q", machine="x86_64",
                           help_text=lambda binary: HELP)

    def test_arm_host_refused(self) -> None:
        with pytest.raises(ToolError, match="needs an x86_64 host"):
            qemu.find_qemu("Haswell", which=lambda name: "/q", machine="aarch64")

    def test_command_line(self) -> None:
        assert qemu.qemu_command("/q", "Haswell", "/venv/bin/python", ["-m", "repromatrix", "run"]) == [
            "/q", "-cpu", "Haswell", "/venv/bin/python", "-m", "repromatrix", "run"]
