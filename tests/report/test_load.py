from __future__ import annotations

import json
import math

import pytest

from repromatrix.report import aggregate, render
from repromatrix.report.load import decode_bytes, expand_paths, load, parse_artifact
from repromatrix.report.model import CellRecord, Rejected


def _parse(doc) -> object:
    return parse_artifact(json.dumps(doc), "x.json")


def test_valid_cell_is_parsed(art):
    record = _parse(art.cell("c1"))
    assert isinstance(record, CellRecord)
    assert record.cell == "c1" and record.kind == "cell" and record.problems == ()
    assert [v.name for v in record.variants] == ["adam", "default-optimizer"]
    variant = record.variant("default-optimizer")
    assert variant.trail.digests == ("t0", "t1", "t2", "t3")
    assert variant.tensors[0].data is not None and len(variant.tensors[0].data) == 16
    assert (
        record.cpu == "AMD EPYC 7763" and record.os == "Ubuntu 24.04" and record.python == "3.9.18"
    )


@pytest.mark.parametrize(
    "text,reason",
    [
        ('{"schema": 1, "kind": "repromatrix-cell", "cell": "a"', "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"schema": 2, "kind": "repromatrix-cell", "cell": "a"}', "unsupported schema 2"),
        ('{"schema": true, "kind": "repromatrix-cell", "cell": "a"}', "unsupported schema"),
        ('{"kind": "repromatrix-cell", "cell": "a"}', "unsupported schema null"),
        ('{"schema": 1, "kind": "something-else", "cell": "a"}', "unknown kind"),
        ('{"schema": 1, "kind": "repromatrix-cell"}', "missing or invalid cell id"),
        ('{"schema": 1, "kind": "repromatrix-cell", "cell": 7}', "missing or invalid cell id"),
        ("[" * 100000, "not valid JSON"),
    ],
)
def test_unusable_files_are_rejected_with_a_reason(text, reason):
    record = parse_artifact(text, "bad.json")
    assert isinstance(record, Rejected)
    assert reason in record.reason


def test_missing_fields_become_problems_not_crashes(art):
    doc = art.cell("c1")
    del doc["fingerprint"]
    del doc["variants"]["adam"]["weight_sums"]
    doc["variants"]["default-optimizer"]["trail"] = {"digest": "nope"}
    doc["probe"] = [{"op": "Rsqrt"}]
    record = _parse(doc)
    assert isinstance(record, CellRecord)
    text = " | ".join(record.problems)
    assert "fingerprint is missing" in text
    assert "weight_sums.after is missing" in text
    assert "trail.digest is not a list of strings" in text
    assert "probe entry without op, case and sha256 ignored" in text
    assert record.variant("default-optimizer").trail is None


def test_nan_and_infinite_sums_are_flagged(art):
    doc = art.cell("c1")
    doc["variants"]["default-optimizer"]["weight_sums"]["after"] = [
        float("nan"),
        1.0,
        float("inf"),
        1e39,
        0.0,
        0.0,
    ]
    record = parse_artifact(json.dumps(doc), "x.json")  # json.dumps writes NaN/Infinity
    after = record.variant("default-optimizer").after
    assert (
        math.isnan(after[0]) and after[2] == math.inf and after[3] == math.inf
    )  # 1e39 overflows float32
    assert any("NaN or infinite" in p for p in record.problems)


def test_bad_base64_and_wrong_length_tensors(art):
    doc = art.cell("c1")
    tensors = doc["variants"]["default-optimizer"]["tensors"]
    tensors[0]["data"] = "!!!not base64"
    tensors[1]["data"] = "AAAA"  # 4 bytes, shape [2] needs 8
    record = _parse(doc)
    problems = " ".join(record.problems)
    assert "not valid base64" in problems and "does not match its shape" in problems
    assert all(t.data is None for t in record.variant("default-optimizer").tensors)


def test_non_utf8_and_bom_and_utf16():
    text, problems = decode_bytes(b'{"a": "\xff\xfe caf\xe9"}')
    assert "\ufffd" in text and "non-UTF-8 bytes (first at offset 7)" in problems[0]
    assert decode_bytes(b"\xef\xbb\xbf{}") == ("{}", [])
    text, problems = decode_bytes('{"x": 1}'.encode("utf-16"))
    assert text == '{"x": 1}' and "UTF-16" in problems[0]


def test_timing_is_ignored(art, tmp_path):
    first = art.cell("c1")
    second = json.loads(json.dumps(first))
    second["timing"] = {"started_utc": "2030-01-01", "seconds": {"import": 99.0}}
    one = render(aggregate(art.write(tmp_path / "a", [first])), "json")
    two = render(aggregate(art.write(tmp_path / "b", [second])), "json")
    assert one.replace("/a/", "/b/") == two.replace("/a/", "/b/")


def test_duplicates_keep_first_by_file_name(art, tmp_path):
    paths = art.write(
        tmp_path, [art.cell("same"), art.intel_cell("same")], names=["b.json", "a.json"]
    )
    loaded = load(expand_paths([tmp_path])[0])
    assert [c.source.rsplit("/", 1)[-1] for c in loaded.cells] == ["a.json"]
    assert loaded.cells[0].cpu.startswith("Intel")
    assert loaded.duplicates[0].cell.source.endswith("b.json")
    assert loaded.duplicates[0].kept_source.endswith("a.json")
    assert len(paths) == 2


def test_expand_paths_reads_folders_non_recursively_and_dedupes(art, tmp_path):
    art.write(tmp_path, [art.cell("a")])
    art.write(tmp_path / "sub", [art.cell("b")])
    (tmp_path / "notes.txt").write_text("x")
    files, missing = expand_paths([tmp_path, tmp_path / "a.json", tmp_path / "nope"])
    assert [f.rsplit("/", 1)[-1] for f in files] == ["a.json"]
    assert missing == [(tmp_path / "nope").as_posix()]


def test_sums_only_kind(art):
    record = _parse(art.sums_cell("office", art.AFTER_AMD))
    assert record.kind == "sums" and record.status == "ok" and record.problems == ()
    assert record.variant("default-optimizer").digest is None
