"""Entry parsing, resolution and matrix validation of a user experiment (no TensorFlow)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from repromatrix import contract
from repromatrix.cell import runner
from repromatrix.config.matrix import load_matrix
from repromatrix.config.request import resolve_request
from repromatrix.errors import ConfigError, ExperimentError

ROOT = Path(__file__).resolve().parents[2]


class TestParse:
    @pytest.mark.parametrize(("text", "target", "function", "is_file"), [
        ("pkg.mod:build", "pkg.mod", "build", False),
        ("mod:build", "mod", "build", False),
        ("experiment.py:build", "experiment.py", "build", True),
        ("sub/dir/x.py:make_plan", "sub/dir/x.py", "make_plan", True),
        ("C:\\exp\\x.py:build", "C:\\exp\\x.py", "build", True),  # a Windows drive letter
    ])
    def test_valid(self, text: str, target: str, function: str, is_file: bool) -> None:
        entry = contract.parse_entry(text)
        assert (entry.target, entry.function, entry.is_file, entry.text) == (
            target, function, is_file, text)

    @pytest.mark.parametrize(("text", "message"), [
        ("pkg.mod", "expected 'package.module:function'"),
        (":build", "expected"),
        ("pkg.mod:", "expected"),
        ("pkg.mod:not-a-name", "is not a function name"),
        ("pkg-mod:build", "neither a module name nor a .py file"),
        ("dir/file.txt:build", "must name a .py file"),
    ])
    def test_invalid(self, text: str, message: str) -> None:
        with pytest.raises(ExperimentError, match=message):
            contract.parse_entry(text)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


class TestResolve:
    def test_file_found_and_loaded(self, tmp_path: Path) -> None:
        write(tmp_path / "exp.py", "def build(context):\n    return context\n")
        entry = contract.parse_entry("exp.py:build")
        source = contract.locate(entry, tmp_path)
        contract.check_defined(entry, source)
        assert contract.load_function(entry, tmp_path)("ctx") == "ctx"

    def test_missing_file_suggests_sibling(self, tmp_path: Path) -> None:
        write(tmp_path / "experiment.py", "def build(c): pass\n")
        with pytest.raises(ExperimentError, match="no file .*did you mean 'experiment.py'"):
            contract.locate(contract.parse_entry("experimnt.py:build"), tmp_path)

    def test_missing_function_found_statically(self, tmp_path: Path) -> None:
        """Caught by reading the source: no import, so no TensorFlow, before the slow parts."""
        source = write(tmp_path / "exp.py", "import tensorflow_not_imported\n"
                       "def build_plan(c): pass\n")
        entry = contract.parse_entry("exp.py:build_plam")
        with pytest.raises(ExperimentError, match="defines no 'build_plam'; did you mean "
                           "'build_plan'"):
            contract.check_defined(entry, contract.locate(entry, tmp_path))
        assert source.exists()

    def test_star_import_defers_to_the_real_import(self, tmp_path: Path) -> None:
        write(tmp_path / "exp.py", "from os.path import *\n")
        entry = contract.parse_entry("exp.py:join")
        contract.check_defined(entry, contract.locate(entry, tmp_path))  # no error: undecidable
        assert callable(contract.load_function(entry, tmp_path))

    def test_syntax_error_is_one_line(self, tmp_path: Path) -> None:
        write(tmp_path / "exp.py", "def build(:\n")
        entry = contract.parse_entry("exp.py:build")
        with pytest.raises(ExperimentError, match=r"exp.py:1: syntax error"):
            contract.check_defined(entry, contract.locate(entry, tmp_path))

    def test_module_next_to_matrix_and_suggestion(self, tmp_path: Path) -> None:
        write(tmp_path / "mypkg" / "__init__.py", "")
        write(tmp_path / "mypkg" / "experiments.py", "def build(c): return 1\n")
        entry = contract.parse_entry("mypkg.experiments:build")
        contract.check_defined(entry, contract.locate(entry, tmp_path))
        assert contract.load_function(entry, tmp_path)(None) == 1
        with pytest.raises(ExperimentError, match="no module named 'mypkg.experiment'; did you "
                           "mean 'experiments'"):
            contract.locate(contract.parse_entry("mypkg.experiment:build"), tmp_path)

    def test_missing_top_level_package(self, tmp_path: Path) -> None:
        with pytest.raises(ExperimentError, match="no module named 'no_such_pkg_xyz'"):
            contract.locate(contract.parse_entry("no_such_pkg_xyz.mod:build"), tmp_path)

    def test_import_failure_is_one_line(self, tmp_path: Path) -> None:
        write(tmp_path / "exp.py", "raise RuntimeError('boom\\nsecond line')\ndef build(c): pass\n")
        entry = contract.parse_entry("exp.py:build")
        with pytest.raises(ExperimentError) as caught:
            contract.load_function(entry, tmp_path)
        assert "importing exp.py failed: RuntimeError: boom" in str(caught.value)
        assert "\n" not in str(caught.value)

    def test_not_callable(self, tmp_path: Path) -> None:
        write(tmp_path / "exp.py", "build = 3\n")
        with pytest.raises(ExperimentError, match="build is a int, not a function"):
            contract.load_function(contract.parse_entry("exp.py:build"), tmp_path)


def matrix_text(experiment: str, variants: str = "[variants.a]\n") -> str:
    return textwrap.dedent(f"""\
        [experiment]
        {experiment}
        [pins]
        python = "3.9.2"
        [pins.packages]
        tensorflow = "2.12.0"
        """) + variants


class TestMatrix:
    def test_entry_defaults_to_no_data(self, tmp_path: Path) -> None:
        path = write(tmp_path / "m.toml", matrix_text('entry = "exp.py:build"'))
        matrix = load_matrix(path)
        assert matrix.experiment.entry == "exp.py:build"
        assert matrix.experiment.data == "none" and matrix.data_path() == "none"

    def test_builtin_unchanged(self) -> None:
        matrix = load_matrix(ROOT / "matrix.toml")
        assert matrix.experiment.entry is None and matrix.experiment.data == "builtin"

    def test_optimizer_refused_with_entry(self, tmp_path: Path) -> None:
        path = write(tmp_path / "m.toml", matrix_text(
            'entry = "exp.py:build"', '[variants.a]\noptimizer = "adam"\n'))
        with pytest.raises(ConfigError) as caught:
            load_matrix(path)
        assert len(caught.value.problems) == 1
        assert "variants.a.optimizer: 'adam' applies to the built-in experiment only" in \
            caught.value.problems[0]

    def test_bad_entry_syntax_is_a_config_problem(self, tmp_path: Path) -> None:
        path = write(tmp_path / "m.toml", matrix_text('entry = "exp.py"'))
        with pytest.raises(ConfigError, match=r"m.toml:2: experiment.entry: experiment entry"):
            load_matrix(path)

    def test_none_data_needs_an_entry(self, tmp_path: Path) -> None:
        path = write(tmp_path / "m.toml", matrix_text('data = "none"'))
        with pytest.raises(ConfigError, match="the built-in experiment needs data"):
            load_matrix(path)

    def test_example_matrix_is_valid(self) -> None:
        matrix = load_matrix(ROOT / "examples" / "digits-cnn" / "matrix.toml")
        assert matrix.experiment.entry == "experiment.py:build"
        assert matrix.pins == load_matrix(ROOT / "matrix.toml").pins


class TestPrepare:
    def request(self, matrix: Path, **changes: object) -> runner.CellRequest:
        base = dict(cell="c", output="o.json")
        base.update(changes)
        return resolve_request(matrix, **base)  # type: ignore[arg-type]

    def test_user_entry_prepared_without_tensorflow(self, tmp_path: Path) -> None:
        write(tmp_path / "exp.py", "import tensorflow\ndef build(c): pass\n")
        path = write(tmp_path / "m.toml", matrix_text('entry = "exp.py:build"'))
        prepared = runner.prepare(self.request(path))
        assert prepared.dataset is None and prepared.experiment_name == "exp.py:build"

    def test_missing_function_fails_in_prepare(self, tmp_path: Path) -> None:
        write(tmp_path / "exp.py", "def build(c): pass\n")
        path = write(tmp_path / "m.toml", matrix_text('entry = "exp.py:buld"'))
        with pytest.raises(ExperimentError, match="did you mean 'build'"):
            runner.prepare(self.request(path))

    def test_user_csv_with_any_feature_count(self, tmp_path: Path) -> None:
        write(tmp_path / "exp.py", "def build(c): pass\n")
        write(tmp_path / "d.csv", "a,b,c,y\n1,2,3,0.5\n4,5,6,0.25\n")
        path = write(tmp_path / "m.toml", matrix_text('entry = "exp.py:build"\ndata = "d.csv"\n'
                                                      'target = "y"'))
        prepared = runner.prepare(self.request(path))
        assert prepared.dataset is not None and prepared.dataset.x.shape == (2, 3)

    def test_builtin_name(self) -> None:
        assert runner.prepare(self.request(ROOT / "matrix.toml")).experiment_name == "report-41"
