"""pip's resolver, driven for a target platform: the command, its report and its failures.

Shared by preflight (every CI runner's platform) and the arm64 lab cell (arm64.py), which both
ask pip what it would install for a platform other than this machine's. The platform facts
(tags, what markers see) and the marker-aware resolution stay in preflight.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from repromatrix.errors import ToolError

PYPI = "https://pypi.org/simple"
MIN_PIP = (22, 2)  # --dry-run --report
NETWORK_HINTS = ("NewConnectionError", "Max retries exceeded", "Temporary failure in name resolution",
                 "ConnectTimeoutError", "ProxyError")


@dataclass(frozen=True)
class Target:
    """Where pip resolves: a platform's tags, the pinned Python's minor version, CPython."""

    platform: str
    tags: tuple[str, ...]
    python_minor: str  # "3.9"

    @property
    def abis(self) -> tuple[str, ...]:
        return (f"cp{self.python_minor.replace('.', '')}", "abi3", "none")

    def short_tags(self) -> str:
        """One readable name for messages: "win_arm64", "macosx_*_arm64", "manylinux_*_aarch64"."""
        return self.tags[0] if len(self.tags) == 1 else re.sub(r"_\d+_\d+_", "_*_", self.tags[0])


def pip_command(pip: Sequence[str], target: Target, requirements: Sequence[str], report: Path,
                no_deps: bool = False, index_url: str = PYPI, cert: str | None = None
                ) -> list[str]:
    """The resolver-only pip call: nothing is installed, nothing is built from source.

    ``--isolated`` ignores pip's environment variables and the user's configuration (extra
    indexes, find-links) so the answer is PyPI's, as on a CI runner; pip still reads its global
    and site configuration files (a machine-wide constraints file: ``parse_failure`` copes).
    ``--target`` is never written (``--dry-run``) but pip refuses --platform without it.
    """
    command = [*pip, "--isolated", "install", "--dry-run", "--ignore-installed",
               "--target", str(report.parent / "target"), "--report", str(report),
               "--index-url", index_url, "--only-binary=:all:",
               "--python-version", target.python_minor, "--implementation", "cp",
               "--disable-pip-version-check", "--no-input", "--quiet"]
    if cert:
        command += ["--cert", cert]
    for tag in target.tags:
        command += ["--platform", tag]
    for abi in target.abis:
        command += ["--abi", abi]
    if no_deps:
        command.append("--no-deps")
    return command + list(requirements)


@dataclass(frozen=True)
class Installed:
    name: str
    version: str
    wheel: str  # the wheel's file name, which carries the platform tag pip chose
    requires: tuple[str, ...] = ()  # Requires-Dist, markers included


@dataclass(frozen=True)
class Resolution:
    ok: bool
    installs: tuple[Installed, ...] = ()
    missing: tuple[str, ...] = ()  # requirements pip found no matching wheel for
    message: str = ""  # pip's first error line when not ok
    network: bool = False  # the failure was PyPI being unreachable, not a missing wheel

    def version_of(self, name: str) -> str | None:
        wanted = normal_name(name)
        return next((i.version for i in self.installs if normal_name(i.name) == wanted), None)


def normal_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_report(document: Mapping[str, Any]) -> tuple[Installed, ...]:
    """The packages of a ``pip install --report`` (format version 1), sorted by name."""
    installs = []
    for item in document.get("install", []):
        metadata = item.get("metadata", {})
        url = item.get("download_info", {}).get("url", "")
        installs.append(Installed(name=str(metadata.get("name", "?")),
                                  version=str(metadata.get("version", "?")),
                                  wheel=url.rsplit("/", 1)[-1].split("#")[0],
                                  requires=tuple(metadata.get("requires_dist") or ())))
    return tuple(sorted(installs, key=lambda i: normal_name(i.name)))


def parse_failure(stderr: str, requirements: Sequence[str] = ()) -> Resolution:
    """What a failed pip resolution says: the requirements it found no wheel for, or why not.

    pip says "No matching distribution found for REQ"; with a constraints file in play (pip's
    global configuration, which --isolated still reads) it says ResolutionImpossible instead and
    lists the names that have "no matching distributions available": those are mapped back to
    the requirements asked for.
    """
    missing = list(dict.fromkeys(re.findall(r"No matching distribution found for (\S+)", stderr)))
    block = re.search(r"no matching distributions available for your environment:\n"
                      r"((?:[ \t]+\S+\n?)+)", stderr)
    for name in (block.group(1).split() if block else ()):
        asked = next((r for r in requirements
                      if normal_name(re.split(r"[=<>!~; \[]", r, maxsplit=1)[0]) == normal_name(name)), name)
        if asked not in missing:
            missing.append(asked)
    errors = [line[len("ERROR: "):].strip() for line in stderr.splitlines()
              if line.startswith("ERROR: ")]
    network = any(hint in stderr for hint in NETWORK_HINTS)
    message = errors[-1] if errors else (stderr.strip().splitlines() or ["pip failed"])[-1]
    if network:
        message = "PyPI could not be reached: " + message
    return Resolution(ok=False, missing=tuple(missing), message=message, network=network)


Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def run_pip(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


@dataclass(frozen=True)
class PipSettings:
    pip: tuple[str, ...]  # e.g. (python, "-m", "pip")
    index_url: str = PYPI
    cert: str | None = None  # a CA bundle (from PIP_CERT), since --isolated ignores the env


def resolve_once(settings: PipSettings, target: Target, requirements: Sequence[str],
                  no_deps: bool, run: Runner) -> Resolution:
    """One pip resolution in a scratch folder (the report file is all we keep)."""
    with tempfile.TemporaryDirectory(prefix="repromatrix-preflight-") as folder:
        report = Path(folder) / "report.json"
        completed = run(pip_command(settings.pip, target, requirements, report, no_deps,
                                    settings.index_url, settings.cert))
        if completed.returncode == 0 and report.exists():
            return Resolution(ok=True, installs=parse_report(json.loads(report.read_text("utf-8"))))
        return parse_failure(completed.stderr or "", requirements)


def pip_available(python: str) -> tuple[str, ...]:
    """``[python, -m, pip]`` if that pip can do ``--dry-run --report``; else a ToolError."""
    try:
        completed = subprocess.run([python, "-m", "pip", "--version"], capture_output=True,
                                   text=True, check=False)
    except OSError as error:
        raise ToolError(f"cannot run {python}: {error.strerror}") from None
    found = re.match(r"pip (\d+)\.(\d+)", completed.stdout)
    if completed.returncode != 0 or not found:
        raise ToolError(f"{python} has no pip; install it (`nox -s preflight` does), or pass "
                        "--pip-python PATH")
    if (int(found.group(1)), int(found.group(2))) < MIN_PIP:
        raise ToolError(f"{python}'s pip is {found.group(1)}.{found.group(2)}; preflight needs "
                        f"pip {MIN_PIP[0]}.{MIN_PIP[1]} or newer (--dry-run --report)")
    return (python, "-m", "pip")
