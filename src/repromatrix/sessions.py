"""The nox sessions, shipped in the package: a repository's ``noxfile.py`` calls ``register()``.

nox registers a session when its decorated function is defined, in any module, and collects the
registry after the noxfile has run; so ``register()`` defining the functions is enough (checked
against nox's ``registry.py`` and ``tasks.py``). nox changes into the noxfile's folder before
loading it: every path here (the matrix file, ``artifacts/``, ``.nox/``) is relative to the
user's repository, never to the installed package.

Where the pinned venv gets repromatrix (its cell runner runs there) is explicit: the noxfile's
``install`` (``repromatrix==<version>`` by default, ``repromatrix init --install SPEC``), which
``REPROMATRIX_INSTALL`` overrides. The workflows install the same spec on the host.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

import nox

from repromatrix.cell.fingerprint import INSTALLER_FILE, platform_key
from repromatrix.config.matrix import load_matrix
from repromatrix.errors import ReproError
from repromatrix.host import interpreters

INSTALL_ENV = "REPROMATRIX_INSTALL"
MATRIX_ENV = "REPROMATRIX_MATRIX"
# The sessions a repository gets; the workflows call plan, repro and aggregate.
SESSIONS = ("pinned", "lock", "repro", "lab", "remedy", "aggregate", "plan", "preflight", "matrix")


def install_args(install: str, env: Any = os.environ) -> list[str]:
    """The words after ``pip install`` that bring in repromatrix (``-e .``, a wheel, a URL...)."""
    return shlex.split(env.get(INSTALL_ENV) or install)


def run_output(args: list[str]) -> Path | None:
    """The artifact path ``repromatrix run ARGS`` writes, read with the run command's own parser
    (None if the arguments do not parse: the run itself then reports them)."""
    import contextlib
    import io

    from repromatrix.cli.main import build_parser
    from repromatrix.cli.main import run_output as parsed_output

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            parsed, _ = build_parser().parse_known_args(["run", *args])
    except SystemExit:
        return None
    return Path(parsed_output(parsed))  # relative to the noxfile's folder, nox's working directory


def file_stamp(path: Path | None) -> tuple[int, int, int] | None:
    """Identity of the file now (an atomic replace gives a new inode and time), None if absent."""
    try:
        status = path.stat() if path else None
    except OSError:
        return None
    return None if status is None else (status.st_ino, status.st_mtime_ns, status.st_size)


def failed_variants(path: Path) -> list[str]:
    """The variants an artifact records as failed, or ["the cell"] when the whole cell failed."""
    import json

    document = json.loads(path.read_text(encoding="utf-8"))
    failed = sorted(n for n, v in document.get("variants", {}).items() if v.get("status") != "ok")
    return failed or (["the cell"] if document.get("status") != "ok" else [])


def repromatrix_installed_here() -> bool:
    """Whether nox's own Python has repromatrix installed (with its dependencies), not only
    importable from a source tree put on sys.path."""
    from importlib import metadata

    try:
        metadata.distribution("repromatrix")
    except metadata.PackageNotFoundError:
        return False
    import importlib.util

    return importlib.util.find_spec("pip") is not None  # preflight drives pip


def installer_text(session: nox.Session) -> str:
    """e.g. "uv 0.13.9" (nox's uv, which installed the venv) or "pip 24.0"."""
    if session.venv_backend == "uv":
        from nox import virtualenv

        return f"uv {virtualenv.UV_VERSION}"
    output = session.run("python", "-m", "pip", "--version", silent=True) or ""
    return " ".join(str(output).split()[:2]) or "pip"


def checked_lock(matrix: Any, matrix_file: Path) -> Path | None:
    """This platform's lock, None if the repository has none; a stale or missing one ends the
    run here, before any install, with one line saying to run `nox -s lock` (exit 2)."""
    from repromatrix.host import lock

    try:
        return lock.check(matrix_file, lock.inputs(matrix, platform_key(), lock.own_requirements()))
    except ReproError as error:
        print(f"nox: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None  # nox lets SystemExit through: its code is the exit code


def install_locked(session: nox.Session, locked: Path, repromatrix: list[str],
                   own_project: list[str]) -> None:
    """Exactly the lock, hash-checked (``uv pip sync`` removes anything else), then repromatrix
    without dependencies (they are in the lock) and the user's project."""
    if session.venv_backend != "uv":
        session.error(f"{locked.name} is installed with uv, and nox found none: pip install uv")
    from nox import virtualenv

    python = Path(session.bin) / ("python.exe" if sys.platform == "win32" else "python")
    session.run_install(virtualenv.UV, "pip", "sync", "--require-hashes", "--preview-features",
                        "pylock", "--python", str(python), str(locked), external=True,
                        silent=False)
    session.install("--no-deps", *repromatrix, silent=False)
    if own_project:
        session.install(*own_project, silent=False)


def register(install: str, project: str | None = None, root: Path | None = None) -> None:
    """Define (and so register with nox) repromatrix's sessions for the repository at ``root``.

    ``install``: the pip arguments that install repromatrix; ``project``: the user's own project
    (e.g. ``"."``), installed into the pinned venv after repromatrix, or None when the
    experiment's module is imported from the repository folder as it is.
    """
    root = (root or Path.cwd()).resolve()  # nox has changed into the noxfile's folder
    matrix_file = root / os.environ.get(MATRIX_ENV, "matrix.toml")
    # Where the pinned session leaves the path of its interpreter for the sessions that use it.
    pointer = root / ".nox" / "pinned-python.txt"
    repromatrix = install_args(install)
    own_project = shlex.split(project) if project else []

    on_nox_python = repromatrix_installed_here()
    host_backend = "none" if on_nox_python else None
    nox.options.default_venv_backend = "uv|venv"  # uv installs the pinned stack in ~12 s, pip ~52 s
    nox.options.sessions = ["repro"]
    nox.options.reuse_venv = "yes"  # the pinned install is large; pins are re-applied every run

    try:
        matrix = load_matrix(matrix_file)
    except ReproError as error:
        sys.exit(f"nox: {error}")
    try:
        found = interpreters.find_interpreters(matrix.pins.python)
        choice: interpreters.Choice | None = interpreters.choose(matrix.pins.python, found,
                                                                 strict=False)
        no_python = None
    except ReproError as error:
        choice, no_python = None, str(error)

    def pinned_python(session: nox.Session) -> str:
        try:
            return pointer.read_text(encoding="utf-8").strip()
        except OSError:
            session.error("the pinned venv is missing: run `nox -s pinned` first")
            raise  # unreachable: session.error raises

    def own_args(session: nox.Session) -> list[str]:
        """posargs minus the sessions' own flags."""
        return [a for a in session.posargs if a != "--strict-python"]

    @nox.session(python=choice.interpreter.path if choice else False, venv_backend="uv|venv")
    def pinned(session: nox.Session) -> None:
        """Create or update the pinned venv (matrix.toml's Python and packages, plus repromatrix)."""
        if choice is None:
            session.error(no_python or "no interpreter")
        warning = choice.warning()
        if warning:
            if interpreters.strict_requested(os.environ, session.posargs):
                session.error(f"strict Python: {warning}")
            session.warn(warning)
        locked = checked_lock(matrix, matrix_file)
        session.log(f"installing {matrix.pins.python} stack for {platform_key()}"
                    + (f" from {locked.name}" if locked else ""))
        # Not silent: a first install downloads about 600 MB, and uv's progress says how far it got.
        # repromatrix first, then the user's project: never one mistaken for the other.
        if locked is None:
            session.warn(f"no lock next to {matrix_file.name}: the packages the pins pull in "
                         "resolve afresh; `nox -s lock` writes the lock")
            session.install(*matrix.pins.requirements(platform_key()), *repromatrix,
                            *own_project, silent=False)
        else:
            install_locked(session, locked, repromatrix, own_project)
        # Which installer built the venv (uv's version is pinned in CI, as nox's): the cell's
        # fingerprint reads it from the venv, since the cell cannot see nox.
        (Path(session.bin).parent / INSTALLER_FILE).write_text(installer_text(session),
                                                               encoding="utf-8")
        pointer.parent.mkdir(parents=True, exist_ok=True)
        python = Path(session.bin) / ("python.exe" if sys.platform == "win32" else "python")
        pointer.write_text(str(python), encoding="utf-8")

    @nox.session(name="lock", venv_backend="none")
    def write_locks(session: nox.Session) -> None:
        """Resolve the pins of every platform the matrix runs on into pylock.<os>-<arch>.toml."""
        from nox import virtualenv

        from repromatrix.host import lock

        if not virtualenv.HAS_UV:
            session.error("the lock is written with uv, and nox found none: pip install uv")
        session.log(f"locking {', '.join(lock.platforms(matrix))} with {virtualenv.UV} "
                    "(side by side; mostly waiting on the package index)")
        try:  # on nox's own Python: resolving needs no venv
            lock.lock_all(virtualenv.UV, matrix, lock.own_requirements(), log=session.log)
        except ReproError as error:
            session.error(str(error))

    @nox.session(venv_backend="none", requires=["pinned"])
    def repro(session: nox.Session) -> None:
        """Run the experiment here (its default variants) and print the comparison of artifacts/."""
        python = pinned_python(session)
        output = run_output(own_args(session))
        before = file_stamp(output)
        # Exit 1: a variant failed and the others' results were written: show the table, then fail.
        session.run(python, "-m", "repromatrix", "run", "--matrix", str(matrix_file),
                    *own_args(session), success_codes=[0, 1])
        if output is None or file_stamp(output) in (None, before):
            # Never print an older table as if it were this run's.
            session.error(f"the run wrote no artifact{f' at {output}' if output else ''}; no table")
        # The divergence charts (SVG, one per diverging variant) go next to the artifacts.
        folder = str(output.parent)
        session.run(python, "-m", "repromatrix", "aggregate", folder, "--format", "text",
                    "--chart-dir", folder)
        failed = failed_variants(output)
        if failed:
            session.error(f"{', '.join(failed)} FAILED in this run: see the error above and the table")

    @nox.session(venv_backend="none", requires=["pinned"])
    def lab(session: nox.Session) -> None:
        """Run the cross-CPU lab (native and qemu-emulated cells) and print the aggregated table."""
        python = pinned_python(session)
        session.run(python, "-m", "repromatrix", "lab", "--matrix", str(matrix_file),
                    *own_args(session))

    @nox.session(venv_backend="none", requires=["pinned"])
    def remedy(session: nox.Session) -> None:
        """Try the known remedies on the lab cells that disagree (after `nox -s lab`)."""
        python = pinned_python(session)
        session.run(python, "-m", "repromatrix", "remedy", "--matrix", str(matrix_file),
                    *own_args(session))

    def host_python(session: nox.Session, *extra: str) -> str:
        """nox's own Python when repromatrix is installed there (as the workflows and the README
        install it, next to nox), else a venv with repromatrix (a checkout whose noxfile imports
        it from src/): the host commands need nothing of the pinned stack."""
        if on_nox_python:
            return sys.executable
        session.install(*repromatrix, *extra)
        return "python"

    @nox.session(venv_backend=host_backend)
    def aggregate(session: nox.Session) -> None:
        """Compare artifacts: `nox -s aggregate -- artifacts --format markdown`."""
        session.run(host_python(session), "-m", "repromatrix", "aggregate", *own_args(session),
                    external=True)

    @nox.session(venv_backend=host_backend)
    def plan(session: nox.Session) -> None:
        """Print the CI matrix (GitHub strategy JSON) from matrix.toml."""
        session.run(host_python(session), "-m", "repromatrix", "plan", "--matrix",
                    str(matrix_file), *own_args(session), external=True)

    @nox.session(venv_backend=host_backend)
    def preflight(session: nox.Session) -> None:
        """Check with pip's resolver (no install) that every CI runner can install the pins."""
        # pip drives preflight: nox's Python has it; uv-made venvs get it installed.
        session.run(host_python(session, "pip>=23"), "-m", "repromatrix", "preflight",
                    "--matrix", str(matrix_file), *own_args(session), external=True)

    @nox.session(name="matrix", venv_backend="none", requires=["pinned"])
    def rehearse(session: nox.Session) -> None:
        """Rehearse the CI path here: plan -> run this machine's cell -> aggregate to a PR comment."""
        python = pinned_python(session)
        folder = root / "artifacts" / "matrix"
        cell = f"local-{platform_key()}"
        output = folder / f"{cell}.json"
        log = folder / f"{cell}.log"
        folder.mkdir(parents=True, exist_ok=True)
        output.unlink(missing_ok=True)  # a failed run must not leave the last result as this one's
        session.run(python, "-m", "repromatrix", "plan", "--matrix", str(matrix_file))
        # As the workflow's run job: the cell's run, and an error artifact with its log if it failed.
        with log.open("w", encoding="utf-8") as stream:
            session.run(python, "-m", "repromatrix", "run", "--matrix", str(matrix_file),
                        "--cell", cell, "--runner-label", "local", "--output", str(output),
                        *own_args(session), stdout=stream, stderr=stream,
                        success_codes=[0, 1, 2])
        session.log(f"{cell}: run log in {log}")
        if not output.exists():  # exit 1 (a variant failed) still wrote the others' results
            session.run(python, "-m", "repromatrix", "error-artifact", "--cell", cell,
                        "--runner-label", "local", "--log", str(log), "--output", str(output))
        comment = folder / "comment.md"
        # A relative folder, so no path of this machine can reach the comment.
        session.run(python, "-m", "repromatrix", "aggregate", str(folder.relative_to(root)),
                    "--format", "markdown", "--output", str(comment))
        print(comment.read_text(encoding="utf-8"))
