"""Reading "when" from people: snooze durations and dates typed in Slack.

Day-based answers come back at the start of the person's working day (09:00 their time), not at
this exact minute in a week — a snooze ending at 02:13 is a snooze nobody sees.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

EXAMPLES = "2d, 1w, 2w, until 2026-12-15 or until renewal"
MAX_AHEAD = timedelta(days=366)

_DURATION = re.compile(
    r"^(?P<n>\d{1,3})\s*(?P<unit>h|hours?|d|days?|w|weeks?|m|months?)$", re.IGNORECASE
)
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30}


class WhenError(ValueError):
    """Input we could not read; the message shows good input."""


def _morning(day: date, now_local: datetime, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=now_local.tzinfo)


def parse_when(
    text: str, *, now_local: datetime, renewal_on: date | None = None, hour: int = 9
) -> datetime:
    """When a snooze should end, as an aware datetime in ``now_local``'s timezone."""
    raw = " ".join(text.strip().split())
    cleaned = raw.lower().removeprefix("until ").removeprefix("till ").strip()
    if not cleaned:
        raise WhenError(f"Say how long, for example {EXAMPLES}.")
    if cleaned == "tomorrow":
        return _checked(_morning(now_local.date() + timedelta(days=1), now_local, hour), now_local)
    if cleaned == "renewal":
        if renewal_on is None:
            raise WhenError(
                "I don't know this account's renewal date. Try a date: until 2026-12-15."
            )
        return _checked(_morning(renewal_on, now_local, hour), now_local)
    match = _DURATION.match(cleaned)
    if match:
        n = int(match["n"])
        unit = match["unit"][0].lower()
        if n == 0:
            raise WhenError(f"A snooze needs a length above zero, for example {EXAMPLES}.")
        if unit == "h":
            return _checked(now_local + timedelta(hours=n), now_local)
        day = now_local.date() + timedelta(days=n * _UNIT_DAYS[unit])
        return _checked(_morning(day, now_local, hour), now_local)
    try:
        day = date.fromisoformat(cleaned)
    except ValueError:
        raise WhenError(f"I couldn't read “{raw[:40]}”. Try {EXAMPLES}.") from None
    return _checked(_morning(day, now_local, hour), now_local)


def _checked(when: datetime, now_local: datetime) -> datetime:
    if when <= now_local:
        raise WhenError(
            f"{when:%d %b %Y} has already passed. Pick a later date, for example {EXAMPLES}."
        )
    if when - now_local > MAX_AHEAD:
        raise WhenError("That is more than a year away; close the plan as not this cycle instead.")
    return when
