"""Which table an emulated cell's qemu computes from: host, intel-model, shipped, file, artifact."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

from repromatrix import estimates as E
from repromatrix.errors import UsageError
from repromatrix.host import estimate_sources as S

X86 = platform.machine().lower() in ("x86_64", "amd64")


def artifact(tables: E.Tables, **estimates_fields) -> dict:
    record = {"measured": True, "sha256": tables.sha256(), "tables": tables.encode(),
              "mismatches": 0, **estimates_fields}
    return {"cell": "ubuntu-24.04-2", "fingerprint": {"cpu": {
        "vendor": "GenuineIntel", "model": "Intel(R) Xeon(R) Platinum 8370C", "estimates": record}}}


def test_intel_model_is_labelled_as_a_model() -> None:
    resolved = S.resolve("intel-model")
    assert resolved.tables == E.intel_model()
    assert "model" in resolved.label and "not a measurement" in resolved.label


@pytest.mark.skipif(not X86, reason="measures this CPU's rsqrtps")
def test_host_is_this_cpus_measured_table() -> None:
    from repromatrix.cell import estimate_probe

    resolved = S.resolve("host")
    assert resolved.tables == estimate_probe.measure_tables()
    assert resolved.label.startswith("this CPU (") and "," not in resolved.label


def test_shipped_tables_resolve_by_name_and_hold_their_digest() -> None:
    shipped = S.shipped()
    assert "AuthenticAMD-25-17" in shipped  # this project's AMD EPYC (Zen 4), measured
    for name, document in shipped.items():
        resolved = S.resolve(name)
        assert resolved.tables.sha256() == document["sha256"]
        assert document["mismatches"] == 0 and document["vendor"] in resolved.label


def test_an_artifact_is_replayed_with_its_cpu_and_cell_named(tmp_path: Path) -> None:
    tables = E.intel_model()
    path = tmp_path / "ubuntu-24.04-2.json"
    path.write_text(json.dumps(artifact(tables)), encoding="utf-8")
    resolved = S.resolve(str(path))
    assert resolved.tables == tables
    assert resolved.label == ("ubuntu-24.04-2.json: GenuineIntel Intel(R) Xeon(R) Platinum 8370C "
                              "(cell ubuntu-24.04-2)")


def test_a_raw_table_file_and_a_relative_path(tmp_path: Path) -> None:
    tables = E.intel_model()
    (tmp_path / "t.bin").write_bytes(tables.to_bytes())
    assert S.resolve("t.bin", base=tmp_path).tables == tables


@pytest.mark.parametrize(("content", "message"), [
    (b"\x00" * 10, "neither an artifact"),
    (json.dumps({"cell": "c", "fingerprint": {"cpu": {}}}).encode(), "records no measured"),
    (json.dumps([1]).encode(), "not a JSON object"),
])
def test_unusable_files_are_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        S.resolve(str(path))


def test_a_table_that_did_not_describe_its_cpu_or_was_altered_is_refused(tmp_path: Path) -> None:
    tables = E.intel_model()
    path = tmp_path / "a.json"
    path.write_text(json.dumps(artifact(tables, mismatches=45035)), encoding="utf-8")
    with pytest.raises(UsageError, match="45035 checked inputs disagree"):
        S.resolve(str(path))
    path.write_text(json.dumps(artifact(tables, sha256="0" * 64)), encoding="utf-8")
    with pytest.raises(UsageError, match="does not match its recorded SHA-256"):
        S.resolve(str(path))


def test_an_unknown_name_lists_the_choices() -> None:
    with pytest.raises(UsageError, match="not one of: host, intel-model, other-vendor, "
                       "AuthenticAMD-25-17, GenuineIntel-6-167"):
        S.resolve("amd")


def test_the_shipped_intel_table_is_the_intel_model() -> None:
    """Bochs's model of Intel is bit for bit the table measured on a real Intel Xeon."""
    assert S.resolve("GenuineIntel-6-167").tables == E.intel_model()


def pretend_host(monkeypatch: pytest.MonkeyPatch, vendor: str, tables: E.Tables) -> None:
    from repromatrix.cell import estimate_probe, fingerprint

    monkeypatch.setattr(estimate_probe, "measure_tables", lambda: tables)
    monkeypatch.setattr(fingerprint, "read_cpu", lambda system, emulated: {"vendor": vendor})


@pytest.mark.parametrize("vendor, table, expected", [
    ("AuthenticAMD", "AuthenticAMD-25-17", "GenuineIntel-6-167"),
    ("GenuineIntel", "GenuineIntel-6-167", "AuthenticAMD-25-17"),
])
def test_other_vendor_is_the_vendor_this_cpu_is_not(monkeypatch: pytest.MonkeyPatch, vendor: str,
                                                    table: str, expected: str) -> None:
    """The default lab's "other CPU" differs from the native one on either vendor's host."""
    pretend_host(monkeypatch, vendor, S.resolve(table).tables)
    resolved = S.resolve("other-vendor")
    assert resolved.tables == S.resolve(expected).tables
    assert resolved.label.startswith(f"other-vendor: shipped table {expected}: ")
    assert "," not in resolved.label


def test_other_vendor_skips_a_table_equal_to_this_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown vendor whose CPU computes AMD's table gets Intel's; one computing every
    shipped table and the model has no other vendor to emulate: one line."""
    amd = S.resolve("AuthenticAMD-25-17").tables
    pretend_host(monkeypatch, "HygonGenuine", amd)
    assert S.resolve("other-vendor").tables == E.intel_model()
    monkeypatch.setattr(S, "shipped", lambda: {})
    pretend_host(monkeypatch, "GenuineIntel", E.intel_model())
    with pytest.raises(UsageError, match="no shipped table of a vendor other than GenuineIntel"):
        S.resolve("other-vendor")


def test_the_table_file_is_written_once_by_digest(tmp_path: Path) -> None:
    tables = E.intel_model()
    path = S.table_file(tables, {"REPROMATRIX_CACHE": str(tmp_path)})
    assert path == tmp_path / "estimates" / f"{tables.sha256()}.bin"
    assert E.Tables.from_bytes(path.read_bytes()) == tables
    stamp = path.stat().st_mtime_ns
    assert S.table_file(tables, {"REPROMATRIX_CACHE": str(tmp_path)}).stat().st_mtime_ns == stamp


@pytest.mark.parametrize("document", [{"fingerprint": {"cpu": "x"}}, {"fingerprint": [1]},
                                      {"fingerprint": {"cpu": {"estimates": {"tables": 5}}}}])
def test_odd_artifacts_are_one_line_not_a_traceback(tmp_path: Path, document: dict) -> None:
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(UsageError, match="estimates"):
        S.resolve(str(path))


def test_a_raw_file_of_garbage_entries_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.bin"
    path.write_bytes(b"\xff" * E.TABLE_BYTES)
    with pytest.raises(UsageError, match="not a float in"):
        S.resolve(str(path))


def test_a_folder_or_fifo_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="estimates"):
        S.resolve(str(tmp_path))
