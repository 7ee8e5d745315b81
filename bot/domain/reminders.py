"""Plan-step reminders and snooze returns: each sent once, at the owner's local morning.

A step reminds twice at most: when its window opens and when it goes overdue (the morning after
its due date). The job may tick every minute; the ``reminded_*_at`` columns make each reminder
happen once. A snoozed step waits; when the snooze ends the reminder it owes goes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import Session

import db.plans
import db.snoozes
from bot.infra.timezones import TzLookup


@dataclass(frozen=True)
class StepReminder:
    step_id: int
    plan_id: int
    alert_id: int | None
    owner: str | None
    account: str
    step: str
    due_on: date
    event: str  # open | overdue


@dataclass(frozen=True)
class SnoozeReturn:
    snooze_id: int
    target_type: str
    target_id: int
    by_user: str | None


def _at(day: date, hour: int, tz: object) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=tz)  # type: ignore[arg-type]


def collect_step_reminders(
    session: Session, *, now: datetime, tz_of: TzLookup, hour: int = 9
) -> list[StepReminder]:
    """Mark and return the reminders owed at ``now``; the caller enqueues them in the same
    transaction, so a reminder is recorded if and only if it is queued."""
    rows = db.plans.open_steps(session)
    snoozed = {s.target_id for s in db.snoozes.active_snoozes(session, target_type="step")}
    snoozed_plans = {s.target_id for s in db.snoozes.active_snoozes(session, target_type="plan")}
    out: list[StepReminder] = []
    for step, plan, account in rows:
        if step.id in snoozed or plan.id in snoozed_plans:
            continue
        owner = step.owner or plan.owner
        tz = tz_of(owner)
        assert step.id is not None and plan.id is not None
        event: str | None = None
        if step.reminded_overdue_at is None and now >= _at(step.due_on + timedelta(1), hour, tz):
            step.status = "overdue"
            step.reminded_overdue_at = now
            step.reminded_open_at = step.reminded_open_at or now  # overdue says it all
            event = "overdue"
        elif step.reminded_open_at is None and now >= _at(step.window_start, hour, tz):
            step.reminded_open_at = now
            started = plan.created_at.astimezone(tz).date()
            if step.window_start > started:  # not for steps open the day the plan started
                event = "open"
        else:
            continue
        session.add(step)
        if event is not None:
            out.append(
                StepReminder(
                    step.id,
                    plan.id,
                    plan.alert_id,
                    owner,
                    account.name,
                    step.name,
                    step.due_on,
                    event,
                )
            )
    return out


def collect_snooze_returns(session: Session, *, now: datetime) -> list[SnoozeReturn]:
    """End every plan and step snooze whose time has come and say what came back. Alert
    snoozes are left alone: the Slack job that reopens alerts ends those itself."""
    out = []
    for snooze in db.snoozes.expired_snoozes(session, now):
        if snooze.target_type == "alert":
            continue
        snooze.ended_at = now
        session.add(snooze)
        assert snooze.id is not None
        out.append(SnoozeReturn(snooze.id, snooze.target_type, snooze.target_id, snooze.by_user))
    return out
