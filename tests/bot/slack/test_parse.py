from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack import kinds
from bot.slack.parse import MAX_NOTE, Parsed, parse


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


# --- /expansion log --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "log kestrel media win Renewed early",
            Parsed("log", query="kestrel media", kind="outcome", note="Renewed early"),
        ),
        (
            "LOG acme Feature Request SSO for 200 seats",
            Parsed("log", query="acme", kind="feature_request", note="SSO for 200 seats"),
        ),
        ("log acme request SSO", Parsed("log", query="acme", kind="feature_request", note="SSO")),
        (
            "log acme champion left Dana moved on",
            Parsed("log", query="acme", kind="champion_left", note="Dana moved on"),
        ),
        (
            "log acme new champion Priya runs ops now",
            Parsed("log", query="acme", kind="champion_added", note="Priya runs ops now"),
        ),
        (
            "log acme onboarded all 30 users trained",
            Parsed("log", query="acme", kind="onboarding_completed", note="all 30 users trained"),
        ),
        (
            "log acme win on 2026-11-20 Record month",
            Parsed("log", query="acme", kind="outcome", note="Record month", on=date(2026, 11, 20)),
        ),
        (  # "on" followed by words, not a date: part of what happened
            "log acme win on track to save 20%",
            Parsed("log", query="acme", kind="outcome", note="on track to save 20%"),
        ),
        ("log win win x", Parsed("log", query="win", kind="outcome", note="x")),  # by its key
    ],
)
def test_log(text: str, expected: Parsed) -> None:
    assert parse(text) == expected


def test_a_long_log_is_cut_to_what_an_event_holds() -> None:
    parsed = parse("log acme praise " + "wonderful " * 400)
    assert MAX_NOTE - 10 < len(parsed.note) <= MAX_NOTE and parsed.note.endswith("…")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("log", "Say which account"),
        ("log acme", "couldn't tell what kind"),
        ("log acme bought more", "couldn't tell what kind"),
        ("log acme win", "What happened?"),
        ("log acme win on 2026-11-20", "What happened?"),
        ("log acme win on 2026-02-30 big", "2026-02-30 is not a date"),
    ],
)
def test_log_without_what_it_needs_gets_help(text: str, problem: str) -> None:
    result = parse(text)
    assert result.verb == "help" and result.problem and problem in result.problem
    if "kind" in problem:  # every kind, in plain words, with the word to type
        for k in kinds.KINDS:
            assert k.label.lower() in result.problem and f"`{k.words[0]}`" in result.problem


_KIND_WORDS = {part for k in kinds.KINDS for name in k.words for part in name.split()} | {"on"}
_word = st.text(st.characters(blacklist_categories=["Z", "C"]), min_size=1, max_size=12).filter(
    lambda w: w.lower() not in _KIND_WORDS
)


@given(
    account=st.lists(_word, min_size=1, max_size=4),
    kind=st.sampled_from([(k, w) for k in kinds.KINDS for w in k.words]),
    note=st.lists(_word, min_size=1, max_size=20),
    day=st.none() | st.dates(),
)
def test_log_reads_back_what_was_typed(
    account: list[str], kind: tuple[kinds.LogKind, str], note: list[str], day: date | None
) -> None:
    """An account (without kind words), a kind in any accepted form, an optional date and the
    words: each comes back as typed, whatever the words are."""
    what, word = kind
    on = ["on", day.isoformat()] if day else []
    parsed = parse(" ".join(["log", *account, word.upper(), *on, *note]))
    assert parsed.verb == "log"
    assert parsed.query == " ".join(account)
    assert parsed.kind == what.kind.value
    assert parsed.on == day
    assert parsed.note == " ".join(note)


@given(st.text(max_size=400))
def test_any_log_text_parses_to_a_log_or_help(text: str) -> None:
    result = parse("log " + text)
    assert result.verb in ("log", "help")
    if result.verb == "log":
        assert result.query and result.note and kinds.kind_of(result.kind) is not None
        assert len(result.note) <= MAX_NOTE
    else:
        assert result.problem
