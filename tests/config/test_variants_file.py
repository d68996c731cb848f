"""Extra variants from a file (run --variants-file, what repromatrix remedy writes), and the
variant keys remedies use: switches and base."""

from __future__ import annotations

from pathlib import Path

import pytest

from repromatrix.config.matrix import load_matrix, load_variants_file
from repromatrix.config.request import resolve_request
from repromatrix.errors import ConfigError

MATRIX = Path(__file__).resolve().parents[2] / "matrix.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "extra.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_extra_variants_run_alone_unless_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[variants."default-optimizer.grappler"]\nbase = "default-optimizer"\n'
                 'switches = { "grappler.arithmetic_optimization" = false }\n'
                 'env = { TF_ENABLE_ONEDNN_OPTS = "0" }\n')
    request = resolve_request(MATRIX, cell="c", output=str(tmp_path / "c.json"),
                              variants_file=str(path))
    [variant] = request.variants
    assert variant.name == "default-optimizer.grappler" and variant.base == "default-optimizer"
    assert variant.switches == {"grappler.arithmetic_optimization": False}
    assert variant.settings()["switches"] == {"grappler.arithmetic_optimization": False}
    assert variant.process_key() != load_matrix(MATRIX).variants["default-optimizer"].process_key()
    both = resolve_request(MATRIX, cell="c", output=str(tmp_path / "c.json"),
                           variants_file=str(path),
                           variants=("adam", "default-optimizer.grappler"))
    assert [v.name for v in both.variants] == ["adam", "default-optimizer.grappler"]


def test_a_bad_variants_file_lists_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, '[variants.adam]\n\n[variants.x]\nswitches = { "grappler.arith" = false,'
                 ' "torch.mkldnn" = 1 }\n')
    with pytest.raises(ConfigError) as error:
        load_variants_file(path, load_matrix(MATRIX))
    text = str(error.value)
    assert "variants.adam: matrix.toml already has a variant 'adam'" in text
    assert "unknown switch" in text and "Perhaps you meant 'grappler.arithmetic_optimization'" in text
    assert "variants.x.switches.torch.mkldnn: expected true or false" in text
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_variants_file(write(tmp_path, "[variants"), load_matrix(MATRIX))
