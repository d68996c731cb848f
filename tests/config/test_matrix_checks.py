"""matrix.toml checks that docs/matrix.md promises and no other test exercised.

Each case breaks one thing in the small valid matrix and expects exactly one problem, at the
right key and line; the boundary cases check that the limit itself is still accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from ci_samples import VALID_MATRIX

from repromatrix.config.matrix import MAX_SEED, Matrix

Problems = Callable[[str], "list[str]"]

LAB_CELL = '[[lab.cells]]\nid = "lab-native"\n'


def line_of(text: str, snippet: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if snippet in line)


def only(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize(("old", "new", "key", "expected"), [
    # a lab cell id becomes an output file name: no path separators, no dot-dot
    ('id = "lab-native"', 'id = "../../x"', "lab.cells[0].id", "letters, digits"),
    ('id = "lab-native"', 'id = ".hidden"', "lab.cells[0].id", "letters, digits"),
    ("[variants.adam]", '[variants."x y"]\n\n[variants.adam]', "variants.x y",
     "a variant name may use"),
    ('target = "target"', "target = -1", "experiment.target", "a column index starts at 0"),
    ('env = { TF_ENABLE_ONEDNN_OPTS = "0" }', "threads = { intra_op = -1 }",
     "variants.adam.threads.intra_op", "must be between 0 (TensorFlow's choice) and 1024"),
    ('env = { TF_ENABLE_ONEDNN_OPTS = "0" }', "threads = { inter_op = -2 }",
     "variants.adam.threads.inter_op", "must be between 0 (TensorFlow's choice) and 1024"),
    ("seed = 42", f"seed = {MAX_SEED + 1}", "experiment.seed", f"between 0 and {MAX_SEED}"),
])
def test_refused(problems_of: Problems, old: str, new: str, key: str, expected: str) -> None:
    text = VALID_MATRIX.replace(old, new, 1)
    assert text != VALID_MATRIX
    problem = only(problems_of(text))
    assert f"matrix.toml:{line_of(text, new.split(chr(10))[0])}: {key}: " in problem
    assert expected in problem


@pytest.mark.parametrize("name", ["numpy!", "-numpy", "numpy-", "num py", "num/py"])
def test_invalid_distribution_names(problems_of: Problems, name: str) -> None:
    text = VALID_MATRIX.replace('numpy = "1.23.5"', f'"{name}" = "1.23.5"', 1)
    problem = only(problems_of(text))
    # (a quoted key with characters a bare key cannot have is located at its table's header)
    lines = {line_of(text, "[pins.packages]"), line_of(text, '= "1.23.5"')}
    assert any(f"matrix.toml:{n}: pins.packages.{name}: " in problem for n in lines), problem
    assert problem.endswith("not a valid distribution name")


@pytest.mark.parametrize(("old", "new"), [
    ("seed = 42", f"seed = {MAX_SEED}"),
    ("seed = 42", "seed = 0"),
    ('target = "target"', "target = 0"),
    ('env = { TF_ENABLE_ONEDNN_OPTS = "0" }', "threads = { intra_op = 0, inter_op = 1 }"),
    ('numpy = "1.23.5"', '"zope.interface" = "1.23.5"'),
    ('numpy = "1.23.5"', 'n = "1.23.5"'),
    ('id = "lab-native"', 'id = "' + "x" * 64 + '"'),
])
def test_boundaries_accepted(load_text: Callable[[str], Matrix], old: str, new: str) -> None:
    load_text(VALID_MATRIX.replace(old, new, 1))


def test_duplicate_lab_cell_ids(problems_of: Problems) -> None:
    text = VALID_MATRIX.replace(LAB_CELL, LAB_CELL + "\n" + LAB_CELL)
    problem = only(problems_of(text))
    assert "lab.cells: cell ids must be unique" in problem


def test_lab_without_cells(problems_of: Problems) -> None:
    # An omitted [[lab.cells]] now takes the package's default cells; an explicit empty list
    # is how a user writes "no cells", and it is refused.
    text = VALID_MATRIX.replace(LAB_CELL, "").replace("[lab]\n", "[lab]\ncells = []\n", 1)
    assert "lab.cells: the lab needs at least one [[lab.cells]]" in only(problems_of(text))


def test_empty_variants_table(problems_of: Problems) -> None:
    """No variant at all: one problem for the empty table (the experiment's list of names
    that no longer exist is reported too, as unknown names)."""
    start = VALID_MATRIX.index("[variants.default-optimizer]")
    end = VALID_MATRIX.index("[[runners]]")
    text = VALID_MATRIX[:start] + "[variants]\n\n" + VALID_MATRIX[end:]
    problems = problems_of(text)
    assert any("variants: at least one variant is needed" in p for p in problems), problems
    assert any("no variant named 'adam'" in p for p in problems), problems


def test_valid_lab_cells_are_loaded(load_text: Callable[[str], Matrix]) -> None:
    text = VALID_MATRIX.replace(LAB_CELL, LAB_CELL + '\n[[lab.cells]]\nid = "lab-q"\n'
                                'emulate = "Haswell"\n')
    lab = load_text(text).lab
    assert lab is not None and lab.rows == 8
    assert [(c.id, c.emulate) for c in lab.cells] == [("lab-native", None), ("lab-q", "Haswell")]


def test_lab_rows_default(load_text: Callable[[str], Matrix]) -> None:
    lab = load_text(VALID_MATRIX.replace("rows = 8\n", "")).lab
    assert lab is not None and lab.rows == 64


def test_threads_are_recorded(load_text: Callable[[str], Matrix], tmp_path: Path) -> None:
    text = VALID_MATRIX.replace('env = { TF_ENABLE_ONEDNN_OPTS = "0" }',
                                "threads = { intra_op = 1 }", 1)
    variant = load_text(text).variants["adam"]
    assert variant.threads == {"intra_op": 1, "inter_op": 0}
    assert variant.settings()["threads"] == {"inter_op": 0, "intra_op": 1}


def test_a_lab_cells_estimates_are_loaded(load_text: Callable[[str], Matrix]) -> None:
    text = VALID_MATRIX.replace(LAB_CELL, LAB_CELL + '\n[[lab.cells]]\nid = "lab-q"\n'
                                'emulate = "Haswell"\nestimates = "intel-model"\n')
    lab = load_text(text).lab
    assert lab is not None and [c.estimates for c in lab.cells] == [None, "intel-model"]


@pytest.mark.parametrize("extra", ['estimates = "host"\n',
                                   'emulate = "neoverse-n1"\narch = "arm64"\nestimates = "host"\n'])
def test_estimates_need_an_emulated_x86_cell(problems_of: Problems, extra: str) -> None:
    text = VALID_MATRIX.replace(LAB_CELL, LAB_CELL + '\n[[lab.cells]]\nid = "lab-q"\n' + extra)
    assert "lab.cells[1].estimates" in only(problems_of(text))
    assert "needs emulate" in only(problems_of(text))


def test_a_lab_cell_may_run_some_of_the_labs_variants(load_text: Callable[[str], Matrix],
                                                      problems_of: Problems) -> None:
    text = VALID_MATRIX.replace(LAB_CELL, LAB_CELL + 'variants = ["adam"]\n')
    lab = load_text(text).lab
    assert lab is not None and lab.cells[0].variants == ("adam",)
    unknown = VALID_MATRIX.replace(LAB_CELL, LAB_CELL + 'variants = ["nope"]\n')
    assert "lab.cells[0].variants: no variant named 'nope'" in only(problems_of(unknown))
    outside = VALID_MATRIX.replace(LAB_CELL, LAB_CELL + 'variants = ["default-optimizer"]\n')
    assert "'default-optimizer' is not one of the lab's variants (adam)" in only(
        problems_of(outside))
