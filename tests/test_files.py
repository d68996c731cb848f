"""Reading user-named files: only regular files, never more than a bound (issue 9, point 5).

Every command that reads a file the user named goes through ``files.read_bounded``; the tests
below prove the reader itself, then that each command refuses a device and a FIFO with one line
instead of reading forever or hanging. FIFO and /dev/zero exist on POSIX systems only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pytest

from repromatrix import files
from repromatrix.cell import data
from repromatrix.ci import comment
from repromatrix.cli import main as cli
from repromatrix.config.matrix import load_matrix
from repromatrix.errors import ConfigError, DataError, UsageError
from repromatrix.report.load import read_file
from repromatrix.report.model import Rejected

posix_only = pytest.mark.skipif(sys.platform == "win32" or not Path("/dev/zero").exists(),
                                reason="needs /dev/zero and FIFOs")
ZERO = "/dev/zero"


@pytest.fixture
def fifo(tmp_path: Path) -> str:
    """A FIFO nobody writes to: opening it the ordinary way blocks forever."""
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return str(path)


class TestReadBounded:
    def test_regular_file_within_the_bound(self, tmp_path: Path) -> None:
        path = tmp_path / "a.txt"
        path.write_bytes(b"12345")
        assert files.read_bounded(path, 5) == b"12345"

    def test_one_byte_over_the_bound(self, tmp_path: Path) -> None:
        path = tmp_path / "a.txt"
        path.write_bytes(b"123456")
        with pytest.raises(files.UnreadableFile, match="larger than 5 bytes") as caught:
            files.read_bounded(path, 5)
        assert caught.value.kind == "too-large"

    def test_tail_keeps_the_end(self, tmp_path: Path) -> None:
        path = tmp_path / "log.txt"
        path.write_bytes(b"first\n" + b"x" * 100 + b"\nlast line\n")
        assert files.read_bounded(path, 10, tail=True) == b"last line\n"

    def test_missing_and_folder(self, tmp_path: Path) -> None:
        with pytest.raises(files.UnreadableFile) as missing:
            files.read_bounded(tmp_path / "none", 10)
        with pytest.raises(files.UnreadableFile) as folder:
            files.read_bounded(tmp_path, 10)
        assert (missing.value.kind, folder.value.kind) == ("missing", "folder")

    @posix_only
    def test_device_is_refused_unread(self) -> None:
        with pytest.raises(files.UnreadableFile, match=r"not a regular file \(a character device"):
            files.read_bounded(ZERO, 2**40)

    @posix_only
    def test_fifo_is_refused_without_waiting(self, fifo: str) -> None:
        with pytest.raises(files.UnreadableFile, match=r"not a regular file \(a FIFO\)"):
            files.read_bounded(fifo, 10)


@posix_only
class TestEveryReaderIsBounded:
    """On main these read /dev/zero until memory runs out and block on a FIFO."""

    @pytest.mark.parametrize("special", ["zero", "fifo"])
    def test_matrix(self, special: str, fifo: str) -> None:
        path = ZERO if special == "zero" else fifo
        with pytest.raises(ConfigError, match="not a regular file"):
            load_matrix(path)

    @pytest.mark.parametrize("features", [3, None])  # None: a user experiment's CSV
    def test_data(self, features: int | None) -> None:
        with pytest.raises(DataError, match="not a regular file"):
            data.load_dataset(ZERO, features=features)

    @pytest.mark.parametrize("special", ["zero", "fifo"])
    def test_aggregate(self, special: str, fifo: str) -> None:
        record = read_file(ZERO if special == "zero" else fifo)
        assert isinstance(record, Rejected) and "not a regular file" in record.reason

    def test_comment_inputs(self, fifo: str) -> None:
        with pytest.raises(UsageError, match="not a regular file"):
            comment.read_body(Path(ZERO))
        with pytest.raises(UsageError, match="not a regular file"):
            comment.read_pr_number(Path(fifo))
        with pytest.raises(UsageError, match="not a regular file"):
            comment.parse_run_pull_requests(ZERO)

    def test_run_data_is_one_line_exit_2(self, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
        code = cli.main(["run", "--data", ZERO, "--output", str(tmp_path / "out.json")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and err == [f"repromatrix: error: {ZERO}: not a regular file "
                                     "(a character device)"]

    def test_plan_matrix_is_one_line_exit_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli.main(["plan", "--matrix", ZERO]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [
            f"repromatrix: error: {ZERO}: not a regular file (a character device)"]

    @pytest.mark.parametrize("special", ["zero", "fifo"])
    def test_error_artifact_output(self, special: str, fifo: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
        """The existing --output is read to keep a real artifact: never a device or a FIFO."""
        output = ZERO if special == "zero" else fifo
        assert cli.main(["error-artifact", "--cell", "c", "--output", output]) == 2
        assert "exists and is not a regular file" in capsys.readouterr().err
        assert not Path(output).is_file()

    def test_error_artifact_log(self, tmp_path: Path, fifo: str) -> None:
        """An unreadable log is noted in the artifact; the artifact is still written."""
        output = tmp_path / "cell.json"
        assert cli.main(["error-artifact", "--cell", "c", "--log", fifo,
                         "--output", str(output)]) == 0
        tail = json.loads(output.read_text(encoding="utf-8"))["error"]["log_tail"]
        assert "not a regular file (a FIFO)" in tail


def test_error_artifact_reads_only_the_end_of_a_large_log(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"early line\n" * (cli.MAX_LOG_BYTES // 8) + b"the last line\n")
    output = tmp_path / "cell.json"
    assert cli.main(["error-artifact", "--cell", "c", "--log", str(log),
                     "--output", str(output)]) == 0
    tail = json.loads(output.read_text(encoding="utf-8"))["error"]["log_tail"]
    assert tail.endswith("the last line")


def test_step_summary_file_is_bounded(tmp_path: Path) -> None:
    from repromatrix.ci import github

    big = tmp_path / "big.md"
    big.write_bytes(b"x" * (github.MAX_SUMMARY_BYTES + 1))
    with pytest.raises(UsageError, match="larger than 1 MiB"):
        github.run(argparse.Namespace(files=[str(big)]), env={})
