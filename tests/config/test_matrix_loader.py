"""The matrix.toml loader: what it accepts, and how it reports each kind of bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from ci_samples import VALID_MATRIX

from repromatrix.config.matrix import (
    EXACT_PYTHON,
    HOSTED_LABELS,
    Matrix,
    load_matrix,
)
from repromatrix.errors import ConfigError, ReproError

Problems = Callable[[str], "list[str]"]


def line_of(text: str, snippet: str, occurrence: int = 1) -> int:
    """1-based number of the line holding the ``occurrence``-th match of ``snippet``."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if snippet in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{snippet!r} not in text")


def runner_block(label: str, os_name: str, arch: str, python: str, extra: str = "") -> str:
    return (f'\n[[runners]]\nlabel = "{label}"\nos = "{os_name}"\narch = "{arch}"\n'
            f'python = "{python}"\n{extra}')


def with_runner(*blocks: str) -> str:
    """VALID_MATRIX with extra runners inserted before [[excluded]], where runners belong."""
    return VALID_MATRIX.replace("\n[[excluded]]", "".join(blocks) + "\n[[excluded]]", 1)


def only(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


class TestValidFiles:
    def test_the_shipped_matrix_loads(self, root: Path) -> None:
        """The repository's own matrix.toml passes every check."""
        matrix = load_matrix(root / "matrix.toml")
        assert matrix.runners
        assert {r.label for r in matrix.runners} <= set(HOSTED_LABELS)
        assert "windows-11-arm" in {e.label for e in matrix.excluded}

    def test_fields(self, load_text: Callable[[str], Matrix]) -> None:
        """Every section ends up in the frozen dataclasses the runner uses."""
        matrix = load_text(VALID_MATRIX)
        assert matrix.experiment.variants == ("default-optimizer", "adam")
        assert matrix.pins.python == "3.9.2"
        assert matrix.pins.python_minor == "3.9"
        assert matrix.variants["adam"].settings() == {
            "optimizer": "adam", "env": {"TF_ENABLE_ONEDNN_OPTS": "0"}, "threads": None,
            "op_determinism": False}
        assert matrix.lab is not None and matrix.lab.variants == ("adam",)
        assert matrix.excluded[0].platform == "windows-arm64"
        with pytest.raises(AttributeError):
            matrix.pins.python = "3.10.0"  # type: ignore[misc]

    def test_platform_requirements(self, load_text: Callable[[str], Matrix]) -> None:
        """A platform's replace and pulls change what is installed and watched there only."""
        pins = load_text(VALID_MATRIX).pins
        assert pins.requirements("linux-x86_64") == ["tensorflow==2.12.0", "numpy==1.23.5"]
        assert pins.requirements("macos-arm64") == ["tensorflow-macos==2.12.0", "numpy==1.23.5"]
        assert pins.watched_packages("windows-x86_64") == ["tensorflow", "numpy",
                                                           "tensorflow-intel"]

    def test_cells(self, load_text: Callable[[str], Matrix]) -> None:
        """Cell ids are label-repeat, one per repeat, listed sorted."""
        matrix = load_text(VALID_MATRIX)
        assert matrix.runner("ubuntu-24.04").cell_ids() == ["ubuntu-24.04-1", "ubuntu-24.04-2"]
        assert [cell for cell, _ in matrix.cells()] == [
            "macos-15-1", "ubuntu-24.04-1", "ubuntu-24.04-2", "windows-2025-1"]

    def test_data_path_is_relative_to_the_file(self, load_text: Callable[[str], Matrix]) -> None:
        """A CSV path is resolved against the matrix file's folder, not the working directory."""
        matrix = load_text(VALID_MATRIX.replace('data = "builtin"', 'data = "d/x.csv"'))
        assert matrix.data_path() == str((matrix.path.parent / "d" / "x.csv").resolve())

    def test_nearest_is_allowed_where_no_exact_build_exists(
            self, load_text: Callable[[str], Matrix]) -> None:
        """linux arm64 has no exact 3.9.2 anywhere: "nearest" is the honest choice there."""
        matrix = load_text(with_runner(runner_block("ubuntu-24.04-arm", "linux", "arm64",
                                                    "nearest")))
        assert matrix.runner("ubuntu-24.04-arm").python == "nearest"

    def test_self_hosted_labels_are_accepted(self, load_text: Callable[[str], Matrix]) -> None:
        """An unknown label is a self-hosted runner: only its platform is checked."""
        matrix = load_text(with_runner(runner_block("lab-box", "linux", "x86_64", "uv")))
        assert matrix.runner("lab-box") is not None

    def test_no_facts_for_other_versions(self, load_text: Callable[[str], Matrix]) -> None:
        """The Python facts cover 3.9.2 only; another pin is trusted as written."""
        assert "3.10.4" not in EXACT_PYTHON
        text = with_runner(runner_block("ubuntu-22.04", "linux", "x86_64", "setup-python"))
        matrix = load_text(text.replace('python = "3.9.2"', 'python = "3.10.4"'))
        assert matrix.runner("ubuntu-22.04").python == "setup-python"


class TestUnreadableFiles:
    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is a ConfigError naming the path, with exit code 2."""
        with pytest.raises(ConfigError) as caught:
            load_matrix(tmp_path / "nope.toml")
        assert isinstance(caught.value, ReproError) and caught.value.exit_code == 2
        assert only(caught.value.problems).startswith(f"{tmp_path / 'nope.toml'}: no such file")

    def test_invalid_toml(self, write_matrix: Callable[[str], Path]) -> None:
        """A syntax error is reported with the file and the line tomllib found it on."""
        path = write_matrix('[experiment]\nseed = 42\nseed = = 3\n')
        with pytest.raises(ConfigError) as caught:
            load_matrix(path)
        assert only(caught.value.problems).startswith(f"{path}:3: not valid TOML:")

    def test_not_utf8(self, tmp_path: Path) -> None:
        """Bytes that are not UTF-8 are a ConfigError, not a traceback."""
        path = tmp_path / "matrix.toml"
        path.write_bytes(b"[experiment]\nseed = \xff\n")
        with pytest.raises(ConfigError, match="cannot read"):
            load_matrix(path)


class TestUnknownKeys:
    def test_top_level_table(self, problems_of: Problems) -> None:
        """A misspelt table gets the closest valid name and its own line."""
        text = VALID_MATRIX + '\n[lba]\nrows = 3\n'
        problem = only(problems_of(text))
        assert f"matrix.toml:{line_of(text, '[lba]')}: lba: unknown key." in problem
        assert "Perhaps you meant 'lab'?" in problem

    def test_misspelt_array_of_tables(self, problems_of: Problems) -> None:
        """``[[runner]]`` instead of ``[[runners]]`` points at the header."""
        text = VALID_MATRIX + '\n[[runner]]\nlabel = "x"\n'
        problem = only(problems_of(text))
        assert f":{line_of(text, '[[runner]]')}: runner: unknown key." in problem
        assert "Perhaps you meant 'runners'?" in problem

    def test_runner_key(self, problems_of: Problems) -> None:
        """A misspelt key inside the second [[runners]] is located in that entry."""
        text = VALID_MATRIX.replace('python = "setup-python"',
                                    'python = "setup-python"\nrepeats = 2')
        problem = only(problems_of(text))
        assert f":{line_of(text, 'repeats = 2')}: runners[1].repeats: unknown key." in problem
        assert "Perhaps you meant 'repeat'?" in problem

    def test_variant_key(self, problems_of: Problems) -> None:
        text = VALID_MATRIX.replace('optimizer = "adam"', 'optimiser = "adam"')
        problem = only(problems_of(text))
        assert f":{line_of(text, 'optimiser')}: variants.adam.optimiser: unknown key." in problem
        assert "Perhaps you meant 'optimizer'?" in problem

    def test_key_in_inline_table(self, problems_of: Problems) -> None:
        """Keys of an inline table are checked and point at the line holding the table."""
        text = VALID_MATRIX.replace('optimizer = "adam"',
                                    'optimizer = "adam"\nthreads = { intra = 1 }')
        problem = only(problems_of(text))
        assert f":{line_of(text, 'threads =')}: variants.adam.threads.intra: unknown key." in problem
        assert "Perhaps you meant 'intra_op'?" in problem

    def test_no_close_match_lists_valid_keys(self, problems_of: Problems) -> None:
        text = VALID_MATRIX.replace("rows = 8", "rows = 8\nzzz = 1")
        assert "Valid keys: rows, env, variants, cells." in only(problems_of(text))

    @pytest.mark.parametrize(("old", "new", "key", "hint"), [
        ('optimizer = "adam"', 'optimizer = "adma"', "variants.adam.optimizer", "adam"),
        ('os = "linux"', 'os = "linx"', "runners[0].os", "linux"),
        ('arch = "arm64"\npython = "uv"', 'arch = "arm"\npython = "uv"', "runners[2].arch",
         "arm64"),
        ('python = "setup-python"', 'python = "setup_python"', "runners[1].python",
         "setup-python"),
        ('variants = ["adam"]', 'variants = ["adamm"]', "lab.variants", "adam"),
        ("[platforms.windows-x86_64]", "[platforms.windows-x64]", "platforms.windows-x64",
         "windows-x86_64"),
    ])
    def test_unknown_values(self, problems_of: Problems, old: str, new: str, key: str,
                            hint: str) -> None:
        """Values from a fixed set get the closest valid one suggested."""
        text = VALID_MATRIX.replace(old, new, 1)
        problem = only(problems_of(text))
        assert f": {key}: " in problem and f"Perhaps you meant '{hint}'?" in problem


class TestWrongTypes:
    @pytest.mark.parametrize(("old", "new", "key", "expected"), [
        ("repeat = 2", 'repeat = "2"', "runners[0].repeat", "expected an integer, got a string ('2')"),
        ("repeat = 2", "repeat = true", "runners[0].repeat", "expected an integer, got a boolean"),
        ("seed = 42", "seed = 4.2", "experiment.seed", "expected an integer, got a float (4.2)"),
        ('target = "target"', "target = [1]", "experiment.target",
         "expected a string or an integer, got an array"),
        ('optimizer = "default"', "optimizer = 1", "variants.default-optimizer.optimizer",
         "expected a string"),
        ('label = "macos-15"', "label = 15", "runners[2].label", "expected a string"),
        ("rows = 8", 'rows = "8"', "lab.rows", "expected an integer"),
        ('python = "3.9.2"', "python = 3.9", "pins.python", "expected a string, got a float"),
    ])
    def test_scalar(self, problems_of: Problems, old: str, new: str, key: str,
                    expected: str) -> None:
        """A wrong type names the key, the line it is on, and what was found."""
        text = VALID_MATRIX.replace(old, new, 1)
        problem = only(problems_of(text))
        assert f"matrix.toml:{line_of(text, new)}: {key}: {expected}" in problem

    def test_value_in_inline_table(self, problems_of: Problems) -> None:
        """An env value must be a string: TensorFlow reads environment text."""
        text = VALID_MATRIX.replace('TF_ENABLE_ONEDNN_OPTS = "0"', "TF_ENABLE_ONEDNN_OPTS = 0")
        problem = only(problems_of(text))
        assert (f":{line_of(text, 'TF_ENABLE_ONEDNN_OPTS')}: "
                "variants.adam.env.TF_ENABLE_ONEDNN_OPTS: expected a string") in problem

    def test_array_item(self, problems_of: Problems) -> None:
        text = VALID_MATRIX.replace('pulls = ["tensorflow-intel"]', 'pulls = ["tensorflow-intel", 3]')
        problem = only(problems_of(text))
        assert "platforms.windows-x86_64.pulls: item 1: expected a string, got an integer" in problem

    def test_table_instead_of_array(self, problems_of: Problems) -> None:
        """``[runners]`` where ``[[runners]]`` is meant."""
        text = VALID_MATRIX.replace("[[runners]]", "[runners]", 1).split("\n[[runners]]")[0]
        text = text.split("[[excluded]]")[0]
        assert "runners: expected an array, got a table" in only(problems_of(text))

    @pytest.mark.parametrize(("old", "new", "expected"), [
        ('python = "3.9.2"', 'python = "3.9"', "expected an exact version like '3.9.2'"),
        ('numpy = "1.23.5"', 'numpy = ">=1.23"', "expected an exact version like '2.12.0'"),
        ("seed = 42", "seed = -1", "must be between 0 and 4294967295"),
        ("repeat = 2", "repeat = 0", "must be between 1 and 10"),
        ("repeat = 2", "repeat = 11", "must be between 1 and 10"),
        ("rows = 8", "rows = 0", "must be at least 1"),
        ('label = "macos-15"', 'label = "mac os"', "letters, digits"),
    ])
    def test_bad_values(self, problems_of: Problems, old: str, new: str, expected: str) -> None:
        text = VALID_MATRIX.replace(old, new, 1)
        problem = only(problems_of(text))
        assert f"matrix.toml:{line_of(text, new)}:" in problem and expected in problem

    def test_missing_required_key(self, problems_of: Problems) -> None:
        """A runner must say how it gets Python: an implicit "nearest" would hide drift."""
        text = VALID_MATRIX.replace('python = "setup-python"\n', "", 1)
        problem = only(problems_of(text))
        assert "runners[1].python: missing required key" in problem
        assert f"matrix.toml:{line_of(text, '[[runners]]', 2)}:" in problem


class TestImpossibleCombinations:
    def test_setup_python_without_exact_build(self, problems_of: Problems) -> None:
        """setup-python has no 3.9.2 on linux x86_64; uv has, so uv is suggested."""
        text = with_runner(runner_block("ubuntu-22.04", "linux", "x86_64", "setup-python"))
        problem = only(problems_of(text))
        line = line_of(text, 'python = "setup-python"', 2)
        assert f":{line}: runners[3].python:" in problem
        assert ('actions/setup-python has no Python 3.9.2 for linux-x86_64; use python = "uv"'
                in problem)

    def test_uv_on_windows(self, problems_of: Problems) -> None:
        text = with_runner(runner_block("windows-2022", "windows", "x86_64", "uv"))
        assert ('uv has no Python 3.9.2 for windows-x86_64; use python = "setup-python"'
                in only(problems_of(text)))

    @pytest.mark.parametrize("source", ["setup-python", "uv"])
    def test_linux_arm64_must_be_nearest(self, problems_of: Problems, source: str) -> None:
        """No exact 3.9.2 exists for linux arm64 at all."""
        text = with_runner(runner_block("ubuntu-24.04-arm", "linux", "arm64", source))
        assert 'for linux-arm64; use python = "nearest"' in only(problems_of(text))

    def test_setup_python_on_apple_silicon(self, problems_of: Problems) -> None:
        """macos-15 (arm64) has 3.9.2 only through uv."""
        text = VALID_MATRIX.replace('arch = "arm64"\npython = "uv"',
                                    'arch = "arm64"\npython = "setup-python"')
        assert ('has no Python 3.9.2 for macos-arm64; use python = "uv"'
                in only(problems_of(text)))

    def test_excluded_platform(self, problems_of: Problems) -> None:
        """Windows on arm64 is refused by the [[excluded]] rule and by the platform facts."""
        text = with_runner(runner_block("my-arm-box", "windows", "arm64", "nearest"))
        problems = problems_of(text)
        excluded_line = line_of(text, "[[excluded]]")
        assert any(f"windows-arm64 is excluded at line {excluded_line}: no tensorflow 2.12.0 "
                   "wheel" in p for p in problems)
        assert any("no Python 3.9 build exists for windows-arm64" in p for p in problems)
        assert any("no tensorflow 2.12.0 build exists for windows-arm64" in p for p in problems)
        assert all(": runners[3]." in p for p in problems)

    def test_missing_platform_replacement(self, problems_of: Problems) -> None:
        """Apple silicon has no tensorflow 2.12.0 wheel: the fix is named in the message (the
        defaults derive it; a platform table of one's own replaces what they derive)."""
        text = VALID_MATRIX.replace('[platforms.macos-arm64]\nreplace = { tensorflow = '
                                    '"tensorflow-macos" }\n',
                                    "[platforms.macos-arm64]\npulls = []\n")
        problem = only(problems_of(text))
        assert "runners[2].arch: no tensorflow 2.12.0 wheel exists for macos-arm64" in problem
        assert 'replace = { tensorflow = "tensorflow-macos" }' in problem

    @pytest.mark.parametrize(("label", "os_name", "arch", "message"), [
        ("ubuntu-24.04-arm", "linux", "x86_64",
         "runners[3].arch: 'ubuntu-24.04-arm' is an arm64 runner, not x86_64"),
        ("macos-15-intel", "linux", "x86_64", "runners[3].os: 'macos-15-intel' is a macos runner"),
        ("macos-13", "macos", "x86_64", "'macos-13' image is retired in 2025-12"),
        ("macos-14", "macos", "arm64", "unsupported since 2026-11-02"),
        ("ubuntu-latest", "linux", "x86_64", "name the image, e.g. 'ubuntu-24.04'"),
    ])
    def test_labels(self, problems_of: Problems, label: str, os_name: str, arch: str,
                    message: str) -> None:
        """Known hosted labels must match their os/arch; retired and moving labels are refused."""
        python = "setup-python" if os_name == "macos" and arch == "x86_64" else (
            "uv" if arch == "x86_64" or os_name == "macos" else "nearest")
        text = with_runner(runner_block(label, os_name, arch, python))
        assert any(message in p for p in problems_of(text)), problems_of(text)

    def test_runner_also_excluded(self, problems_of: Problems) -> None:
        text = VALID_MATRIX.replace('label = "windows-11-arm"', 'label = "windows-2025"')
        assert any("excluded[0].label: 'windows-2025' is both a runner and excluded" in p
                   for p in problems_of(text))

    def test_excluded_needs_both_os_and_arch(self, problems_of: Problems) -> None:
        text = VALID_MATRIX.replace('os = "windows"\narch = "arm64"\n', 'os = "windows"\n')
        assert "give both os and arch" in only(problems_of(text))

    def test_excluded_label_with_wrong_platform(self, problems_of: Problems) -> None:
        """An excluded hosted label is checked against its real os/arch too."""
        text = VALID_MATRIX.replace('label = "windows-11-arm"', 'label = "macos-15-intel"')
        problems = problems_of(text)
        assert any("excluded[0].os: 'macos-15-intel' is a macos runner, not windows" in p
                   for p in problems)
        assert any("excluded[0].arch: 'macos-15-intel' is an x86_64 runner, not arm64" in p
                   for p in problems)

    def test_duplicate_runner(self, problems_of: Problems) -> None:
        text = with_runner(runner_block("macos-15", "macos", "arm64", "uv"))
        assert "runners[3].label: runner 'macos-15' is listed twice" in only(problems_of(text))

    def test_cell_id_too_long(self, problems_of: Problems) -> None:
        """The label must leave room for the "-N" suffix of its cell ids."""
        label = "x" * 63
        text = with_runner(runner_block(label, "linux", "x86_64", "uv", "repeat = 2\n"))
        assert f"cell id '{label}-1' is too long" in only(problems_of(text))

    def test_lab_cell_id_collides_with_ci_cell(self, problems_of: Problems) -> None:
        """Both kinds of cell can be aggregated together, where ids must be unique."""
        text = VALID_MATRIX.replace('id = "lab-native"', 'id = "macos-15-1"')
        assert "lab.cells[0].id: 'macos-15-1' is also a CI cell id" in only(problems_of(text))

    def test_replace_of_unpinned_package(self, problems_of: Problems) -> None:
        text = VALID_MATRIX.replace("replace = { tensorflow =", "replace = { tensorflw =")
        problems = problems_of(text)
        assert any("platforms.macos-arm64.replace.tensorflw: replaces a package that is not "
                   "pinned. Perhaps you meant 'tensorflow'?" in p for p in problems)

    def test_variant_listed_twice(self, problems_of: Problems) -> None:
        text = VALID_MATRIX.replace('variants = ["default-optimizer", "adam"]',
                                    'variants = ["adam", "adam"]')
        assert "experiment.variants: lists a variant twice" in only(problems_of(text))


class TestReporting:
    def test_every_problem_at_once(self, problems_of: Problems) -> None:
        """Unrelated problems are all reported in one go, in file order."""
        text = (VALID_MATRIX.replace("seed = 42", 'seed = "42"')
                .replace('optimizer = "adam"', 'optimiser = "adam"')
                .replace("repeat = 2", "repeat = 20")
                .replace('[[lab.cells]]\nid = "lab-native"\n', '[[lab.cells]]\nemulate = "x"\n'))
        problems = problems_of(text)
        assert len(problems) == 4, problems
        lines = [int(p.split(":")[1]) for p in problems]
        assert lines == sorted(lines)
        joined = "\n".join(problems)
        for expected in ("experiment.seed: expected an integer", "runners[0].repeat: must be",
                         "variants.adam.optimiser: unknown key", "lab.cells[0].id: missing"):
            assert expected in joined

    def test_message_format(self, write_matrix: Callable[[str], Path]) -> None:
        """``<path>:<line>: <dotted key>: <what is wrong>``, one problem per line."""
        text = VALID_MATRIX.replace("rows = 8", "rows = -1")
        path = write_matrix(text)
        with pytest.raises(ConfigError) as caught:
            load_matrix(path)
        line = line_of(text, "rows = -1")
        assert caught.value.problems == [f"{path}:{line}: lab.rows: must be at least 1"]
        assert str(caught.value) == caught.value.problems[0]


class TestValuesThatWouldCrashLater:
    """Issue 9, point 3: values the OS or TensorFlow refuses are refused at load time, with the
    file and line, instead of ending a run with a traceback after its slow start."""

    @pytest.mark.parametrize(("env", "expected"), [
        ('{ "A=B" = "1" }', "environment variable name 'A=B' contains '='"),
        ('{ "" = "1" }', "an environment variable name cannot be empty"),
        ('{ TF_X = "a\\u0000b" }', "environment variable 'TF_X' contains a NUL character"),
    ])
    def test_variant_env(self, problems_of: Problems, env: str, expected: str) -> None:
        new = f"env = {env}"
        text = VALID_MATRIX.replace('env = { TF_ENABLE_ONEDNN_OPTS = "0" }', new, 1)
        problem = only(problems_of(text))
        assert f"matrix.toml:{line_of(text, new)}: variants.adam.env: {expected}" in problem

    def test_lab_env(self, problems_of: Problems) -> None:
        text = VALID_MATRIX.replace("rows = 8", 'rows = 8\nenv = { "X=Y" = "1" }', 1)
        assert "lab.env: environment variable name 'X=Y' contains '='" in only(problems_of(text))

    @pytest.mark.parametrize("count", ["99999999999999", "1025", "-1"])
    def test_thread_counts(self, problems_of: Problems, count: str) -> None:
        new = f"threads = {{ intra_op = {count} }}"
        text = VALID_MATRIX.replace('optimizer = "adam"', f'optimizer = "adam"\n{new}', 1)
        problem = only(problems_of(text))
        assert f":{line_of(text, new)}: variants.adam.threads.intra_op: must be between 0" in problem

    def test_largest_thread_count_loads(self, load_text: Callable[[str], Matrix]) -> None:
        text = VALID_MATRIX.replace('optimizer = "adam"',
                                    'optimizer = "adam"\nthreads = { intra_op = 1024 }', 1)
        assert load_text(text).variants["adam"].threads == {"intra_op": 1024, "inter_op": 0}

    @pytest.mark.parametrize("target", ['"-1"', "-1"])
    def test_negative_target_even_as_a_string(self, problems_of: Problems, target: str) -> None:
        text = VALID_MATRIX.replace('target = "target"', f"target = {target}", 1)
        assert "experiment.target: a column index starts at 0" in only(problems_of(text))


class TestNamesAreFullMatches:
    """Issue 9, point 7: "$" also matches before a final newline; every name check is a full
    match, so "adam\\n" is not a variant name and "ubuntu-24.04\\n" not a label."""

    @pytest.mark.parametrize(("old", "new", "expected"), [
        ("[variants.adam]", '[variants."adam\\n"]', "a variant name may use"),
        ('label = "macos-15"', 'label = "macos-15\\n"', "a label may use"),
        ('id = "lab-native"', 'id = "lab-native\\n"', "an id may use"),
        ('python = "3.9.2"', 'python = "3.9.2\\n"', "expected an exact version"),
        ('numpy = "1.23.5"', '"numpy\\n" = "1.23.5"', "not a valid distribution name"),
        ('numpy = "1.23.5"', 'numpy = "1.23.5\\n"', "expected an exact version"),
    ])
    def test_trailing_newline(self, problems_of: Problems, old: str, new: str,
                              expected: str) -> None:
        text = VALID_MATRIX.replace(old, new, 1)
        if old == "[variants.adam]":  # the lists name it too
            text = text.replace('"adam"]', '"adam\\n"]')
        assert any(expected in problem for problem in problems_of(text))


class TestManyProblems:
    """Issue 9, point 6: collecting is linear (benchmarks/bench_matrix_problems.py measures it)
    and the report is capped: the first problems in file order, then a count of the rest."""

    def test_report_is_capped_with_a_count(self, write_matrix: Callable[[str], Path]) -> None:
        from repromatrix.config.checks import MAX_REPORTED

        blocks = "".join(f'\n[variants.v{i}]\noptimiser = "adam"\n' for i in range(100))
        path = write_matrix(VALID_MATRIX.replace("\n[[runners]]", blocks + "\n[[runners]]", 1))
        with pytest.raises(ConfigError) as caught:
            load_matrix(path)
        problems = caught.value.problems
        assert len(problems) == MAX_REPORTED + 1
        assert problems[-1] == f"{path}: ... and {100 - MAX_REPORTED} more problems (fix these first)"
        lines = [int(p.split(":")[1]) for p in problems[:-1]]
        assert lines == sorted(lines) and "variants.v0.optimiser: unknown key. Perhaps you meant " \
            "'optimizer'?" in problems[0]

    def test_runner_on_an_excluded_platform_is_reported_once(self, problems_of: Problems) -> None:
        """Two rules excluding the same platform: the runner gets the first one's reason."""
        rule = '\n[[excluded]]\nlabel = "other"\nos = "windows"\narch = "arm64"\nreason = "r2"\n'
        text = with_runner(runner_block("my-arm", "windows", "arm64", "nearest")) + rule
        excluded = [p for p in problems_of(text) if "is excluded at line" in p]
        assert len(excluded) == 1 and "no tensorflow 2.12.0 wheel" in excluded[0]


@pytest.mark.parametrize("text", ["", "[experiment]\n[variants]\n"])
def test_empty_matrix_names_only_what_is_missing(problems_of: Problems, text: str) -> None:
    """Issue 9, point 9: no "expected a non-empty array, got an array ([])" for a list of
    variants the user never wrote; a missing or empty [variants] is reported once, there."""
    problems = problems_of(text)
    assert not any("experiment.variants" in p or "lab.variants" in p for p in problems), problems
    if "[variants]" in text:
        assert any("variants: at least one variant is needed" in p for p in problems)
