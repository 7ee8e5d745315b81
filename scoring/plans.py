"""Expansion plan calendars: seed 000's 90-day sequence and seed 002's pre-renewal timeline.

Which one a plan follows is ``plan_kind``: seed 002's timeline whenever the renewal is within six
months (whatever the offer), seed 000's calendar otherwise.

Dates are calendar dates in the owner's timezone (the caller converts "now" to the owner's local
date). No step is ever due on a weekend: a due date that lands on Saturday or Sunday moves back
to the Friday, so it stays inside its window; a window that opens on a weekend opens on Monday.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class PlanKind(StrEnum):
    NINETY_DAY = "ninety_day"
    RENEWAL = "renewal"

    @property
    def label(self) -> str:
        """How people name it, in Slack and on the command line alike."""
        return "pre-renewal" if self is PlanKind.RENEWAL else "90-day"


@dataclass(frozen=True)
class StepSpec:
    position: int
    name: str
    window_start: date
    window_end: date
    due_on: date
    role: str  # who usually does it: CSM, AE, Legal
    conditional: bool = False  # only needed if something did not happen (e.g. no reply)


def previous_workday(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def next_workday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


RENEWAL_HORIZON_MONTHS = 6  # seed 002: the renewal strategy applies within six months


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later; a day the month lacks becomes its last day."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def renewal_within_horizon(today: date, renewal_on: date | None) -> bool:
    """True when the renewal is today or within the next six months."""
    return renewal_on is not None and today <= renewal_on <= add_months(
        today, RENEWAL_HORIZON_MONTHS
    )


def plan_kind(today: date, renewal_on: date | None) -> PlanKind:
    """A renewal within six months leads with seed 002's timeline, whatever the offer."""
    return PlanKind.RENEWAL if renewal_within_horizon(today, renewal_on) else PlanKind.NINETY_DAY


# (first day, last day, due day, name, role, conditional) — seed 000, step 6. Each step is due
# on its window's last day, except the material: it goes out by day 16 so that its one
# follow-up, five days later, is due after it and still inside days 8–21.
_NINETY_DAY = (
    (1, 7, 7, "Opening conversation: gauge interest and confirm the offer", "CSM", False),
    (
        8,
        21,
        16,
        "Send supporting material (ROI snapshot, upgrade overview, case study)",
        "CSM",
        False,
    ),
    (13, 21, 21, "Follow up once if there was no reply to the material", "CSM", True),
    (
        22,
        45,
        45,
        "Send the proposal or upgrade offer; ask how approval works and offer to help"
        " build the business case",
        "CSM",
        False,
    ),
    (46, 75, 75, "Work the internal process with the champion; answer objections", "CSM", False),
    (76, 90, 90, "Close, or agree a dated next step — never leave it open", "CSM", False),
)

# (weeks before renewal, name, role) — seed 002's pre-renewal timeline.
_RENEWAL = (
    (12, "Executive business review", "CSM"),
    (8, "Renewal and expansion proposal", "AE"),
    (4, "Negotiate and finalise", "AE"),
    (2, "Contract execution", "Legal"),
)


def ninety_day_plan(start: date) -> list[StepSpec]:
    """Day 1 is ``start``."""
    steps = []
    for n, (first, last, due_day, name, role, conditional) in enumerate(_NINETY_DAY, 1):
        opens = next_workday(start + timedelta(days=first - 1))
        closes = start + timedelta(days=last - 1)
        due = max(previous_workday(start + timedelta(days=due_day - 1)), opens)
        steps.append(StepSpec(n, name, opens, closes, due, role, conditional))
    return steps


def renewal_plan(start: date, renewal_on: date) -> list[StepSpec]:
    """Counted back from the renewal date; steps already past are due at once, in order."""
    steps = []
    opens = next_workday(start)
    for n, (weeks, name, role) in enumerate(_RENEWAL, 1):
        target = previous_workday(renewal_on - timedelta(weeks=weeks))
        due = max(target, opens)
        steps.append(StepSpec(n, name, opens, max(due, target), due, role))
        opens = next_workday(due + timedelta(days=1))
    return steps


def plan_steps(start: date, renewal_on: date | None) -> tuple[PlanKind, list[StepSpec]]:
    """The calendar a plan started on ``start`` follows, and its steps."""
    if renewal_on is not None and plan_kind(start, renewal_on) is PlanKind.RENEWAL:
        return PlanKind.RENEWAL, renewal_plan(start, renewal_on)
    return PlanKind.NINETY_DAY, ninety_day_plan(start)
