"""preflight's lab rows for cells with estimates: the table, and the patched qemu's state."""

from __future__ import annotations

from pathlib import Path

from repromatrix.config.matrix import load_matrix
from repromatrix.host.preflight_command import check_estimate_cells

ROOT = Path(__file__).resolve().parents[2]


def matrix_with(tmp_path: Path, cells: str):
    path = tmp_path / "matrix.toml"
    path.write_text((ROOT / "matrix.toml").read_text(encoding="utf-8") + "\n[lab]\n" + cells,
                    encoding="utf-8")
    return load_matrix(path)


def test_each_estimates_cell_gets_its_table_and_the_qemu_checked(tmp_path: Path) -> None:
    matrix = matrix_with(tmp_path, '[[lab.cells]]\nid = "n"\n\n[[lab.cells]]\nid = "i"\n'
                         'emulate = "Haswell"\nestimates = "intel-model"\n\n[[lab.cells]]\n'
                         'id = "x"\nemulate = "Haswell"\nestimates = "tables/none.json"\n')
    results = check_estimate_cells(matrix, lambda: (False, "install cc (apt-get install gcc)"))
    assert [r.cell.id for r in results] == ["i", "x"]
    intel, missing = results
    assert [(c.what, c.ok) for c in intel.checks] == [("estimate table", True),
                                                      ("patched qemu", False)]
    assert intel.checks[0].text.startswith("intel-model")
    assert intel.checks[1].text == "install cc (apt-get install gcc)"
    assert missing.checks[0].ok is False and "no such file" in missing.checks[0].text
    assert not intel.ok


def test_a_lab_without_estimates_cells_checks_nothing(tmp_path: Path) -> None:
    matrix = matrix_with(tmp_path, '[[lab.cells]]\nid = "q"\nemulate = "Haswell"\n')
    assert check_estimate_cells(matrix, lambda: (_ for _ in ()).throw(AssertionError)) == []
