"""Machine fingerprints: the per-OS parsers run on any host with recorded inputs."""

from __future__ import annotations

from repromatrix.cell import fingerprint

X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz
flags\t\t: fpu sse4_1 sse4_2 avx avx2 fma f16c smep avx512f avx512_vnni avx512bw amx_tile

processor\t: 1
vendor_id\t: GenuineIntel
"""

ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 2000.00
Features\t: fp asimd evtstrm aes sve sve2 bf16 i8mm asimddp
CPU implementer\t: 0x41
CPU part\t: 0xd49
"""


class TestParsers:
    def test_linux_x86(self) -> None:
        """Vendor, model and only the numerics-relevant ISA flags (smep is not one)."""
        cpu = fingerprint.parse_proc_cpuinfo(X86_CPUINFO)
        assert cpu == {
            "vendor": "GenuineIntel",
            "model": "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz",
            "flags": ["amx_tile", "avx", "avx2", "avx512_vnni", "avx512bw", "avx512f", "f16c",
                      "fma", "sse4_1", "sse4_2"],
        }

    def test_linux_arm64(self) -> None:
        """arm64 has no model name: implementer and part identify the Neoverse N2 of GitHub's runners."""
        cpu = fingerprint.parse_proc_cpuinfo(ARM_CPUINFO)
        assert cpu == {"vendor": "ARM", "model": "Neoverse N2",
                       "flags": ["asimd", "asimddp", "bf16", "i8mm", "sve", "sve2"]}

    def test_macos_intel_and_apple(self) -> None:
        intel = fingerprint.parse_sysctl({
            "machdep.cpu.brand_string": "Intel(R) Core(TM) i7-8700B CPU @ 3.20GHz",
            "machdep.cpu.vendor": "GenuineIntel",
            "machdep.cpu.features": "FPU SSE4.2 AVX1.0 FMA",
            "machdep.cpu.leaf7_features": "AVX2 SMEP",
        })
        # macOS spells AVX "AVX1.0": mapped to Linux's "avx" so one CPU gives one flag list
        assert intel["vendor"] == "GenuineIntel"
        assert intel["flags"] == ["avx", "avx2", "fma", "sse4_2"]
        apple = fingerprint.parse_sysctl({"machdep.cpu.brand_string": "Apple M1 (Virtual)",
                                          "hw.optional.neon": "1", "hw.optional.arm.FEAT_BF16": "0"})
        assert apple == {"vendor": "Apple", "model": "Apple M1 (Virtual)", "flags": ["asimd"]}

    def test_windows(self) -> None:
        present = {38, 39, 40}
        cpu = fingerprint.parse_windows(
            {"VendorIdentifier": "AuthenticAMD", "ProcessorNameString": "AMD EPYC 7763 64-Core Processor "},
            lambda code: code in present)
        assert cpu == {"vendor": "AuthenticAMD", "model": "AMD EPYC 7763 64-Core Processor",
                       "flags": ["avx", "avx2", "sse4_2"]}


class TestNames:
    def test_platform_keys(self) -> None:
        assert fingerprint.platform_key("Windows", "AMD64") == "windows-x86_64"
        assert fingerprint.platform_key("Darwin", "arm64") == "macos-arm64"
        assert fingerprint.platform_key("Linux", "aarch64") == "linux-arm64"

    def test_emulated_cpu_is_not_the_host(self) -> None:
        """Under qemu the host's /proc/cpuinfo is kept aside and the model names the emulation."""
        cpu = fingerprint.read_cpu("Linux", emulated="Haswell")
        assert cpu["model"] == "qemu Haswell (emulated)" and cpu["emulated"] == "Haswell"
        assert cpu["flags"] == [] and "host_model" in cpu

    def test_numeric_env_lists_every_known_variable(self) -> None:
        env = fingerprint.numeric_env({"TF_ENABLE_ONEDNN_OPTS": "0", "HOME": "/root"})
        assert env["TF_ENABLE_ONEDNN_OPTS"] == "0" and env["OMP_NUM_THREADS"] is None
        assert "HOME" not in env
