"""artifact.py at its edges: an error from creating the temporary file names the artifact, an
error without a strerror keeps its text, and artifacts are UTF-8 whatever the locale (found as
mutmut survivors: `nox -s mutants -- 'repromatrix.artifact.*'`)."""

from __future__ import annotations

import codecs
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repromatrix import artifact


def test_a_temporary_file_that_cannot_be_made_names_the_artifact(tmp_path: Path) -> None:
    # the temporary's name is the artifact's plus 14 characters (".", ".", 8 random, ".tmp"):
    # a name 5 short of the limit is still valid, its temporary's is not
    longest = os.pathconf(tmp_path, "PC_NAME_MAX")
    output = tmp_path / ("c" * (longest - 10) + ".json")
    with pytest.raises(OSError) as caught:
        artifact.write(output, {"a": 1})
    assert (caught.value.errno, caught.value.strerror, caught.value.filename) == (
        errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(output))
    assert os.listdir(tmp_path) == []


def test_an_error_without_a_strerror_keeps_its_text(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(source: str, target: object) -> None:
        raise OSError("the volume went away")  # no errno, no strerror

    monkeypatch.setattr(artifact.os, "replace", refuse)
    output = tmp_path / "cell.json"
    with pytest.raises(OSError) as caught:
        artifact.write(output, {"a": 1})
    assert (caught.value.strerror, caught.value.filename) == ("the volume went away", str(output))


WRITE_AND_CHECK = """
import sys
from pathlib import Path
from repromatrix import artifact
path = Path(sys.argv[1])
artifact.write(path, {"schema": 1, "kind": "repromatrix-cell", "cpu": "Intel\\u00ae Xeon\\u00ae"})
print(artifact.is_cell_artifact(path))
"""


def test_artifacts_are_utf8_under_an_ascii_locale(tmp_path: Path) -> None:
    # A runner with a non-UTF-8 locale (the C locale without coercion, Windows' code pages) must
    # still write UTF-8 and read its own artifact back as valid, not replace it.
    output = tmp_path / "cell.json"
    artifact.write(output, {"schema": 1, "kind": "repromatrix-cell", "cpu": "Intel\u00ae"})
    assert artifact.is_cell_artifact(output)
    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0",
               PYTHONIOENCODING="utf-8")
    ascii_locale = subprocess.run(
        [sys.executable, "-c", "import locale; print(locale.getpreferredencoding(False))"],
        env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert codecs.lookup(ascii_locale).name == "ascii"  # the test means something only so
    ran = subprocess.run([sys.executable, "-c", WRITE_AND_CHECK, str(output)], env=env,
                         capture_output=True, text=True, check=False)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "True\n", "")
    assert json.loads(output.read_bytes().decode("utf-8"))["cpu"] == "Intel\u00ae Xeon\u00ae"


def test_artifacts_end_lines_with_a_newline_on_every_host(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Byte-identical artifacts across OSes: a text file opened without newline="\n" writes
    # os.linesep, "\r\n" on the Windows runners. This host writes "\n" either way, so the test
    # checks how the file is opened.
    opened = []
    real = artifact.os.fdopen

    def fdopen(handle: int, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        opened.append((args, kwargs))
        return real(handle, *args, **kwargs)

    monkeypatch.setattr(artifact.os, "fdopen", fdopen)
    artifact.write(tmp_path / "cell.json", {"a": 1})
    assert opened == [(("w",), {"encoding": "utf-8", "newline": "\n"})]
    assert (tmp_path / "cell.json").read_bytes() == b'{\n "a": 1\n}\n'
