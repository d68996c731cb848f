"""Score per module of the last `mutmut run` (read from mutants/**.meta), and the survivors.

Run by `nox -s mutants` after mutmut. Killed and timed-out mutants count as caught; survivors,
mutants no fast test reaches ("no tests") and suspicious ones do not. Mutants listed in
EQUIVALENT behave exactly like the original code, so they leave the score; each says why.
Exit status 1 when a module scores below THRESHOLD.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

THRESHOLD = 90.0
CAUGHT = {"killed", "timeout", "caught by type check"}

# mutant name -> why no test can tell it from the original.
EQUIVALENT: dict[str, str] = {
}


def main() -> int:
    root = Path("mutants")
    metas = sorted(root.glob("src/**/*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/: run `nox -s mutants` first", file=sys.stderr)
        return 2
    below = []
    survivors: list[tuple[str, str]] = []
    print(f"{'module':45} {'mutants':>8} {'caught':>7} {'equiv':>6} {'score':>7}")
    for meta in metas:
        module = str(meta.relative_to(root / "src"))[: -len(".meta")]
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        counts: Counter[str] = Counter()
        for name, code in sorted(codes.items()):
            status = status_by_exit_code[code]
            if name in EQUIVALENT:
                counts["equivalent"] += 1
            elif status in CAUGHT:
                counts["caught"] += 1
            else:
                counts["missed"] += 1
                survivors.append((name, status))
        scored = counts["caught"] + counts["missed"]
        score = 100.0 * counts["caught"] / scored if scored else 100.0
        if score < THRESHOLD:
            below.append(module)
        print(f"{module:45} {len(codes):8} {counts['caught']:7} {counts['equivalent']:6} "
              f"{score:6.1f}%")
    print(f"\nsurviving mutants ({len(survivors)}; `mutmut show NAME` prints the change):")
    for name, status in survivors:
        print(f"  {name}: {status}")
    if below:
        print(f"\nbelow {THRESHOLD:.0f}%: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
