"""The logic behind `nox -s repro`'s "never an old table" rule (sessions.py), without nox."""

from __future__ import annotations

import json
import os
from pathlib import Path

from repromatrix import sessions


class TestRunOutput:
    def test_default_path_follows_the_cell(self) -> None:
        """Without --output, the artifact is artifacts/<cell>.json, as `run` writes it."""
        assert sessions.run_output(["--cell", "office"]) == Path("artifacts") / "office.json"

    def test_explicit_output_wins(self, tmp_path: Path) -> None:
        """--output names the file the session must look at."""
        target = tmp_path / "x.json"
        assert sessions.run_output(["--cell", "a", "--output", str(target)]) == target

    def test_unparsable_arguments_give_none(self) -> None:
        """Arguments `run` refuses give None (the run then reports them itself)."""
        assert sessions.run_output(["--rows", "not-a-number"]) is None


class TestFileStamp:
    def test_absent_file_has_no_stamp(self, tmp_path: Path) -> None:
        """A missing artifact has no stamp, so "unchanged" cannot be mistaken for "written"."""
        assert sessions.file_stamp(tmp_path / "none.json") is None
        assert sessions.file_stamp(None) is None

    def test_atomic_replace_changes_the_stamp(self, tmp_path: Path) -> None:
        """Replacing the file as artifact.write does (a new file renamed over it) is seen."""
        path = tmp_path / "cell.json"
        path.write_text("{}", encoding="utf-8")
        before = sessions.file_stamp(path)
        fresh = tmp_path / "fresh.tmp"
        fresh.write_text("{}", encoding="utf-8")
        os.replace(fresh, path)
        assert sessions.file_stamp(path) != before

    def test_untouched_file_keeps_its_stamp(self, tmp_path: Path) -> None:
        path = tmp_path / "cell.json"
        path.write_text("{}", encoding="utf-8")
        assert sessions.file_stamp(path) == sessions.file_stamp(path)


class TestFailedVariants:
    def _write(self, path: Path, document: dict) -> Path:
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    def test_lists_failed_variants_sorted(self, tmp_path: Path) -> None:
        """Every variant whose status is not ok is named, in sorted order."""
        path = self._write(tmp_path / "a.json", {"status": "ok", "variants": {
            "zeta": {"status": "error"}, "adam": {"status": "ok"}, "alpha": {"status": "error"}}})
        assert sessions.failed_variants(path) == ["alpha", "zeta"]

    def test_all_ok_is_empty(self, tmp_path: Path) -> None:
        path = self._write(tmp_path / "a.json", {"status": "ok", "variants": {"a": {"status": "ok"}}})
        assert sessions.failed_variants(path) == []

    def test_failed_cell_without_variants(self, tmp_path: Path) -> None:
        """An error artifact (no variants, status error) still counts as a failure."""
        path = self._write(tmp_path / "a.json", {"status": "error", "variants": {}})
        assert sessions.failed_variants(path) == ["the cell"]
