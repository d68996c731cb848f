"""Installed distributions (the fingerprint's `distributions`) as likely causes: a transitive
package that resolved differently is named ("scipy 1.13.1 | 1.14.0"), and ranked above the CPU
when the CPU is the only other likely cause."""

from __future__ import annotations

import copy
import json
from typing import Any

from repromatrix.report.command import aggregate, render
from repromatrix.report.likely_causes import likely_causes

WHEEL = "wheel cp39-cp39-manylinux_2_17_x86_64"


def _dists(scipy: str, source: str = WHEEL) -> dict[str, dict[str, str]]:
    return {"numpy": {"version": "1.23.5", "source": WHEEL},
            "scipy": {"version": scipy, "source": source},
            "tensorflow": {"version": "2.12.0", "source": WHEEL}}


def _pair(art: Any, **other_cpu: Any) -> list[dict[str, Any]]:
    """Two cells that diverge, with identical fingerprints but for scipy (and ``other_cpu``)."""
    reference = art.cell("a-ref")
    other = art.intel_cell("b-other")
    other["fingerprint"] = copy.deepcopy(reference["fingerprint"])
    other["fingerprint"]["cpu"].update(other_cpu)
    reference["fingerprint"]["distributions"] = _dists("1.13.1")
    other["fingerprint"]["distributions"] = _dists("1.14.0")
    return [reference, other]


def _comparison(art: Any, tmp_path: Any, docs: list[dict[str, Any]]) -> dict[str, Any]:
    out = json.loads(render(aggregate(art.write(tmp_path, docs)), "json"))
    comparison: dict[str, Any] = out["variants"]["default-optimizer"]["comparisons"]["B"]
    return comparison


def test_the_one_differing_transitive_package_is_named(art, tmp_path):
    docs = _pair(art)
    paths = art.write(tmp_path, docs)
    text = render(aggregate(paths), "text")
    assert "likely cause: installed packages (scipy 1.13.1 | 1.14.0)" in text
    causes = _comparison(art, tmp_path / "json", docs)["likely_causes"]
    assert causes == [{"cause": "installed packages", "key": "distributions.scipy.version",
                       "reference": "1.13.1", "other": "1.14.0"}]


def test_ranked_above_the_cpu_when_that_is_the_only_other_difference(art, tmp_path):
    docs = _pair(art, flags=["avx", "avx2", "avx512f", "fma"], model="Intel Xeon 8370C")
    causes = _comparison(art, tmp_path, docs)["likely_causes"]
    assert [c["cause"] for c in causes] == ["installed packages", "CPU ISA"]


def test_not_above_a_stronger_cause(art, tmp_path):
    """oneDNN on versus off stays first; the package keeps its rank after threads."""
    docs = _pair(art, flags=["avx", "avx2", "avx512f", "fma"])
    docs[1]["fingerprint"]["tensorflow"] = {"onednn": True}
    docs[0]["fingerprint"]["tensorflow"] = {"onednn": False}
    causes = _comparison(art, tmp_path, docs)["likely_causes"]
    assert [c["cause"] for c in causes] == ["oneDNN", "CPU ISA", "installed packages"]


def test_a_different_build_of_the_same_version_is_a_cause(art, tmp_path):
    docs = _pair(art)
    docs[1]["fingerprint"]["distributions"] = _dists("1.13.1", "wheel cp39-cp39-manylinux_2_28_x86_64")
    causes = _comparison(art, tmp_path, docs)["likely_causes"]
    assert [(c["cause"], c["key"]) for c in causes] == [("package builds",
                                                         "distributions.scipy.source")]


def test_a_pinned_package_is_not_named_twice() -> None:
    class Diff:
        def __init__(self, key: str, reference: object, other: object) -> None:
            self.key, self.reference, self.other = key, reference, other

    causes = likely_causes([Diff("packages.scikit-learn", '"1.2.2"', '"1.3.0"'),
                            Diff("distributions.scikit-learn.version", '"1.2.2"', '"1.3.0"')])
    assert [c.key for c in causes] == ["packages.scikit-learn"]
