"""docs/environment.md lists exactly the REPROMATRIX_* variables that src/ names."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"\bREPROMATRIX_[A-Z0-9]+(?:_[A-Z0-9]+)*")
SOURCE_SUFFIXES = {".py", ".in", ".toml", ".yml", ".yaml"}


def used_in_src() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "src").rglob("*"):
        if path.is_file() and path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts:
            names.update(NAME.findall(path.read_text(encoding="utf-8")))
    return names


def documented() -> set[str]:
    table = [line for line in (ROOT / "docs" / "environment.md").read_text(encoding="utf-8")
             .splitlines() if line.startswith("| `REPROMATRIX_")]
    return {name for line in table for name in NAME.findall(line.split("|")[1])}


def test_src_reads_only_documented_variables() -> None:
    assert sorted(used_in_src() - documented()) == []


def test_doc_lists_no_variable_src_dropped() -> None:
    assert sorted(documented() - used_in_src()) == []


def test_the_scan_finds_the_known_variables() -> None:
    assert {"REPROMATRIX_MATRIX", "REPROMATRIX_QEMU", "REPROMATRIX_CACHE"} <= used_in_src()
