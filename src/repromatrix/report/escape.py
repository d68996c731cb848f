"""Escaping of untrusted strings (anything read from an artifact) for each output.

Artifacts come from CI jobs on other machines, possibly from forks, and the markdown is
posted as a PR comment. So every artifact string must render as inert text: no raw HTML,
no links (markdown or bare URLs), no @mentions or #references, no table breaks, no
terminal control sequences. Our own fixed text is never passed through here.
"""

from __future__ import annotations

import re
import unicodedata

# U+200D ZERO WIDTH JOINER: invisible, but it stops GitHub's mention, reference and
# autolink scanners, which all run on decoded text (so an HTML entity alone is not enough).
ZWJ = "\u200d"

# Characters that markdown, GFM tables or HTML give a meaning to, as numeric entities.
_MARKDOWN_ENTITIES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
    "|": "&#124;",
    "`": "&#96;",
    "\\": "&#92;",
    "*": "&#42;",
    "_": "&#95;",
    "~": "&#126;",
    "[": "&#91;",
    "]": "&#93;",
    "(": "&#40;",
    ")": "&#41;",
    "{": "&#123;",
    "}": "&#125;",
    "!": "&#33;",
    "$": "&#36;",  # GitHub renders $...$ as math
}

_BARE_LINK = re.compile(r"(?i)(www)(\.)|(://)")
_DEFAULT_MAX = 300


def _is_unsafe_char(ch: str) -> bool:
    """Control, format (bidi overrides, zero-width) and separator characters other than space."""
    if ch == " ":
        return False
    category = unicodedata.category(ch)
    return category[0] in ("C", "Z")


def clean(text: object, max_len: int = _DEFAULT_MAX, keep_newlines: bool = False) -> str:
    """Make any value a printable one-line (or multi-line) string of bounded length.

    Control characters (terminal escapes, NUL, bidi overrides) become U+FFFD so that a
    hostile artifact cannot rewrite the terminal or reorder text; length is bounded so one
    field cannot flood the report.
    """
    value = text if isinstance(text, str) else str(text)
    if len(value) > max_len:
        value = value[:max_len] + f"…(+{len(value) - max_len:d} chars)"
    out = []
    for ch in value:
        if keep_newlines and ch == "\n":
            out.append(ch)
        elif ch in "\t\r\n":
            out.append(" ")
        elif _is_unsafe_char(ch):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def _break_links_and_mentions(text: str) -> str:
    """Insert a ZWJ where GitHub would otherwise create a mention, reference or bare link."""
    text = text.replace("@", "@" + ZWJ).replace("#", "#" + ZWJ)
    return _BARE_LINK.sub(
        lambda m: (m.group(1) + ZWJ + m.group(2)) if m.group(1) else (":" + ZWJ + "//"), text
    )


# What GFM gives a meaning to inline, escaped with a backslash (readable in e-mail and API text,
# unlike entities): code, emphasis, strikethrough, links and images ("!" is inert once "[" is
# escaped), table cells, math and the backslash itself. "<", ">" and "&" become entities, since
# a backslash does not stop raw HTML or an entity.
_MD_BACKSLASHED = frozenset("\\`*~[]|$")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;"}
# A list marker at the start of a value (a list item's text would open a nested list); "#"
# needs no escape, the ZWJ after it already stops a heading.
_LIST_MARKER = re.compile(r"([-+]|[0-9]{1,9}[.)])(?=\s|$)")
_RULE = re.compile(r"(-)[ -]*")  # dashes alone ("--" after "- ") draw a thematic break


def md(text: object, max_len: int = _DEFAULT_MAX) -> str:
    """Escape an untrusted value for inline markdown (table cells, list items): only what GFM
    needs, so "x86_64 (emulated)" stays as it is. For HTML (a ``<summary>``) use ``md_html``."""
    # Leading spaces show nothing in markdown, and four of them would open a code block.
    value = _break_links_and_mentions(clean(text, max_len)).lstrip(" ")
    marker = _LIST_MARKER.match(value) or _RULE.fullmatch(value)
    out = []
    for index, ch in enumerate(value):
        if ch in _MD_ENTITIES or (index == 0 and ch == ">"):  # ">" opens a quote at the start
            out.append(_MD_ENTITIES.get(ch, "&gt;"))
        elif ch in _MD_BACKSLASHED or (marker is not None and index == marker.end(1) - 1):
            out.append("\\" + ch)
        elif ch == "_" and not _intraword(value, index):
            out.append("\\_")  # GFM never opens or closes emphasis with "_" inside a word
        else:
            out.append(ch)
    return "".join(out)


def _intraword(value: str, index: int) -> bool:
    return 0 < index < len(value) - 1 and value[index - 1].isalnum() and value[index + 1].isalnum()


def md_html(text: object, max_len: int = _DEFAULT_MAX) -> str:
    """Escape an untrusted value for HTML inside markdown (``<summary>``), where GitHub parses
    no markdown (a backslash would show) but decodes entities and links mentions. Brackets too
    become entities, so no text there reads as a link even where a renderer parses it."""
    value = _break_links_and_mentions(clean(text, max_len))
    return "".join(_MARKDOWN_ENTITIES.get(ch, ch) if ch in "&<>\"'[]" else ch for ch in value)


def md_pre(text: object, max_len: int = 4000) -> str:
    """Escape an untrusted multi-line value for use inside ``<pre>...</pre>`` in markdown.

    Inside an HTML block GitHub does not parse markdown, but it does decode entities and
    run the mention filter, so HTML-escape and break mentions; keep newlines.
    """
    value = _break_links_and_mentions(clean(text, max_len, keep_newlines=True))
    return "".join(_MARKDOWN_ENTITIES.get(ch, ch) for ch in value)


def xml(text: object, max_len: int = _DEFAULT_MAX) -> str:
    """Escape an untrusted value for SVG/XML text and attribute values."""
    value = clean(text, max_len)
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def terminal(text: object, max_len: int = _DEFAULT_MAX, keep_newlines: bool = False) -> str:
    """An untrusted value made safe for a terminal: only printable characters."""
    return clean(text, max_len, keep_newlines=keep_newlines)


def mermaid_label(text: object, max_len: int = 60) -> str:
    """Reduce an untrusted value to characters with no meaning in mermaid or markdown fences."""
    value = clean(text, max_len)
    return re.sub(r"[^A-Za-z0-9 .,+-]", "_", value)


def file_stem(text: object, max_len: int = 80) -> str:
    """A safe file-name part: no path separators, no dot-dot, no leading dot."""
    value = re.sub(r"[^A-Za-z0-9_-]", "_", clean(text, max_len))
    return value or "_"
