"""Render PR comments as GitHub shows them and check what a reader sees first.

For each markdown file: GitHub-flavoured markdown (cmark-gfm, GitHub's own parser, with its
table, strikethrough, autolink and tagfilter extensions) inside GitHub's markdown CSS
(github-markdown-css, light theme) in a 1012 px comment whose content area is 962 px wide, laid
out by headless Chromium. It writes a screenshot of the first 1000 px and checks:

- every variant's verdict line and the whole grid end within the first 1000 px;
- nothing scrolls sideways: not the page, not the grid (GitHub's CSS gives tables their own
  scroll bar, so a table wider than the content area hides its right-hand columns).

Mermaid blocks stay code blocks here (GitHub draws them in an iframe of its own); they come after
the grid, so they do not change what the first screen shows.

Needs Debian's Chromium (``apt-get install chromium``, or ``$CHROMIUM``), npm (fetches
github-markdown-css once into ~/.cache/repromatrix) and cmarkgfm:

    uv run --no-project --with cmarkgfm python scripts/comment_render_check.py report.md ...
    uv run --no-project --with cmarkgfm python scripts/comment_render_check.py \\
        --ci-like LAB_ARTIFACTS_DIR    # also the 7-cell CI-like report built from lab artifacts

Exit status 0 when every file passes, 1 when one fails, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

CSS_PACKAGE = "github-markdown-css@5.9.0"
CACHE = Path.home() / ".cache" / "repromatrix" / "github-markdown-css-5.9.0"
COMMENT_WIDTH = 1012  # a PR comment on github.com at a common desktop width
CONTENT_WIDTH = 962  # its markdown content area
FIRST_SCREEN = 1000
# Seven CI-like cell names over three of the default lab's results (three groups): source cell
# -> names (its lab-qemu-host trains like lab-native, so it is left out).
CI_LIKE = {
    "lab-native": ("linux-x86_64-ubuntu-24.04", "linux-x86_64-ubuntu-22.04",
                   "windows-x86_64-2025"),
    "lab-native-onednn": ("linux-x86_64-ubuntu-24.04-onednn", "windows-x86_64-2025-onednn"),
    "lab-qemu-intel": ("linux-x86_64-qemu-intel-1", "linux-x86_64-qemu-intel-2"),
}

MEASURE = """
<script>
window.addEventListener('load', () => {
  const body = document.querySelector('.markdown-body');
  const top = body.getBoundingClientRect().top;
  const verdicts = body.querySelector('ul');
  const table = body.querySelector('table');
  const out = {
    page_scroll_width: document.documentElement.scrollWidth,
    content_width: body.clientWidth,
    verdicts_bottom: verdicts ? verdicts.getBoundingClientRect().bottom - top : null,
    verdict_lines: verdicts ? verdicts.querySelectorAll('li').length : 0,
    grid_bottom: table ? table.getBoundingClientRect().bottom - top : null,
    grid_width: table ? table.scrollWidth : null,
    grid_visible_width: table ? table.clientWidth : null,
    grid_rows: table ? table.querySelectorAll('tbody tr').length : 0,
    tables_wider_than_their_box: [...body.querySelectorAll('table')]
      .filter(t => t.scrollWidth > t.clientWidth + 1).length,
  };
  const pre = document.createElement('pre');
  pre.id = 'measured';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def css() -> str:
    """github-markdown-css's light theme, fetched with npm once."""
    target = CACHE / "github-markdown-light.css"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run(["npm", "pack", CSS_PACKAGE, "--silent"], cwd=folder, check=True,
                           stdout=subprocess.DEVNULL)
            (tarball,) = Path(folder).glob("*.tgz")
            with tarfile.open(tarball) as archive:
                member = archive.extractfile("package/github-markdown-light.css")
                if member is None:
                    raise SystemExit("github-markdown-css has no github-markdown-light.css")
                target.write_bytes(member.read())
    return target.read_text(encoding="utf-8")


def to_html(markdown: str) -> str:
    import cmarkgfm  # deferred: only this script needs it
    from cmarkgfm.cmark import Options

    # GitHub keeps <details>, <summary> and <pre> (UNSAFE lets them through; tagfilter and
    # GitHub's sanitizer drop the dangerous ones, which the report never writes).
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def page(markdown: str) -> str:
    padding = (COMMENT_WIDTH - CONTENT_WIDTH) // 2
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>{css()}
body {{ margin: 0; background: #fff; }}
.comment {{ width: {COMMENT_WIDTH}px; box-sizing: border-box; }}
.markdown-body {{ box-sizing: border-box; padding: 0 {padding}px; }}
#measured {{ display: none; }}
</style></head><body><div class="comment"><article class="markdown-body">
{to_html(markdown)}</article></div>{MEASURE}</body></html>"""


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not found:
        raise SystemExit("no Chromium: apt-get install chromium, or set CHROMIUM (exit 2)")
    return found


def run_chromium(args: list[str], profile: str) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--window-size={COMMENT_WIDTH},{FIRST_SCREEN}"]
    done = subprocess.run([chromium(), *flags, *args], capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"chromium failed: {done.stderr[-2000:]}")
    return done.stdout


def check(markdown_file: Path, out_dir: Path) -> tuple[bool, dict]:
    markdown = markdown_file.read_text(encoding="utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    html_file = out_dir / (markdown_file.stem + ".html")
    html_file.write_text(page(markdown), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        dom = run_chromium(["--virtual-time-budget=5000", "--dump-dom", html_file.resolve().as_uri()],
                           profile)
    with tempfile.TemporaryDirectory() as profile:
        shot = out_dir / (markdown_file.stem + ".png")
        run_chromium([f"--screenshot={shot}", html_file.resolve().as_uri()], profile)
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    if found is None:
        raise SystemExit(f"{markdown_file}: the page did not report its measurements")
    measured = json.loads(html.unescape(found.group(1)))
    variants = len(re.findall(r"^- \*\*", markdown, re.M))
    failures = []
    if measured["page_scroll_width"] > COMMENT_WIDTH:
        failures.append(f"the page scrolls sideways ({measured['page_scroll_width']} px)")
    if measured["tables_wider_than_their_box"]:
        failures.append(f"{measured['tables_wider_than_their_box']} table(s) scroll sideways "
                        f"(grid {measured['grid_width']} px in {measured['grid_visible_width']} px)")
    if measured["verdict_lines"] < variants:
        failures.append("not every variant has a verdict line")
    for key in ("verdicts_bottom", "grid_bottom"):
        if measured[key] is None or measured[key] > FIRST_SCREEN:
            failures.append(f"{key.split('_')[0]} end at {measured[key]} px, past {FIRST_SCREEN}")
    measured.update(file=str(markdown_file), screenshot=str(shot), failures=failures)
    return not failures, measured


def ci_like(lab_dir: Path, folder: Path) -> Path:
    """The 7-cell report: the lab's artifacts copied under CI-like cell names, aggregated."""
    artifacts = folder / "ci-like-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    for source, names in CI_LIKE.items():
        document = json.loads((lab_dir / f"{source}.json").read_text(encoding="utf-8"))
        for name in names:
            document["cell"] = name
            (artifacts / f"{name}.json").write_text(json.dumps(document), encoding="utf-8")
    report = folder / "ci-like.md"
    src = Path(__file__).resolve().parents[1] / "src"  # this checkout's repromatrix
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(src),
                                                                    os.environ.get("PYTHONPATH")])))
    subprocess.run([sys.executable, "-m", "repromatrix", "aggregate", str(artifacts),
                    "--format", "markdown", "--output", str(report)], check=True, env=env)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("markdown", nargs="*", type=Path, help="PR comment bodies (markdown)")
    parser.add_argument("--ci-like", type=Path, metavar="LAB_DIR",
                        help="also check the 7-cell report built from the lab's artifacts")
    parser.add_argument("--out", type=Path, default=Path("comment-render"),
                        help="where the HTML pages and screenshots go (default: comment-render/)")
    args = parser.parse_args(argv)
    files = list(args.markdown)
    if args.ci_like is not None:
        files.append(ci_like(args.ci_like, args.out))
    if not files:
        parser.error("give markdown files or --ci-like LAB_DIR")
    ok = True
    for markdown_file in files:
        passed, measured = check(markdown_file, args.out)
        ok = ok and passed
        print(json.dumps(measured, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
