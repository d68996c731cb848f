from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repromatrix.report.escape import ZWJ, file_stem, md, md_pre, mermaid_label, terminal, xml

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "a | b | c",
    "`code` and ```fence```",
    "[click](https://evil.example)",
    "![img](http://x/y.png)",
    "@octocat please look",
    "see #123",
    "line1\nline2\r\n| --- |",
    "**bold** _it_ ~~s~~ $x^2$",
    "https://evil.example/path",
    "www.evil.example",
    "<!-- hidden -->",
    "&lt;script&gt;",
    "\x1b[31mred\x1b[0m",
    "\u202eevil\u202c",
    "\\|",
]


def _visible_markdown_ok(text: str) -> None:
    """No raw HTML, link, code, emphasis, table break, mention or bare URL can survive: every
    character GFM gives a meaning to inline is backslash-escaped or an entity, and "_" is left
    only inside a word (where GFM never reads it as emphasis)."""
    bare = re.sub(r"&(amp|lt|gt);", "", re.sub(r"\\[\\`*~\[\]|$#+=_-]", "", text))
    assert "<" not in bare and not bare.startswith(">")
    for ch in "|`[]*~$\\&":
        assert ch not in bare, (ch, text)
    for index, ch in enumerate(bare):  # "_" only between letters or digits (str.isalnum)
        if ch == "_":
            assert 0 < index < len(bare) - 1, text
            assert bare[index - 1].isalnum() and bare[index + 1].isalnum(), text
    assert "\n" not in text and "\r" not in text
    assert re.search(r"@[A-Za-z0-9]", text) is None
    assert re.search(r"#[0-9]", text) is None
    assert "://" not in text
    assert re.search(r"(?i)www\.", text) is None
    assert "\x1b" not in text and "\u202e" not in text


def test_md_leaves_what_gfm_does_not_need_alone():
    assert md("Debian GNU/Linux 12 (bookworm), x86_64 -> ok!") == \
        "Debian GNU/Linux 12 (bookworm), x86_64 -> ok!"
    assert md("_it_ a|b [x](y)") == r"\_it\_ a\|b \[x\](y)"


@pytest.mark.parametrize("value", HOSTILE)
def test_md_neutralises(value):
    _visible_markdown_ok(md(value))


@given(st.text())
def test_md_neutralises_any_text(value):
    _visible_markdown_ok(md(value))


def test_md_keeps_plain_text_readable():
    assert md("ubuntu-24.04-1") == "ubuntu-24.04-1"
    assert md("AMD EPYC 7763") == "AMD EPYC 7763"


def test_mentions_are_broken_with_zwj():
    assert md("@octocat") == "@" + ZWJ + "octocat"
    assert md("see #12") == "see #" + ZWJ + "12"


def test_md_pre_keeps_newlines_but_not_html():
    out = md_pre("Traceback:\n  <module>\n</pre><script>")
    assert out.count("\n") == 2
    assert "<" not in out and ">" not in out


def test_length_is_bounded():
    assert len(md("x" * 100000)) < 400


def test_terminal_strips_control_sequences():
    out = terminal("\x1b[2Jboom\x07\x00ok")
    assert "\x1b" not in out and "\x07" not in out and "\x00" not in out
    assert out.endswith("ok")


def test_xml_escapes_markup():
    assert xml('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"


def test_mermaid_label_and_file_stem_are_safe():
    label = mermaid_label('x"]\n```\n%%{init}%%')
    assert re.fullmatch(r"[A-Za-z0-9 .,+_-]*", label)
    assert file_stem("../../etc/passwd") == "______etc_passwd"
    assert "/" not in file_stem("a/b") and file_stem("") == "_"
