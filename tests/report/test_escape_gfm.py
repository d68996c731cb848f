"""The markdown escaping, proved with GitHub's own parser (cmark-gfm, with GitHub's extensions):
an untrusted value put where the report puts it (a list item, a table cell, after our own bold
label) renders as that one piece of plain text: no link, image, code, emphasis, quote, nested
list, raw HTML or extra table cell. The escaping adds only what GFM needs, so the structural
test in test_escape.py alone could miss a construct; this one cannot."""

from __future__ import annotations

import html
import random
import re

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from hypothesis import given, settings
from hypothesis import strategies as st

from repromatrix.report.escape import ZWJ, md, md_html

# Tags our own wrappers make; anything else came from the value.
OURS = {"ul", "li", "p", "table", "thead", "tbody", "tr", "th", "td", "strong", "details",
        "summary"}
WRAPPERS = ("- {}\n", "| h |\n| --- |\n| {} |\n", "**x**: {}\n")
HOSTILE = ["<img src=x onerror=alert(1)>", "a | b | c", "`code` and ```fence```",
           "[click](https://evil.example)", "![img](http://x/y.png)", "**bold** _it_ ~~s~~ $x^2$",
           "<!-- hidden -->", "&lt;script&gt;", "\\|", "- item", "1. one", "9)", "  > quote",
           "# heading", "*a*", "_a_", "__a__", "foo_ bar _baz", "[x]: http://a", "<http://a.b>",
           "a\\*b*", "~a~", "$$x$$", "\\", "&amp;", "&#42;", "-", "+ x", "--", "- - -",
           "\t\t\t\t.{!a", "     code?"]
ALPHABET = "<>&|`*_~[]()!$\\#@:-+=.1 aZ9\"'/{}\t"


def _gfm(text: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE)


def _plain(rendered: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip()


def _inert(value: str) -> None:
    escaped = md(value)
    for wrapper in WRAPPERS:
        rendered = _gfm(wrapper.format(escaped))
        tags = set(re.findall(r"<([a-z0-9]+)", rendered))
        assert tags <= OURS, (value, escaped, rendered)
        assert rendered.count("<strong>") == (1 if wrapper.startswith("**") else 0), rendered
        if wrapper.startswith("|"):
            assert rendered.count("<td") == 1, rendered
    # the reader sees the value itself: spaces collapsed, mentions and links broken by a ZWJ
    shown = _plain(_gfm(WRAPPERS[0].format(escaped))).replace(ZWJ, "")
    expected = re.sub(r"\s+", " ", value.replace("\t", " ")).strip()
    assert re.sub(r"\s+", " ", shown) == expected, (value, escaped, shown)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_render_as_plain_text(value: str) -> None:
    _inert(value)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=14))
def test_any_markdown_punctuation_renders_as_plain_text(value: str) -> None:
    _inert(value)


def test_random_values_of_markdown_punctuation() -> None:
    rng = random.Random(26)  # fixed: the same 2,000 values every run
    for _ in range(2000):
        _inert("".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 12))))


def test_summary_text_is_inert_html() -> None:
    value = "<b>x</b> [l](http://a) @team #1 & \"q\""
    rendered = _gfm(f"<details>\n<summary>{md_html(value)}</summary>\n\nbody\n</details>\n")
    assert set(re.findall(r"<([a-z0-9]+)", rendered)) <= OURS
    assert _plain(rendered.split("</summary>")[0]).replace(ZWJ, "") == value
