from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.when import WhenError, parse_when

NOW = datetime(2026, 11, 20, 15, 42, tzinfo=ZoneInfo("America/New_York"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2d", datetime(2026, 11, 22, 9, 0)),
        ("1w", datetime(2026, 11, 27, 9, 0)),
        ("2w", datetime(2026, 12, 4, 9, 0)),
        ("3 days", datetime(2026, 11, 23, 9, 0)),
        ("until 2026-12-15", datetime(2026, 12, 15, 9, 0)),
        ("Until  2026-12-15 ", datetime(2026, 12, 15, 9, 0)),
        ("tomorrow", datetime(2026, 11, 21, 9, 0)),
        ("until renewal", datetime(2027, 2, 1, 9, 0)),
        ("4h", datetime(2026, 11, 20, 19, 42)),
    ],
)
def test_natural_input(text: str, expected: datetime) -> None:
    got = parse_when(text, now_local=NOW, renewal_on=date(2027, 2, 1))
    assert got == expected.replace(tzinfo=NOW.tzinfo)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soonish", "Try 2d, 1w, 2w, until 2026-12-15 or until renewal"),
        ("until 2026-01-01", "has already passed"),
        ("until renewal", "renewal date"),
        ("0d", "above zero"),
        ("", "Say how long"),
        ("until 2029-01-01", "more than a year"),
    ],
)
def test_bad_input_gets_an_example(text: str, message: str) -> None:
    with pytest.raises(WhenError, match=message):
        parse_when(text, now_local=NOW)


@given(st.text(max_size=60))
def test_any_text_is_a_future_time_or_a_clear_error(text: str) -> None:
    try:
        when = parse_when(text, now_local=NOW, renewal_on=NOW.date() + timedelta(days=30))
    except WhenError as exc:
        assert str(exc)
    else:
        assert NOW < when <= NOW + timedelta(days=366)
