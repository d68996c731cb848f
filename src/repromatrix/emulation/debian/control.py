"""Debian's control-file syntax (deb822), shared by apt's .sources files, Release and Packages."""

from __future__ import annotations

from collections.abc import Iterator

Stanza = dict[str, str]  # field names lower-cased; multi-line values keep their lines


def parse_stanzas(text: str, comments: bool = False) -> Iterator[Stanza]:
    """Stanzas separated by blank lines; ``comments`` skips '#' lines (apt's .sources files)."""
    stanza: Stanza = {}
    field = None
    for line in text.splitlines():
        if comments and line.startswith("#"):
            continue
        if not line.strip():
            if stanza:
                yield stanza
            stanza, field = {}, None
        elif line[0] in " \t":
            if field is not None:  # a continuation line; " ." stands for an empty line
                body = line.strip()
                stanza[field] += "\n" + ("" if body == "." else body)
        else:
            name, sep, value = line.partition(":")
            if sep:
                field = name.strip().lower()
                stanza[field] = value.strip()
    if stanza:
        yield stanza


def words(value: str) -> list[str]:
    """A whitespace-separated field (Suites, Components, URIs, Architectures)."""
    return value.split()


def find_stanza(text: str, field: str, value: str) -> Stanza | None:
    """The first stanza whose ``field`` equals ``value``, found without parsing the others.

    A Packages index is about 50 MB; scanning it as text is what keeps a lookup under a second.
    """
    needle = f"\n{field}: {value}\n"
    padded = "\n" + text
    start = padded.find(needle)
    if start < 0:
        return None
    begin = padded.rfind("\n\n", 0, start + 1)  # the field need not be the stanza's first
    begin = 0 if begin < 0 else begin + 2
    end = padded.find("\n\n", start + 1)
    chunk = padded[begin:] if end < 0 else padded[begin:end]
    return next(parse_stanzas(chunk), None)
