"""How long the matrix loader takes to report a file with many problems, and how much it prints.

    python benchmarks/bench_matrix_problems.py [--sizes 250 2000 60000] [--src SRC] [--timeout 120]

Prints figures; asserts nothing. Each size is a generated matrix.toml with exactly that many
problems (half variants with a misspelt key, half runners with an unknown os), loaded in a fresh
process with ``SRC`` (default: this checkout's ``src``) first on the path, so the code of another
commit can be measured side by side: ``git archive main src | tar -x -C /tmp/main`` and
``--src /tmp/main/src``. A size that does not finish within the timeout is reported as such.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEADER = """\
[experiment]
seed = 42

[pins]
python = "3.9.2"

[pins.packages]
tensorflow = "2.12.0"

"""

# Runs in the measured process: load, time, and count what `repromatrix` would print.
SNIPPET = r"""
import json, sys, time
from repromatrix.errors import ConfigError
from repromatrix.config.matrix import load_matrix
started = time.perf_counter()
try:
    load_matrix(sys.argv[1])
    problems = []
except ConfigError as error:
    problems = error.problems
seconds = time.perf_counter() - started
printed = sum(len(f"repromatrix: error: {p}\n".encode("utf-8")) for p in problems)
print(json.dumps({"seconds": seconds, "lines": len(problems), "printed": printed}))
"""


def matrix_text(problems: int) -> str:
    variants = problems // 2
    runners = problems - variants
    parts = [HEADER]
    parts += [f'[variants.v{i}]\noptimiser = "adam"\n\n' for i in range(max(variants, 1))]
    parts += [f'[[runners]]\nlabel = "self-hosted-{i}"\nos = "linus"\narch = "x86_64"\n'
              f'python = "uv"\n\n' for i in range(runners)]
    return "".join(parts)


def measure(src: Path, path: Path, timeout: float) -> dict[str, float] | None:
    try:
        completed = subprocess.run([sys.executable, "-c", SNIPPET, str(path)], capture_output=True,
                                   text=True, timeout=timeout, check=True,
                                   env={"PYTHONPATH": str(src), "PATH": ""})
    except subprocess.TimeoutExpired:
        return None
    return json.loads(completed.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 2000, 60000])
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    print(f"source: {args.src}")
    print(f"{'problems':>9}  {'file':>9}  {'seconds':>8}  {'lines':>6}  {'printed':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            path = Path(folder) / f"matrix-{size}.toml"
            path.write_text(matrix_text(size), encoding="utf-8")
            file_size = f"{path.stat().st_size / 1e6:.2f} MB"
            result = measure(args.src, path, args.timeout)
            if result is None:
                print(f"{size:>9}  {file_size:>9}  did not finish in {args.timeout:.0f} s")
                continue
            print(f"{size:>9}  {file_size:>9}  {result['seconds']:>8.2f}  {result['lines']:>6}  "
                  f"{result['printed'] / 1000:>7.1f} KB", flush=True)


if __name__ == "__main__":
    main()
