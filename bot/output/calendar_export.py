"""Plan steps as iCalendar (RFC 5545), so they show up in Google Calendar or Outlook.

Each step is an all-day event on its due date, with a stable UID so a re-import updates
events instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from icalendar import Calendar, Event

from db.models import Account, Plan, PlanStep, utcnow

PRODID = "-//Expansion Radar//Plan calendar//EN"


def steps_calendar(
    rows: Iterable[tuple[PlanStep, Plan, Account]], name: str, domain: str = "expansion-radar"
) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    stamp = utcnow()
    for step, plan, account in rows:
        event = Event()
        event.add("uid", f"plan-{plan.id}-step-{step.id}@{domain}")
        event.add("dtstamp", stamp)
        event.add("summary", f"{account.name}: {step.name}")
        event.add("dtstart", step.due_on)
        event.add("dtend", step.due_on + timedelta(days=1))
        window = f"Window {step.window_start.isoformat()} to {step.window_end.isoformat()}."
        extra = f"\n{step.note}" if step.note else ""
        event.add("description", f"{window}\nWho: {step.role}.{extra}\nStatus: {step.status}.")
        event.add("status", "CONFIRMED" if step.status != "skipped" else "CANCELLED")
        cal.add_component(event)
    data: bytes = cal.to_ical()
    return data
