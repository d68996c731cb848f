"""Progress of a long training run: steps done, rate and time left, at a bounded rate.

A background thread reads the optimizer's step counter every so often; training itself is not
touched (a per-batch Python callback would force a sync per step, as the trail's history showed).
Runs that finish within the first interval print nothing.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

FIRST_REPORT = 10.0  # seconds: a run shorter than this stays quiet
LONGEST_INTERVAL = 60.0  # a long run still says something every minute (CI logs)


def next_interval(elapsed: float, first: float = FIRST_REPORT) -> float:
    """A quarter of the time elapsed, between ``first`` and a minute: a handful of lines for a
    one-minute run, about one a minute for an hour-long one."""
    return min(LONGEST_INTERVAL, max(first, elapsed / 4))


def duration(seconds: float) -> str:
    """``45 s``, ``3 min 05 s``, ``2 h 04 min``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_line(done: int, total: int, elapsed: float) -> str:
    """``step 2300/100000 (2%), 450 steps/s, about 3 min 37 s left``."""
    rate = done / elapsed if elapsed > 0 else 0.0
    text = f"step {done}/{total} ({100 * done // max(total, 1)}%), {rate:.0f} steps/s"
    if 0 < done < total and rate > 0:
        text += f", about {duration((total - done) / rate)} left"
    return text


def optimizer_step_reader(optimizer: Any) -> Callable[[], int | None]:
    """Reads the optimizer's step counter; None while it does not exist yet (a legacy Keras
    optimizer creates it lazily on first use: reading it here must not create it)."""

    def read() -> int | None:
        variable = (getattr(optimizer, "_iterations", None) if hasattr(optimizer, "_iterations")
                    else getattr(optimizer, "iterations", None))
        return None if variable is None else int(variable.numpy())

    return read


class Progress:
    """``with Progress(read_step, total, log):`` reports from a daemon thread until the block ends."""

    def __init__(self, read_step: Callable[[], int | None], total: int,
                 log: Callable[[str], None], first: float | None = None) -> None:
        self._read_step = read_step
        self._total = total
        self._log = log
        self._first = FIRST_REPORT if first is None else first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="repromatrix-progress", daemon=True)

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        elapsed = 0.0
        while not self._stop.wait(next_interval(elapsed, self._first)):
            elapsed = time.monotonic() - self._started
            try:
                done = self._read_step()
            except Exception:  # noqa: BLE001 - progress is a courtesy; never disturb training
                return
            if done is not None:
                self._log(progress_line(done, self._total, elapsed))
