"""``repromatrix init``: set up a repository to use repromatrix (the templates in ``resources/``).

Writes ``matrix.toml`` (minimal: the package's defaults fill in the rest), ``noxfile.py`` (a
few lines that register the sessions shipped in the package) and the two GitHub workflows.
Never overwrites without ``--force``: it lists what it would replace and exits 2.

Where repromatrix itself comes from is one explicit spec (``--install``, default
``repromatrix==<this version>``), written both into the noxfile (for the pinned venv) and into
the workflows (for the host), so a laptop and CI install the same thing.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from repromatrix import __version__, resources
from repromatrix.contract import parse_entry
from repromatrix.errors import ReproError, UsageError

RESOURCES = resources.FOLDER
TEMPLATES = RESOURCES / "templates"
WORKFLOW_TEMPLATES = RESOURCES / "workflows"
WORKFLOWS = Path(".github") / "workflows"
# The zizmor release the CI job audits with (and this repository's tests lint with).
ZIZMOR_VERSION = "1.32.0"
# The uv release every CI cell installs with (setup-uv's `version`; this repository's tests use
# it too): a floating "latest" would change the installer between runs and need the network.
UV_VERSION = "0.13.9"
# The original report's stack: what a new matrix pins until the user writes their own.
REPORT_PINS = (("tensorflow", "2.12.0"), ("keras", "2.12.0"), ("numpy", "1.23.5"),
               ("pandas", "1.5.3"), ("statsmodels", "0.13.5"), ("scikit-learn", "1.2.2"))


@dataclass(frozen=True)
class Options:
    entry: str | None = None  # "package.module:function"; None: the built-in experiment
    install: str = f"repromatrix=={__version__}"  # pip arguments that install repromatrix
    project: str | None = None  # pip arguments that install the user's project, after it


REACHABLE_HINT = ("CI cannot reach a path on this machine: pass --install with a published "
                  "version, a wheel URL or a git URL before pushing")


def spec_from_direct_url(direct_url: str | None, version: str) -> tuple[str, str | None]:
    """Where the running repromatrix came from (its distribution's ``direct_url.json``, PEP 610)
    as pip arguments, and a warning when CI could not reach it: a VCS URL as is, a local wheel or
    folder by its path (with the warning), the registry's release when there is no direct URL."""
    import json
    from urllib.parse import unquote, urlparse

    try:
        info = json.loads(direct_url) if direct_url else None
    except ValueError:
        info = None
    if not isinstance(info, dict) or not isinstance(info.get("url"), str):
        return f"repromatrix=={version}", None
    url = info["url"]
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict):
        revision = vcs.get("commit_id") or vcs.get("requested_revision")
        return f"repromatrix @ {vcs.get('vcs', 'git')}+{url}{'@' + revision if revision else ''}", None
    if url.startswith("file:"):
        path = unquote(urlparse(url).path)
        editable = isinstance(info.get("dir_info"), dict) and info["dir_info"].get("editable")
        return (f"-e {path}" if editable else path), REACHABLE_HINT
    return f"repromatrix @ {url}", None


def installed_spec() -> tuple[str, str | None]:
    """The spec of the repromatrix that runs this command (see spec_from_direct_url)."""
    from importlib import metadata

    try:
        direct_url = metadata.distribution("repromatrix").read_text("direct_url.json")
    except metadata.PackageNotFoundError:  # a source tree on sys.path: the release's name
        direct_url = None
    return spec_from_direct_url(direct_url, __version__)


def check_spec_resolves(spec: str, folder: Path) -> None:
    """Refuse, at init, a spec that does not resolve (an unpublished version, a missing path), in
    one line naming --install, rather than at the first `nox -s plan`. uv resolves it alone
    (no dependencies) from the repository's folder, where a relative path is meant."""
    import os
    import subprocess

    from repromatrix.host.lock import find_uv, uv_reason

    try:
        uv = find_uv(os.environ)
    except ReproError:
        print("repromatrix: uv not found; --install was not checked", file=sys.stderr)
        return
    done = subprocess.run([uv, "pip", "compile", "-", "--no-deps", "--quiet", "--no-header"],
                          input=shlex.join(shlex.split(spec)) + "\n", cwd=folder,
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        reason = uv_reason(done.stderr)
        raise UsageError(f"--install {spec!r} does not resolve ({reason}): pass --install with "
                         "a published version, a wheel, a folder or a git URL of repromatrix")


def default_project(folder: Path) -> str | None:
    """``.`` when the folder is an installable project (its experiment may need its packages)."""
    return "." if (folder / "pyproject.toml").is_file() or (folder / "setup.py").is_file() else None


def render(options: Options) -> dict[Path, str]:
    """Every file ``init`` writes, by path relative to the repository, with its text."""
    _check_spec("--install", options.install)
    if options.project is not None:
        _check_spec("--project", options.project)
    install_words = shlex.join(shlex.split(options.install))
    packages = "\n".join(f'{name} = "{version}"' for name, version in REPORT_PINS)
    if options.entry is None:
        matrix = _template("matrix-builtin.toml.in")
    else:
        parse_entry(options.entry)  # ExperimentError: one line, exit 2
        matrix = _template("matrix-entry.toml.in").replace("@ENTRY@", options.entry.strip())
    noxfile = (_template("noxfile.py.in").replace("@INSTALL@", _py_string(options.install))
               .replace("@PROJECT@", "None" if options.project is None
                        else _py_string(options.project)))
    files = {Path("matrix.toml"): matrix.replace("@PACKAGES@", packages),
             Path("noxfile.py"): noxfile}
    for template in sorted(WORKFLOW_TEMPLATES.glob("*.yml")):
        text = template.read_text(encoding="utf-8")
        files[WORKFLOWS / template.name] = (text.replace("@INSTALL@", install_words)
                                            .replace("@ZIZMOR_VERSION@", ZIZMOR_VERSION)
                                            .replace("@UV_VERSION@", UV_VERSION))
    return files


def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def _py_string(value: str) -> str:
    """A Python string literal in double quotes (black's style), for the generated noxfile."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_spec(flag: str, spec: str) -> None:
    """A spec lands in YAML run: lines: one line of plain text, no GitHub expression."""
    if not spec.strip() or re.search(r"[\x00-\x1f]", spec) or "${{" in spec:
        raise UsageError(f"{flag} {spec!r}: expected pip arguments on one line, e.g. "
                         "'repromatrix==0.1.0', a wheel path, a git URL or '-e .'")
    try:
        shlex.split(spec)
    except ValueError as error:
        raise UsageError(f"{flag} {spec!r}: {error}") from None


def write(folder: Path, files: dict[Path, str], force: bool) -> list[Path]:
    """Write the files under ``folder``; refuse (listing them) to replace any without ``force``."""
    existing = sorted(path for path in files if (folder / path).exists())
    if existing and not force:
        names = ", ".join(path.as_posix() for path in existing)
        raise UsageError(f"would replace {names} in {folder}; nothing written (use --force)")
    for path, text in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
    return sorted(files)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init",
        help="set up this repository: matrix.toml, noxfile.py and the GitHub workflows",
        description="Write a minimal matrix.toml (the package's defaults supply the variants, "
        "CI runners, lab and platform mapping), a noxfile.py that registers repromatrix's "
        "sessions, and .github/workflows/repromatrix.yml and repromatrix-comment.yml. Existing "
        "files are never replaced without --force.",
    )
    parser.add_argument("--entry", metavar="MODULE:FUNCTION",
                        help="your experiment, e.g. mypackage.experiment:build (default: the "
                        "built-in experiment of the original report)")
    parser.add_argument("--install", metavar="SPEC",
                        help="pip arguments that install repromatrix, in the pinned venv and on "
                        "CI's host: a requirement, a wheel or folder path, a git URL, or '-e .' "
                        "(default: where this repromatrix was installed from, its "
                        "direct_url.json; checked with uv)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--project", metavar="SPEC",
                       help="pip arguments that install your own project into the pinned venv, "
                       "after repromatrix (default: '.' if the folder has a pyproject.toml or "
                       "setup.py)")
    group.add_argument("--no-project", action="store_true",
                       help="install no project: the experiment is imported from the folder")
    parser.add_argument("--dir", default=".", help="the repository's folder (default: here)")
    parser.add_argument("--force", action="store_true", help="replace existing files")
    parser.add_argument("--no-lock", action="store_true",
                        help="write no pylock.<os>-<arch>.toml (`nox -s lock` writes them later; "
                        "until then the packages the pins pull in float)")
    parser.set_defaults(func=run)


def lock_repository(folder: Path) -> None:
    """The new matrix's locks (host/lock.py): uv resolves every platform, about a minute."""
    import os

    from repromatrix.config.matrix import load_matrix
    from repromatrix.host import lock

    matrix = load_matrix(folder / "matrix.toml")
    print(f"repromatrix: locking {', '.join(lock.platforms(matrix))} with uv (about a minute; "
          "--no-lock skips it)", file=sys.stderr, flush=True)
    lock.lock_all(lock.find_uv(os.environ), matrix, lock.own_requirements(),
                  log=lambda line: print(line, file=sys.stderr, flush=True))


def run(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    if not folder.is_dir():
        raise UsageError(f"--dir {folder}: no such folder")
    project = None if args.no_project else (args.project or default_project(folder))
    install, warning = ((args.install, None) if args.install is not None else installed_spec())
    files = render(Options(entry=args.entry, install=install, project=project))
    check_spec_resolves(install, folder)
    if warning:
        print(f"repromatrix: warning: --install {install}: {warning}", file=sys.stderr)
    for path in write(folder, files, args.force):
        print(f"repromatrix: wrote {path.as_posix()}", file=sys.stderr)
    if not args.no_lock:
        lock_repository(folder)
    print("next: pip install nox and repromatrix on this machine, run `nox -s repro` for the "
          "first table, then commit and push for the CI matrix (docs/ci.md)", file=sys.stderr)
    return 0
