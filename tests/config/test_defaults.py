"""The defaults layer: package defaults, then the user's matrix.toml (docs/matrix.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from repromatrix.ci import plan
from repromatrix.config.defaults import derived_platforms, load_defaults
from repromatrix.config.matrix import Matrix, load_matrix

PINS = """
[pins]
python = "3.9.2"

[pins.packages]
tensorflow = "{tensorflow}"
numpy = "1.23.5"
"""
ONLY_EXPERIMENT_AND_PINS = "[experiment]\nseed = 42\n" + PINS.format(tensorflow="2.12.0")
FULL = Path(__file__).parent / "data" / "full-matrix.toml"
ENTRY = '[experiment]\nentry = "pkg.exp:build"\n' + PINS.format(tensorflow="2.12.0")


class TestMinimalMatrix:
    def test_plans_the_default_runners(self, load_text: Callable[[str], Matrix]) -> None:
        """Only [experiment] and [pins]: the full default matrix, as this repository plans it."""
        matrix = load_text(ONLY_EXPERIMENT_AND_PINS)
        cells = [entry["cell"] for entry in plan.build_plan(matrix)["include"]]
        assert cells == ["macos-15-1", "macos-15-intel-1", "ubuntu-24.04-1", "ubuntu-24.04-2",
                         "ubuntu-24.04-arm-1", "windows-2025-1", "windows-2025-2"]
        assert [rule.label for rule in matrix.excluded] == ["windows-11-arm"]
        assert matrix.experiment.variants == ("default-optimizer", "adam")
        assert set(matrix.variants) >= {"default-optimizer", "adam", "legacy-rmsprop"}
        assert matrix.lab is not None and matrix.lab.variants == ("default-optimizer", "adam")
        assert [cell.id for cell in matrix.lab.cells] == ["lab-native", "lab-native-onednn", "lab-qemu-host", "lab-qemu-other"]

    def test_platform_mapping_follows_the_pins(self, load_text: Callable[[str], Matrix]) -> None:
        """TensorFlow 2.12: tensorflow-macos on macOS arm64, the pulled builds recorded."""
        pins = load_text(ONLY_EXPERIMENT_AND_PINS).pins
        assert pins.requirements("macos-arm64") == ["tensorflow-macos==2.12.0", "numpy==1.23.5"]
        assert pins.watched_packages("windows-x86_64") == ["tensorflow", "numpy",
                                                           "tensorflow-intel"]
        assert pins.watched_packages("linux-arm64") == ["tensorflow", "numpy",
                                                        "tensorflow-cpu-aws"]
        assert pins.requirements("linux-x86_64") == ["tensorflow==2.12.0", "numpy==1.23.5"]

    def test_entry_gets_one_plain_variant(self, load_text: Callable[[str], Matrix]) -> None:
        """A user experiment compiles its own model: one default variant, no optimizer."""
        matrix = load_text(ENTRY)
        assert list(matrix.variants) == ["default"]
        assert matrix.variants["default"].optimizer == "default"
        assert matrix.experiment.variants == ("default",)
        assert matrix.lab is not None and matrix.lab.variants == ("default",)

    def test_same_as_the_full_file(self, tmp_path: Path) -> None:
        """The minimal file loads to the same matrix as the full one this repository wrote out
        before the defaults existed (tests/config/data/full-matrix.toml)."""
        minimal = tmp_path / "matrix.toml"
        minimal.write_text(FULL.read_text(encoding="utf-8").split("# Where a real install")[0],
                           encoding="utf-8")
        assert "[[runners]]" not in minimal.read_text(encoding="utf-8")
        loaded, full = load_matrix(minimal), load_matrix(FULL)
        assert (loaded.experiment, loaded.pins, loaded.variants, loaded.runners, loaded.excluded,
                loaded.lab) == (full.experiment, full.pins, full.variants, full.runners,
                                full.excluded, full.lab)


class TestUserTablesReplaceDefaults:
    def test_own_runners_replace_the_set(self, load_text: Callable[[str], Matrix]) -> None:
        matrix = load_text(ONLY_EXPERIMENT_AND_PINS + """
[[runners]]
label = "ubuntu-22.04"
os = "linux"
arch = "x86_64"
python = "uv"
""")
        assert [r.label for r in matrix.runners] == ["ubuntu-22.04"]
        assert matrix.excluded == ()  # the default exclusions belong to the default set

    def test_own_platform_table_wins(self, load_text: Callable[[str], Matrix]) -> None:
        matrix = load_text(ONLY_EXPERIMENT_AND_PINS + """
[platforms.windows-x86_64]
pulls = []
""")
        assert matrix.pins.watched_packages("windows-x86_64") == ["tensorflow", "numpy"]
        assert "tensorflow-cpu-aws" in matrix.pins.watched_packages("linux-arm64")

    def test_lab_merges_key_by_key(self, load_text: Callable[[str], Matrix]) -> None:
        matrix = load_text(ONLY_EXPERIMENT_AND_PINS + "\n[lab]\nrows = 8\n")
        assert matrix.lab is not None and matrix.lab.rows == 8
        assert [cell.id for cell in matrix.lab.cells] == ["lab-native", "lab-native-onednn", "lab-qemu-host", "lab-qemu-other"]

    def test_own_variants_replace_the_set(self, load_text: Callable[[str], Matrix]) -> None:
        matrix = load_text(ONLY_EXPERIMENT_AND_PINS + '\n[variants.mine]\noptimizer = "sgd"\n')
        assert list(matrix.variants) == ["mine"] and matrix.experiment.variants == ("mine",)


class TestValidationKeepsItsGuarantees:
    def test_typo_gets_line_and_suggestion(self, problems_of: Callable[[str], list[str]]
                                           ) -> None:
        """A typo in a minimal file: its line in the user's file, and the closest key."""
        text = ONLY_EXPERIMENT_AND_PINS.replace("seed = 42", "seed = 42\nvarients = [\"adam\"]")
        problems = problems_of(text)
        assert len(problems) == 1
        assert problems[0].endswith("matrix.toml:3: experiment.varients: unknown key. "
                                    "Perhaps you meant 'variants'?")

    def test_all_problems_at_once(self, problems_of: Callable[[str], list[str]]) -> None:
        text = ONLY_EXPERIMENT_AND_PINS.replace("seed = 42", "sed = 42").replace(
            'python = "3.9.2"', 'python = "3.9"')
        problems = problems_of(text)
        assert len(problems) == 2
        assert ":2: experiment.sed: unknown key. Perhaps you meant 'seed'?" in problems[0]
        assert ":5: pins.python: expected an exact version" in problems[1]


class TestDerivedPlatforms:
    @pytest.mark.parametrize(("version", "expected"), [
        ("2.12.0", {"linux-arm64": {"pulls": ["tensorflow-cpu-aws"]},
                    "macos-arm64": {"replace": {"tensorflow": "tensorflow-macos"}},
                    "windows-x86_64": {"pulls": ["tensorflow-intel"]}}),
        ("2.13.0", {"linux-arm64": {"pulls": ["tensorflow-cpu-aws"]},
                    "macos-arm64": {"pulls": ["tensorflow-macos"]},
                    "windows-x86_64": {"pulls": ["tensorflow-intel"]}}),
        ("2.15.1", {"linux-arm64": {"pulls": ["tensorflow-cpu-aws"]},
                    "macos-arm64": {"pulls": ["tensorflow-macos"]},
                    "windows-x86_64": {"pulls": ["tensorflow-intel"]}}),
        ("2.10.0", {"linux-arm64": {"pulls": ["tensorflow-cpu-aws"]},
                    "macos-arm64": {"replace": {"tensorflow": "tensorflow-macos"}}}),
        ("2.16.1", {"windows-x86_64": {"pulls": ["tensorflow-intel"]}}),
        ("2.19.0", {}),
        ("2.9.0", {"macos-arm64": {"replace": {"tensorflow": "tensorflow-macos"}}}),
    ])
    def test_by_version(self, version: str, expected: dict[str, object]) -> None:
        """Each fact holds over the versions PyPI publishes the named build for."""
        assert derived_platforms({"tensorflow": version}, load_defaults()["facts"]) == expected

    def test_unpinned_package_derives_nothing(self) -> None:
        assert derived_platforms({"torch": "2.1.0"}, load_defaults()["facts"]) == {}


def test_defaults_ship_in_the_package() -> None:
    """The defaults file sits inside the package (so the wheel carries it)."""
    import repromatrix
    from repromatrix.config import defaults

    assert Path(repromatrix.__file__).parent in defaults.DEFAULTS_PATH.parents
    assert load_matrix  # the loader imports the layer
