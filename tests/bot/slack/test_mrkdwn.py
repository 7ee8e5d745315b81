from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.slack.mrkdwn import cut, escape, lines_within, plain, when


def test_control_characters_and_pings_are_defused() -> None:
    out = escape("<!channel> <!here> <@U123> <https://evil.example|click> Tom & Jerry")
    assert "<" not in out and ">" not in out
    assert "&lt;!channel&gt;" in out and "Tom &amp; Jerry" in out
    assert "@here" not in escape("hey @here and @channel @everyone")


def test_formatting_markers_are_not_interpreted() -> None:
    out = escape("*bold* _it_ ~strike~ `code` ```block```")
    assert not set("*_~`") & set(out)


def test_single_line_collapses_newlines() -> None:
    assert escape("a\n> quote\nb", single_line=True) == "a &gt; quote b"


def test_plain_cuts_with_an_ellipsis() -> None:
    assert plain("x" * 200, 150) == "x" * 149 + "…"
    assert plain("  ", 10) == "—"


def test_cut_never_splits_entities_or_tokens() -> None:
    assert cut("ab &amp; cd", 6) == "ab…"
    assert cut("hi <@U0123456> there", 10) == "hi…"
    assert cut("short", 10) == "short"


@given(st.text(), st.integers(min_value=2, max_value=500))
def test_cut_respects_the_limit(text: str, limit: int) -> None:
    out = cut(escape(text), limit)
    assert len(out) <= limit


@given(st.lists(st.text(max_size=300), max_size=60), st.integers(min_value=20, max_value=3000))
def test_lines_within_respects_the_limit(lines: list[str], limit: int) -> None:
    out = lines_within([escape(line, single_line=True) for line in lines], limit)
    assert len(out) <= limit


def test_lines_within_counts_what_it_left_out() -> None:
    out = lines_within([f"line {i}" for i in range(100)], 60)
    assert out.endswith("more") and "…and" in out


def test_dates_are_absolute_and_rendered_in_the_readers_timezone() -> None:
    stamp = when(datetime(2026, 12, 15, 8, 0, tzinfo=UTC))
    assert stamp == "<!date^1797321600^{date_short} {time}|15 Dec 2026 08:00 UTC>"
