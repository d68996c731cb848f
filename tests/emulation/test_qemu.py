"""The qemu command line and its errors, without running qemu."""

from __future__ import annotations

import pytest

from repromatrix.emulation import qemu
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
                                machine="x86_64", help_text=lambda binary: HELP, environ={},
                                version_text=lambda binary: "qemu-x86_64 version 8.2.2 (x)\n")
        assert binary == "/usr/bin/qemu-x86_64"
        assert qemu.located(binary) == qemu.Located(binary, "PATH", None, "8.2.2 (x)")

    def test_unknown_model_suggests(self) -> None:
        with pytest.raises(ToolError, match=r"no CPU model 'Haswel'; did you mean Haswell\?$"):
            qemu.find_qemu("Haswel", which=lambda name: "/q", machine="x86_64",
                           help_text=lambda binary: HELP, environ={})

    def test_arm_host_refused(self) -> None:
        with pytest.raises(ToolError, match="needs an x86_64 host"):
            qemu.find_qemu("Haswell", which=lambda name: "/q", machine="aarch64")

    def test_command_line(self) -> None:
        """The emulated process is told where its qemu came from (no commas: -E splits at them)."""
        assert qemu.qemu_command("/q", "Haswell", "/venv/bin/python", ["-m", "repromatrix", "run"]) == [
            "/q", "-cpu", "Haswell", "-E", "REPROMATRIX_QEMU_BINARY=q", "-E",
            "REPROMATRIX_QEMU_ESTIMATES_LABEL=", "-E", "REPROMATRIX_QEMU_ESTIMATES_SHA256=", "-E",
            "REPROMATRIX_QEMU_PACKAGE=", "-E", "REPROMATRIX_QEMU_SOURCE=unknown", "-E",
            "REPROMATRIX_QEMU_SYSROOT=", "-E", "REPROMATRIX_QEMU_VERSION=unknown",
            "/venv/bin/python", "-m", "repromatrix", "run"]

    def test_version_line(self) -> None:
        assert qemu.parse_version("qemu-x86_64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n"
                                  "Copyright (c) 2003-2022 Fabrice Bellard\n") == (
            "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)")
