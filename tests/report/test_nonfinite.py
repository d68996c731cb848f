"""A diverged run's NaN/inf survive the runner's writer and are read back as such."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repromatrix import artifact
from repromatrix.report import aggregate, render


def test_nan_sums_written_by_the_runner_are_read_as_nan(tmp_path: Path, art: Any) -> None:
    """artifact.write stores NaN as "nan"; the aggregator flags NaN sums instead of rejecting the list."""
    diverged = art.variant(after=[float("nan")] + [0.5] * 5, trail_sums=[0.0, 1.0, float("inf"), 2.0])
    document = art.cell("nan-cell", {"default-optimizer": diverged})
    artifact.write(tmp_path / "nan-cell.json", document)
    assert '"nan"' in (tmp_path / "nan-cell.json").read_text()
    text = render(aggregate([tmp_path]), "text", wide=True)
    assert "contain NaN or infinite values" in text
    assert "is not a list of numbers" not in text
