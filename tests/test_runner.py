"""Runner orchestration that needs no TensorFlow: process groups, requests, merging."""

from __future__ import annotations

from pathlib import Path

import pytest

from repromatrix import runner
from repromatrix.errors import DataError, UsageError
from repromatrix.matrix import Variant

ROOT = Path(__file__).resolve().parent.parent


def request(**changes: object) -> runner.CellRequest:
    base = dict(cell="c1", matrix_path=str(ROOT / "matrix.toml"), variants=(), output="out.json")
    base.update(changes)
    return runner.CellRequest(**base)  # type: ignore[arg-type]


class TestGroups:
    def test_shared_process_when_settings_allow(self) -> None:
        """Variants that differ only in optimizer share one process, in the requested order."""
        a, b = Variant("a", "default"), Variant("b", "adam")
        assert runner.process_groups((a, b), one_per_variant=False) == [(a, b)]
        assert runner.process_groups((a, b), one_per_variant=True) == [(a,), (b,)]

    def test_env_threads_and_determinism_split(self) -> None:
        """Environment, threads and op determinism each need a fresh process."""
        plain = Variant("plain")
        env = Variant("env", env={"TF_ENABLE_ONEDNN_OPTS": "0"})
        threads = Variant("threads", threads={"intra_op": 1, "inter_op": 1})
        determinism = Variant("det", op_determinism=True)
        plain2 = Variant("plain2", optimizer="adam")
        groups = runner.process_groups((plain, env, threads, determinism, plain2), False)
        assert groups == [(plain, plain2), (env,), (threads,), (determinism,)]


class TestRequest:
    def test_json_round_trip(self) -> None:
        original = request(variants=("adam",), env={"A": "1"}, rows=5, emulated="Haswell")
        assert runner.CellRequest.from_json(original.to_json()) == original

    def test_prepare_uses_matrix_defaults(self) -> None:
        prepared = runner.prepare(request())
        assert [v.name for v in prepared.variants] == ["default-optimizer", "adam"]
        assert prepared.dataset.rows == 1000 and prepared.dataset.features == 41

    def test_prepare_takes_any_width_for_the_builtin_model(self, tmp_path: Path) -> None:
        """The report's model takes the data's width: a 13-feature CSV is accepted (it was
        refused with "expected 42 columns"); the built-in set keeps its 41 features."""
        data = tmp_path / "mine.csv"
        header = ",".join(f"f{i}" for i in range(13)) + ",y\n"
        data.write_text(header + ",".join(["0.5"] * 14) + "\n", encoding="utf-8")
        prepared = runner.prepare(request(data=str(data), target="y"))
        assert prepared.entry is None and prepared.dataset.features == 13

    def test_prepare_rejects_unknown_variant(self) -> None:
        with pytest.raises(UsageError, match="no variant named 'adma'"):
            runner.prepare(request(variants=("adma",)))

    def test_prepare_rejects_bad_data_before_tensorflow(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match="no such data file"):
            runner.prepare(request(data=str(tmp_path / "none.csv")))


class TestMerge:
    def test_failed_group_keeps_the_others(self) -> None:
        """One group's failure is recorded per variant; the other group's results stay."""
        prepared = runner.prepare(request(rows=3))
        a, b = prepared.variants
        ok = {"fingerprint": {"platform": "linux-x86_64", "python": {"version": "3.9.2"},
                              "packages": {}},
              "probe": [{"op": "Rsqrt", "case": "r", "sha256": "00"}],
              "variants": {"default-optimizer": {"status": "ok", "digest": "d"}},
              "seconds": {"import": 1.0}}
        failed = {"variants": {"adam": runner.failed_variant(b, RuntimeError("worker died"))},
                  "seconds": {}}
        document = runner.merge(request(), prepared, [(a,), (b,)], [ok, failed], "t0")
        assert document["status"] == "ok"
        assert document["variants"]["default-optimizer"]["status"] == "ok"
        assert document["variants"]["adam"]["status"] == "error"
        assert document["variants"]["adam"]["error"]["message"] == "RuntimeError: worker died"
        assert document["timing"] == {"started_utc": "t0", "seconds": {"import": 1.0}}
        assert document["experiment"]["data"]["rows"] == 3

    def test_group_with_its_own_probe_carries_it(self) -> None:
        prepared = runner.prepare(request())
        a, b = prepared.variants
        base = {"fingerprint": {}, "variants": {}, "seconds": {}}
        first = {**base, "probe": [{"op": "Rsqrt", "case": "r", "sha256": "00"}],
                 "variants": {a.name: {"status": "ok"}}}
        second = {**base, "probe": [{"op": "Rsqrt", "case": "r", "sha256": "11"}],
                  "variants": {b.name: {"status": "ok"}}}
        document = runner.merge(request(), prepared, [(a,), (b,)], [first, second], "t0")
        assert "probe" not in document["variants"][a.name]
        assert document["variants"][b.name]["probe"][0]["sha256"] == "11"
