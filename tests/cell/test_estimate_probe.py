"""This CPU's rsqrtps/rcpps against the table model: every input of [1, 4), the special cases,
a million random bit patterns, and the SSE, VEX.256 and scalar forms (x86_64 hosts only)."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import pytest

from repromatrix import estimates as E
from repromatrix.cell import estimate_probe as P

X86 = platform.machine().lower() in ("x86_64", "amd64")
needs_x86 = pytest.mark.skipif(not X86, reason="rsqrtps/rcpps are x86 instructions")


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def hardware(form: str, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rsqrt, rcp = np.empty_like(inputs), np.empty_like(inputs)
    P.run_buffers(inputs, rsqrt, rcp, form)
    return rsqrt, rcp


@pytest.fixture(scope="module")
def tables() -> E.Tables:
    return P.measure_tables()


@pytest.fixture(scope="module")
def one_to_four(tables: E.Tables) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All 2**24 floats in [1, 4) and the model's estimates of them (computed once: 4 s)."""
    inputs = np.arange(0x3F800000, 0x40800000, dtype=np.uint32)
    return (inputs, *E.estimate_arrays(tables, inputs))


FORMS = ["sse", "scalar",
         pytest.param("avx", marks=pytest.mark.skipif("avx" not in cpu_flags(),
                                                      reason="this CPU has no AVX"))]


@needs_x86
class TestModelMatchesHardware:
    @pytest.mark.parametrize("form", FORMS)
    def test_every_input_of_one_to_four(self, one_to_four: tuple, form: str) -> None:
        inputs, model_rsqrt, model_rcp = one_to_four
        rsqrt, rcp = hardware(form, inputs)
        assert int((rsqrt != model_rsqrt).sum()) == 0
        assert int((rcp != model_rcp).sum()) == 0

    def test_random_bit_patterns_and_special_cases(self, tables: E.Tables) -> None:
        generator = np.random.default_rng(20261202)
        inputs = generator.integers(0, 2**32, size=1 << 20, dtype=np.uint64).astype(np.uint32)
        inputs = np.concatenate([inputs, np.array(E.SPECIAL_INPUTS + (0,) * 3, dtype=np.uint32)])
        rsqrt, rcp = hardware("sse", inputs)
        model_rsqrt, model_rcp = E.estimate_arrays(tables, inputs)
        assert int((rsqrt != model_rsqrt).sum()) == 0
        assert int((rcp != model_rcp).sum()) == 0

    def test_the_tables_are_a_real_cpus_not_exact_results(self, tables: E.Tables) -> None:
        """A table-driven estimate is not the correctly rounded result on most inputs."""
        exact = np.float32(1) / np.sqrt(np.array(E.rsqrt_inputs(), dtype=np.uint32).view(np.float32))
        assert (exact.view(np.uint32) != np.array(tables.rsqrt, dtype=np.uint32)).mean() > 0.5


@needs_x86
class TestFingerprint:
    def test_records_the_tables_and_that_they_hold(self, tables: E.Tables) -> None:
        record = P.fingerprint()
        assert record["measured"] is True and record["form"] == "sse"
        assert record["mismatches"] == 0
        assert record["checked"] == len(P.check_inputs()) > 20000
        assert record["sha256"] == tables.sha256()
        assert E.Tables.decode(record["tables"]) == tables

    def test_a_table_that_does_not_describe_the_cpu_is_counted(self, tables: E.Tables,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
        wrong = E.Tables(tuple(v ^ 0x800 for v in tables.rsqrt), tables.rcp)
        monkeypatch.setattr(P, "measure_tables", lambda form="sse": wrong)
        assert P.fingerprint()["mismatches"] > 0

    def test_run_pads_to_the_forms_lanes(self) -> None:
        rsqrt, rcp = P.run([0x3F800000] * 5 + [0x40000000], "sse")
        assert len(rsqrt) == len(rcp) == 6 and rsqrt[-1] != rsqrt[0]

    def test_buffers_of_different_lengths_are_refused(self) -> None:
        with pytest.raises(ValueError, match="one length"):
            P.run_buffers(np.zeros(8, np.uint32), np.zeros(8, np.uint32), np.zeros(4, np.uint32))


def test_other_architectures_record_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P, "_loaded", {})
    monkeypatch.setattr(P.platform, "machine", lambda: "aarch64")
    assert P.fingerprint() == {"measured": False, "reason": "aarch64 has no rsqrtps/rcpps"}
