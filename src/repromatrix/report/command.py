"""``repromatrix aggregate``: many cell artifacts in, one comparison table out."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from repromatrix.errors import UsageError
from repromatrix.report import chart
from repromatrix.report.compare import Aggregate, compare
from repromatrix.report.escape import clean, file_stem
from repromatrix.report.load import expand_paths, load
from repromatrix.report.render_json import render_json
from repromatrix.report.render_markdown import render_markdown
from repromatrix.report.render_text import DEFAULT_WIDTH, render_text

FORMATS = ("markdown", "text", "json")

DESCRIPTION = """\
Compare the artifacts of several cells (one JSON file per machine, written by
`repromatrix run`) and tell, for each variant (e.g. default optimizer vs adam), whether
training gave bit-identical weights everywhere. If not, the verdict names the cells that
differ from the reference cells, the first training step at which the weights differ, the
root-cause op (from the op traces, else the op probe's suspects), the likely cause from the
machines' fingerprints, the size of the difference and whether it grows over training;
then a grid of cells by variants and the details per pair of machines. Broken or
unreadable artifact files are reported in the output, never fatal."""

EPILOG = """\
examples:
  repromatrix aggregate artifacts/                    # terminal table
  repromatrix aggregate artifacts/ --format markdown --output report.md
  repromatrix aggregate artifacts/ --fail-on-divergence --chart-dir charts/
  repromatrix aggregate examples/original-report/     # the original AMD vs Intel report

exit status: 0 report written; 1 with --fail-on-divergence when some variant diverges;
2 usage error (no artifact found, unknown --reference cell, output not writable)."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "aggregate",
        help="compare cell artifacts: are the trained weights bit-identical, and if not, why?",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="artifact files, or folders whose *.json files are read (not recursively)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text: for a terminal (default); markdown: for a PR comment or job summary; "
        "json: for scripts (see docs/aggregate.md)",
    )
    parser.add_argument(
        "--reference",
        metavar="CELL",
        help="cell id whose group is A, the reference the others are compared with "
        "(default: the largest group; ties go to the group with the smallest cell id)",
    )
    parser.add_argument(
        "--output", metavar="FILE", help="write the report to FILE instead of stdout"
    )
    parser.add_argument(
        "--fail-on-divergence",
        action="store_true",
        help="exit with status 1 when any variant gives different results on different cells",
    )
    parser.add_argument(
        "--wide",
        action="store_true",
        help="text format: one long table with every column and the weight sums, not fitted "
        "to $COLUMNS",
    )
    parser.add_argument(
        "--chart-dir",
        metavar="DIR",
        help="also write one SVG chart per diverging variant to DIR (divergence-<variant>.svg)",
    )
    parser.set_defaults(func=run)


def aggregate(paths: Iterable[str | Path], reference: str | None = None) -> Aggregate:
    """Read artifacts from files/folders and compare them. Raises ``UsageError`` only for
    argument problems (missing path, no artifact at all, unknown reference), never for content."""
    paths = list(paths)
    files, missing = expand_paths(paths)
    if missing:
        raise UsageError("no such file or folder: {}".format(", ".join(clean(m, 200) for m in missing)))
    if not files:
        raise UsageError(
            "no artifact files (*.json) found in: {}".format(", ".join(clean(str(p), 200) for p in paths))
        )
    loaded = load(files)
    if reference is not None and reference not in {c.cell for c in loaded.cells}:
        known = ", ".join(clean(c.cell, 60) for c in loaded.cells[:20]) or "none"
        raise UsageError(
            f"--reference {clean(reference, 100)} is not a cell in these artifacts (cells: {known})"
        )
    return compare(loaded, reference)


def terminal_width() -> int:
    """``$COLUMNS`` when it is a number (a shell does not always export it), else the terminal's
    width when stdout is one, else 100 (a pipe, a file, CI logs)."""
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns or DEFAULT_WIDTH


def render(agg: Aggregate, fmt: str = "text", width: int | None = None, wide: bool = False) -> str:
    """The report in one of ``FORMATS``; the same artifacts (and width) always give the same
    string. The text format fits ``width`` columns (default: ``$COLUMNS``, else 100)."""
    if fmt == "markdown":
        return render_markdown(agg)
    if fmt == "json":
        return render_json(agg)
    if fmt == "text":
        return render_text(agg, terminal_width() if width is None else width, wide=wide)
    raise UsageError("unknown format {} (choose from {})".format(clean(fmt, 40), ", ".join(FORMATS)))


def chart_files(agg: Aggregate) -> dict[str, str]:
    """File name -> SVG for every diverging variant that has per-step trails.

    Variant names come from artifacts, so they are reduced to safe file-name characters;
    a short hash keeps two names that reduce to the same text apart.
    """
    out: dict[str, str] = {}
    for result in agg.variants:
        picture = chart.svg(result) if result.diverges else None
        if picture is None:
            continue
        stem = file_stem(result.name)
        if stem != result.name or f"divergence-{stem}.svg" in out:
            stem += (
                "-" + hashlib.sha256(result.name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
            )
        out[f"divergence-{stem}.svg"] = picture
    return out


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(
            f"cannot write {clean(path, 200)}: {exc.strerror or type(exc).__name__}"
        ) from None


def _write_stdout(text: str, fmt: str) -> None:
    """Markdown and JSON go out as UTF-8 whatever the locale (a Windows pipe defaults to
    cp1252, but a job summary is read as UTF-8); text follows the terminal's encoding and
    replaces what it cannot show instead of crashing."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
        return
    encoding = "utf-8" if fmt != "text" else (getattr(sys.stdout, "encoding", None) or "utf-8")
    sys.stdout.flush()
    buffer.write(text.encode(encoding, errors="replace"))
    buffer.flush()


def run(args: argparse.Namespace) -> int:
    agg = aggregate(args.paths, reference=args.reference)
    text = render(agg, args.format, wide=args.wide)
    if args.chart_dir:
        try:
            os.makedirs(args.chart_dir, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"cannot create {clean(args.chart_dir, 200)}: {exc.strerror or type(exc).__name__}"
            ) from None
        for name, picture in sorted(chart_files(agg).items()):
            _write(os.path.join(args.chart_dir, name), picture)
    if args.output:
        _write(args.output, text)
    else:
        _write_stdout(text, args.format)
    return 1 if args.fail_on_divergence and agg.diverges else 0
