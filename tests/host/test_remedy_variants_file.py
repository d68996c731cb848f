"""The candidates' variants file reads back, through the matrix loader, as the same variants."""

from __future__ import annotations

from pathlib import Path

from repromatrix.config.matrix import load_matrix, load_variants_file
from repromatrix.host import remedy
from repromatrix.host import remedy_candidates as R
from repromatrix.model import Variant

MATRIX = Path(__file__).resolve().parents[2] / "matrix.toml"


def test_every_candidate_round_trips(tmp_path: Path) -> None:
    originals = (Variant(name="default-optimizer"),
                 Variant(name="jax", backend="jax", env={"A": "1"}, threads={"intra_op": 2,
                                                                             "inter_op": 0}))
    variants = [c.applied_to(v) for v in originals for c in R.load()]
    path = tmp_path / "c.variants.toml"
    path.write_text(remedy._variants_toml(variants), encoding="utf-8")
    loaded = load_variants_file(path, load_matrix(MATRIX))
    assert list(loaded) == [v.name for v in variants]
    for variant in variants:
        assert loaded[variant.name] == variant, variant.name
