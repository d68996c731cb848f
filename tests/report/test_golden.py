"""The whole text and markdown reports of one rich case, byte for byte.

The tables are promised byte-identical for the same inputs, and every word of a verdict is a
user's reading of the result: any change in wording, order, escaping or layout must show up
here as a diff to review (regenerate with REPROMATRIX_REGOLDEN=1 after checking it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repromatrix.report import aggregate, render

GOLDEN = Path(__file__).resolve().parent / "golden"


def rich_docs(art):
    """Two agreeing AMD cells, an Intel cell that diverges at step 1, a cell whose variant
    failed, a failed cell with a log, a duplicate, a sums-only laptop, and a stray file."""
    docs = art.two_group_docs()
    failed_variant = art.variant(status="error")
    failed_variant["error"] = {"message": "OOM \x1b[2J", "log_tail": "line 1\nkilled"}
    docs.append(art.cell("v-fail", {"default-optimizer": failed_variant,
                                    "adam": art.variant(ops=art.ADAM_OPS)}))
    docs.append(art.cell("c-fail", {}, status="error",
                         error={"message": "import failed", "log_tail": "Traceback\nImportError"},
                         drift=[{"name": "python", "pinned": "3.9.2", "found": "3.9.18"}]))
    emulated = art.intel_cell("qemu-haswell")
    emulated["fingerprint"]["cpu"]["emulated"] = "Haswell"
    emulated["variants"]["default-optimizer"]["trail"]["digest"][3] = "y3"
    docs.append(emulated)
    docs.append(art.sums_cell("laptop", art.AFTER_INTEL, vendor="GenuineIntel"))
    return docs


def digest_docs(art):
    """The report's case compared by digests: B diverges at step 1 (Rsqrt), C only in its
    final weights, D with a shorter trail; one cell drifted from the pins."""
    docs = art.two_group_docs()
    docs[0]["drift"] = [{"name": "numpy", "pinned": "1.23.5", "found": "1.24.0"}]
    docs.append(art.cell("final-only", {"default-optimizer": art.variant(kernel=[9.0, 1, 1, 1]),
                                        "adam": art.variant(ops=art.ADAM_OPS)},
                         probe_entries=art.probe(sqrt="s-other")))
    docs.append(art.cell("short", {"default-optimizer": art.variant(trail=("t0", "t1"),
                                                                    kernel=[7.0, 1, 1, 1]),
                                   "adam": art.variant(ops=art.ADAM_OPS, kernel=[5.0, 1, 1, 1])},
                         probe_entries=[]))
    return docs


def edge_docs(art):
    """Lists past their limits: many fingerprint differences, several suspects, a tensor
    without raw data, sums missing on one side, and many unreadable files."""
    docs = [art.cell("a")]
    other = art.intel_cell("b")
    other["fingerprint"]["extra"] = {f"k{i:02d}": i for i in range(62)}
    other["probe"] = art.probe(rsqrt="r-b", sqrt="s-b", exp="e-b")
    record = other["variants"]["default-optimizer"]
    record["train_step_ops"] = art.DEFAULT_OPS + ["Sqrt", "Exp"]
    del record["tensors"][1]["data"]
    record["tensors"][1]["sha256"] = "0" * 64
    del record["weight_sums"]["after"]
    docs.append(other)
    docs += [f"{{broken {i:d}" for i in range(62)]
    return docs


@pytest.mark.parametrize(("scenario", "fmt", "name"), [
    (edge_docs, "text", "edge.txt"), (edge_docs, "markdown", "edge.md"),
    (rich_docs, "text", "rich.txt"), (rich_docs, "markdown", "rich.md"),
    (digest_docs, "text", "digest.txt"), (digest_docs, "markdown", "digest.md"),
])
def test_report_bytes(art, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario, fmt: str,
                      name: str) -> None:
    paths = art.write(tmp_path / "in", scenario(art))
    if scenario is rich_docs:
        (tmp_path / "in" / "notes.json").write_text("{not json", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # relative sources: no machine path in the report
    reference = "a" if scenario is edge_docs else "ubuntu-amd-1"
    text = render(aggregate([Path("in")], reference=reference), fmt, width=100)
    golden = GOLDEN / name
    if os.environ.get("REPROMATRIX_REGOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
    assert paths
