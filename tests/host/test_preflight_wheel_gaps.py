"""A pin with no wheel for one runner's platform: one line naming the runner, whatever form
pip's refusal takes (recorded pip output, no network)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from repromatrix.config.matrix import parse_matrix
from repromatrix.host import preflight, preflight_command

# pip 26.3 on this machine, torch==2.3.0 for macOS x86_64 (its last wheel there is 2.2.2): a
# constraints file in pip's global configuration, which --isolated still reads, turns pip's
# "No matching distribution found" into a ResolutionImpossible.
CONFLICT_STDERR = """\
ERROR: Cannot install torch==2.3.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested torch==2.3.0
    The user requested (constraint) torch<=2.14.1

Additionally, some packages in these conflicts have no matching distributions available for your environment:
    torch

To fix this you could try to:
1. loosen the range of package versions you've specified
2. remove package versions to allow pip to attempt to solve the dependency conflict

ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts
"""


def test_the_conflict_form_names_the_pin_without_a_wheel() -> None:
    resolution = preflight.parse_failure(CONFLICT_STDERR, ["numpy==2.2.6", "torch==2.3.0"])
    assert not resolution.ok and resolution.missing == ("torch==2.3.0",)
    assert not resolution.network


def test_pips_usual_form_is_kept() -> None:
    stderr = ("ERROR: Could not find a version that satisfies the requirement jaxlib==0.4.11 "
              "(from versions: 0.4.13)\nERROR: No matching distribution found for jaxlib==0.4.11\n")
    assert preflight.parse_failure(stderr, ["jaxlib==0.4.11"]).missing == ("jaxlib==0.4.11",)


MODERN = {
    "experiment": {"entry": "experiment.py:build", "data": "none"},
    "pins": {"python": "3.11.7", "packages": {"keras": "3.15.1", "jax": "0.4.11",
                                              "jaxlib": "0.4.11"}},
}
# What PyPI has (checked with pip's resolver): jaxlib's first Windows wheel is 0.4.13.
# keras and jax are pure Python (py3-none-any): they resolve everywhere.
NO_WHEEL = {("jaxlib==0.4.11", "win_amd64"), ("jaxlib==0.4.11", "win_arm64")}


def fake_pip(command: list[str]) -> subprocess.CompletedProcess[str]:
    platforms = [command[i + 1] for i, part in enumerate(command) if part == "--platform"]
    wanted = [p for p in command[command.index("--no-input") + 1:]
              if "==" in p and not p.startswith("-")]
    absent = [r for r in wanted if any((r, p) in NO_WHEEL for p in platforms)]
    if absent:
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution "
                                           f"found for {absent[0]}\n")
    installs = [{"metadata": {"name": r.split("==")[0], "version": r.split("==")[1]},
                 "download_info": {"url": f"https://x/{r}.whl"}} for r in wanted]
    Path(command[command.index("--report") + 1]).write_text(json.dumps({"install": installs}))
    return subprocess.CompletedProcess(command, 0, "", "")


def test_an_old_jaxlib_on_windows_is_one_line_naming_the_runner(tmp_path: Path) -> None:
    matrix = parse_matrix(MODERN, tmp_path / "matrix.toml")
    rows = preflight.rows_of(matrix)
    platforms = sorted({r.platform for r in rows if r.platform})
    results = preflight.check_platforms(matrix, platforms, preflight.PipSettings(("pip",)), 2,
                                        run=fake_pip)
    text = preflight_command.render(rows, results, matrix)
    problems = [line for line in text.splitlines() if ": no wheel for " in line]
    assert problems == ["windows-2025: no wheel for jaxlib==0.4.11 on win_amd64",
                        "windows-11-arm: no wheel for jaxlib==0.4.11 on win_arm64"]
    assert preflight_command.exit_code(rows, results) == 1
