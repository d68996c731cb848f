"""``repromatrix plan``: the GitHub Actions job matrix, computed from ``matrix.toml``.

The workflow's ``plan`` job runs this and hands the JSON to the ``run`` job through
``fromJSON(needs.plan.outputs.matrix)``, so the list of cells lives in one file, validated by
the loader, instead of being repeated in YAML. The output is sorted and compact, so the same
matrix file always gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from repromatrix.ci import github
from repromatrix.config.matrix import Matrix, Runner, load_matrix
from repromatrix.config.options import add_matrix_option
from repromatrix.errors import ConfigError

OUTPUT_NAME = "matrix"


def python_request(runner: Runner, pinned: str) -> str:
    """The version the workflow asks its installer for on this runner.

    "setup-python" and "uv" have the exact pinned build; "nearest" asks for the minor version
    (e.g. "3.9"), which installers resolve to its newest patch release; the runner then records
    the difference as drift in the artifact.
    """
    if runner.python == "nearest":
        return ".".join(pinned.split(".")[:2])
    return pinned


def include_entry(cell: str, runner: Runner, matrix: Matrix) -> dict[str, str]:
    """One ``strategy.matrix.include`` entry: everything a ``run`` job needs to know."""
    return {
        "cell": cell,
        "runner": runner.label,
        "os": runner.os,
        "arch": runner.arch,
        "platform": runner.platform,
        "python_source": runner.python,
        "python": matrix.pins.python,
        "python_request": python_request(runner, matrix.pins.python),
        # where an exact build was installed, any other interpreter is a setup bug: refuse it
        "strict_python": "0" if runner.python == "nearest" else "1",
    }


def build_plan(matrix: Matrix) -> dict[str, list[dict[str, str]]]:
    """The ``strategy.matrix`` object: one entry per cell, sorted by cell id."""
    if not matrix.runners:
        # GitHub rejects a matrix with no entries with a confusing message; say it here.
        raise ConfigError([f"{matrix.path}: no [[runners]]: nothing for CI to run"])
    return {"include": [include_entry(cell, runner, matrix) for cell, runner in matrix.cells()]}


def dumps(plan: Mapping[str, Any]) -> str:
    """Compact, key-sorted JSON on one line: a valid ``$GITHUB_OUTPUT`` value as it is."""
    return json.dumps(plan, sort_keys=True, separators=(",", ":"))


def summary_markdown(matrix: Matrix) -> str:
    """A short table of the planned cells and the excluded runners, for the job's page."""
    lines = ["### repromatrix plan", "", "| cell | runner | platform | Python |",
             "|---|---|---|---|"]
    for cell, runner in matrix.cells():
        request = python_request(runner, matrix.pins.python)
        lines.append(f"| {cell} | {runner.label} | {runner.platform} | "
                     f"{request} via {runner.python} |")
    if matrix.excluded:
        lines += ["", "Excluded:"]
        lines += [f"- {rule.label}: {rule.reason}" for rule in matrix.excluded]
    return "\n".join(lines) + "\n"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="print the GitHub Actions job matrix of the CI runners",
        description="Print the GitHub Actions strategy.matrix JSON: one entry per cell (runner "
        "x repeat) of matrix.toml's [[runners]]. When $GITHUB_OUTPUT is set, also write it as "
        "the step output 'matrix', and a table of the cells to $GITHUB_STEP_SUMMARY.",
    )
    add_matrix_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    matrix = load_matrix(args.matrix)
    plan = build_plan(matrix)
    text = dumps(plan)
    print(text)
    if github.set_output(OUTPUT_NAME, text, env):
        github.append_step_summary(summary_markdown(matrix), env)
        print(f"repromatrix: wrote the '{OUTPUT_NAME}' step output ({len(plan['include'])} "
              "cells)", file=sys.stderr)
    return 0
