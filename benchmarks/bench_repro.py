"""Measure what repromatrix costs on top of the bare experiment. Prints figures; asserts nothing.

    python benchmarks/bench_repro.py [--repeats 5] [--figures 1,2,3,4,5]

Needs the pinned venv (`nox -s pinned` or one `nox -s repro` first). Five figures, each measured
side by side in one run (alternating, so machine noise hits both sides alike), reported as the
median over the repeats:

1. `nox -R -s repro` wall time / `python benchmarks/bare_train.py` wall time (budget: <= 1.3);
2. training time with the per-step trail / without it, in one process (budget: <= 1.15);
3. whether one process for all variants gives the same digests as one process per variant,
   and what each way costs;
4. `repromatrix run` (a supervisor that starts one worker process for the shared variants) /
   the same variants run directly in one process (`repromatrix _worker`, what `run` did before
   it supervised), same rows;
5. training time with the progress thread / without it, in one process, the thread reading the
   step counter every 0.2 s (50x more often than it does).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POINTER = ROOT / ".nox" / "pinned-python.txt"

TRAIL_SNIPPET = r"""
import json, sys, time
from repromatrix.cell.data import load_dataset
from repromatrix.config.matrix import load_matrix
from repromatrix.cell import experiment
matrix = load_matrix(sys.argv[1])
data = load_dataset("builtin")
results = {}
experiment.run_variant(matrix.variants["adam"], load_dataset("builtin", rows=20), 42)  # warm-up
for round_ in range(int(sys.argv[2])):
    for name in ("default-optimizer", "adam"):
        for trail in (False, True):
            start = time.perf_counter()
            record = experiment.run_variant(matrix.variants[name], data, 42, record_trail=trail)
            results.setdefault(f"{name}|{trail}", []).append(time.perf_counter() - start)
            results.setdefault(f"digest|{name}|{trail}", record["digest"])
print(json.dumps(results))
"""


PROGRESS_SNIPPET = r"""
import json, sys, time
from repromatrix.cell.data import load_dataset
from repromatrix.config.matrix import load_matrix
from repromatrix.cell import experiment, progress
matrix = load_matrix(sys.argv[1])
data = load_dataset("builtin")
lines = []
progress.FIRST_REPORT = progress.LONGEST_INTERVAL = 0.2  # 50x the real rate: any cost shows
results = {}
experiment.run_variant(matrix.variants["adam"], load_dataset("builtin", rows=20), 42)  # warm-up
for round_ in range(int(sys.argv[2])):
    for name in ("default-optimizer", "adam"):
        for log in (None, lines.append):
            start = time.perf_counter()
            record = experiment.run_variant(matrix.variants[name], data, 42, log=log)
            results.setdefault(f"{name}|{log is not None}", []).append(time.perf_counter() - start)
            results.setdefault(f"digest|{name}|{log is not None}", record["digest"])
results["lines"] = len(lines)
print(json.dumps(results))
"""


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--figures", default="1,2,3,4,5", help="which figures (comma-separated)")
    args = parser.parse_args()
    figures = {int(f) for f in args.figures.split(",")}
    if not POINTER.exists():
        sys.exit("run `nox -s pinned` first: the benchmark needs the pinned venv")
    python = POINTER.read_text().strip()

    for number, figure in ((1, _versus_bare), (2, _trail), (3, _process_modes), (4, _supervisor),
                           (5, _progress)):
        if number in figures:
            figure(python, args.repeats)


def _versus_bare(python: str, repeats: int) -> None:
    print(f"1. nox -R -s repro vs bare script ({repeats} alternating rounds)", flush=True)
    nox_times, bare_times = [], []
    timed([sys.executable, "-m", "nox", "-R", "-s", "repro"], ROOT)  # warm the caches once
    for _ in range(repeats):
        bare_times.append(timed([python, str(ROOT / "benchmarks" / "bare_train.py")], ROOT))
        nox_times.append(timed([sys.executable, "-m", "nox", "-R", "-s", "repro"], ROOT))
    ratios = [n / b for n, b in zip(nox_times, bare_times)]
    print(f"   bare script: median {statistics.median(bare_times):.2f} s  {_list(bare_times)}")
    print(f"   nox -R -s repro: median {statistics.median(nox_times):.2f} s  {_list(nox_times)}")
    print(f"   ratio per round: {_list(ratios, 3)}; median {statistics.median(ratios):.3f} (budget 1.30)")



def _trail(python: str, repeats: int) -> None:
    print(f"2. per-step trail overhead on training ({repeats} alternating rounds)", flush=True)
    output = subprocess.run([python, "-c", TRAIL_SNIPPET, str(ROOT / "matrix.toml"), str(repeats)],
                            cwd=ROOT, check=True, capture_output=True, text=True).stdout
    _print_with_without(json.loads(output.strip().splitlines()[-1]), " (budget 1.15)")


def _print_with_without(results: dict, budget: str = "") -> None:
    """One line per variant: training time without and with the feature, their ratio, and
    whether the digests agree (the feature must not change the weights)."""
    for name in ("default-optimizer", "adam"):
        off, on = results[f"{name}|False"], results[f"{name}|True"]
        per_round = [b / a for a, b in zip(off, on)]
        same = results[f"digest|{name}|False"] == results[f"digest|{name}|True"]
        print(f"   {name}: without {statistics.median(off):.2f} s, with {statistics.median(on):.2f} s, "
              f"ratio median {statistics.median(per_round):.3f}{budget}; same digest: {same}")



def _process_modes(python: str, repeats: int) -> None:
    print("3. one process for all variants vs one process per variant", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        costs, digests = {}, {}
        for mode, extra in (("one process", []), ("process per variant", ["--process-per-variant"])):
            out = Path(folder) / f"{len(extra)}.json"
            costs[mode] = timed([python, "-m", "repromatrix", "run", "--output", str(out), *extra], ROOT)
            document = json.loads(out.read_text())
            digests[mode] = {k: v["digest"] for k, v in sorted(document["variants"].items())}
        for mode, seconds in costs.items():
            print(f"   {mode}: {seconds:.2f} s")
        print(f"   same digests: {digests['one process'] == digests['process per variant']}")


RESOLVE_SNIPPET = """\
import sys
from repromatrix.config.request import resolve_request
print(resolve_request(sys.argv[1], cell="bench", output=sys.argv[2], rows=300).to_json())
"""


def _supervisor(python: str, repeats: int) -> None:
    print(f"4. supervised run vs the same variants directly in one process ({repeats} alternating "
          "rounds, 300 rows)", flush=True)
    supervised, direct = [], []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "bench.json"
        # The worker takes a resolved request (the host reads matrix.toml): resolve it as `run` does.
        request = subprocess.run([python, "-c", RESOLVE_SNIPPET, str(ROOT / "matrix.toml"), str(out)],
                                 cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
        for round_ in range(repeats):
            journal = Path(folder) / f"journal-{round_}.jsonl"
            direct.append(timed([python, "-m", "repromatrix", "_worker", request,
                                 str(journal)], ROOT))
            supervised.append(timed([python, "-m", "repromatrix", "run", "--cell", "bench",
                                     "--rows", "300", "--output", str(out)], ROOT))
    ratios = [s / d for s, d in zip(supervised, direct)]
    print(f"   direct (one process): median {statistics.median(direct):.2f} s  {_list(direct)}")
    print(f"   supervised run: median {statistics.median(supervised):.2f} s  {_list(supervised)}")
    print(f"   ratio per round: {_list(ratios, 3)}; median {statistics.median(ratios):.3f}")


def _progress(python: str, repeats: int) -> None:
    print(f"5. progress thread overhead on training ({repeats} alternating rounds)", flush=True)
    output = subprocess.run([python, "-c", PROGRESS_SNIPPET, str(ROOT / "matrix.toml"), str(repeats)],
                            cwd=ROOT, check=True, capture_output=True, text=True).stdout
    results = json.loads(output.strip().splitlines()[-1])
    _print_with_without(results)
    print(f"   progress lines printed: {results['lines']}")


def _list(values: list[float], digits: int = 2) -> str:
    return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"


if __name__ == "__main__":
    main()
