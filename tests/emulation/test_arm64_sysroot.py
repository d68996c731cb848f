"""The arm64 cell's preparation: Debian closure, sysroot folder, wheel pins, qemu-aarch64 wiring.

The archive is the tests' fake one on 127.0.0.1 (conftest.py), published for arm64; pip is
replaced by a function that answers as pip's report or error would.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import Archive, make_deb

from repromatrix.config.matrix import Lab, LabCell, Pins, Platform
from repromatrix.emulation import qemu, sysroot
from repromatrix.emulation.debian.archive import Package
from repromatrix.emulation.debian.sources import Source
from repromatrix.errors import ToolError
from repromatrix.host import arm64
from repromatrix.host.lab import cell_command

ROOT = Path(__file__).resolve().parents[2]


def package(name: str, depends: str = "", pre_depends: str = "") -> Package:
    return Package(name=name, version="1.0-1", architecture="arm64", filename=f"pool/{name}.deb",
                   sha256="0" * 64, size=1, depends=depends, source=Source("http://x", "s", ("main",)),
                   signature="not verified: test", pre_depends=pre_depends)


class TestClosure:
    def test_follows_depends_and_pre_depends_taking_the_first_existing_alternative(self) -> None:
        index = {p.name: p for p in [
            package("python3.9", "libpython3.9-stdlib (= 1.0-1), media-types | mime-support",
                    pre_depends="libc6 (>= 2.29)"),
            package("libpython3.9-stdlib", "libc6, debconf (>= 0.5) | debconf-2.0"),
            package("libc6", "libgcc-s1"), package("libgcc-s1", "libc6"),
            package("mime-support"),  # media-types is missing: the next alternative is taken
        ]}
        found = sysroot.resolve_closure(index.get, ["python3.9"], ["python3-distutils"])
        assert [p.name for p in found] == ["libc6", "libgcc-s1", "libpython3.9-stdlib",
                                           "mime-support", "python3.9"]  # no debconf, sorted

    def test_a_missing_root_is_one_line(self) -> None:
        with pytest.raises(ToolError, match="no Debian package python3.9 for arm64"):
            sysroot.resolve_closure({}.get, ["python3.9"])


class TestSuite:
    @pytest.mark.parametrize("pinned,suite", [("3.9", "bullseye"), ("3.11", "bookworm"),
                                              ("3.13", "trixie"), ("3.10", "bookworm"),
                                              ("3.12", "trixie"), ("3.8", "bullseye")])
    def test_exact_minor_else_nearest_newer_on_a_tie(self, pinned: str, suite: str) -> None:
        assert sysroot.choose_suite(pinned, {}).suite == suite

    def test_a_forced_suite_keeps_its_known_python_or_looks_for_the_pinned_one(self) -> None:
        assert sysroot.choose_suite("3.9", {"REPROMATRIX_DEBIAN_SUITE": "bookworm"}) == \
            sysroot.Choice("bookworm", "3.11")
        assert sysroot.choose_suite("3.9", {"REPROMATRIX_DEBIAN_SUITE": "stable"}) == \
            sysroot.Choice("stable", "3.9")


def deb_with_link(files: dict[str, bytes], links: dict[str, str]) -> bytes:
    """make_deb plus symbolic links in its data member."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:xz") as tar:
        for name, body in sorted(files.items()):
            info = tarfile.TarInfo(f"./{name}")
            info.size, info.mode = len(body), 0o755
            tar.addfile(info, io.BytesIO(body))
        for name, target in sorted(links.items()):
            info = tarfile.TarInfo(f"./{name}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    deb = make_deb({"placeholder": b""})  # the ar layout, with our data member swapped in
    member = data.getvalue()
    head = deb[:deb.index(b"data.tar.xz")]
    return head + f"{'data.tar.xz':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(member):<10}`\n".encode() \
        + member + (b"\n" if len(member) % 2 else b"")


def publish_python(archive: Archive, interpreter: bool = True) -> None:
    stanzas: list[dict[str, str]] = []
    debs: dict[str, bytes] = {}
    members = {
        "python3.9": ({"usr/bin/python3.9": b"#!arm64 python"}, {}, "libc6"),
        "libc6": ({"lib/aarch64-linux-gnu/libc-2.31.so": b"libc"},
                  {"lib/ld-linux-aarch64.so.1": "/lib/aarch64-linux-gnu/libc-2.31.so"}, ""),
        "libstdc++6": ({"usr/lib/aarch64-linux-gnu/libstdc++.so.6": b"c++"}, {}, "libc6"),
    }
    for name, (files, links, depends) in members.items():
        if name == "python3.9" and not interpreter:
            continue
        version = "2.31-13" if name == "libc6" else "3.9.2-1"
        filename = f"pool/main/{name}_{version}_arm64.deb"
        debs[filename] = deb_with_link(files, links)
        stanzas.append({"Package": name, "Version": version, "Architecture": "arm64",
                        "Depends": depends, "Filename": filename})
    archive.publish(stanzas, debs, architecture="arm64")


class TestSysroot:
    def test_built_from_the_archive_reproducibly_and_then_offline(
            self, archive: Archive, environ: dict[str, str], tmp_path: Path) -> None:
        publish_python(archive)
        first = sysroot.provide("3.9", tmp_path / "a", environ, stream=io.StringIO())
        assert first.python_version == "3.9.2" and first.manifest["glibc"] == "2.31"
        assert Path(first.python).read_bytes() == b"#!arm64 python"
        assert [p["name"] for p in first.manifest["packages"]] == ["libc6", "libstdc++6",
                                                                   "python3.9"]
        # An absolute link points into the sysroot, not at the host's /lib.
        link = first.folder / "lib" / "ld-linux-aarch64.so.1"
        assert link.resolve() == (first.folder / "lib/aarch64-linux-gnu/libc-2.31.so").resolve()
        # The same pins give the same files, from the Debian cache (no new .deb download).
        downloads = archive.count(".deb")
        second = sysroot.provide("3.9", tmp_path / "b", environ, stream=io.StringIO())
        assert second.manifest["files"] == first.manifest["files"]
        assert archive.count(".deb") == downloads
        # A built sysroot is used as it is: no index read either.
        requests = len(archive.requests)
        sysroot.provide("3.9", tmp_path / "a", environ, stream=io.StringIO())
        assert len(archive.requests) == requests

    def test_no_interpreter_package_is_one_line_before_any_download(
            self, archive: Archive, environ: dict[str, str], tmp_path: Path) -> None:
        publish_python(archive, interpreter=False)
        with pytest.raises(ToolError, match=r"no Debian package python3\.9 for arm64 in "
                                            r"http://127\.0\.0\.1:\d+ stable"):
            sysroot.provide("3.9", tmp_path, environ, stream=io.StringIO())
        assert archive.count(".deb") == 0


def tensorflow_pins() -> Pins:
    return Pins(python="3.9.2", packages={"tensorflow": "2.12.0", "numpy": "1.23.5"},
                platforms={"linux-arm64": Platform("linux-arm64", pulls=("tensorflow-cpu-aws",))})


class TestWheels:
    def test_the_pulled_arm64_build_is_named_with_the_shims_version(self) -> None:
        assert arm64.requirements(tensorflow_pins()) == [
            "tensorflow==2.12.0", "numpy==1.23.5", "tensorflow-cpu-aws==2.12.0"]

    def test_the_defaults_map_tensorflow_to_tensorflow_cpu_aws(self) -> None:
        from repromatrix.config.matrix import load_matrix

        assert "tensorflow-cpu-aws==2.12.0" in arm64.requirements(
            load_matrix(ROOT / "matrix.toml").pins)

    def test_tags_stop_at_the_sysroots_glibc(self) -> None:
        tags = arm64.wheel_tags("2.31")
        assert tags[0] == "manylinux_2_31_aarch64" and "manylinux2014_aarch64" in tags
        assert "manylinux_2_34_aarch64" not in tags and "manylinux_2_35_aarch64" not in tags

    def test_a_pin_without_an_arm64_wheel_is_one_line(self) -> None:
        def pip(command: list[str]) -> subprocess.CompletedProcess[str]:
            assert "--platform" in command and "manylinux_2_31_aarch64" in command
            return subprocess.CompletedProcess(command, 1, "", (
                "ERROR: Could not find a version that satisfies the requirement numpy==0.1\n"
                "ERROR: No matching distribution found for numpy==0.1\n"))

        with pytest.raises(ToolError, match=r"^no Linux arm64 wheel of numpy==0\.1 for Python "
                                            r"3\.9 \(manylinux_\*_aarch64\)"):
            arm64.resolve(["numpy==0.1"], "3.9", arm64.wheel_tags("2.31"), ("pip",), run=pip)

    def test_install_is_exactly_the_lock_wheels_only_not_compiled(self, tmp_path: Path) -> None:
        command = arm64.install_command(("pip",), ["numpy==1.23.5"], "3.9", ("manylinux2014_aarch64",),
                                        tmp_path)
        for flag in ("--no-deps", "--only-binary=:all:", "--no-compile", "--isolated"):
            assert flag in command
        assert command[-1] == "numpy==1.23.5"
        assert command[command.index("--python-version") + 1] == "3.9"


class TestQemuAarch64:
    def test_cpu_models_of_qemu_aarch64(self) -> None:
        text = "Available CPUs:\n  a64fx\n  cortex-a72\n  max\n  neoverse-n1\n"
        assert qemu.parse_cpu_models(text) == ["a64fx", "cortex-a72", "max", "neoverse-n1"]

    def test_its_own_variable(self) -> None:
        with pytest.raises(ToolError, match="^REPROMATRIX_QEMU_AARCH64='/nowhere' is not an "):
            qemu.locate("aarch64", which=lambda name: None,
                        environ={"REPROMATRIX_QEMU_AARCH64": "/nowhere"})

    def test_a_worker_starts_with_the_prefix_its_parent_ran_under(self) -> None:
        """An arm64 python cannot be exec'd by the host kernel: the worker gets qemu -L again."""
        prefix = ["/q/qemu-aarch64", "-L", "/root", "-cpu", "neoverse-n1"]
        command = qemu.emulated_command("neoverse-n1", "/root/usr/bin/python3.9", ["-m", "x"],
                                        {qemu.PREFIX_VARIABLE: json.dumps(prefix)})
        assert command == [*prefix, "/root/usr/bin/python3.9", "-m", "x"]

    def test_command_names_the_sysroot_and_the_emulator(self) -> None:
        command = qemu.qemu_command("/q/qemu-aarch64-static", "neoverse-n1", "py", ["-c", "1"],
                                    sysroot="/root", sysroot_label="Debian bullseye python3.9")
        assert command[:3] == ["/q/qemu-aarch64-static", "-L", "/root"]
        assert "REPROMATRIX_QEMU_BINARY=qemu-aarch64" in command
        assert "REPROMATRIX_QEMU_SYSROOT=Debian bullseye python3.9" in command


class TestLabCell:
    def test_an_estimates_cell_passes_its_table(self, tmp_path: Path) -> None:
        cells = (LabCell("q", emulate="Haswell", estimates="intel-model"),
                 LabCell("r", emulate="Haswell", estimates="tables/xeon.json"))
        lab = Lab(rows=4, env={}, variants=("adam",), cells=cells)
        matrix = str(tmp_path / "m.toml")
        first = cell_command("py", matrix, lab, cells[0], Path("o.json"), 4)
        assert first[first.index("--estimates") + 1] == "intel-model"
        second = cell_command("py", matrix, lab, cells[1], Path("o.json"), 4)
        assert second[second.index("--estimates") + 1] == str(tmp_path / "tables/xeon.json")
        assert "--estimates" not in cell_command("py", matrix, lab, LabCell("n"), Path("o"), 4)

    def test_a_cell_runs_only_its_own_variants(self) -> None:
        lab = Lab(rows=4, env={}, variants=("adam", "rms"),
                  cells=(LabCell("a"), LabCell("b", variants=("rms",))))
        def variants(cell: LabCell) -> list[str]:
            command = cell_command("py", "m.toml", lab, cell, Path("o.json"), 4)
            return [command[i + 1] for i, word in enumerate(command) if word == "--variant"]
        assert variants(lab.cells[0]) == ["adam", "rms"] and variants(lab.cells[1]) == ["rms"]

    def test_estimates_from_adds_a_replay_cell_on_the_labs_model(self, tmp_path: Path) -> None:
        from repromatrix.host.lab import REPLAY_CELL, with_replay

        lab = Lab(rows=4, env={}, variants=("adam",),
                  cells=(LabCell("n"), LabCell("q", emulate="Skylake-Client")))
        replayed = with_replay(with_replay(lab, "a.json"), "b.json")
        assert [c.id for c in replayed.cells] == ["n", "q", REPLAY_CELL]
        assert replayed.cells[-1].emulate == "Skylake-Client"
        assert replayed.cells[-1].estimates == str(Path("b.json").resolve())

    def test_an_arm64_cell_runs_with_emulate_arch(self) -> None:
        lab = Lab(rows=4, env={}, variants=("adam",), cells=(LabCell("lab-arm64", arch="arm64"),))
        command = cell_command("py", "m.toml", lab, lab.cells[0], Path("o.json"), 4)
        assert command[command.index("--emulate-arch") + 1] == "arm64"

    def test_arch_is_checked_when_the_matrix_loads(self, tmp_path: Path) -> None:
        matrix = tmp_path / "matrix.toml"
        matrix.write_text((ROOT / "matrix.toml").read_text() + '\n[lab]\n[[lab.cells]]\n'
                          'id = "a"\narch = "riscv64"\n')
        completed = subprocess.run([sys.executable, "-m", "repromatrix", "lab", "--matrix",
                                    str(matrix)], capture_output=True, text=True, check=False)
        assert completed.returncode == 2
        assert "lab.cells[0].arch" in completed.stderr and "'riscv64'" in completed.stderr


def test_missing_qemu_is_one_line_and_exit_2(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "repromatrix", "run", "--matrix", str(ROOT / "matrix.toml"),
         "--emulate-arch", "arm64", "--rows", "2", "--output", str(tmp_path / "a.json")],
        capture_output=True, text=True, check=False, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "REPROMATRIX_QEMU_AARCH64": "/nowhere/qemu-aarch64",
             "HOME": str(tmp_path), "PYTHONPATH": str(ROOT / "src")})
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        "repromatrix: error: REPROMATRIX_QEMU_AARCH64='/nowhere/qemu-aarch64' is not an "
        "executable file"]
    built = tmp_path / ".cache" / "repromatrix" / "arm64"  # under HOME: nothing fetched or built
    assert not built.exists() or not any(built.iterdir())


class TestLabSelection:
    LAB = Lab(rows=4, env={}, variants=(), cells=(LabCell("lab-native"),
                                                   LabCell("lab-qemu-haswell", emulate="Haswell")))

    def test_the_arm64_cell_is_one_cell_option_away(self) -> None:
        from repromatrix.host.lab import select_cells

        chosen = select_cells(self.LAB, ["lab-native", "lab-arm64"])
        assert [(c.id, c.arch) for c in chosen.cells] == [("lab-native", None),
                                                           ("lab-arm64", "arm64")]
        assert select_cells(self.LAB, []) == self.LAB

    def test_an_unknown_cell_is_one_line(self) -> None:
        from repromatrix.errors import UsageError
        from repromatrix.host.lab import select_cells

        with pytest.raises(UsageError, match="^--cell lab-arm: no such lab cell; known: "
                                             "lab-native, lab-qemu-haswell, lab-arm64$"):
            select_cells(self.LAB, ["lab-arm"])


def test_runner_copy_is_the_whole_package(tmp_path: Path) -> None:
    """The arm64 Python runs `python -m repromatrix` from the copy: it must hold the whole
    package (its entry point and every layer), not the folder arm64.py happens to sit in."""
    folder = arm64.sync_runner(tmp_path)
    package = folder / "repromatrix"
    for part in ("__main__.py", "cell/runner.py", "config/matrix.py", "resources/report41.csv"):
        assert (package / part).is_file(), part
    assert arm64.sync_runner(tmp_path) == folder  # unchanged source: the same copy is reused
