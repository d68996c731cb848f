"""preflight for an arm64 lab cell: qemu-aarch64, Debian's interpreter and the arm64 wheels, each
answered in one line, with nothing downloaded.

The archive is the tests' fake one on 127.0.0.1 (conftest.py); qemu is a shell script named by
REPROMATRIX_QEMU_AARCH64; pip is a function answering as pip's report or error would.
"""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
from pathlib import Path

import pytest
from conftest import Archive, make_deb
from test_arm64_sysroot import publish_python

from repromatrix.config.matrix import Lab, LabCell, Pins, load_matrix
from repromatrix.emulation import qemu
from repromatrix.errors import UsageError
from repromatrix.host import arm64, preflight, preflight_command

ROOT = Path(__file__).resolve().parents[2]
PINS = Pins(python="3.9.2", packages={"numpy": "1.23.5"})
QEMU_HELP = "Available CPUs:\n  cortex-a72\n  max\n  neoverse-n1\n"


@pytest.fixture
def with_qemu(environ: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The fake archive's settings plus a qemu-aarch64 that knows a few CPU models."""
    script = tmp_path / "qemu-aarch64"
    script.write_text(f"#!/bin/sh\nprintf '{QEMU_HELP}'\n")
    script.chmod(0o755)
    return {**environ, "REPROMATRIX_QEMU_AARCH64": str(script),
            "REPROMATRIX_ARM64_DIR": str(tmp_path / "arm64")}


class FakePip:
    """pip's resolver: every requirement resolves, except those named in ``missing``."""

    def __init__(self, missing: tuple[str, ...] = ()) -> None:
        self.missing = missing
        self.calls: list[list[str]] = []

    def __call__(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(command)
        wanted = [part for part in command[command.index("--no-input") + 1:]
                  if not part.startswith("-") and part not in ("--quiet",)]
        absent = [r for r in wanted if r.split("==")[0] in self.missing]
        if absent:
            return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution "
                                               f"found for {absent[0]}\n")
        installs = [{"metadata": {"name": r.split("==")[0], "version": r.split("==")[-1]},
                     "download_info": {"url": f"https://x/{r}.whl"}} for r in wanted]
        Path(command[command.index("--report") + 1]).write_text(json.dumps({"install": installs}))
        return subprocess.CompletedProcess(command, 0, "", "")


def check(environ: dict[str, str], pip: FakePip, model: str = "neoverse-n1") -> list[arm64.Check]:
    return arm64.check(PINS, model, environ, pip=("pip",), run=pip, stream=io.StringIO())


def test_everything_there_is_said_without_downloading_a_package(
        archive: Archive, with_qemu: dict[str, str]) -> None:
    publish_python(archive)
    pip = FakePip()
    checks = check(with_qemu, pip)
    assert [(c.what, c.ok) for c in checks] == [("qemu-aarch64", True), ("interpreter", True),
                                               ("wheels", True)]
    assert checks[0].text == f"-cpu neoverse-n1: {with_qemu['REPROMATRIX_QEMU_AARCH64']} (from " \
                             "REPROMATRIX_QEMU_AARCH64)"
    assert checks[1].text.startswith("Debian stable python3.9 3.9.2-1 (arm64), 3 packages")
    assert checks[1].text.endswith("fetched on first use")  # 3.9.2 is the pin: no drift note
    # pip resolved for the sysroot's glibc (2.31) and Python, the pins plus the runner's own
    command = pip.calls[0]
    assert "--dry-run" in command and "manylinux_2_31_aarch64" in command
    assert "manylinux_2_34_aarch64" not in command and "numpy==1.23.5" in command
    assert archive.count(".deb") == 0 and archive.count("Packages.xz") == 1
    assert not Path(with_qemu["REPROMATRIX_ARM64_DIR"]).exists() or not any(
        Path(with_qemu["REPROMATRIX_ARM64_DIR"]).iterdir())


def test_each_missing_part_is_one_line(archive: Archive, with_qemu: dict[str, str],
                                       tmp_path: Path) -> None:
    publish_python(archive, interpreter=False)
    environ = {**with_qemu, "REPROMATRIX_QEMU_AARCH64": str(tmp_path / "nowhere")}
    checks = check(environ, FakePip())
    assert [(c.what, c.ok) for c in checks] == [("qemu-aarch64", False), ("interpreter", False),
                                               ("wheels", None)]
    assert checks[0].text == f"REPROMATRIX_QEMU_AARCH64='{tmp_path / 'nowhere'}' is not an " \
                             "executable file"
    assert checks[1].text.startswith("no Debian package python3.9 for arm64 in http://127.0.0.1")
    assert all("\n" not in c.text for c in checks)


def test_a_pin_without_an_arm64_wheel_and_an_unknown_model(
        archive: Archive, with_qemu: dict[str, str]) -> None:
    publish_python(archive)
    checks = check(with_qemu, FakePip(missing=("numpy",)), model="neoverse-n9")
    assert [(c.what, c.ok) for c in checks] == [("qemu-aarch64", False), ("interpreter", True),
                                               ("wheels", False)]
    assert checks[0].text == "qemu knows no CPU model 'neoverse-n9'; did you mean neoverse-n1?"
    assert checks[2].text == ("no Linux arm64 wheel of numpy==1.23.5 for Python 3.9 "
                              "(manylinux_*_aarch64): the arm64 cell cannot install the pins")


def test_a_missing_qemu_is_looked_up_in_debian_but_not_fetched(
        archive: Archive, environ: dict[str, str]) -> None:
    deb = "pool/main/q/qemu/qemu-user-static_1.0_amd64.deb"
    archive.publish([{"Package": "qemu-user-static", "Version": "1:1.0-1",
                      "Architecture": "amd64", "Filename": deb}],
                    {deb: make_deb({"usr/bin/qemu-aarch64-static": b"#!/bin/sh\n"})})
    found = qemu.availability("neoverse-n1", "aarch64", which=lambda name: None,
                              environ=environ, system="Linux", machine="x86_64")
    assert found.located is None
    assert found.fetchable.startswith("qemu-user-static 1:1.0-1 (amd64), ")
    assert archive.count(".deb") == 0


def test_a_cached_qemu_is_found_offline(archive: Archive, environ: dict[str, str]) -> None:
    deb = "pool/main/q/qemu/qemu-user-static_1.0_amd64.deb"
    archive.publish([{"Package": "qemu-user-static", "Version": "1:1.0-1",
                      "Architecture": "amd64", "Filename": deb}],
                    {deb: make_deb({"usr/bin/qemu-aarch64-static":
                                    f"#!/bin/sh\nprintf '{QEMU_HELP}'\n".encode()})})
    qemu.fetch_from_debian("aarch64", "amd64", environ)
    archive.files.clear()
    found = qemu.availability("neoverse-n1", "aarch64", which=lambda name: None,
                              environ=environ, system="Linux", machine="x86_64")
    assert found.located is not None and found.located.source == "debian"
    assert found.located.path.endswith("usr/bin/qemu-aarch64-static")


# --- preflight's command: which cells, the table, the exit code ----------------------------------

MATRIX = load_matrix(ROOT / "matrix.toml")
SETTINGS = preflight.PipSettings(("pip",))


def test_the_default_lab_has_no_arm64_cell_and_lab_arm64_is_one_option_away() -> None:
    assert preflight_command.arm64_cells(MATRIX, []) == []
    assert preflight_command.arm64_cells(MATRIX, ["lab-arm64"]) == [LabCell("lab-arm64", arch="arm64")]
    with pytest.raises(UsageError, match="^--cell lab-native: preflight checks arm64 lab cells"):
        preflight_command.arm64_cells(MATRIX, ["lab-native"])


def test_a_labs_own_arm64_cell_is_checked_with_its_model() -> None:
    lab = Lab(rows=4, env={}, variants=(), cells=(LabCell("native"),
                                                   LabCell("graviton", arch="arm64",
                                                           emulate="cortex-a72")))
    matrix = dataclasses.replace(MATRIX, lab=lab)
    cells = preflight_command.arm64_cells(matrix, [])
    assert [c.id for c in cells] == ["graviton"]
    seen = []

    def fake(pins: Pins, model: str, pip: tuple[str, ...]) -> list[arm64.Check]:
        seen.append((model, pip))
        return [arm64.Check("qemu-aarch64", True, "here")]

    results = preflight_command.check_cells(cells, matrix, SETTINGS, check=fake)
    assert seen == [("cortex-a72", ("pip",))] and results[0].ok


def test_a_failing_cell_is_a_line_of_its_own_and_exit_1() -> None:
    rows = [preflight.Row("ubuntu-24.04", "linux-x86_64", excluded=False)]
    full = preflight.Resolution(ok=True)
    results = {"linux-x86_64": preflight.PlatformResult("linux-x86_64", (), full, (), (), ())}
    cell = preflight_command.CellResult(LabCell("lab-arm64", arch="arm64"), (
        arm64.Check("qemu-aarch64", True, "-cpu neoverse-n1: /usr/bin/qemu-aarch64 (from PATH)"),
        arm64.Check("interpreter", False, "no Debian package python3.9 for arm64 in X"),
        arm64.Check("wheels", None, "not checked: ...")))
    text = preflight_command.render(rows, results, MATRIX, [cell])
    assert "lab-arm64  interpreter   FAILS        no Debian package python3.9" in text
    assert "lab-arm64  wheels        not checked  not checked: ..." in text
    assert text.splitlines()[-1] == "lab-arm64: no Debian package python3.9 for arm64 in X"
    assert preflight_command.exit_code(rows, results, [cell]) == 1
    assert preflight_command.exit_code(rows, results) == 0


def test_an_unknown_cell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from repromatrix.cli.main import main

    assert main(["preflight", "--matrix", str(ROOT / "matrix.toml"), "--cell", "lab-arm"]) == 2
    assert capsys.readouterr().err == ("repromatrix: error: --cell lab-arm: no such lab cell; "
                                       "known: lab-native, lab-native-onednn, lab-qemu-host, lab-qemu-other, "
                                       "lab-arm64\n")



# --- the lab's preparation shares these steps: it still checks everything before downloading ----


def test_prepare_downloads_nothing_when_a_wheel_is_missing(
        archive: Archive, with_qemu: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    publish_python(archive)

    def no_wheel(lines: list[str], minor: str, tags: list[str], pip: tuple, run: object = None
                 ) -> list[str]:
        raise arm64.ToolError("no Linux arm64 wheel of numpy==1.23.5 for Python 3.9")

    monkeypatch.setattr(arm64, "resolve", no_wheel)
    with pytest.raises(arm64.ToolError, match="^no Linux arm64 wheel of numpy"):
        arm64.prepare(PINS, environ=with_qemu, stream=io.StringIO(), pip=("pip",))
    assert archive.count(".deb") == 0


def test_prepare_builds_the_sysroot_preflight_described(
        archive: Archive, with_qemu: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    publish_python(archive)
    monkeypatch.setattr(arm64, "resolve", lambda lines, minor, tags, pip, run=None:
                        sorted(lines))
    built: list[tuple] = []

    def build_site(lock: list[str], minor: str, tags: tuple, pip: tuple, folder: Path,
                   stream: object) -> arm64.SitePackages:
        built.append((minor, tags[0], folder.name))
        return arm64.SitePackages(folder, tuple(lock))

    monkeypatch.setattr(arm64, "build_site", build_site)
    environment = arm64.prepare(PINS, environ=with_qemu, stream=io.StringIO(), pip=("pip",))
    assert environment.sysroot.manifest["glibc"] == "2.31"
    assert built == [("3.9", "manylinux_2_31_aarch64", built[0][2])]
    assert built[0][2].startswith("site-arm64-py3.9-")
    # preflight now finds the sysroot cached (the site folder was not really written)
    checks = check(with_qemu, FakePip())
    assert checks[1].text.startswith("cached: Debian stable python3.9")
