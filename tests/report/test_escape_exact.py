"""Exact output of the escaping functions at their limits (lengths, separators, links)."""

from __future__ import annotations

from repromatrix.report.escape import (
    ZWJ,
    clean,
    file_stem,
    md,
    md_html,
    md_pre,
    mermaid_label,
    terminal,
    xml,
)


def test_clean_bounds_and_replacements() -> None:
    assert clean("a" * 5, 5) == "aaaaa"
    assert clean("a" * 7, 5) == "aaaaa…(+2 chars)"
    assert clean(12.5) == "12.5" and clean(None) == "None"
    assert clean("a\tb\rc\nd") == "a b c d"
    assert clean("a\nb", keep_newlines=True) == "a\nb"
    # separators other than the space (no-break, line and paragraph separators) are unsafe too
    assert clean("a\u00a0b\u2028c\u2029d e") == "a\ufffdb\ufffdc\ufffdd e"


def test_every_escape_honours_its_length() -> None:
    long = "y" * 5000
    assert md(long, 400) == "y" * 400 + "…(+4600 chars)"
    assert md(long) == "y" * 300 + "…(+4700 chars)"
    assert md_html(long, 10) == "y" * 10 + "…(+4990 chars)"
    assert md_pre(long) == "y" * 4000 + "…&#40;+1000 chars&#41;"
    assert md_pre(long, 10) == "y" * 10 + "…&#40;+4990 chars&#41;"
    assert xml(long, 10) == "y" * 10 + "…(+4990 chars)"
    assert terminal(long, 10) == "y" * 10 + "…(+4990 chars)"
    assert terminal("a\nb") == "a b" and terminal("a\nb", keep_newlines=True) == "a\nb"
    assert mermaid_label(long) == "y" * 60 + "__+4940 chars_"
    assert mermaid_label(long, 3) == "yyy__+4997 chars_"
    assert file_stem(long) == "y" * 80 + "___4920_chars_"
    assert file_stem(long, 2) == "yy___4998_chars_"


def test_links_are_broken_exactly() -> None:
    assert md("see www.example.com or https://x.io") == \
        f"see www{ZWJ}.example.com or https:{ZWJ}//x.io"
    assert md("WWW.Example") == f"WWW{ZWJ}.Example"


def test_markup_characters() -> None:
    assert md_html("<b a='x'>&\"*_") == "&lt;b a=&#39;x&#39;&gt;&amp;&quot;*_"
    assert xml("<a href='x'>&\"</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
    assert mermaid_label("Ab9 .,+-x[y]{z}") == "Ab9 .,+-x_y__z_"
    assert file_stem("Ab9_-../x y") == "Ab9_-___x_y" and file_stem("") == "_"
