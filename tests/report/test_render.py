from __future__ import annotations

import json
import random
import re
import shutil

import pytest

from repromatrix.errors import UsageError
from repromatrix.report import aggregate, render
from repromatrix.report.render_markdown import MARKER, MAX_CHARS


@pytest.fixture()
def two_groups(art, tmp_path):
    return aggregate(art.write(tmp_path, art.two_group_docs()))


def test_markdown_layout(two_groups):
    text = render(two_groups, "markdown")
    assert text.startswith(MARKER + "\n\n### repromatrix: 1 of 2 variants differs across 3 cells\n")
    assert (
        "- **default-optimizer** (RMSprop, Keras's default): ubuntu-intel differs from "
        "ubuntu-amd-1, ubuntu-amd-2 from step 1 (suspect op Rsqrt; weights differ by up to"
        in text
    )
    assert "- **adam** (RMSprop, Keras's default): bit-identical on all 3 cells\n" in text
    # verdicts come before the grid, which holds only the columns that differ
    assert text.index("suspect op Rsqrt") < text.index("| cell | CPU | adam | default-optimizer |")
    assert "| ubuntu-intel | Intel Xeon Platinum 8370C | = | step 1 Rsqrt |" in text
    assert ("All cells: runner ubuntu-24.04, OS Ubuntu 24.04, arch x86_64, Python 3.9.18, drift "
            "none, status ok.\n") in text
    assert ("**default-optimizer**: no op trace; op probe suspects: Rsqrt; differ but unused: Exp"
            in text)
    # the sums are in the details, not in the grid
    assert (
        "| B | ubuntu-intel | `[-9.959677, 0.0, -5.590966, 0.0, -1.1521256, 0.0]` | "
        "`[-168.1607, -6.258976, 50.797672, 0.42788112, 0.15801406, -0.26924044]` |" in text
    )
    assert text.index("<summary>Weight sums by variant and group</summary>") > text.index(
        "```mermaid")
    assert "```mermaid\n" in text and "xychart-beta" in text
    assert "<summary>ubuntu-intel vs ubuntu-amd-1: default-optimizer from step 1</summary>" in text
    assert "| cpu.vendor | AuthenticAMD | GenuineIntel |" in text
    assert "| B vs A | 1 | 8.31 | 3 | Rsqrt | Exp |" in text  # 8.308258056640625


def test_text_layout(two_groups):
    text = render(two_groups, "text", width=100)
    assert ("  default-optimizer (RMSprop, Keras's default): ubuntu-intel differs from ubuntu-amd-1, "
            "ubuntu-amd-2\n    from step 1 (suspect op Rsqrt;") in text
    header = next(line for line in text.splitlines() if line.startswith("cell "))
    assert header.split() == ["cell", "CPU", "adam", "default-optimizer"]
    assert re.search(r"^ubuntu-intel +Intel Xeon Platinum 8370C += +step 1 Rsqrt$", text, re.M)
    assert max(len(line) for line in text.splitlines()) <= 100
    wide = render(two_groups, "text", wide=True)
    assert "    suspects: Rsqrt; differ but unused: Exp" in wide
    assert "default-optimizer after sums" in wide


def test_text_reads_well_with_a_single_cell(art, tmp_path):
    text = render(aggregate(art.write(tmp_path, [art.cell("local-1")])), "text", width=100)
    lines = text.splitlines()
    assert lines[0] == "repromatrix: 1 cell, 2 variants, no difference found"
    assert any(line.startswith("  adam (RMSprop, Keras's default): only 1 cell (local-1), "
                               "nothing to compare yet") for line in lines)
    assert any(line.startswith("local-1 ") for line in lines)
    row = next(line for line in lines if line.startswith("local-1 "))
    assert row.split()[-2:] == ["=", "="]  # no reference marker when there is nothing to compare


def test_json_output(two_groups):
    data = json.loads(render(two_groups, "json"))
    variant = data["variants"]["default-optimizer"]
    assert variant["groups"] == {"A": ["ubuntu-amd-1", "ubuntu-amd-2"], "B": ["ubuntu-intel"]}
    assert variant["reference"] == "A" and variant["first_divergent_step"] == 1
    assert variant["max_ulp"] == 3 and variant["suspect_ops"] == ["Rsqrt"]
    assert variant["differs_but_unused_ops"] == ["Exp"]
    assert variant["max_abs_sum_diff"] == pytest.approx(8.30826, abs=1e-4)
    assert data["variants"]["adam"]["groups"] == {
        "A": ["ubuntu-amd-1", "ubuntu-amd-2", "ubuntu-intel"]
    }
    assert data["diverges"] is True and data["problems"] == []
    cell = data["cells"][2]
    assert cell["variants"]["default-optimizer"]["after"]["text"][0] == "-168.1607"
    assert cell["variants"]["default-optimizer"]["group"] == "B"


def test_unknown_format_is_usage_error(two_groups):
    with pytest.raises(UsageError):
        render(two_groups, "html")


@pytest.mark.parametrize("fmt", ["markdown", "text", "json"])
def test_output_does_not_depend_on_input_order(art, tmp_path, fmt):
    docs = art.two_group_docs() + [
        art.sums_cell("laptop", art.AFTER_INTEL),
        '{"schema": 1, "kind": "repromatrix-cell", "cell": "broken"',
        art.cell("ubuntu-amd-1"),  # duplicate id
    ]
    names = ["c.json", "a.json", "e.json", "b.json", "d.json", "f.json"]
    art.write(tmp_path / "src", docs, names=names)
    expected = render(aggregate([tmp_path / "src"]), fmt)
    for seed in range(5):
        shuffled = list(names)
        random.Random(seed).shuffle(shuffled)
        target = tmp_path / "src"
        paths = [target / n for n in shuffled]
        assert render(aggregate(paths), fmt) == expected
    # JSON key order inside the artifacts does not matter either
    reordered = tmp_path / "reordered" / "src"
    reordered.mkdir(parents=True)
    for name in names:
        raw = (tmp_path / "src" / name).read_text()
        try:
            data = json.loads(raw)
        except ValueError:
            (reordered / name).write_text(raw)
            continue
        (reordered / name).write_text(json.dumps(dict(reversed(list(data.items())))))
    shutil.rmtree(tmp_path / "src")
    reordered.rename(tmp_path / "src")
    assert render(aggregate([tmp_path / "src"]), fmt) == expected


def test_hostile_strings_are_escaped_everywhere(art, tmp_path):
    evil = ("<script>alert(1)</script> @octocat [x](https://evil.example) | `rm` \n# hi "
            "\x1b[2J\x1b]0;owned\x07")
    doc = art.cell(
        "evil<b>@team",
        {evil: art.variant(status="error")},
        status="error",
        error={"message": evil, "log_tail": evil + "\n</pre><img src=x>"},
        drift=[{"name": evil, "pinned": "1", "found": "2"}],
    )
    doc["variants"][evil]["error"] = {"message": evil, "log_tail": evil}
    doc["runner_label"] = evil
    doc["fingerprint"]["cpu"]["model"] = evil
    paths = art.write(tmp_path, [doc, art.cell("ok")], names=["evil.json", "ok.json"])
    md = render(aggregate(paths), "markdown")
    body = md[len(MARKER) :]
    allowed_tags = {"details", "/details", "summary", "/summary", "pre", "/pre"}
    assert {t for t in re.findall(r"<(/?[a-zA-Z]+)", body)} <= allowed_tags
    assert "@octocat" not in md and "@team" not in md
    assert re.search(r"(?<!\\)\]\(", md) is None and "https://" not in md
    assert "<script" not in md and "<img" not in md and "<b>" not in md
    text = render(aggregate(paths), "text")
    assert "\x1b" not in text and "\x07" not in text and "\x1b" not in md


def test_markdown_stays_under_the_comment_limit_with_many_cells(art, tmp_path):
    docs = [art.cell(f"cell-{i:04d}") for i in range(250)] + [
        art.intel_cell(f"intel-{i:03d}") for i in range(60)
    ]
    md = render(aggregate(art.write(tmp_path, docs)), "markdown")
    assert len(md) < MAX_CHARS
    for i in range(250):  # the table is never cut at this size, only the sums columns go
        assert f"| cell-{i:04d} |" in md
    assert ("intel-000, intel-001, intel-002 and 57 more differ from the other 250 cells from "
            "step 1 (suspect op Rsqrt" in md)


def test_markdown_truncates_details_not_verdicts(art, tmp_path):
    big = art.variant(trail=("z0", "z1"), kernel=[9.0, 1, 1, 1])
    # 30 variants' detail sections overflow the limit; 100 long-named tensors per variant (more
    # than a details list shows, 60) make each section long.
    big["tensors"] = [art.tensor(f"layer{i:03d}/{'k' * 200}/kernel:0", [1], [float(i)])
                      for i in range(100)]
    doc = art.cell("b", {f"v{i:02d}": big for i in range(30)}, model="X" * 250)
    base = art.cell("a", {f"v{i:02d}": art.variant() for i in range(30)})
    md = render(aggregate(art.write(tmp_path, [base, doc])), "markdown")
    assert len(md) < MAX_CHARS
    assert md.count("b differs from a before training (step 0)") == 30
    assert "left out to stay under the comment size limit" in md


def test_markdown_last_resort_cuts_rows_with_a_note(art, tmp_path):
    # Ids as long as a table cell shows (300 characters) overflow the limit with 300 cells.
    docs = [art.sums_cell(f"c{i:05d}-{'x' * 293}", art.AFTER_AMD) for i in range(300)]
    names = [f"c{i:05d}.json" for i in range(len(docs))]
    md = render(aggregate(art.write(tmp_path, docs, names=names)), "markdown")
    assert len(md) < MAX_CHARS
    assert re.search(r"Only the first \d+ of 300 rows fit in a comment", md)
    assert "same float32 weight sums on all 300 cells" in md


def test_bad_inputs_are_marked_rows(art, tmp_path):
    failed = art.cell(
        "crashed",
        {},
        status="error",
        error={"message": "import failed", "log_tail": "Traceback\nboom"},
    )
    docs = [
        art.cell("ok"),
        failed,
        "{not json",
        b"\xff\xfe\x00garbage",
        art.cell("ok"),
        json.dumps({"schema": 9, "kind": "repromatrix-cell", "cell": "future"}),
    ]
    paths = art.write(
        tmp_path, docs, names=["a.json", "b.json", "c.json", "d.json", "e.json", "f.json"]
    )
    agg = aggregate(paths)
    md = render(agg, "markdown")
    assert "| crashed |" in md and "FAILED" in md
    assert "| c.json | REJECTED: not valid JSON" in md
    assert "REJECTED: unsupported schema 9" in md
    assert "IGNORED: duplicate id" in md
    assert "<summary>cell crashed failed: import failed</summary>" in md
    assert "<pre>\nTraceback\nboom\n</pre>" in md
    text = render(agg, "text")
    assert "cell crashed failed: import failed" in text and "  | boom" in text
