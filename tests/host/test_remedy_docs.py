"""docs/remedy.md lists exactly the shipped candidates, each with its change."""

from __future__ import annotations

import re
from pathlib import Path

from repromatrix.host import remedy_candidates as R
from repromatrix.host.remedy_text import changes_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "remedy.md"


def test_the_candidates_table_is_the_file() -> None:
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([^`]+)` \| ([^|]+) \|",
                                                          DOC.read_text(encoding="utf-8"), re.M)}
    shipped = R.load()
    assert list(rows) == [c.id for c in shipped]
    for candidate in shipped:
        words = changes_text(candidate.changes()).replace(" KMP_", ", KMP_")
        assert set(re.split(r"[ ,]+", words)) <= set(re.split(r"[ ,]+", rows[candidate.id])), candidate.id
