"""The worker process's own entry: ``python -m repromatrix.cell.worker REQUEST JOURNAL``.

``run`` starts its workers here rather than through the command line (``repromatrix _worker``,
kept for running a group by hand): the CLI module imports the host's layers, and a process in
the pinned venv that trains must import nothing but the cell and the plain model.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from repromatrix import environment
from repromatrix.model import CellRequest


def main(argv: Sequence[str]) -> int:
    """Run one group of variants from a resolved request, journalling to the given file."""
    if len(argv) != 2:
        print("usage: python -m repromatrix.cell.worker REQUEST_JSON JOURNAL", file=sys.stderr)
        return 2
    request_json, journal = argv
    # Before TensorFlow is imported (run_worker imports it), so that it sees them: the cell's
    # environment, then the variants' own, with environment.combine's precedence.
    request = CellRequest.from_json(request_json)
    own = request.variants[0].process_env() if request.variants else {}
    os.environ.update(environment.combine({**os.environ, **request.env}, own))
    from repromatrix.cell.runner import run_worker

    try:
        return run_worker(request_json, journal)
    except OSError as error:  # as the CLI ends: one line and exit code 2, which the journal's
        # reader reports as the worker's cause (a user error is journalled by run_worker itself)
        if os.environ.get("REPROMATRIX_TRACEBACK"):
            raise
        where = f"{error.filename}: " if error.filename else ""
        print(f"repromatrix: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("repromatrix: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
