"""Runner orchestration that needs no TensorFlow: process groups, requests, merging."""

from __future__ import annotations

from pathlib import Path

import pytest

from repromatrix.cell import runner
from repromatrix.config.matrix import Variant
from repromatrix.config.request import resolve_request
from repromatrix.errors import DataError, ReproError, UsageError

ROOT = Path(__file__).resolve().parents[2]


def request(**changes: object) -> runner.CellRequest:
    """The request the host resolves from the repository's matrix.toml."""
    base = dict(cell="c1", output="out.json")
    base.update(changes)
    return resolve_request(ROOT / "matrix.toml", **base)  # type: ignore[arg-type]


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
        original = request(variants=("adam",), env={"A": "1"}, rows=5, emulated="Haswell",
                           qemu={"source": "path", "version": None},
                           worker_python=("qemu-x86_64", "python"))
        assert runner.CellRequest.from_json(original.to_json()) == original
        assert original.pins.platforms  # the repository's matrix has some: they travel too
        # the packages keep the matrix file's order (the artifact's "pins" shows it)
        assert list(runner.CellRequest.from_json(original.to_json()).pins.packages) == \
            list(original.pins.packages)

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

    def test_resolving_rejects_unknown_variant(self) -> None:
        """The host checks the names against the matrix; the cell gets variants, not names."""
        with pytest.raises(UsageError, match="no variant named 'adma'"):
            request(variants=("adma",))

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


def events(*names: str, done: bool = True, crash_in: str | None = None) -> list[dict]:
    """A worker's journal: setup, then start/variant per name; ``crash_in`` starts and stops."""
    out: list[dict] = [{"event": "setup", "fingerprint": {"f": 1}, "probe": [], "seconds": {"import": 1.0}}]
    for name in names:
        out.append({"event": "start", "variant": name})
        out.append({"event": "variant", "variant": name, "record": {"status": "ok", "digest": name},
                    "seconds": 2.0})
    if crash_in:
        out.append({"event": "start", "variant": crash_in})
    if done:
        out.append({"event": "done"})
    return out


class TestSupervision:
    """Reading a worker's journal after it ended: what is kept, what failed, what resumes."""

    group = (Variant("a"), Variant("b"), Variant("c"))

    def test_done_keeps_everything(self) -> None:
        outcome = runner.outcome_of(self.group, events("a", "b", "c"), 0, "")
        assert outcome.remaining == () and outcome.lost == ()
        assert sorted(outcome.result["variants"]) == ["a", "b", "c"]
        assert outcome.result["fingerprint"] == {"f": 1}
        assert outcome.result["seconds"] == {"import": 1.0, "variant:a": 2.0, "variant:b": 2.0,
                                             "variant:c": 2.0}

    @pytest.mark.parametrize(("returncode", "cause"), [
        (-11, "was killed by SIGSEGV (Segmentation fault)"),
        (0, "exited with code 0"),  # os._exit(0): a clean exit code, but no "done"
        (3, "exited with code 3"),
    ])
    def test_crash_fails_that_variant_and_resumes_the_rest(self, returncode: int, cause: str) -> None:
        outcome = runner.outcome_of(self.group, events("a", done=False, crash_in="b"),
                                    returncode, "line 1\nFatal Python error")
        assert [v.name for v in outcome.ran] == ["a", "b"]
        assert [v.name for v in outcome.remaining] == ["c"]
        assert outcome.lost == ("b",)
        record = outcome.result["variants"]["b"]
        assert record["status"] == "error"
        assert record["error"]["message"] == f"the process running b {cause} before it finished"
        assert record["error"]["log_tail"].endswith("Fatal Python error")
        assert outcome.result["variants"]["a"]["status"] == "ok"

    def test_crash_before_any_variant_fails_all_without_retry(self) -> None:
        outcome = runner.outcome_of(self.group, [], -6, "")
        assert outcome.remaining == () and outcome.lost == ("a", "b", "c")
        assert outcome.result["variants"]["c"]["error"]["message"] == \
            "the worker was killed by SIGABRT (Aborted) before c started"

    def test_user_error_is_raised_once(self) -> None:
        with pytest.raises(ReproError, match="not compiled"):
            runner.outcome_of(self.group, [{"event": "user_error", "message": "not compiled"}], 3, "")

    def test_journal_survives_a_cut_last_line(self, tmp_path: Path) -> None:
        journal = runner.Journal(tmp_path / "j.jsonl")
        journal({"event": "start", "variant": "a"})
        journal({"event": "variant", "variant": "a", "record": {"loss": float("nan")}})
        with (tmp_path / "j.jsonl").open("a") as stream:
            stream.write('{"event": "sta')  # the crash came mid-write
        assert runner.read_journal(tmp_path / "j.jsonl") == [
            {"event": "start", "variant": "a"},
            {"event": "variant", "variant": "a", "record": {"loss": "nan"}}]

    def test_remaining_variants_resume_in_a_fresh_worker(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Each worker gets only what is left; the loop ends when nothing is."""
        calls: list[list[str]] = []
        journals = iter([events("a", done=False, crash_in="b"), events("c")])

        def fake_worker(request, group, log):
            calls.append([v.name for v in group])
            return runner.outcome_of(group, next(journals), -11 if len(calls) == 1 else 0, "")

        monkeypatch.setattr(runner, "_run_worker_process", fake_worker)
        lines: list[str] = []
        chunks = list(runner.run_group_in_child(request(), self.group, lines.append))
        assert calls == [["a", "b", "c"], ["c"]]
        assert [[v.name for v in ran] for ran, _ in chunks] == [["a", "b"], ["c"]]
        assert any(line.startswith("c1: b FAILED: the process running b was killed by SIGSEGV")
                   for line in lines)
        assert "c1: resuming c in a fresh process" in lines

    def test_worker_runs_the_cells_entry_with_the_resolved_group(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The worker gets its group as variants, not names, and starts through the given
        prefix (qemu's under emulation) into the cell's own entry, never the CLI."""
        seen: list[list[str]] = []

        def fake_pass_through(command: list[str], env: dict[str, str]) -> tuple[int, str]:
            seen.append(command)
            return 0, ""

        monkeypatch.setattr(runner, "_pass_through", fake_pass_through)
        prefix = ("qemu-x86_64", "-cpu", "Haswell", "/venv/bin/python")
        whole = request(worker_python=prefix, process_per_variant=True)
        runner._run_worker_process(whole, whole.variants[1:], lambda line: None)
        [command] = seen
        assert command[:6] == [*prefix, "-m", "repromatrix.cell.worker"]
        child = runner.CellRequest.from_json(command[6])
        assert child.variants == whole.variants[1:] and not child.process_per_variant
        assert child.pins == whole.pins and child.seed == whole.seed

    def test_system_exit_is_a_failed_variant(self) -> None:
        record = runner.failed_variant(Variant("a"), SystemExit(3))
        assert record["status"] == "error"
        assert record["error"]["message"] == "SystemExit: the experiment called sys.exit(3)"

    def test_windows_status_codes_in_hex(self) -> None:
        assert runner.exit_cause(0xC0000005) == "exited with code 0xc0000005"
