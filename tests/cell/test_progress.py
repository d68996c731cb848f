"""Progress lines during long training: content, rate bound, quiet short runs."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from repromatrix.cell.progress import (
    FIRST_REPORT,
    LONGEST_INTERVAL,
    Progress,
    duration,
    next_interval,
    optimizer_step_reader,
    progress_line,
)


def test_line_says_steps_rate_and_time_left() -> None:
    assert progress_line(2500, 100000, 5.0) == \
        "step 2500/100000 (2%), 500 steps/s, about 3 min 15 s left"
    assert progress_line(100, 100, 2.0) == "step 100/100 (100%), 50 steps/s"
    assert progress_line(0, 100, 10.0) == "step 0/100 (0%), 0 steps/s"


def test_durations() -> None:
    assert [duration(s) for s in (4.6, 65, 3599, 7440)] == ["5 s", "1 min 05 s", "59 min 59 s",
                                                           "2 h 04 min"]


def test_interval_is_bounded() -> None:
    """At most one line per FIRST_REPORT seconds, at least one a minute, however long the run."""
    assert next_interval(0) == FIRST_REPORT
    assert next_interval(30) == FIRST_REPORT
    assert next_interval(120) == 30
    assert next_interval(36000) == LONGEST_INTERVAL


def test_reports_from_a_thread_until_the_block_ends() -> None:
    lines: list[str] = []
    two = threading.Event()

    def log(line: str) -> None:
        lines.append(line)
        if len(lines) >= 2:
            two.set()

    steps = iter(range(10, 10000, 10))
    with Progress(lambda: next(steps), 10000, log, first=0.01):
        assert two.wait(30)
    assert lines[0].startswith("step 10/10000 (0%)")


def test_quiet_when_the_run_is_short() -> None:
    lines: list[str] = []
    with Progress(lambda: 5, 10, lines.append):
        pass  # training that ends before the first report
    assert lines == []


def test_counter_not_created_yet_is_skipped() -> None:
    lines: list[str] = []
    seen = threading.Event()

    def read():
        seen.set()
        return None

    with Progress(read, 10, lines.append, first=0.01):
        assert seen.wait(30)
    assert lines == []


def test_reader_never_creates_a_legacy_optimizers_counter() -> None:
    """A legacy Keras optimizer creates ``iterations`` on first access: the reader must not."""
    class Legacy:
        _iterations = None

        @property
        def iterations(self):  # pragma: no cover - reaching it is the failure
            raise AssertionError("created the counter")

    assert optimizer_step_reader(Legacy())() is None
    counter = SimpleNamespace(numpy=lambda: 42)
    assert optimizer_step_reader(SimpleNamespace(_iterations=counter))() == 42
    assert optimizer_step_reader(SimpleNamespace(iterations=counter))() == 42
