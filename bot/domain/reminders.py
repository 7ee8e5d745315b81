"""Plan-step reminders and snooze returns: each sent once, at the owner's local morning.

A step reminds twice at most: when its window opens and when it goes overdue (the morning after
its due date). The job may tick every minute; the ``reminded_*_at`` columns make each reminder
happen once. A snoozed step waits; when the snooze ends the reminder it owes goes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlmodel import Session

import db.plans
import db.snoozes
from bot.infra.timezones import TzLookup
from db.models import Account, Plan, PlanStep


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
        tz = tz_of(step.owner or plan.owner)
        reminder = _claim(session, step, plan, account, now=now, tz=tz, hour=hour)
        if reminder is not None:
            out.append(reminder)
    return out


def steps_owing_reminders(
    session: Session, *, now: datetime, tz_of: TzLookup, hour: int = 9
) -> list[int]:
    """The ids of the steps with a reminder (or a silent mark) owed at ``now``; reads only, so
    the job can then claim each in its own transaction with ``claim_step_reminder``."""
    snoozed = {s.target_id for s in db.snoozes.active_snoozes(session, target_type="step")}
    snoozed_plans = {s.target_id for s in db.snoozes.active_snoozes(session, target_type="plan")}
    return [
        step.id
        for step, plan, _account in db.plans.open_steps(session)
        if step.id is not None
        and step.id not in snoozed
        and plan.id not in snoozed_plans
        and _owed(step, plan, now=now, tz=tz_of(step.owner or plan.owner), hour=hour)
    ]


def claim_step_reminder(
    session: Session, *, step_id: int, now: datetime, tz_of: TzLookup, hour: int = 9
) -> StepReminder | None:
    """Mark the reminder one step owes at ``now`` and return it (None: nothing to say, perhaps
    only a mark); checked afresh, so a step closed or snoozed meanwhile is left alone. The
    caller enqueues it in the same transaction."""
    found = db.plans.step_with_plan(session, step_id)
    if found is None:
        return None
    step, plan, account = found
    if plan.status != "open" or step.status not in ("pending", "overdue"):
        return None
    assert plan.id is not None
    if db.snoozes.active_snoozes(session, target_type="step", target_ids=[step_id]):
        return None
    if db.snoozes.active_snoozes(session, target_type="plan", target_ids=[plan.id]):
        return None
    tz = tz_of(step.owner or plan.owner)
    return _claim(session, step, plan, account, now=now, tz=tz, hour=hour)


def _owed(step: PlanStep, plan: Plan, *, now: datetime, tz: tzinfo, hour: int) -> str | None:
    """ "overdue", "open", "quiet" (marked without a message) or None (nothing owed)."""
    if step.reminded_overdue_at is None and now >= _at(step.due_on + timedelta(1), hour, tz):
        return "overdue"
    if step.reminded_open_at is None and now >= _at(step.window_start, hour, tz):
        started = plan.created_at.astimezone(tz).date()
        # not for steps open the day the plan started
        return "open" if step.window_start > started else "quiet"
    return None


def _claim(
    session: Session,
    step: PlanStep,
    plan: Plan,
    account: Account,
    *,
    now: datetime,
    tz: tzinfo,
    hour: int = 9,
) -> StepReminder | None:
    owed = _owed(step, plan, now=now, tz=tz, hour=hour)
    if owed is None:
        return None
    assert step.id is not None and plan.id is not None
    if owed == "overdue":
        step.status = "overdue"
        step.reminded_overdue_at = now
        step.reminded_open_at = step.reminded_open_at or now  # overdue says it all
    else:
        step.reminded_open_at = now
    session.add(step)
    if owed == "quiet":
        return None
    return StepReminder(
        step.id,
        plan.id,
        plan.alert_id,
        step.owner or plan.owner,
        account.name,
        step.name,
        step.due_on,
        owed,
    )


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


def plan_snoozes_ended(session: Session, *, now: datetime) -> list[SnoozeReturn]:
    """The plan and step snoozes whose time has come (read only; ``end_snooze`` ends each)."""
    out = []
    for snooze in db.snoozes.expired_snoozes(session, now):
        if snooze.target_type == "alert":
            continue
        assert snooze.id is not None
        out.append(SnoozeReturn(snooze.id, snooze.target_type, snooze.target_id, snooze.by_user))
    return out


def end_snooze(session: Session, *, back: SnoozeReturn, now: datetime) -> bool:
    """End one snooze found by ``plan_snoozes_ended``; False when it was ended meanwhile."""
    for snooze in db.snoozes.active_snoozes(
        session, target_type=back.target_type, target_ids=[back.target_id]
    ):
        if snooze.id == back.snooze_id:
            snooze.ended_at = now
            session.add(snooze)
            return True
    return False
