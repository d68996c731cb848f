"""The steps of a CI cell (the workflow's `run` job) and which of them failed.

A cell's error artifact must say what broke: the pinned Python, uv, the pinned install or the
run itself. GitHub gives a later step only the other steps' outcomes (the ``steps`` context, by
step id), never their logs, so the workflow tees each command's output to the file named here and
passes ``toJSON(steps)`` to ``repromatrix error-artifact --steps``. This table is the one place
that knows the ids, their order and their logs; tests/ci/test_workflows.py checks the workflow
against it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from repromatrix.errors import UsageError


@dataclass(frozen=True)
class Step:
    id: str  # the step's `id:` in repromatrix.yml
    name: str  # what the error artifact calls it
    log: str | None  # the file its output is teed to; None for an action (`uses:`), whose log
    # only GitHub's page shows


# In the job's order: the first failed one is the cause (later ones are skipped or fail after it).
CELL_STEPS: tuple[Step, ...] = (
    Step("pinned-python", "install the pinned Python (setup-python)", None),
    Step("uv", "install uv (setup-uv)", None),
    Step("uv-python", "install the pinned Python with uv", "uv-python.log"),
    Step("pinned", "build the pinned venv (nox -s pinned)", "pinned.log"),
    Step("repro", "run the cell (nox -s repro)", "repro.log"),
)


def parse_steps(text: str) -> dict[str, Any]:
    """The workflow's ``toJSON(steps)``: {id: {"outcome": ..., "conclusion": ..., ...}}."""
    try:
        steps = json.loads(text)
    except ValueError:
        raise UsageError("--steps: not JSON (pass the workflow's toJSON(steps))") from None
    if not isinstance(steps, dict):
        raise UsageError("--steps: not a JSON object (pass the workflow's toJSON(steps))")
    return steps


def failed_step(steps: Mapping[str, Any]) -> Step | None:
    """The first of the cell's steps whose outcome is "failure", or None."""
    for step in CELL_STEPS:
        state = steps.get(step.id)
        if isinstance(state, dict) and state.get("outcome") == "failure":
            return step
    return None


def message(step: Step) -> str:
    if step.id == "repro":
        return "the cell's run (nox -s repro) failed before writing its artifact"
    return f"the cell's setup failed: {step.name}"
