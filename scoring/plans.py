"""Expansion plan calendars: seed 000's 90-day sequence and seed 002's pre-renewal timeline.

Dates are calendar dates in the owner's timezone (the caller converts "now" to the owner's local
date). No step is ever due on a weekend: a due date that lands on Saturday or Sunday moves back
to the Friday, so it stays inside its window; a window that opens on a weekend opens on Monday.
"""

from __future__ import annotations

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


# (first day, last day, name, role, conditional) — seed 000, step 6.
_NINETY_DAY = (
    (1, 7, "Opening conversation: gauge interest and confirm the offer", "CSM", False),
    (8, 21, "Send supporting material (ROI snapshot, upgrade overview, case study)", "CSM", False),
    (13, 21, "Follow up once if there was no reply to the material", "CSM", True),
    (22, 45, "Send the proposal or upgrade offer; ask how approval works", "CSM", False),
    (46, 75, "Work the internal process with the champion; answer objections", "CSM", False),
    (76, 90, "Close, or agree a dated next step — never leave it open", "CSM", False),
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
    for n, (first, last, name, role, conditional) in enumerate(_NINETY_DAY, 1):
        opens = next_workday(start + timedelta(days=first - 1))
        closes = start + timedelta(days=last - 1)
        # A conditional follow-up is due as soon as it opens (5 days after the material).
        due = opens if conditional else max(previous_workday(closes), opens)
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
