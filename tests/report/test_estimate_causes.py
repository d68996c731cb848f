"""Differing rsqrtps/rcpps estimate tables as a likely cause, proven next to an Rsqrt root cause."""

from __future__ import annotations

import json

from test_root_cause import RSQRT_OFF, STEP, changed, docs, trace

from repromatrix.report.command import aggregate, render

AMD = "4b17ffd0f5f930daffc06a5f2f31fc0c1239f8b257b11b7d22f276eb4afc54e5"
INTEL = "e99a9b61091f4af8e8efe89975fb88ec3a82590d2d325f186d9ac3f697ebe031"


def with_tables(documents, emulated_label: str | None = "intel-model (a model)"):
    """The reference a native AMD cell; the other emulated, given ``emulated_label``'s table."""
    ref, other = documents
    ref["fingerprint"]["cpu"].update(vendor="AuthenticAMD", model="AMD EPYC",
                                     estimates={"measured": True, "sha256": AMD,
                                                "tables": "eJw=", "mismatches": 0})
    other["fingerprint"]["cpu"].update(vendor="qemu-tcg", model="qemu Haswell (emulated)",
                                       emulated="Haswell",
                                       estimates={"measured": True, "sha256": INTEL,
                                                  "tables": "eJy=", "mismatches": 0})
    if emulated_label:
        other["fingerprint"]["cpu"]["qemu"] = {"estimates": emulated_label,
                                               "estimates_sha256": INTEL}
    return documents


def comparison(art, tmp_path, documents):
    out = json.loads(render(aggregate(art.write(tmp_path, documents)), "json"))
    return out, out["variants"]["default-optimizer"]["comparisons"]["B"]


def test_an_rsqrt_root_cause_with_different_tables_is_proven_and_ranked_first(art, tmp_path):
    documents = with_tables(docs(art, trace({1: STEP}),
                                 trace({1: changed(STEP, "Rsqrt_2", RSQRT_OFF)})))
    _, c = comparison(art, tmp_path, documents)
    assert c["root_cause"]["op_type"] == "Rsqrt"
    first = c["likely_causes"][0]
    assert first["cause"] == "estimate tables (proven)"
    assert first["key"] == "cpu.estimates.sha256"
    assert first["reference"] == f"AuthenticAMD AMD EPYC {AMD[:12]}"
    assert first["other"] == f"intel-model (a model) {INTEL[:12]}"
    assert "emulation" in [cause["cause"] for cause in c["likely_causes"][1:]]
    text = render(aggregate(art.write(tmp_path / "text", documents)), "text")
    assert "likely cause estimate tables (proven), emulation;" in " ".join(text.split())


def test_without_an_estimate_op_the_tables_are_only_likely(art, tmp_path):
    documents = with_tables(docs(art, None, None), emulated_label=None)
    _, c = comparison(art, tmp_path, documents)
    causes = [cause["cause"] for cause in c["likely_causes"]]
    assert causes[0] == "estimate tables" and "estimate tables (proven)" not in causes
    # stock qemu: no table was given, its exact results are named as such
    assert c["likely_causes"][0]["other"].startswith("qemu's exact 1/sqrt(x) and 1/x (no table)")


def test_the_table_bytes_are_compared_through_their_digest_only(art, tmp_path):
    documents = with_tables(docs(art, None, None))
    out, c = comparison(art, tmp_path, documents)
    keys = [diff["key"] for diff in c["fingerprint_differences"]]
    assert "cpu.estimates.sha256" in keys and "cpu.estimates.tables" not in keys
    shown = next(d for d in c["fingerprint_differences"] if d["key"] == "cpu.estimates.sha256")
    assert (shown["reference"], shown["other"]) == (AMD[:16], INTEL[:16])  # fits a table cell
    assert "eJy=" not in render(aggregate(art.write(tmp_path / "md", documents)), "markdown")


def test_an_emulator_that_ignored_its_table_is_a_problem(art, tmp_path):
    documents = with_tables(docs(art, None, None))
    out, _ = comparison(art, tmp_path / "ok", documents)
    assert not any("estimate table" in p for p in out["problems"])
    documents[1]["fingerprint"]["cpu"]["qemu"]["estimates_sha256"] = AMD  # given AMD's, measured not
    out, _ = comparison(art, tmp_path / "ignored", documents)
    assert any(f"was given the estimate table {AMD[:12]} but computed {INTEL[:12]}" in p
               for p in out["problems"])


def test_a_gradient_op_is_not_proven_by_the_tables(art, tmp_path):
    """RsqrtGrad multiplies (-0.5 * dy * y**3): differing tables do not prove its divergence."""
    grad = [("RsqrtGrad" if t == "Rsqrt" else t, n, i, v) for t, n, i, v in STEP]
    documents = with_tables(docs(art, trace({1: grad}), trace({1: changed(grad, "Rsqrt_2",
                                                                          RSQRT_OFF)})))
    _, c = comparison(art, tmp_path, documents)
    assert c["root_cause"]["op_type"] == "RsqrtGrad"
    assert [cause["cause"] for cause in c["likely_causes"]][0] == "estimate tables"
