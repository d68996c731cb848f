"""What the lock costs on a warm `nox -s repro`. Prints figures; asserts nothing.

    python benchmarks/bench_lock.py [--repeats 3]

Side by side in one run (alternating, so machine noise hits both sides alike), medians over the
repeats: `nox -R -s repro` (reused venv, no install: only the lock's staleness check) and
`nox -s repro` (the pinned session re-applies the stack: with the lock, `uv pip sync` of it and
repromatrix reinstalled without dependencies; without it, `uv pip install` of the pins), each
with this repository's locks and with them moved aside (the unlocked install). Needs the pinned
venv (`nox -s pinned`) and nox on this Python.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    locks = sorted(ROOT.glob("pylock.*.toml"))
    if not locks:
        sys.exit("no pylock.*.toml here: run `nox -s lock` first")
    aside = Path(tempfile.mkdtemp(prefix="bench-lock-"))
    commands = {"nox -R -s repro": [sys.executable, "-m", "nox", "-R", "-s", "repro"],
                "nox -s repro": [sys.executable, "-m", "nox", "-s", "repro"]}
    times: dict[tuple[str, bool], list[float]] = {}
    try:
        for _ in range(args.repeats):
            for name, argv in commands.items():
                for locked in (True, False):
                    for path in locks:  # the unlocked side sees no lock at all
                        source, target = (aside / path.name, path) if locked else (path, aside / path.name)
                        if source.exists():
                            shutil.move(str(source), str(target))
                    times.setdefault((name, locked), []).append(timed(argv))
    finally:
        for path in locks:
            if (aside / path.name).exists():
                shutil.move(str(aside / path.name), str(path))
    for name in commands:
        with_lock = statistics.median(times[(name, True)])
        without = statistics.median(times[(name, False)])
        print(f"{name}: locked {with_lock:.1f} s, unlocked {without:.1f} s, ratio "
              f"{with_lock / without:.2f} (rounds locked "
              f"{', '.join(f'{t:.1f}' for t in times[(name, True)])}; unlocked "
              f"{', '.join(f'{t:.1f}' for t in times[(name, False)])})")


if __name__ == "__main__":
    main()
