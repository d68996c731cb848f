"""Score per module of the last `mutmut run` (read from mutants/**.meta), and the survivors.

Run by `nox -s mutants` after mutmut. Killed and timed-out mutants count as caught; survivors,
mutants no fast test reaches ("no tests") and suspicious ones do not. Three kinds of mutant leave
the score (the raw score beside it keeps them): those listed in EQUIVALENT (they behave exactly
like the original code; each says why), those that only change or drop an argparse help,
description or metavar (text for humans in `--help`, found by comparing the functions' syntax
trees without those keywords), and survivors in code listed in PINNED_ONLY (it needs TensorFlow,
so only the slow tests reach it). Exit status 1 when a module scores below THRESHOLD or has
mutants this run did not test (`mutmut run NAME...` tests some only), or when a mutant listed in
EQUIVALENT is caught after all (a stale entry).
"""

from __future__ import annotations

import ast
import copy
import functools
import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

THRESHOLD = 90.0
CAUGHT = {"killed", "timeout", "caught by type check"}

# mutant name -> why no test can tell it from the original.
T = "repromatrix.cell.trail."  # shortens the trail names below
M = "repromatrix.config.matrix."  # and the matrix names
EQUIVALENT: dict[str, str] = {
    # Python's codec names are case-insensitive.
    **{name: "a codec name in upper case names the same codec" for name in (
        "repromatrix.artifact.x_write__mutmut_34",
        "repromatrix.artifact.x_is_cell_artifact__mutmut_5",
        "repromatrix.config.matrix.x_load_matrix__mutmut_10",
        "repromatrix.cell.trail.x_tensor_records__mutmut_22",
        "repromatrix.cli.main.x__error_artifact__mutmut_28",
        "repromatrix.ci.comment.x_parse_run_pull_requests__mutmut_19",
        "repromatrix.ci.comment.x_read_body__mutmut_12",
        "repromatrix.ci.comment.x_read_pr_number__mutmut_16",
        "repromatrix.ci.comment.x_run_gh__mutmut_19",
    )},
    "repromatrix.cli.main.x__report__mutmut_8":
        "github.error's stream=None means sys.stderr",
    "repromatrix.cli.main.x__report__mutmut_12":
        "github.error's stream left out means sys.stderr",
    **{name: "print's flush: standard error is line-buffered (Python 3.9+) and the line ends "
       "with a newline" for name in ("repromatrix.cli.main.x__run_emulated__mutmut_25",
                                     "repromatrix.cli.main.x__run_emulated__mutmut_28",
                                     "repromatrix.cli.main.x__run_emulated__mutmut_32")},
    **{name: "the subcommand's dest: nothing reads args.command, and argparse names a missing "
       "command by its metavar" for name in ("repromatrix.cli.main.x_build_parser__mutmut_21",
                                             "repromatrix.cli.main.x_build_parser__mutmut_23",
                                             "repromatrix.cli.main.x_build_parser__mutmut_24")},
    **{T + name: "only a big-endian host takes this branch; every supported platform is "
       "little-endian" for name in ("x_little_endian_bytes__mutmut_8",
                                    "x_little_endian_bytes__mutmut_9",
                                    "x_little_endian_bytes__mutmut_11",
                                    "x_little_endian_bytes__mutmut_12")},
    **{T + name: "the rows arrive as an int64 array (the recorder's tf.int64 variable)"
       for name in ("x_trail_result__mutmut_3", "x_trail_result__mutmut_5")},
    **{T + name: "a bool's one byte viewed as a 1-byte int is the same 0 or 1 as via int8"
       for name in ("x_hash_words__mutmut_7", "x_hash_words__mutmut_8")},
    **{T + name: "the words are already a flat array: reshaping them again changes nothing"
       for name in ("x_hash_words__mutmut_13", "x_hash_words__mutmut_18")},
    T + "x_dtype_offset__mutmut_11":
        "a ninth little-endian byte only adds a multiple of 2**64, which the mask drops",
    T + "x_dtype_offset__mutmut_23": "a sum of exactly 2**63 (> instead of >=) needs 64 hash "
    "bits to add up to one value: unreachable by any test",
    T + "x_hash_words__mutmut_5": "numpy reads reshape(-2) as reshape(-1)",
    **{T + name: "no weights: an empty or one-zero array, int or float, sums to 0"
       for name in ("x_trail_hash__mutmut_7", "x_trail_hash__mutmut_8", "x_trail_hash__mutmut_10",
                    "x_trail_hash__mutmut_11")},
    T + "x_trail_hash__mutmut_17": "numpy sums an int64 array in int64 without being told",
    T + "x_trail_result__mutmut_18": "numpy's view(None) is a float64 view",
    T + "x_trail_hash__mutmut_15": "numpy sums an int64 array in int64 without being told",
    T + "x_multipliers__mutmut_11": "randint's default dtype is int64 on Linux and macOS; only "
    "Windows' 32-bit default would fail (the Windows CI cells run it)",
    **{name: "a is not 0 here, so a <= 0 is a < 0 (b likewise)" for name in (
        "repromatrix.report.differences.x_float_ulp__mutmut_37",
        "repromatrix.report.differences.x_float_ulp__mutmut_40")},
    "repromatrix.report.differences.x_words__mutmut_7":
        "the length is a multiple of the item size, and %d formats the float count the same",
    "repromatrix.ci.comment.x_build_request__mutmut_4":
        "an unset GITHUB_REPOSITORY as None instead of '': both falsy, the same refusal",
    "repromatrix.ci.comment.x_build_request__mutmut_6":
        "an unset GITHUB_REPOSITORY as None instead of '': both falsy, the same refusal",
    **{name: "a comment without a body is not sticky: 'None'/'XXXX' lack the marker too"
       for name in ("repromatrix.ci.comment.x_find_sticky_comment__mutmut_26",
                    "repromatrix.ci.comment.x_find_sticky_comment__mutmut_28",
                    "repromatrix.ci.comment.x_find_sticky_comment__mutmut_31")},
    **{name: "subprocess.run with an encoding opens the pipes in text mode whatever text= says"
       for name in ("repromatrix.ci.comment.x_run_gh__mutmut_5",
                    "repromatrix.ci.comment.x_run_gh__mutmut_11",
                    "repromatrix.ci.comment.x_run_gh__mutmut_17")},
    **{name: "encoding=None is the locale's, UTF-8 here and on the Linux runner of the comment "
       "workflow; a test cannot change it in-process" for name in (
        "repromatrix.ci.comment.x_run_gh__mutmut_6", "repromatrix.ci.comment.x_run_gh__mutmut_12")},
    "repromatrix.ci.comment.x_run_gh__mutmut_7": "check=None is falsy like check=False",
    "repromatrix.ci.comment.x_run_gh__mutmut_13": "subprocess.run's check defaults to False",
    **{name: "a file option as str instead of Path: read_bounded and the messages take either"
       for name in ("repromatrix.ci.comment.x_add_parser__mutmut_25",
                    "repromatrix.ci.comment.x_add_parser__mutmut_30",
                    "repromatrix.ci.comment.x_add_parser__mutmut_40",
                    "repromatrix.ci.comment.x_add_parser__mutmut_45")},
    "repromatrix.ci.comment.x_check_repo__mutmut_3":
        "rpartition: with several slashes the owner holds one, which OWNER refuses as "
        "REPOSITORY_NAME refuses it in the name",
    **{name: "json.dumps reads allow_nan and ensure_ascii for their truth only: None is False"
       for name in ("repromatrix.artifact.x_dumps__mutmut_5",
                    "repromatrix.artifact.x_dumps__mutmut_6")},
    **{name: "the temporary file exists whenever an error is caught (os.replace is the last step "
       "and removes it only by succeeding), so missing_ok is never consulted" for name in (
        "repromatrix.artifact.x_write__mutmut_46", "repromatrix.artifact.x_write__mutmut_48")},
    "repromatrix.artifact.x_drift__mutmut_13": "a line holds one '==': the matrix refuses '=' in "
    "package names, replacement names and versions, so partition and rpartition split it alike",
    "repromatrix.report.escape.x_clean__mutmut_3": "str() of a plain str is the same string; "
    "artifact strings come from json as plain str",
    "repromatrix.report.escape.x__break_links_and_mentions__mutmut_30": "groups 1 and 2 (www and "
    "its dot) match together or not at all, so either one's truth picks the branch",
    "repromatrix.report.render_markdown.x__fit_table__mutmut_7": "with_sums=None instead of "
    "False: build_table reads it as `with_sums or ...`, so both build the same table",
    **{"repromatrix.report.render_text.x_simple_table__mutmut_" + n: "tabulate draws an "
       "unknown or missing tablefmt as 'simple'; the one other path (multi-line cells) needs a "
       "line break in a cell, which terminal() turns into a space" for n in ("16", "21", "24",
                                                                             "25")},
    "repromatrix.report.render_text.x_simple_table__mutmut_23":
        "stralign left out: tabulate's default alignment of strings is 'left' in this format",
    "repromatrix.report.render_text.x_verdict_line__mutmut_20":
        "terminal()'s default limit is the same 300 characters",
    "repromatrix.config.checks.x__remember__mutmut_11": "for a part without '[' the pair is "
    "(part, part): the product only repeats variants, and setdefault with the same line number "
    "changes nothing",
    **{name: "get_close_matches returns the best match first for any n >= 1; only close[0] is "
       "read" for name in ("repromatrix.config.checks.x_suggest__mutmut_7",
                           "repromatrix.config.checks.x_suggest__mutmut_9")},
    **{M + name: "cell ids are unique in a loaded matrix (duplicate labels are refused), so "
       "sorting the (id, Runner) pairs orders them by id alone" for name in (
        "xǁMatrixǁcells__mutmut_2", "xǁMatrixǁcells__mutmut_4")},
    **{M + name: "the thread count is replaced only after an out-of-range problem was added: "
       "that matrix is refused and the value never seen" for name in (
        "x__load_threads__mutmut_59", "x__load_threads__mutmut_60")},
    **{M + name: "string_list reads `value or []`: a default of None gives the same empty list"
       for name in ("x__load_platform__mutmut_101", "x__load_platform__mutmut_107")},
    **{M + name: "every version in EXACT_PYTHON lists both setup-python and uv, so the .get "
       "default is never used" for name in ("x__check_python__mutmut_22",
                                            "x__check_python__mutmut_24")},
    **{M + name: "only reached when the rule's os/arch is a known one, so the `or` fallback is "
       "never used" for name in ("x__check_excluded_labels__mutmut_16",
                                 "x__check_excluded_labels__mutmut_18")},
    **{M + name: "a missing key read as None instead of '': both falsy, reported the same way "
       "and matching nothing" for name in (
        "x__load_excluded__mutmut_48", "x__load_excluded__mutmut_55",
        "x__load_lab__mutmut_123", "x__load_lab__mutmut_130",
        "x__load_runners__mutmut_69", "x__load_runners__mutmut_76",
        "x__load_runners__mutmut_88", "x__load_runners__mutmut_95",
        "x__load_runners__mutmut_107", "x__load_runners__mutmut_114")},
    M + "x__load_lab__mutmut_49": "defaults.toml always supplies [lab] rows before the user's "
    "matrix is read, so the loader's own default is never used",
    M + "x__load_lab__mutmut_192": "EMULATED_ARCHES has one entry, so the join's separator never "
    "appears",
    **{M + name: "string_table returns {} for None as for the default {}" for name in (
        "x__load_pins__mutmut_77", "x__load_pins__mutmut_84")},
    **{M + name: "major_minor('XXXX') is None, as is major_minor('')" for name in (
        "x_keras_generation__mutmut_23", "x_keras_generation__mutmut_40")},
    M + "x_parse_matrix__mutmut_1": "the default text is only used for line lookups: 'XXXX' has "
    "no key or header line either, so every lookup falls back to line 1",
    **{M + name: "_load_variants reads `raw or {}`: a default of None is the same as {}" for name
       in ("x_parse_matrix__mutmut_41", "x_parse_matrix__mutmut_47")},
    "repromatrix.report.compare.x__log10_clamped__mutmut_3":
        "< instead of <= the floor: log10 of exactly 1e-16 is -16.0, the floor itself",
    "repromatrix.report.compare.x__clause__mutmut_68":
        "an empty reason as None: summarize only asks whether it is empty, and both are falsy",
    "repromatrix.report.compare.x__tensor_diffs__mutmut_8":
        "compared_equal starting as None instead of False: only its truth is read",
    "repromatrix.report.root_cause.x__root__mutmut_2":
        "no stats as '' instead of None: only its truth is read before it is replaced",
    "repromatrix.report.root_cause.x_find_root_cause__mutmut_110":
        "past the only-in-one-trace refusal every aligned key is in theirs, so 'not in theirs' "
        "holds exactly when the key is None",
}


# Mutant-name prefix -> why its survivors leave the fast tests' score: the code needs TensorFlow,
# which only the pinned venv has, so only the slow tests reach it.
PINNED_ONLY: dict[str, str] = {
    "repromatrix.cell.trail.xǁTrailRecorderǁ":
        "the in-graph trail hash (TensorFlow); tests/integration checks it against trail_hash",
}


HELP_KEYWORDS = {"help", "description", "metavar"}


ARGPARSE_CALLS = {"add_argument", "add_parser", "ArgumentParser", "add_subparsers"}


class _BlankHelp(ast.NodeTransformer):
    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        called = node.func.attr if isinstance(node.func, ast.Attribute) else \
            getattr(node.func, "id", None)
        if called in ARGPARSE_CALLS:  # dropped, not blanked: a mutant may remove the keyword
            node.keywords = [k for k in node.keywords if k.arg not in HELP_KEYWORDS]
        return node


@functools.cache
def _functions(path: Path) -> dict[str, ast.AST]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name: node for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _shape(function: ast.AST) -> str:
    function = copy.deepcopy(function)
    function.name = "f"  # type: ignore[attr-defined]
    return ast.dump(_BlankHelp().visit(function))


def help_text_only(root: Path, name: str) -> bool:
    """True when the mutant differs from the original only in argparse help texts."""
    module, function = name.rsplit(".", 1)
    functions = _functions(root / "src" / (module.replace(".", "/") + ".py"))
    original = functions.get(function.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
    mutant = functions.get(function)
    return original is not None and mutant is not None and _shape(original) == _shape(mutant)


def pinned_only(name: str) -> str | None:
    """Why a mutant of code that runs only inside the pinned venv leaves the fast score."""
    return next((why for prefix, why in PINNED_ONLY.items() if name.startswith(prefix)), None)


def classify(root: Path, name: str, status: str) -> str:
    if status == "not checked":
        return "unchecked"
    if status in CAUGHT:  # a listed equivalent that a test kills is a stale entry
        return "stale" if name in EQUIVALENT else "caught"
    if name in EQUIVALENT or help_text_only(root, name):
        return "equivalent"
    return "pinned" if pinned_only(name) else "missed"


def main() -> int:
    root = Path("mutants")
    metas = sorted(root.glob("src/**/*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/: run `nox -s mutants` first", file=sys.stderr)
        return 2
    below, unmeasured = [], []
    survivors: list[tuple[str, str]] = []
    stale: list[str] = []
    print(f"{'module':40} {'mutants':>7} {'caught':>6} {'t/o':>4} {'missed':>6} {'equiv':>5} "
          f"{'pinned':>6} {'unrun':>5} {'raw':>6} {'score':>6}")
    for meta in metas:
        module = str(meta.relative_to(root / "src"))[: -len(".meta")]
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        counts: Counter[str] = Counter()
        for name, code in sorted(codes.items()):
            status = status_by_exit_code[code]
            kind = classify(root, name, status)
            counts[kind] += 1
            counts["timeout"] += status == "timeout"
            if kind == "missed":
                survivors.append((name, status))
            elif kind == "stale":
                stale.append(name)
                counts["caught"] += 1
        scored = counts["caught"] + counts["missed"]
        raw = 100.0 * counts["caught"] / len(codes) if codes else 100.0
        score = 100.0 * counts["caught"] / scored if scored else 100.0
        if counts["unchecked"]:
            unmeasured.append(module)
        elif score < THRESHOLD:
            below.append(module)
        print(f"{module:40} {len(codes):7} {counts['caught']:6} {counts['timeout']:4} "
              f"{counts['missed']:6} "
              f"{counts['equivalent']:5} {counts['pinned']:6} {counts['unchecked']:5} "
              f"{raw:5.1f}% " + (f"{score:5.1f}%" if scored else "     -"))
    print("(raw: caught / all mutants; score: caught / (caught + missed); t/o: caught by a "
          "timeout, worth a re-run on a quiet machine. Left out of the score: "
          "equiv, equivalent mutants (EQUIVALENT) and argparse help-text changes; pinned, code "
          "that runs only in the pinned venv (PINNED_ONLY); unrun, not tested by this run)")
    print(f"\nsurviving mutants ({len(survivors)}; `mutmut show NAME` prints the change):")
    for name, status in survivors:
        print(f"  {name}: {status}")
    print(f"\nequivalent mutants left out ({len(EQUIVALENT)}):")
    for name, why in sorted(EQUIVALENT.items()):
        print(f"  {name}: {why}")
    for prefix, why in sorted(PINNED_ONLY.items()):
        print(f"pinned venv only, {prefix}*: {why}")
    if unmeasured:
        print(f"\nnot (fully) measured: {', '.join(unmeasured)}")
    if below:
        print(f"\nbelow {THRESHOLD:.0f}%: {', '.join(below)}")
    if stale:
        print("\nlisted in EQUIVALENT but caught by a test (remove them; mutant names shift when "
              f"a function changes): {', '.join(stale)}")
    return 1 if below or unmeasured or stale else 0


if __name__ == "__main__":
    sys.exit(main())
