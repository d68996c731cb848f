"""What machine and stack a cell ran on: everything that can change float results.

The platform-specific readers (Linux /proc/cpuinfo, macOS sysctl, the Windows registry) are split
into pure parsers that take text or a mapping, so every branch is unit-tested on any host.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Callable

from repromatrix.cell import estimate_probe

# Environment variables that change numerics (or thread counts, hence reduction orders).
NUMERIC_ENV = (
    "TF_ENABLE_ONEDNN_OPTS",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "TF_DETERMINISTIC_OPS",
    "TF_CUDNN_DETERMINISTIC",
    "TF_XLA_FLAGS",
    "XLA_FLAGS",
    "KMP_AFFINITY",
    "PYTHONHASHSEED",
)

# ISA extensions that change which kernels TensorFlow, Eigen and oneDNN pick.
_X86_FLAGS = re.compile(r"^(sse4_[12]|avx|avx2|fma|f16c|avx512.*|amx.*|avx_vnni.*)$")
_ARM_FLAGS = re.compile(r"^(asimd|neon|asimdhp|asimddp|sve|sve2|bf16|i8mm|fphp|sme|sme2)$")


def normalise_arch(machine: str) -> str:
    machine = machine.lower()
    if machine in ("x86_64", "amd64", "x64"):
        return "x86_64"
    if machine in ("arm64", "aarch64", "armv8", "armv8l"):
        return "arm64"
    return machine


def normalise_os(system: str) -> str:
    return {"Darwin": "macos", "Linux": "linux", "Windows": "windows"}.get(system, system.lower())


def platform_key(system: str | None = None, machine: str | None = None) -> str:
    """``<os>-<arch>``, the key of matrix.toml's [platforms] tables."""
    return f"{normalise_os(system or platform.system())}-{normalise_arch(machine or platform.machine())}"


# Other OSes' spellings of the same features, mapped to Linux's so that one CPU gives one list.
_FLAG_ALIASES = {"avx1_0": "avx", "sse4_1": "sse4_1", "avx512vnni": "avx512_vnni"}


def relevant_flags(flags: Iterable[str]) -> list[str]:
    names = {_FLAG_ALIASES.get(f.lower(), f.lower()) for f in flags}
    return sorted(f for f in names if _X86_FLAGS.match(f) or _ARM_FLAGS.match(f))


def cpuinfo_fields(text: str) -> dict[str, str]:
    """The first processor block of Linux /proc/cpuinfo as {field: value}."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the first processor block describes them all
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def parse_proc_cpuinfo(text: str) -> dict[str, Any]:
    """Vendor, model and ISA flags from Linux /proc/cpuinfo (x86 and arm64 layouts)."""
    fields = cpuinfo_fields(text)
    if "vendor_id" in fields or "model name" in fields:
        return {
            "vendor": fields.get("vendor_id", ""),
            "model": fields.get("model name", ""),
            "flags": relevant_flags(fields.get("flags", "").split()),
        }
    # arm64: no model name; the implementer and part numbers identify the core.
    implementer = fields.get("CPU implementer", "")
    part = fields.get("CPU part", "")
    return {
        "vendor": _ARM_IMPLEMENTERS.get(implementer.lower(), implementer),
        "model": _ARM_PARTS.get((implementer.lower(), part.lower()), f"part {part}".strip()),
        "flags": relevant_flags(fields.get("Features", "").split()),
    }


_ARM_IMPLEMENTERS = {"0x41": "ARM", "0x61": "Apple", "0xc0": "Ampere", "0x48": "HiSilicon"}
_ARM_PARTS = {
    ("0x41", "0xd0c"): "Neoverse N1",
    ("0x41", "0xd49"): "Neoverse N2",
    ("0x41", "0xd40"): "Neoverse V1",
    ("0x41", "0xd4f"): "Neoverse V2",
}


def parse_sysctl(values: Mapping[str, str]) -> dict[str, Any]:
    """Vendor, model and flags from macOS ``sysctl`` values (Intel and Apple silicon)."""
    model = values.get("machdep.cpu.brand_string", "")
    vendor = values.get("machdep.cpu.vendor", "") or ("Apple" if model.startswith("Apple") else "")
    flags = (values.get("machdep.cpu.features", "") + " "
             + values.get("machdep.cpu.leaf7_features", "")).split()
    # Apple silicon reports features as hw.optional.arm.FEAT_X = 1 (and hw.optional.neon).
    for key, value in values.items():
        if value.strip() == "1" and key.startswith("hw.optional."):
            name = key.rsplit(".", 1)[-1].lower().replace("feat_", "")
            flags.append({"neon": "asimd"}.get(name, name))
    return {"vendor": vendor, "model": model, "flags": relevant_flags(
        f.lower().replace(".", "_") for f in flags)}


# Windows IsProcessorFeaturePresent constants (winnt.h).
_WINDOWS_FEATURES = {
    "sse4_2": 38, "avx": 39, "avx2": 40, "avx512f": 41,
    "asimd": 19,  # PF_ARM_NEON_INSTRUCTIONS_AVAILABLE
}


def parse_windows(registry: Mapping[str, str], present: Callable[[int], bool]) -> dict[str, Any]:
    """Vendor, model and flags from the registry's CentralProcessor\\0 key and feature checks."""
    return {
        "vendor": registry.get("VendorIdentifier", "").strip(),
        "model": registry.get("ProcessorNameString", "").strip(),
        "flags": relevant_flags(name for name, code in _WINDOWS_FEATURES.items() if present(code)),
    }


def read_cpu(system: str, emulated: str | None) -> dict[str, Any]:
    try:
        if system == "Linux":
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
                cpu = parse_proc_cpuinfo(handle.read())
        elif system == "Darwin":
            cpu = parse_sysctl(_sysctl_values())
        elif system == "Windows":
            cpu = _windows_cpu()
        else:
            cpu = {"vendor": "", "model": platform.processor(), "flags": []}
    except OSError as error:  # a fingerprint with a gap beats no artifact at all
        cpu = {"vendor": "", "model": f"unknown ({error.strerror})", "flags": []}
    cpu["logical_cores"] = os.cpu_count() or 0
    cpu["emulated"] = emulated
    if emulated:
        # qemu-user shows the host's /proc/cpuinfo; the code really runs on the emulated model.
        cpu["host_model"] = cpu["model"]
        cpu["host_vendor"] = cpu["vendor"]
        cpu["model"] = f"qemu {emulated} (emulated)"
        cpu["vendor"] = "qemu-tcg"
        cpu["flags"] = []  # the host's flags would be wrong, and CPUID is not readable from Python
    return cpu


def _sysctl_values() -> dict[str, str]:
    output = subprocess.run(["sysctl", "-a"], capture_output=True, text=True, check=False).stdout
    values = {}
    for line in output.splitlines():
        key, sep, value = line.partition(":")
        if sep and (key.startswith("machdep.cpu.") or key.startswith("hw.optional.")):
            values[key.strip()] = value.strip()
    return values


def _windows_cpu() -> dict[str, Any]:
    import ctypes
    import winreg  # type: ignore[import-not-found]

    # winreg exists on Windows only, and mypy checks for Linux
    key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE,  # type: ignore[attr-defined]
                         r"HARDWARE\DESCRIPTION\System\CentralProcessor\0")
    registry = {}
    for name in ("VendorIdentifier", "ProcessorNameString"):
        try:
            registry[name] = str(winreg.QueryValueEx(key, name)[0])  # type: ignore[attr-defined]
        except OSError:
            registry[name] = ""
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    return parse_windows(registry, lambda code: bool(kernel32.IsProcessorFeaturePresent(code)))


def read_os() -> dict[str, Any]:
    system = platform.system()
    info: dict[str, Any] = {"system": system, "release": platform.release(), "version": platform.version()}
    if system == "Linux":
        info["distro"] = _os_release().get("PRETTY_NAME", "")
    elif system == "Darwin":
        info["distro"] = f"macOS {platform.mac_ver()[0]}"
    elif system == "Windows":
        release, version = platform.win32_ver()[:2]
        info["distro"] = f"Windows {release} {platform.win32_edition() or ''}".strip()
        info["version"] = version
    return info


def _os_release() -> dict[str, str]:
    try:
        with open("/etc/os-release", encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return {}
    pairs = (line.partition("=") for line in text.splitlines() if "=" in line)
    return {key: value.strip().strip('"') for key, _, value in pairs}


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in sorted(set(names)):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


# Written into the pinned venv by `nox -s pinned` (sessions.py): which installer built it.
INSTALLER_FILE = "repromatrix-installer.txt"


def installer(prefix: str = sys.prefix) -> str | None:
    """e.g. "uv 0.13.9": the tool that installed this venv's stack, None if not recorded."""
    try:
        with open(os.path.join(prefix, INSTALLER_FILE), encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def canonical_name(name: str) -> str:
    """PEP 503's normal form: "Scikit_Learn" and "scikit-learn" are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distribution_source(wheel: str | None, direct_url: str | None) -> str:
    """Where an installed distribution came from, in one comparable string: a direct URL's VCS
    commit or archive hash (installed from a URL, a local file or a folder), else the wheel's tags
    (from its WHEEL file), which name the build that pip or uv chose for this platform. Local
    paths are left out: they differ between machines without the files differing."""
    import json

    if direct_url:
        try:
            info = json.loads(direct_url)
        except ValueError:
            info = None
        if isinstance(info, dict):
            url = str(info.get("url", ""))
            where = url.rsplit("/", 1)[-1] if url.startswith("file:") else url
            vcs = info.get("vcs_info")
            if isinstance(vcs, dict):
                return f"{vcs.get('vcs', 'vcs')} {url}@{vcs.get('commit_id', '?')}"
            archive = info.get("archive_info")
            if isinstance(archive, dict):
                hashes = archive.get("hashes")
                digest = (f"sha256={hashes['sha256']}" if isinstance(hashes, dict)
                          and "sha256" in hashes else str(archive.get("hash", "no hash")))
                return f"archive {where} {digest}"
            if isinstance(info.get("dir_info"), dict):
                editable = info["dir_info"].get("editable")
                return "local folder (editable)" if editable else "local folder"
    tags = sorted(line.partition(":")[2].strip() for line in (wheel or "").splitlines()
                  if line.startswith("Tag:"))
    return f"wheel {'.'.join(tags)}" if tags else "unknown (no WHEEL file)"


def distributions() -> dict[str, dict[str, str]]:
    """Every distribution this interpreter can import, pinned or not: name -> version and
    source. A transitive package that resolved differently on another runner (scipy 1.13.1 here,
    1.14.0 there) is then a visible difference, not a silent one blamed on the CPU. The first of
    a name on sys.path wins, as it does for import. Copies vendored inside another distribution
    (setuptools/_vendor, which importing setuptools puts on sys.path) are that distribution's
    files, not installed ones: they are left out."""
    from importlib import metadata

    found: dict[str, dict[str, str]] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or canonical_name(name) in found:
            continue
        if "_vendor" in Path(str(dist.locate_file(""))).parts:
            continue
        found[canonical_name(name)] = {
            "version": str(dist.version),
            "source": distribution_source(dist.read_text("WHEEL"),
                                          dist.read_text("direct_url.json")),
        }
    return dict(sorted(found.items()))


def tensorflow_info(tf: Any) -> dict[str, Any]:
    build = {str(k): str(v) for k, v in sorted(dict(tf.sysconfig.get_build_info()).items())}
    try:  # TF's own answer, which reads TF_ENABLE_ONEDNN_OPTS and the CPU's features
        from tensorflow.python.util import _pywrap_util_port

        onednn: bool | None = bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        onednn = None
    return {
        "version": tf.__version__,
        "git_version": str(tf.version.GIT_VERSION),
        "build": build,
        "onednn": onednn,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "op_determinism": _op_determinism(tf),
    }


def _op_determinism(tf: Any) -> bool | None:
    try:
        from tensorflow.python.framework import config as tf_config

        return bool(tf_config.is_op_determinism_enabled())
    except (ImportError, AttributeError):
        return None


def numeric_env(environ: Mapping[str, str]) -> dict[str, str | None]:
    return {name: environ.get(name) for name in NUMERIC_ENV}


def machine(emulated: str | None = None) -> dict[str, Any]:
    """OS, arch, platform key and CPU: what any Python on this machine can read, TensorFlow or
    not (the error artifact of a cell whose setup failed records these from the host side)."""
    return {
        "os": read_os(),
        "arch": normalise_arch(platform.machine()),
        "platform": platform_key(),
        "cpu": read_cpu(platform.system(), emulated),
    }


def collect(
    tf: Any,
    watched_packages: Iterable[str],
    environ: Mapping[str, str],
    emulated: str | None = None,
    qemu: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """The fingerprint of this process: OS, CPU, Python, packages, TensorFlow, environment.

    ``qemu``: which qemu computes this cell's numbers (its version and where it came from), as
    the host read it; the cell does not import the emulation layer to find out.
    """
    facts = machine(emulated)
    if emulated:
        facts["cpu"]["qemu"] = dict(qemu) if qemu is not None else {}
    # What this CPU (or the emulator) computes for rsqrtps/rcpps: real CPUs differ here.
    facts["cpu"]["estimates"] = estimate_probe.fingerprint()
    return {
        **facts,
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "compiler": platform.python_compiler(),
            "bits": 64 if sys.maxsize > 2**32 else 32,
        },
        "packages": package_versions(watched_packages),
        "distributions": distributions(),
        "installer": installer(),
        "tensorflow": tensorflow_info(tf),
        "env": numeric_env(environ),
    }
