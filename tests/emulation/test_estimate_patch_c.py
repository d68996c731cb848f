"""The C in resources/qemu/estimates.patch computes what repromatrix.estimates says: its
estimate.h compiled with the machine's C compiler and run on millions of inputs (every exponent
and sign, and random bit patterns), for the Intel model's table and a perturbed one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from repromatrix import estimates as E
from repromatrix.emulation import qemu_build

HARNESS = r"""
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "estimate.h"
int main(int argc, char **argv) {
    FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
    uint32_t x, r[2];
    if (!estimate_loaded) return 3;
    while (fread(&x, 4, 1, in) == 1) {
        r[0] = estimate_rsqrt_bits(x);
        r[1] = estimate_rcp_bits(x);
        fwrite(r, 4, 2, out);
    }
    fclose(out);
    return 0;
}
"""


def estimate_header() -> str:
    """estimate.h as the patch creates it (its one new file)."""
    text = qemu_build.patch_bytes().decode()
    hunk = text[text.index("+++ b/target/i386/estimate.h"):]
    lines = hunk.splitlines()[2:]  # the +++ line and the @@ line
    return "\n".join(line[1:] for line in lines if line.startswith("+")) + "\n"


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler on PATH (the lab's patched qemu needs one too)")
    folder = tmp_path_factory.mktemp("estimate_c")
    (folder / "estimate.h").write_text(estimate_header(), encoding="utf-8")
    (folder / "harness.c").write_text(HARNESS, encoding="utf-8")
    program = folder / "harness"
    subprocess.run([compiler, "-O1", "-std=gnu11", "-o", str(program), str(folder / "harness.c")],
                   check=True, capture_output=True)
    return program


def inputs() -> np.ndarray:
    every = np.arange(512, dtype=np.uint32) << 23  # every sign and exponent...
    mantissas = np.array([0, 1, 0x7FF, 0x800, 0x400000, 0x5A5A5A, 0x7FFFFF], dtype=np.uint32)
    grid = (every[:, None] | mantissas[None, :]).ravel()  # ...with a few mantissas each
    random = np.random.default_rng(7).integers(0, 2**32, size=1 << 20, dtype=np.uint64)
    return np.concatenate([grid, random.astype(np.uint32),
                           np.array(E.SPECIAL_INPUTS, dtype=np.uint32)])


@pytest.mark.parametrize("which", ["intel-model", "perturbed"])
def test_the_c_helpers_agree_with_the_model(harness: Path, tmp_path: Path, which: str) -> None:
    tables = E.intel_model()
    if which == "perturbed":  # other entries, exponents 125 and 126 both
        tables = E.Tables(tuple(v - (3 << 11) if i % 3 else v for i, v in enumerate(tables.rsqrt)),
                          tuple(0x3E800000 + (i << 11) for i in range(E.RCP_ENTRIES)))
    table_file = tmp_path / "table.bin"
    table_file.write_bytes(tables.to_bytes())
    x = inputs()
    (tmp_path / "in.bin").write_bytes(x.tobytes())
    subprocess.run([str(harness), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")],
                   env={"REPROMATRIX_QEMU_ESTIMATES": str(table_file)}, check=True)
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), dtype=np.uint32).reshape(-1, 2)
    rsqrt, rcp = E.estimate_arrays(tables, x)
    assert int((got[:, 0] != rsqrt).sum()) == 0
    assert int((got[:, 1] != rcp).sum()) == 0


def test_a_wrong_table_file_stops_with_one_line(harness: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.bin"
    short.write_bytes(b"\0" * 100)
    completed = subprocess.run([str(harness), "/dev/null", str(tmp_path / "o")],
                               env={"REPROMATRIX_QEMU_ESTIMATES": str(short)},
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 2
    assert completed.stderr == (f"qemu: REPROMATRIX_QEMU_ESTIMATES={short}: 100 bytes, not an "
                                f"estimate table of {E.TABLE_BYTES}\n")
