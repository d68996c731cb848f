"""The lock end to end: `repromatrix init` writes a lock per platform (uv resolves them for
real), two pinned venvs built from it by `nox -s pinned` hold exactly the lock's packages, with
identical `pip freeze`, and a lock made stale by a changed pin stops `nox -s pinned` with one line
and exit 2. Cost: about a minute of resolution (network bound) and two pinned installs from uv's
warm cache (~5 s each)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from host_env import pinned_host_env

pytestmark = pytest.mark.slow

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

BIN = Path(sys.executable).parent


def run(argv: list[str], cwd: Path, env: dict[str, str], ok: bool = True
        ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200,
                          check=False)
    if ok and done.returncode != 0:  # the tool's own words, not an assertion's truncated repr
        pytest.fail(f"{' '.join(argv)} exited {done.returncode}\n--- stdout\n{done.stdout[-3000:]}"
                    f"\n--- stderr\n{done.stderr[-3000:]}", pytrace=False)
    return done


def freeze(python: Path, env: dict[str, str]) -> list[str]:
    return run([str(BIN / "uv"), "pip", "freeze", "--python", str(python)], python.parent,
               env).stdout.splitlines()


@pytest.fixture(scope="module")
def locked(root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("lock")
    env = {k: v for k, v in pinned_host_env().items()
           if not k.startswith(("REPROMATRIX_", "NOX_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"  # this venv's nox and uv
    repo = base / "repo"
    repo.mkdir()
    init = run([sys.executable, "-m", "repromatrix", "init", "--dir", str(repo), "--no-project",
                "--install", f"-e {root}"], base, env)
    venvs, logs = {}, {}
    for name in ("a", "b"):
        done = run([str(BIN / "nox"), "--envdir", str(base / name), "-s", "pinned"], repo, env)
        logs[name] = done.stdout + done.stderr  # uv's lines are on stdout, nox's on stderr
        venvs[name] = base / name / "pinned" / "bin" / "python"
    return {"repo": repo, "base": base, "env": env, "init": init, "venvs": venvs, "logs": logs}


def test_init_writes_a_lock_per_platform(locked: dict[str, Any]) -> None:
    repo = locked["repo"]
    assert sorted(p.name for p in repo.glob("pylock.*.toml")) == [
        "pylock.linux-arm64.toml", "pylock.linux-x86_64.toml", "pylock.macos-arm64.toml",
        "pylock.macos-x86_64.toml", "pylock.windows-x86_64.toml"]
    assert "repromatrix: locked linux-x86_64 -> pylock.linux-x86_64.toml" in locked["init"].stderr
    # The CI files install from it: the run job builds the pinned venv (`nox -s pinned`, which
    # reads the lock) and keys uv's cache on it.
    workflow = (repo / ".github" / "workflows" / "repromatrix.yml").read_text(encoding="utf-8")
    assert "run: nox -s pinned 2>&1 | tee pinned.log" in workflow
    assert "pylock.*.toml" in workflow
    # Every package resolved from PyPI names PyPI's index, which uv does not write.
    packages = tomllib.loads((repo / "pylock.linux-x86_64.toml").read_text(encoding="utf-8"))[
        "packages"]
    assert len(packages) > 40
    assert {p.get("index") for p in packages} == {"https://pypi.org/simple"}


def test_the_second_install_of_a_lock_downloads_nothing(locked: dict[str, Any]) -> None:
    """The first install filled uv's cache; the second takes every wheel from it, whatever the
    network did to PyPI's cache headers (uv prints `Downloading <name> (<size>)` for each wheel
    of a MiB or more it fetches: 16 of them, tensorflow's 559 MiB among them, before the lock
    named its index)."""
    log = locked["logs"]["b"]
    assert "installing 3.9.2 stack for linux-x86_64 from pylock.linux-x86_64.toml" in log
    assert re.search(r"^Installed \d+ packages in ", log, re.MULTILINE)  # uv's output is here
    assert [line for line in log.splitlines()
            if line.startswith("Downloading ")] == []


def test_two_venvs_from_one_lock_are_identical_and_exactly_the_lock(locked: dict[str, Any],
                                                                    root: Path) -> None:
    env = locked["env"]
    first, second = (freeze(locked["venvs"][n], env) for n in ("a", "b"))
    assert first == second
    document = tomllib.loads((locked["repo"] / "pylock.linux-x86_64.toml").read_text(
        encoding="utf-8"))
    wanted = {f"{p['name']}=={p['version']}" for p in document["packages"]}
    got = {line for line in first if not line.startswith("-e ")}
    assert got == wanted  # nothing more, nothing less: scipy, protobuf... as locked
    # repromatrix itself, installed after the lock without dependencies (they are in it)
    assert [line for line in first if line.startswith("-e ")] == [f"-e {root.as_uri()}"]


def test_a_stale_lock_stops_pinned_with_one_line(locked: dict[str, Any]) -> None:
    repo, env = locked["repo"], locked["env"]
    matrix = (repo / "matrix.toml").read_text(encoding="utf-8")
    (repo / "matrix.toml").write_text(matrix.replace('pandas = "1.5.3"', 'pandas = "1.5.2"'),
                                      encoding="utf-8")
    try:
        done = run([str(BIN / "nox"), "--envdir", str(locked["base"] / "a"), "-s", "pinned"],
                   repo, env, ok=False)
    finally:
        (repo / "matrix.toml").write_text(matrix, encoding="utf-8")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == \
        "nox: pylock.linux-x86_64.toml no longer matches matrix.toml: run `nox -s lock`"
    assert "Session pinned" not in done.stderr.splitlines()[-1]


def test_init_refuses_a_spec_that_does_not_resolve(tmp_path: Path) -> None:
    """The default of old, `repromatrix==<version>`, is not published: refused at init, in one
    line naming --install, with nothing locked (uv asks the package index, a second or two)."""
    from repromatrix import __version__

    env = {k: v for k, v in pinned_host_env().items() if not k.startswith("REPROMATRIX_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    done = run([sys.executable, "-m", "repromatrix", "init", "--dir", str(tmp_path),
                "--no-project", "--install", f"repromatrix=={__version__}"], tmp_path, env,
               ok=False)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[-1].startswith(f"repromatrix: error: --install 'repromatrix=={__version__}' "
                                "does not resolve (")
    assert "repromatrix was not found in the package registry" in lines[-1]
    assert lines[-1].endswith("pass --install with a published version, a wheel, a folder or a "
                              "git URL of repromatrix")
    assert not list(tmp_path.glob("pylock.*.toml"))
