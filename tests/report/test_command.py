from __future__ import annotations

import argparse
import json
import os
import xml.dom.minidom

import pytest

from repromatrix.cli.main import main
from repromatrix.errors import ReproError, UsageError
from repromatrix.report import add_parser, run


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="repromatrix")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["aggregate", *argv])


def test_parser_defaults_and_func():
    args = _args("a", "b")
    assert args.paths == ["a", "b"] and args.format == "text" and args.func is run
    assert (
        args.reference is None
        and args.output is None
        and not args.fail_on_divergence
        and args.chart_dir is None
    )


def test_parser_rejects_unknown_format(capsys):
    with pytest.raises(SystemExit) as exc:
        _args("a", "--format", "html")
    assert exc.value.code == 2


def test_exit_0_when_rendered(art, tmp_path, capsys, monkeypatch):
    art.write(tmp_path, art.two_group_docs())
    monkeypatch.setenv("COLUMNS", "300")
    assert run(_args(str(tmp_path))) == 0
    assert ("ubuntu-intel differs from ubuntu-amd-1, ubuntu-amd-2 from step 1 (suspect op Rsqrt"
            in capsys.readouterr().out)


@pytest.mark.parametrize(("columns", "width"), [("72", 72), ("", 100), ("junk", 100), ("0", 100)])
def test_text_fits_columns_and_wide_keeps_the_long_table(art, tmp_path, capsys, monkeypatch,
                                                         columns, width):
    art.write(tmp_path, art.two_group_docs())
    monkeypatch.setenv("COLUMNS", columns)
    assert run(_args(str(tmp_path))) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= width
    assert max(len(line) for line in lines) > width - 10  # the width is used, not a fixed one
    assert run(_args(str(tmp_path), "--wide")) == 0
    wide = capsys.readouterr().out
    assert "default-optimizer after sums" in wide and max(map(len, wide.splitlines())) > width


def test_exit_1_with_fail_on_divergence(art, tmp_path, capsys):
    art.write(tmp_path, art.two_group_docs())
    assert run(_args(str(tmp_path), "--fail-on-divergence", "--format", "json")) == 1
    assert json.loads(capsys.readouterr().out)["diverges"] is True


def test_exit_0_with_fail_on_divergence_when_identical(art, tmp_path, capsys):
    art.write(tmp_path, [art.cell("a"), art.cell("b")])
    assert run(_args(str(tmp_path), "--fail-on-divergence")) == 0


def test_usage_errors_exit_2(art, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no artifact files"):
        run(_args(str(empty)))
    with pytest.raises(UsageError, match="no such file or folder"):
        run(_args(str(tmp_path / "missing")))
    art.write(tmp_path / "arts", [art.cell("a")])
    with pytest.raises(UsageError, match="--reference nope is not a cell"):
        run(_args(str(tmp_path / "arts"), "--reference", "nope"))
    with pytest.raises(UsageError, match="cannot write"):
        run(
            _args(
                str(tmp_path / "arts"), "--output", str(tmp_path / "no" / "such" / "dir" / "out.md")
            )
        )
    assert issubclass(UsageError, ReproError) and UsageError.exit_code == 2


def test_output_file_and_charts(art, tmp_path, capsys):
    art.write(tmp_path / "arts", art.two_group_docs())
    out = tmp_path / "report.md"
    charts = tmp_path / "charts"
    assert (
        run(
            _args(
                str(tmp_path / "arts"),
                "--format",
                "markdown",
                "--output",
                str(out),
                "--chart-dir",
                str(charts),
            )
        )
        == 0
    )
    assert capsys.readouterr().out == ""
    assert out.read_text(encoding="utf-8").startswith("<!-- repromatrix-report -->\n")
    assert sorted(os.listdir(charts)) == [
        "divergence-default-optimizer.svg"
    ]  # adam does not diverge
    svg = (charts / "divergence-default-optimizer.svg").read_text()
    xml.dom.minidom.parseString(svg)  # well-formed
    assert "<polyline" in svg and "B vs A" in svg


def test_chart_file_names_cannot_escape_the_folder(art, tmp_path):
    variants = {"../../evil": art.variant(), "a/b": art.variant()}
    other = {
        "../../evil": art.variant(trail=("t0", "z"), kernel=[9.0, 1, 1, 1]),
        "a/b": art.variant(trail=("t0", "z"), kernel=[9.0, 1, 1, 1]),
    }
    art.write(tmp_path / "arts", [art.cell("a", variants), art.cell("b", other)])
    charts = tmp_path / "charts"
    run(
        _args(
            str(tmp_path / "arts"), "--chart-dir", str(charts), "--output", str(tmp_path / "o.txt")
        )
    )
    names = sorted(os.listdir(charts))
    assert len(names) == 2 and all(n.startswith("divergence-") and "/" not in n for n in names)
    assert not (tmp_path / "evil.svg").exists()


def test_main_entry(art, tmp_path, capsys):
    art.write(tmp_path, [art.cell("a")])
    assert main(["aggregate", str(tmp_path), "--format", "text"]) == 0
    assert "only 1 cell (a), nothing to compare yet" in capsys.readouterr().out
