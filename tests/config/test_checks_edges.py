"""config/checks.py at its edges: the exact problem lines a user reads when matrix.toml is wrong.

Each test pins one user-visible detail of the problem list (the report's cap of MAX_REPORTED
problems and the count of the rest, its order, the 40-character cut of a value shown back, the
line found for a key under a quoted table name, the fallback to line 1, a type with no friendly
name), mostly through the real loader on a matrix written to tmp_path, so that a changed bound
or word in checks.py fails here (found as mutmut survivors:
`nox -s mutants -- 'repromatrix.config.checks.*'`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_samples import VALID_MATRIX as VALID  # small, valid, every section present
from ci_samples import changed, line_of, load, problems_of

from repromatrix.config.checks import MAX_REPORTED, Problems, env_problem
from repromatrix.errors import ConfigError


def test_the_sample_loads(tmp_path: Path) -> None:
    assert load(tmp_path, VALID).variants["adam"].env == {"TF_ENABLE_ONEDNN_OPTS": "0"}


class TestReportCap:
    """The first MAX_REPORTED problems in file order, then "... and N more problem(s)"."""

    @staticmethod
    def with_bad_variants(count: int) -> str:
        blocks = "".join(f'\n[variants.v{i}]\noptimiser = "adam"\n' for i in range(count))
        return changed("\n[[runners]]", blocks + "\n[[runners]]")

    def test_exactly_the_cap_has_no_tail(self, tmp_path: Path) -> None:
        # 30 problems: all shown, no "... and 0 more problem" line
        problems = problems_of(tmp_path, self.with_bad_variants(MAX_REPORTED))
        assert MAX_REPORTED == 30
        assert len(problems) == 30
        assert all(": unknown key. Perhaps you meant 'optimizer'?" in p for p in problems)

    def test_one_over_the_cap_is_singular(self, tmp_path: Path) -> None:
        problems = problems_of(tmp_path, self.with_bad_variants(MAX_REPORTED + 1))
        assert len(problems) == 31
        assert problems[-1] == " ... and 1 more problem (fix these first)"
        assert "variants.v29.optimiser: unknown key." in problems[-2]

    def test_two_over_the_cap_is_plural(self, tmp_path: Path) -> None:
        problems = problems_of(tmp_path, self.with_bad_variants(MAX_REPORTED + 2))
        assert len(problems) == 31
        assert problems[-1] == " ... and 2 more problems (fix these first)"


def test_identical_problems_on_one_line_are_both_reported(tmp_path: Path) -> None:
    """Sorting is by (line, message) only: two equal messages carrying suggestion callbacks
    must not be compared by their callbacks (which would raise TypeError)."""
    text = changed('variants = ["adam"]', 'variants = ["nope", "nope"]')
    line = line_of(text, '"nope"')
    assert problems_of(tmp_path, text) == [
        f"{line}: lab.variants: lists a variant twice",
        f"{line}: lab.variants: no variant named 'nope' in [variants].",
        f"{line}: lab.variants: no variant named 'nope' in [variants].",
    ]


class TestDescribe:
    """A value is shown back with its repr cut to 40 characters: 37 and "..."."""

    def test_repr_of_exactly_40_characters_is_whole(self, tmp_path: Path) -> None:
        value = "x" * 38  # repr adds two quotes: 40 characters
        text = changed("seed = 42", f'seed = "{value}"')
        assert problems_of(tmp_path, text) == [
            f"2: experiment.seed: expected an integer, got a string ('{value}')"]

    def test_repr_of_41_characters_is_cut(self, tmp_path: Path) -> None:
        text = changed("seed = 42", f'seed = "{"x" * 39}"')
        shown = "'" + "x" * 36 + "..."  # the first 37 characters of the repr
        assert problems_of(tmp_path, text) == [
            f"2: experiment.seed: expected an integer, got a string ({shown})"]

    def test_a_type_without_a_friendly_name(self, tmp_path: Path) -> None:
        """TOML dates have no entry in the kind names: the Python type name is shown."""
        text = changed("seed = 42", "seed = 2024-01-01")
        assert problems_of(tmp_path, text) == [
            "2: experiment.seed: expected an integer, got date "
            "(datetime.date(2024, 1, 1))"]

    def test_non_string_in_a_string_table(self, tmp_path: Path) -> None:
        text = changed('TF_ENABLE_ONEDNN_OPTS = "0"', "TF_ENABLE_ONEDNN_OPTS = 5")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'TF_ENABLE')}: variants.adam.env.TF_ENABLE_ONEDNN_OPTS: "
            "expected a string, got an integer (5)"]


class TestLineNumbers:
    def test_key_under_a_single_quoted_table_name(self, tmp_path: Path) -> None:
        """``[variants.'adam']`` is the table ``variants.adam``: its keys keep their own line."""
        text = changed("[variants.adam]\noptimizer", "[variants.'adam']\noptimiser")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'optimiser')}: variants.adam.optimiser: unknown key. "
            "Perhaps you meant 'optimizer'?"]

    def test_key_before_any_table(self, tmp_path: Path) -> None:
        """A top-level key above the first header is located on its own line."""
        assert problems_of(tmp_path, "seeds = 1\n" + VALID) == [
            "1: seeds: unknown key. Valid keys: experiment, pins, platforms, variants, "
            "runners, excluded, lab."]
        text = "# the experiment\n\nlabs = 1\n" + VALID
        assert problems_of(tmp_path, text) == [
            "3: labs: unknown key. Perhaps you meant 'lab'?"]

    def test_a_key_found_nowhere_is_on_line_1(self, tmp_path: Path) -> None:
        """pins.python left out under a bare [pins.packages]: nothing in the file names pins or
        pins.python, so line 1 (not 0, not 2)."""
        text = "\n\n" + changed('[pins]\npython = "3.9.2"\n\n[pins.packages]', "[pins.packages]")
        assert problems_of(tmp_path, text) == ["1: pins.python: missing required key"]


class TestProblemsApi:
    """Problems is generic: an empty key path is the whole file."""

    def test_top_level_problem(self) -> None:
        problems = Problems(Path("conf.toml"), "\n\nx = 1\n")
        problems.add((), "the file is empty")
        with pytest.raises(ConfigError) as caught:
            problems.raise_if_any()
        assert caught.value.problems == ["conf.toml:1: (top level): the file is empty"]

    def test_no_problems_no_error(self) -> None:
        Problems(Path("conf.toml"), "").raise_if_any()


class TestEnvironment:
    def test_nul_in_the_name_only(self, tmp_path: Path) -> None:
        """The OS refuses a NUL in a name as much as in a value."""
        new = 'env = { "A\\u0000B" = "1" }'
        text = changed('env = { TF_ENABLE_ONEDNN_OPTS = "0" }', new)
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, new)}: variants.adam.env: "
            "environment variable 'A\\x00B' contains a NUL character"]

    @pytest.mark.parametrize(("name", "value", "expected"), [
        ("A\x00B", "1", "environment variable 'A\\x00B' contains a NUL character"),
        ("A", "x\x00", "environment variable 'A' contains a NUL character"),
        ("A=B", "1", "environment variable name 'A=B' contains '='"),
        ("", "1", "an environment variable name cannot be empty"),
        ("A", "", None),
    ])
    def test_env_problem(self, name: str, value: str, expected: str | None) -> None:
        assert env_problem(name, value) == expected
