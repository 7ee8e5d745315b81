"""The escaping functions, for any text: no markup, link or control sequence comes out, and
every printable character of the input does."""

from __future__ import annotations

import io
import re
import unicodedata
from html.parser import HTMLParser

import markdown as md_lib
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from bot.output import safe_text

CRAFTED = [
    "\\[click\\](javascript:alert(1))",
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "Acme\r\n# Heading\r\n| a | b |\n|---|---|",
    "Evil [/red] Co",
    "[link=https://evil.example]Acme[/link]",
    "\x1b[2J\x1b]8;;https://evil\x07Acme\x1b]8;;\x07",
    "trailing backslash \\",
    "\x9b31m C1 CSI \u202eevil\u202c",
    "1. starts a list",
    "- starts a list",
    "Team #1 #",
    "\x02wzxhzdk:0\x03",  # Python-Markdown's own placeholder for stashed HTML
]

# Any text, weighted towards the characters and fragments that matter here.
hostile = st.lists(
    st.one_of(
        st.text(st.characters(codec="utf-8"), max_size=4),
        st.sampled_from(list("[]()\\/<>|*_`#!&;:=-+.\r\n\t\x1b\x07\x9b\u202e\u2028 ")),
        st.sampled_from(["javascript:", "[link=", "[/", "\x1b]8;;", "&lt;", "1. ", "- "]),
    ),
    max_size=20,
).map("".join)


def _special(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp")


_BIDI = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F))}
_BIDI |= set(map(chr, range(0x2066, 0x206A)))


@given(hostile)
@settings(max_examples=300)
def test_printable_keeps_every_printable_character_and_no_control(value: str) -> None:
    out = safe_text.printable(value)
    assert not any(_special(c) or c in _BIDI for c in out)
    kept = [c for c in value if c not in _BIDI]
    assert len(out) == len(kept)
    for before, after in zip(kept, out, strict=True):
        assert after == before or _special(before), (before, after)


def test_printable_shows_controls_as_symbols() -> None:
    assert safe_text.printable("\x1b[2J\x07") == "␛[2J␇"
    assert safe_text.printable("a\r\nb\u2028c") == "a  b c"
    assert safe_text.printable("\u202eevil") == "evil"
    assert safe_text.printable("lone \ud800 surrogate") == "lone \ufffd surrogate"


_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _terminal(renderable: object) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=True, color_system="truecolor", width=500, emoji=False
    )
    console.print(renderable, soft_wrap=True)
    return buffer.getvalue()


@given(hostile)
@settings(max_examples=300)
@example("a\\")
@example("[/]")
@example("\\[bold]")
def test_terminal_text_is_shown_literally_with_no_control_sequence(value: str) -> None:
    line = Text.assemble(("Started ", "bold"), safe_text.as_text(value, "red"), " end")
    shown = _terminal(line)
    assert "\x1b" not in _SGR.sub("", shown)  # only our own colours reach the terminal
    assert "\x07" not in shown and "\x9b" not in shown
    assert _SGR.sub("", shown) == f"Started {safe_text.printable(value)} end\n"


@pytest.mark.parametrize("value", CRAFTED)
def test_crafted_names_reach_the_terminal_as_text(value: str) -> None:
    shown = _SGR.sub("", _terminal(safe_text.as_text(value, "bold")))
    assert "\x1b" not in shown and "\x07" not in shown
    assert shown == safe_text.printable(value) + "\n"


# --- Markdown ---------------------------------------------------------------------------


class _Structure(HTMLParser):
    """Every element and the text inside each leaf, from rendered HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.texts: dict[int, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        if self.tags:
            index = len(self.tags) - 1
            self.texts[index] = self.texts.get(index, "") + data


def _structure(markdown_text: str) -> _Structure:
    parser = _Structure()
    parser.feed(md_lib.markdown(markdown_text, extensions=["tables", "sane_lists"]))
    return parser


TEMPLATE = """# Title

| A | B |
|---|---|
| {v} | x |

- {v}

> {v}

### {v}

para {v} end
"""
EXPECTED_TAGS = [
    "h1",
    "table",
    "thead",
    "tr",
    "th",
    "th",
    "tbody",
    "tr",
    "td",
    "td",
    "ul",
    "li",
    "blockquote",
    "p",
    "h3",
    "p",
]


@given(hostile.filter(lambda v: safe_text.printable(v).strip()))
@settings(max_examples=300)
@example("\\[click\\](javascript:alert(1))")
@example("1. x")
@example("x #")
@example("---")
@example("x")  # equals the table's fixed cell
def test_markdown_makes_no_markup_and_keeps_the_text(value: str) -> None:
    parsed = _structure(TEMPLATE.format(v=safe_text.markdown(value)))
    assert parsed.tags == EXPECTED_TAGS
    assert parsed.attrs == []
    words = " ".join(safe_text.printable(value).split())
    texts = [t.strip() for t in parsed.texts.values()]
    # the cell, the item, the heading and the quote; plus any fixed text it happens to equal
    fixed = ("Title", "A", "B", "x")
    assert texts.count(words) == 4 + fixed.count(words)
    assert f"para {words} end" in texts


@pytest.mark.parametrize("value", CRAFTED)
def test_crafted_names_stay_text_in_markdown(value: str) -> None:
    parsed = _structure(TEMPLATE.format(v=safe_text.markdown(value)))
    assert parsed.tags == EXPECTED_TAGS and parsed.attrs == []
