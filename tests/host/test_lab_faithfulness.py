"""The lab's faithfulness line: the emulated copy of this CPU against the native cell."""

from __future__ import annotations

import json
from pathlib import Path

from repromatrix.config.matrix import LabCell
from repromatrix.host.lab import LabRun, faithfulness


def run(folder: Path, cell: LabCell, digests: dict[str, str], probe: dict[str, str]) -> LabRun:
    output = folder / f"{cell.id}.json"
    output.write_text(json.dumps({
        "variants": {name: {"digest": digest} for name, digest in digests.items()},
        "probe": [{"case": case, "op": case.split("[")[0], "sha256": sha}
                  for case, sha in probe.items()]}), encoding="utf-8")
    return LabRun(cell, [], output, folder / f"{cell.id}.log")


def test_bit_identical_training_and_the_probe_cases_that_differ(tmp_path: Path) -> None:
    probe = {"MatMul[big]": "m1", "Rsqrt[x]": "r1"}
    runs = [run(tmp_path, LabCell("n"), {"adam": "a", "rms": "r"}, probe),
            run(tmp_path, LabCell("o", env={"TF_ENABLE_ONEDNN_OPTS": "1"}), {"adam": "x"}, probe),
            run(tmp_path, LabCell("h", emulate="Haswell", estimates="host"),
                {"adam": "a", "rms": "r"}, {**probe, "MatMul[big]": "m2"}),
            run(tmp_path, LabCell("i", emulate="Haswell", estimates="intel-model"),
                {"adam": "a", "rms": "z"}, probe)]
    assert faithfulness(runs) == [
        "faithfulness: h (this CPU's estimate table) vs n: adam, rms bit-identical; probe cases "
        "that differ under emulation: MatMul[big] (the emulated Haswell has other ISA extensions "
        "than this CPU, e.g. no AVX-512, and kernels that dispatch on them can differ)"]


def test_a_difference_is_said_and_a_missing_native_cell_says_nothing(tmp_path: Path) -> None:
    native = run(tmp_path, LabCell("n"), {"adam": "a", "rms": "r"}, {"c": "1"})
    host = run(tmp_path, LabCell("h", emulate="Haswell", estimates="host"),
               {"adam": "a", "rms": "DIFFERENT"}, {"c": "1"})
    assert faithfulness([native, host]) == [
        "faithfulness: h (this CPU's estimate table) vs n: adam bit-identical; rms DIFFER: the "
        "emulated copy is not faithful here; every probe case agrees"]
    assert faithfulness([host]) == []
    host.output.unlink()  # a failed cell: nothing to compare
    assert faithfulness([native, host]) == []
