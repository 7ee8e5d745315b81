"""Untrusted text (CRM names, owners, contacts, evidence, source errors) made inert for each
place it is shown: a terminal, Markdown (and so the HTML report).

Each function keeps every printable character and changes only what could act instead of
being read: control characters become visible symbols (ESC shows as ␛, so ``\\x1b[2J`` prints
as ``␛[2J`` and clears nothing), line breaks become spaces, and markup is escaped.

In the terminal, untrusted text never goes through rich's markup parser at all: it is a
``Text`` (``as_text()``, or ``printable()`` as a plain part of ``Text.assemble``), which rich
prints as it is. (``rich.markup.escape`` cannot do this alone: it leaves control characters, and a
backslash before ``[`` or at the end of the text changes what the markup around it means.)
"""

from __future__ import annotations

import re

from rich.text import Text

# Line and paragraph breaks of every kind: a name stays on its line.
_BREAKS = dict.fromkeys(map(ord, "\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029"), " ")
# Bidirectional overrides and isolates reorder what follows them on screen (a name could
# show as another): dropped.
_BIDI = dict.fromkeys([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟, the Unicode control pictures
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"  # C1 controls have no picture: �


_SURROGATE = re.compile("[\ud800-\udfff]")
_TABLE: dict[int, str | None] = {
    **{c: _visible(chr(c)) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))},
    **_BREAKS,
    **_BIDI,
}


def printable(text: str) -> str:
    """``text`` with nothing a terminal or a parser would act on: every control character
    shown as a symbol, breaks as spaces, bidirectional overrides dropped."""
    return _SURROGATE.sub("\ufffd", text.translate(_TABLE))  # a lone one cannot be written


def as_text(value: str, style: str = "") -> Text:
    """``value`` for the terminal (a line, a table cell, a panel title): never read as markup,
    a link or a control sequence."""
    return Text(printable(value), style=style)


# Python-Markdown's escapable characters that can start markup anywhere in a line, and the
# HTML that would otherwise pass through it raw.
_MD_INLINE = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "|": "\\|",
        "#": "\\#",
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
    }
)
# What would start a block (a list, a rule, an ordered list) when the text begins a line or
# a list item: its first character is escaped too.
_MD_BLOCK_START = re.compile(r"^(?:[-+]|\d+(?=[.)]))")


def markdown(value: str) -> str:
    """``value`` as inert Markdown for a table cell, a heading, a list item or a paragraph:
    one line, no formatting, link, image, heading, table cell break or raw HTML."""
    out = " ".join(printable(value).split()).translate(_MD_INLINE)
    match = _MD_BLOCK_START.match(out)
    if match is None:
        return out
    if match.group().isdigit():  # "1. " would start an ordered list: escape its dot
        end = match.end()
        return out[:end] + "\\" + out[end:]
    return "\\" + out
