from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.parse import Parsed, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Parsed("top")),
        ("top", Parsed("top")),
        ("top 10", Parsed("top", n=10)),
        ("TOP 3", Parsed("top", n=3)),
        ("mine", Parsed("mine")),
        ("help", Parsed("help")),
        ("acme", Parsed("card", query="acme")),
        ("Acme Corp", Parsed("card", query="Acme Corp")),
        ("top gun inc", Parsed("card", query="top gun inc")),
        ("ack acme corp", Parsed("ack", query="acme corp")),
        ("plan acme", Parsed("plan", query="acme")),
        ("snooze acme 2w", Parsed("snooze", query="acme", when="2w")),
        ("snooze acme corp 2 weeks", Parsed("snooze", query="acme corp", when="2 weeks")),
        ("snooze acme until 2026-12-15", Parsed("snooze", query="acme", when="until 2026-12-15")),
        ("snooze acme renewal", Parsed("snooze", query="acme", when="renewal")),
    ],
)
def test_subcommands(text: str, expected: Parsed) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["ack", "plan", "snooze", "snooze acme", "top 0", "top 99"])
def test_incomplete_input_gets_help_with_the_problem(text: str) -> None:
    result = parse(text)
    assert result.verb == "help" and result.problem


@given(st.text(max_size=300))
def test_any_text_parses(text: str) -> None:
    result = parse(text)
    assert result.verb in ("card", "top", "mine", "ack", "snooze", "plan", "help")
