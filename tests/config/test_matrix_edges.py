"""config/matrix.py at its edges: which matrix files are refused, and the exact line a user reads.

Each test breaks one thing in a small valid matrix written to tmp_path, loads it with the real
loader and asserts the whole problem list (file, line, dotted key, message), so that a mutant which
accepts a bad matrix, refuses a good one, or changes a key or a word of a message fails here
(found as mutmut survivors: `nox -s mutants -- 'repromatrix.config.matrix.*'`). The last tests
read the loaded Matrix itself: the runner, the cells and the per-platform package lists.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_samples import VALID_MATRIX as VALID  # small, valid, every section present
from ci_samples import changed, line_of, load, problems_of, write

from repromatrix.config.matrix import Platform, keras_generation, load_matrix
from repromatrix.errors import ConfigError

ARM64 = 'arch = "arm64"'
ADAM = 'optimizer = "adam"'


def runner_block(label: str, os_name: str, arch: str, python: str) -> str:
    return (f'\n[[runners]]\nlabel = "{label}"\nos = "{os_name}"\narch = "{arch}"\n'
            f'python = "{python}"\n')


def with_runner(block: str) -> str:
    """VALID with a fourth runner (runners[3]) before [[excluded]]."""
    return changed("\n[[excluded]]", block + "\n[[excluded]]")


def test_prefix_is_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, changed("rows = 8", "rows = 0"))
    with pytest.raises(ConfigError) as caught:
        load_matrix(path)
    assert caught.value.problems == [
        f"{path}:{line_of(VALID, 'rows = 8')}: lab.rows: must be at least 1"]


class TestVariants:
    def test_a_variant_that_is_not_a_table(self, tmp_path: Path) -> None:
        """Reported at its line; the variants after it are still loaded (no more problems)."""
        text = changed("[variants.default-optimizer]",
                       "[variants]\nbad = 3\n\n[variants.default-optimizer]")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'bad = 3')}: variants.bad: expected a table, got an integer (3)"]

    def test_variant_name(self, tmp_path: Path) -> None:
        text = changed("[variants.adam]", '[variants."x y"]\n\n[variants.adam]')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'x y')}: variants.x y: a variant name may use letters, digits, "
            "'.', '_' and '-' only"]

    def test_unknown_optimizer(self, tmp_path: Path) -> None:
        text = changed('optimizer = "adam"', 'optimizer = "adma"')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'adma')}: variants.adam.optimizer: unknown optimizer 'adma'; one of "
            "default, adam, rmsprop, legacy-rmsprop, sgd. Perhaps you meant 'adam'?"]

    def test_backend_of_the_wrong_type(self, tmp_path: Path) -> None:
        text = changed('optimizer = "adam"', 'optimizer = "adam"\nbackend = 3')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'backend')}: variants.adam.backend: expected a string, got an "
            "integer (3)"]

    def test_unknown_backend(self, tmp_path: Path) -> None:
        text = changed('optimizer = "adam"', 'optimizer = "adam"\nbackend = "jaxx"')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'backend')}: variants.adam.backend: 'jaxx' is not one of "
            "tensorflow, jax, torch. Perhaps you meant 'jax'?"]

    def test_threads_not_a_table(self, tmp_path: Path) -> None:
        text = changed('optimizer = "adam"', 'optimizer = "adam"\nthreads = 4')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'threads')}: variants.adam.threads: expected a table, got an "
            "integer (4)"]

    def test_thread_count_of_the_wrong_type(self, tmp_path: Path) -> None:
        text = changed('optimizer = "adam"', 'optimizer = "adam"\nthreads = { inter_op = "2" }')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'threads')}: variants.adam.threads.inter_op: expected an integer, "
            "got a string ('2')"]


class TestPlatforms:
    def test_a_platform_that_is_not_a_table(self, tmp_path: Path) -> None:
        text = changed("[platforms.macos-arm64]",
                       "[platforms]\nlinux-x86_64 = 3\n\n[platforms.macos-arm64]")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'linux-x86_64 = 3')}: platforms.linux-x86_64: expected a table, got "
            "an integer (3)"]

    @pytest.mark.parametrize("key", ["linux-x86_64-v2", "linux-x86-64", "linux_x86_64"])
    def test_platform_name(self, tmp_path: Path, key: str) -> None:
        """Exactly one "-" between a known os and a known arch: "linux-x86_64-v2" has both
        parts right and is still refused."""
        text = changed("[platforms.windows-x86_64]", f"[platforms.{key}]\npulls = []\n\n"
                       "[platforms.windows-x86_64]")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, key)}: platforms.{key}: expected '<os>-<arch>', one of linux-x86_64, "
            "linux-arm64, macos-x86_64, macos-arm64, windows-x86_64, windows-arm64. "
            "Perhaps you meant 'linux-x86_64'?"]

    def test_unknown_key(self, tmp_path: Path) -> None:
        text = changed('pulls = ["tensorflow-intel"]', 'pull = ["tensorflow-intel"]')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'pull =')}: platforms.windows-x86_64.pull: unknown key. "
            "Perhaps you meant 'pulls'?"]

    def test_replace_not_a_table(self, tmp_path: Path) -> None:
        text = changed('replace = { tensorflow = "tensorflow-macos" }',
                       'replace = "tensorflow-macos"\npulls = []')
        # (no replacement: the runner on macos-arm64 is told how to write one)
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'replace')}: platforms.macos-arm64.replace: expected a table, got a "
            "string ('tensorflow-macos')",
            f"{line_of(text, ARM64)}: runners[2].arch: no tensorflow 2.12.0 wheel "
            "exists for macos-arm64; add [platforms.macos-arm64] "
            'replace = { tensorflow = "tensorflow-macos" }']

    def test_replace_with_a_non_string(self, tmp_path: Path) -> None:
        text = changed('replace = { tensorflow = "tensorflow-macos" }',
                       'replace = { numpy = 1, tensorflow = "tensorflow-macos" }')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'replace')}: platforms.macos-arm64.replace.numpy: expected a string, "
            "got an integer (1)"]

    def test_names_that_are_not_distribution_names(self, tmp_path: Path) -> None:
        # each becomes a `name==version` line for pip: "a==b" would be accepted here and fail
        # on the runner, and it would split differently when the drift check reads it back
        text = changed('replace = { tensorflow = "tensorflow-macos" }',
                       'replace = { tensorflow = "a==b" }')
        text = changed('pulls = ["tensorflow-intel"]', 'pulls = ["tensorflow-intel", "x y"]', text)
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'replace')}: platforms.macos-arm64.replace.tensorflow: 'a==b' is "
            "not a valid distribution name",
            f"{line_of(text, 'pulls')}: platforms.windows-x86_64.pulls: item 1: 'x y' is not a "
            "valid distribution name"]

    def test_pulls_not_an_array(self, tmp_path: Path) -> None:
        text = changed('pulls = ["tensorflow-intel"]', 'pulls = "tensorflow-intel"')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'pulls')}: platforms.windows-x86_64.pulls: expected an array, got a "
            "string ('tensorflow-intel')"]

    def test_loaded_platforms(self, tmp_path: Path) -> None:
        pins = load(tmp_path, VALID).pins
        assert pins.platforms["macos-arm64"] == Platform(
            key="macos-arm64", replace={"tensorflow": "tensorflow-macos"}, pulls=())
        assert pins.platforms["windows-x86_64"] == Platform(
            key="windows-x86_64", replace={}, pulls=("tensorflow-intel",))
        # the replaced name is the one installed and watched there
        assert pins.watched_packages("macos-arm64") == ["tensorflow-macos", "numpy"]


class TestRunnerFacts:
    def test_retired_label(self, tmp_path: Path) -> None:
        text = with_runner(runner_block("macos-13", "macos", "x86_64", "setup-python"))
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'macos-13')}: runners[3].label: GitHub's 'macos-13' image is "
            "retired in 2025-12"]

    def test_moving_label(self, tmp_path: Path) -> None:
        text = with_runner(runner_block("ubuntu-latest", "linux", "x86_64", "uv"))
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'ubuntu-latest')}: runners[3].label: 'ubuntu-latest' moves to a new "
            "image without notice, so a result could not be tied to one; name the image, e.g. "
            "'ubuntu-24.04'"]

    def test_platform_with_nothing_to_run(self, tmp_path: Path) -> None:
        """windows-arm64: excluded, no Python 3.9 and no tensorflow at all, each at its key."""
        text = with_runner(runner_block("my-arm-box", "windows", "arm64", "nearest"))
        arch = line_of(text, ARM64, 2)
        assert problems_of(tmp_path, text) == [
            f"{arch}: runners[3].arch: no tensorflow 2.12.0 build exists for windows-arm64: this "
            "runner cannot run the pinned stack",
            f"{arch}: runners[3].arch: windows-arm64 is excluded at line "
            f"{line_of(text, '[[excluded]]')}: no tensorflow 2.12.0 wheel",
            f"{arch + 1}: runners[3].python: no Python 3.9 build exists for windows-arm64: this "
            "runner cannot run the pinned stack"]

    def test_wheel_gap_after_a_package_without_one(self, tmp_path: Path) -> None:
        """Every pinned package is checked, not only those before the first without a gap."""
        text = changed('tensorflow = "2.12.0"\nnumpy = "1.23.5"',
                       'numpy = "1.23.5"\ntensorflow = "2.12.0"')
        text = changed('replace = { tensorflow = "tensorflow-macos" }', "pulls = []", text)
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, ARM64)}: runners[2].arch: no tensorflow 2.12.0 wheel "
            "exists for macos-arm64; add [platforms.macos-arm64] "
            'replace = { tensorflow = "tensorflow-macos" }']


class TestUnreadable:
    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError) as caught:
            load_matrix(tmp_path / "nope.toml")
        assert caught.value.problems == [
            f"{tmp_path / 'nope.toml'}: no such file (use --matrix PATH)"]

    def test_toml_error_at_the_end_of_the_document(self, tmp_path: Path) -> None:
        """tomllib gives no line for an error at the end: the path alone leads the message."""
        path = write(tmp_path, "[experiment]\nseed =")
        with pytest.raises(ConfigError) as caught:
            load_matrix(path)
        assert caught.value.problems == [
            f"{path}: not valid TOML: Invalid value (at end of document)"]


class TestLoadedMatrix:
    def test_runner_lookup(self, tmp_path: Path) -> None:
        matrix = load(tmp_path, VALID)
        assert matrix.runner("macos-15").platform == "macos-arm64"
        assert matrix.runner("macos-16") is None


EXPERIMENT = '[experiment]\nseed = 42\ndata = "builtin"\ntarget = "target"\n'
PINS = '[pins]\npython = "3.9.2"\n\n[pins.packages]\ntensorflow = "2.12.0"\nnumpy = "1.23.5"\n'
PACKAGES = '\n[pins.packages]\ntensorflow = "2.12.0"\nnumpy = "1.23.5"\n'


class TestExperiment:
    def test_missing_experiment_table(self, tmp_path: Path) -> None:
        text = changed(EXPERIMENT + 'variants = ["default-optimizer", "adam"]\n\n', "")
        assert problems_of(tmp_path, text) == ["1: experiment: missing required key"]

    def test_defaults_of_data_and_target(self, tmp_path: Path) -> None:
        """Left out, the seed is 42, data the built-in set and the target column "target"."""
        text = changed('seed = 42\ndata = "builtin"\ntarget = "target"\n', "")
        matrix = load(tmp_path, text)
        assert (matrix.experiment.seed, matrix.experiment.data, matrix.experiment.target) == (
            42, "builtin", "target")
        assert matrix.data_path() == "builtin"

    @pytest.mark.parametrize(("data", "message"), [
        ("3", "expected a string, got an integer (3)"),
        ('""', 'expected "builtin" or a CSV path'),
        ('"none"', 'the built-in experiment needs data: "builtin" or a CSV'),
    ])
    def test_bad_data(self, tmp_path: Path, data: str, message: str) -> None:
        text = changed('data = "builtin"', f"data = {data}")
        assert problems_of(tmp_path, text) == [f"3: experiment.data: {message}"]

    def test_entry_of_the_wrong_type(self, tmp_path: Path) -> None:
        text = changed('data = "builtin"', 'data = "builtin"\nentry = 3')
        assert problems_of(tmp_path, text) == [
            "4: experiment.entry: expected a string, got an integer (3)"]

    def test_optimizer_with_an_entry(self, tmp_path: Path) -> None:
        """The user's function compiles the model: a variant's optimizer would be ignored."""
        text = changed('data = "builtin"', 'data = "builtin"\nentry = "exp.train:run"')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, ADAM)}: variants.adam.optimizer: 'adam' applies "
            "to the built-in experiment only; with experiment.entry the function compiles the "
            "model (it receives the variant: branch on its name); remove the key or set "
            '"default"']


class TestPins:
    def test_missing_pins_table(self, tmp_path: Path) -> None:
        text = changed(PINS, "")
        assert problems_of(tmp_path, text) == [
            "1: pins.packages: missing required key",
            "1: pins.python: missing required key",
            "1: pins: missing required key",
            f"{line_of(text, 'replace =')}: platforms.macos-arm64.replace.tensorflow: replaces "
            "a package that is not pinned."]

    def test_missing_python(self, tmp_path: Path) -> None:
        text = changed('python = "3.9.2"\n', "")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, '[pins]')}: pins.python: missing required key"]

    def test_missing_packages(self, tmp_path: Path) -> None:
        text = changed(PACKAGES, "")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, '[pins]')}: pins.packages: missing required key",
            f"{line_of(text, 'replace =')}: platforms.macos-arm64.replace.tensorflow: replaces "
            "a package that is not pinned."]

    def test_packages_not_a_table(self, tmp_path: Path) -> None:
        text = changed(PACKAGES, "packages = 3\n")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'packages = 3')}: pins.packages: expected a table, got an "
            "integer (3)",
            f"{line_of(text, 'replace =')}: platforms.macos-arm64.replace.tensorflow: replaces "
            "a package that is not pinned."]

    def test_unknown_key(self, tmp_path: Path) -> None:
        text = changed('python = "3.9.2"', 'python = "3.9.2"\npyhton = "3.9.2"')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'pyhton')}: pins.pyhton: unknown key. Perhaps you meant 'python'?"]

    def test_version_of_the_wrong_type(self, tmp_path: Path) -> None:
        text = changed('numpy = "1.23.5"', "numpy = 1")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'numpy = 1')}: pins.packages.numpy: expected a string, got an "
            "integer (1)"]

    def test_platforms_not_a_table(self, tmp_path: Path) -> None:
        platforms = VALID[VALID.index("[platforms."):VALID.index("[variants.")]
        text = "platforms = 3\n" + changed(platforms, "")
        assert problems_of(tmp_path, text) == [
            "1: platforms: expected a table, got an integer (3)",
            f"{line_of(text, ARM64)}: runners[2].arch: no tensorflow 2.12.0 wheel exists for "
            "macos-arm64; add [platforms.macos-arm64] "
            'replace = { tensorflow = "tensorflow-macos" }']


class TestRunners:
    def test_an_entry_that_is_not_a_table(self, tmp_path: Path) -> None:
        """Reported, and the entries after it are still checked."""
        runners = VALID[VALID.index("[[runners]]"):VALID.index("[[excluded]]")]
        text = ('runners = [3, { label = "ubuntu-24.04", os = "linux", arch = "x86_64", '
                'python = "uv", repeat = 0 }]\n' + changed(runners, ""))
        assert problems_of(tmp_path, text) == [
            "1: runners[0]: expected a table, got an integer (3)",
            "1: runners[1].repeat: must be between 1 and 10"]

    def test_missing_label(self, tmp_path: Path) -> None:
        text = changed('label = "ubuntu-24.04"\n', "")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, '[[runners]]')}: runners[0].label: missing required key"]


class TestVariantFields:
    def test_every_field_is_loaded(self, tmp_path: Path) -> None:
        text = changed(ADAM, ADAM + '\nop_determinism = true\ndescription = "Adam, oneDNN off"')
        adam = load(tmp_path, text).variants["adam"]
        assert (adam.optimizer, adam.op_determinism, adam.description) == (
            "adam", True, "Adam, oneDNN off")

    def test_defaults(self, tmp_path: Path) -> None:
        plain = load(tmp_path, changed("seed = 42\n", "")).variants["default-optimizer"]
        assert (plain.optimizer, plain.op_determinism, plain.description, plain.backend,
                plain.threads, dict(plain.env)) == ("default", False, "", None, None, {})

    def test_fields_of_the_wrong_type(self, tmp_path: Path) -> None:
        text = changed(ADAM, ADAM + "\nop_determinism = 1\ndescription = 2")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'op_determinism')}: variants.adam.op_determinism: expected a "
            "boolean, got an integer (1)",
            f"{line_of(text, 'description')}: variants.adam.description: expected a string, "
            "got an integer (2)"]

    def test_env_not_a_table(self, tmp_path: Path) -> None:
        text = changed('env = { TF_ENABLE_ONEDNN_OPTS = "0" }', 'env = "TF_ENABLE_ONEDNN_OPTS=0"')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'env =')}: variants.adam.env: expected a table, got a string "
            "('TF_ENABLE_ONEDNN_OPTS=0')"]


class TestVariantLists:
    @pytest.mark.parametrize(("value", "shown"), [
        ('"adam"', "a string ('adam')"),
        ("[]", "an array ([])"),  # an empty list would run nothing
        ("[3]", "an array ([3])"),
        ('["adam", 3]', "an array (['adam', 3])"),
    ])
    def test_not_a_non_empty_list_of_names(self, tmp_path: Path, value: str, shown: str) -> None:
        text = changed('variants = ["adam"]', f"variants = {value}")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'variants = ' + value)}: lab.variants: expected a non-empty array "
            f"of variant names, got {shown}"]

    def test_experiment_variants(self, tmp_path: Path) -> None:
        text = changed('variants = ["default-optimizer", "adam"]', 'variants = "adam"')
        assert problems_of(tmp_path, text) == [
            "5: experiment.variants: expected a non-empty array of variant names, got a string "
            "('adam')"]


class TestRunnerFields:
    @pytest.mark.parametrize(("line", "key"), [
        ('os = "linux"\n', "os"), ('arch = "x86_64"\n', "arch"), ('python = "uv"\n', "python")])
    def test_missing(self, tmp_path: Path, line: str, key: str) -> None:
        text = changed(line, "")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, '[[runners]]')}: runners[0].{key}: missing required key"]

    @pytest.mark.parametrize(("line", "key"), [
        ('os = "linux"', "os"), ('arch = "x86_64"', "arch"), ('python = "uv"', "python")])
    def test_wrong_type(self, tmp_path: Path, line: str, key: str) -> None:
        text = changed(line, f"{key} = 3")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, f'{key} = 3')}: runners[0].{key}: expected a string, got an "
            "integer (3)"]

    def test_two_runners_without_a_label(self, tmp_path: Path) -> None:
        """A missing label is reported once each, not also as a label "listed twice"."""
        text = changed('label = "ubuntu-24.04"\n', "", changed('label = "windows-2025"\n', ""))
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, '[[runners]]', 1)}: runners[0].label: missing required key",
            f"{line_of(text, '[[runners]]', 2)}: runners[1].label: missing required key"]

    def test_label_alphabet(self, tmp_path: Path) -> None:
        text = changed('label = "macos-15"', 'label = "mac os"')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'mac os')}: runners[2].label: a label may use letters, digits, "
            "'.', '_' and '-' only"]

    def test_ten_repeats_and_a_cell_id_of_65_characters(self, tmp_path: Path) -> None:
        """repeat = 10 (MAX_REPEAT) is allowed; a 62-character label then makes cell ids up to
        "<label>-9" (64 characters, allowed) and "<label>-10" (65): only the last is refused."""
        assert load(tmp_path, changed("repeat = 2", "repeat = 10")).runners[0].repeat == 10
        label = "x" * 62
        text = with_runner(runner_block(label, "linux", "x86_64", "uv") + "repeat = 10\n")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, label)}: runners[3].label: cell id '{label}-10' is too long "
            "(64 characters at most): shorten the label"]


EXCLUDED = VALID[VALID.index("[[excluded]]"):VALID.index("[lab]")]
REASON = 'reason = "no tensorflow 2.12.0 wheel"'


def in_excluded(old: str, new: str) -> str:
    """VALID with ``old`` replaced in its [[excluded]] entry (the runners have os and arch too)."""
    return changed(EXCLUDED, changed(old, new, EXCLUDED))


class TestExcluded:
    def test_not_an_array(self, tmp_path: Path) -> None:
        text = "excluded = 3\n" + changed(EXCLUDED, "")
        assert problems_of(tmp_path, text) == ["1: excluded: expected an array, got an integer (3)"]

    def test_an_entry_that_is_not_a_table(self, tmp_path: Path) -> None:
        """Reported, and the entries after it are still checked."""
        text = ('excluded = [3, { label = "a", reason = "b", os = "linx" }]\n'
                + changed(EXCLUDED, ""))
        assert problems_of(tmp_path, text) == [
            "1: excluded[0]: expected a table, got an integer (3)",
            "1: excluded[1].os: 'linx' is not one of linux, macos, windows. Perhaps you meant "
            "'linux'?",
            "1: excluded[1]: give both os and arch (to exclude the whole platform), or neither"]

    def test_unknown_key(self, tmp_path: Path) -> None:
        text = changed(REASON, REASON + '\nwhy = "x"')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'why')}: excluded[0].why: unknown key. Valid keys: label, reason, "
            "os, arch."]

    @pytest.mark.parametrize(("line", "key"), [
        ('label = "windows-11-arm"\n', "label"), (REASON + "\n", "reason")])
    def test_missing(self, tmp_path: Path, line: str, key: str) -> None:
        text = changed(line, "")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, '[[excluded]]')}: excluded[0].{key}: missing required key"]

    @pytest.mark.parametrize(("line", "key"), [
        ('label = "windows-11-arm"', "label"), (REASON, "reason")])
    def test_wrong_type(self, tmp_path: Path, line: str, key: str) -> None:
        text = changed(line, f"{key} = 3")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, f'{key} = 3')}: excluded[0].{key}: expected a string, got an "
            "integer (3)"]

    @pytest.mark.parametrize(("key", "other"), [("os", "arch"), ("arch", "os")])
    def test_platform_of_the_wrong_type(self, tmp_path: Path, key: str, other: str) -> None:
        """A wrong type counts as left out, so the rule also lacks one half of its platform."""
        text = in_excluded(f'{key} = "{"windows" if key == "os" else "arm64"}"', f"{key} = 3")
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, '[[excluded]]')}: excluded[0]: give both os and arch (to exclude "
            "the whole platform), or neither",
            f"{line_of(text, f'{key} = 3')}: excluded[0].{key}: expected a string, got an "
            "integer (3)"]

    @pytest.mark.parametrize(("old", "new", "message"), [
        ('os = "windows"', 'os = "windos"',
         "excluded[0].os: 'windos' is not one of linux, macos, windows. Perhaps you meant "
         "'windows'?"),
        ('arch = "arm64"\nreason', 'arch = "arm"\nreason',
         "excluded[0].arch: 'arm' is not one of x86_64, arm64. Perhaps you meant 'arm64'?"),
    ])
    def test_unknown_platform(self, tmp_path: Path, old: str, new: str, message: str) -> None:
        text = in_excluded(old, new)
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, new.split(chr(10))[0])}: {message}"]

    def test_a_label_alone(self, tmp_path: Path) -> None:
        """Without os and arch a rule excludes one runner label, no platform."""
        text = changed('os = "windows"\narch = "arm64"\n', "")
        assert load(tmp_path, text).excluded[0].platform is None

    def test_missing_label_matches_no_runner(self, tmp_path: Path) -> None:
        text = with_runner(runner_block("XXXX", "linux", "x86_64", "uv"))
        text = changed('label = "windows-11-arm"\n', "", text)
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, '[[excluded]]')}: excluded[0].label: missing required key"]

    def test_missing_reason_is_shown_empty(self, tmp_path: Path) -> None:
        """A runner on a platform excluded without a reason: the reason reads as nothing."""
        text = with_runner(runner_block("my-arm-box", "windows", "arm64", "nearest"))
        text = changed(REASON + "\n", "", text)
        excluded = line_of(text, "[[excluded]]")
        assert f"{line_of(text, ARM64, 2)}: runners[3].arch: windows-arm64 is excluded at line " \
            f"{excluded}: " in problems_of(tmp_path, text)
        assert f"{excluded}: excluded[0].reason: missing required key" in problems_of(
            tmp_path, text)


LAB_CELLS = '\n[[lab.cells]]\nid = "lab-native"\n'
CELL = 'id = "lab-native"'


class TestLab:
    def test_not_a_table(self, tmp_path: Path) -> None:
        text = "lab = 3\n" + changed(VALID[VALID.index("[lab]"):], "")
        assert problems_of(tmp_path, text) == ["1: lab: expected a table, got an integer (3)"]

    def test_rows(self, tmp_path: Path) -> None:
        """One row is the smallest lab; left out, a lab has 64."""
        assert load(tmp_path, changed("rows = 8", "rows = 1")).lab.rows == 1
        assert load(tmp_path, changed("rows = 8\n", "")).lab.rows == 64

    def test_cells_not_an_array(self, tmp_path: Path) -> None:
        text = changed(LAB_CELLS, "cells = 3\n")
        line = line_of(text, "cells = 3")
        assert problems_of(tmp_path, text) == [
            f"{line}: lab.cells: expected an array, got an integer (3)",
            f"{line}: lab.cells: the lab needs at least one [[lab.cells]]"]

    def test_cells_of_the_wrong_types(self, tmp_path: Path) -> None:
        """A cell that is not a table is reported and the next one still checked, each key."""
        text = changed(LAB_CELLS, 'cells = [3, { id = "a", emulate = 4, env = 5, arch = 6 }]\n')
        # (entries of an inline array have no line of their own: their table's header)
        line = line_of(text, "[lab]")
        assert problems_of(tmp_path, text) == [
            f"{line}: lab.cells[0]: expected a table, got an integer (3)",
            f"{line}: lab.cells[1].arch: expected a string, got an integer (6)",
            f"{line}: lab.cells[1].emulate: expected a string, got an integer (4)",
            f"{line}: lab.cells[1].env: expected a table, got an integer (5)"]

    def test_every_cell_field_is_loaded(self, tmp_path: Path) -> None:
        text = changed(CELL, CELL + '\narch = "arm64"\nemulate = "cortex-a72"\nenv = { OMP = "1" }')
        cell = load(tmp_path, text).lab.cells[0]
        assert (cell.id, cell.arch, cell.emulate, dict(cell.env)) == (
            "lab-native", "arm64", "cortex-a72", {"OMP": "1"})

    def test_cell_arch_and_unknown_key(self, tmp_path: Path) -> None:
        text = changed(CELL, CELL + '\narch = "x86_64"\nmodel = 1')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'model') - 1}: lab.cells[0].arch: 'x86_64': the lab emulates arm64 "
            "(or omit arch: this machine's)",
            f"{line_of(text, 'model')}: lab.cells[0].model: unknown key. Valid keys: id, "
            "emulate, env, arch, estimates, variants."]

    def test_cell_id_alphabet(self, tmp_path: Path) -> None:
        text = changed(CELL, 'id = "lab native"')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'lab native')}: lab.cells[0].id: an id may use letters, digits, "
            "'.', '_' and '-' only"]

    def test_a_missing_id_collides_with_no_other(self, tmp_path: Path) -> None:
        text = changed(CELL + "\n", "", changed("[[lab.cells]]", '[[lab.cells]]\nid = "XXXX"\n\n'
                                                               "[[lab.cells]]"))
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, '[[lab.cells]]', 2)}: lab.cells[1].id: missing required key"]


class TestBackends:
    def test_keras_2_pins(self, tmp_path: Path) -> None:
        text = changed(ADAM, ADAM + '\nbackend = "jax"')
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'backend')}: variants.adam.backend: a backend is a Keras 3 setting, "
            "and these pins give Keras 2 (pin keras >= 3, or tensorflow >= 2.16); remove the key"]

    def test_keras_3_pins_and_the_builtin_experiment(self, tmp_path: Path) -> None:
        text = changed('numpy = "1.23.5"', 'numpy = "1.23.5"\nkeras = "3.0.0"',
                       changed(ADAM, ADAM + '\nbackend = "jax"'))
        assert problems_of(tmp_path, text) == [
            f"{line_of(text, 'backend')}: variants.adam.backend: the built-in experiment is "
            "written for tf.keras; a backend needs your own experiment ([experiment] entry)"]

    @pytest.mark.parametrize(("packages", "generation"), [
        ({"keras": "3.0.0", "tensorflow": "2.12.0"}, 3),  # keras decides over tensorflow
        ({"keras": "2.15.0", "tensorflow": "2.16.1"}, 2),
        ({"tensorflow": "2.16.0"}, 3),  # the first tensorflow whose tf.keras is Keras 3
        ({"tensorflow": "2.15.1"}, 2),
        ({"tensorflow": "3.0.0"}, 3),
        ({"numpy": "1.23.5"}, None),
    ])
    def test_keras_generation(self, packages: dict, generation: int | None) -> None:
        assert keras_generation(packages) == generation


def test_runner_facts_go_on_after_a_runner_with_an_unknown_os(tmp_path: Path) -> None:
    text = changed('os = "linux"', 'os = "linx"')
    text = changed('python = "uv"\n\n[[excluded]]', 'python = "setup-python"\n\n[[excluded]]', text)
    assert problems_of(tmp_path, text) == [
        f"{line_of(text, 'linx')}: runners[0].os: 'linx' is not one of linux, macos, windows. "
        "Perhaps you meant 'linux'?",
        f"{line_of(text, 'setup-python', 2)}: runners[2].python: actions/setup-python has no "
        'Python 3.9.2 for macos-arm64; use python = "uv"']


def test_variants_not_a_table(tmp_path: Path) -> None:
    text = "variants = 3\n" + VALID[:VALID.index("[variants.")] + VALID[VALID.index("[[runners]]"):]
    assert problems_of(tmp_path, text) == [
        "1: variants: at least one variant is needed",
        "1: variants: expected a table, got an integer (3)",
        f"{line_of(text, 'variants = [')}: experiment.variants: no variant named 'adam' in "
        "[variants].",
        f"{line_of(text, 'variants = [')}: experiment.variants: no variant named "
        "'default-optimizer' in [variants].",
        f"{line_of(text, 'variants = [', 2)}: lab.variants: no variant named 'adam' in "
        "[variants]."]
