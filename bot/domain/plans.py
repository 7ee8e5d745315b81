"""The plan lifecycle: start one from an alert or an account, walk its steps (done, skip,
snooze, reassign), hand it over, close it with an outcome.

Starting is idempotent — an account has at most one open plan — so a double click or a
retried request never creates two calendars. Keyword-only, session in, no commit; refusals
raise ``bot.domain.errors`` types and bot/slack words them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Session

import db.alerts
import db.audit
import db.plans
import db.snoozes
from bot.domain import alerts
from bot.domain.errors import (
    GateBlocked,
    Gone,
    NotAllowed,
    NothingToOffer,
    NotInFuture,
    PlanClosed,
    PlanError,
    StepClosed,
)
from bot.domain.portfolio import assess_account
from bot.infra.settings import AppConfig
from db.models import OPEN_ALERT_STATUSES, Account, Alert, AlertStatus, Plan, PlanStep, utcnow
from scoring.engine import Assessment
from scoring.plans import plan_steps


class StepStatus(StrEnum):
    PENDING = "pending"
    OVERDUE = "overdue"
    DONE = "done"
    SKIPPED = "skipped"


CLOSED_STEPS = (StepStatus.DONE, StepStatus.SKIPPED)
OPEN_STEPS = (StepStatus.PENDING, StepStatus.OVERDUE)


class Outcome(StrEnum):
    WON = "won"
    LOST = "lost"
    NOT_THIS_CYCLE = "not_this_cycle"


OUTCOMES = tuple(o.value for o in Outcome)


def start_plan(
    session: Session,
    *,
    account: Account,
    assessment: Assessment,
    start: date,
    owner: str | None,
    user_id: str | None,
    alert: Alert | None = None,
    renewal_on: date | None = None,
) -> tuple[Plan, bool]:
    """Create the account's plan (or return the open one). ``start`` is the owner's local date.

    Returns (plan, created).
    """
    assert account.id is not None
    existing = db.plans.open_plan(session, account.id)
    if existing is not None:
        return existing, False
    kind, specs = plan_steps(start, renewal_on)
    plan = Plan(
        account_id=account.id,
        alert_id=alert.id if alert else None,
        kind=kind.value,
        offer=assessment.offer.type.value if assessment.offer else None,
        script=assessment.script[:4000],
        owner=owner,
        started_on=start,
        trigger=assessment.trigger.kind.value if assessment.trigger else None,
        expected_arr=assessment.opportunity.expansion_arr if assessment.opportunity else 0.0,
    )
    session.add(plan)
    session.flush()
    assert plan.id is not None
    for spec in specs:
        session.add(
            PlanStep(
                plan_id=plan.id,
                position=spec.position,
                name=spec.name,
                owner=None if spec.role != "CSM" else owner,
                role=spec.role,
                window_start=spec.window_start,
                window_end=spec.window_end,
                due_on=spec.due_on,
                conditional=spec.conditional,
            )
        )
    db.audit.audit(
        session,
        user_id=user_id,
        action="plan.start",
        target_type="plan",
        target_id=plan.id,
        account=account.key,
        kind=kind.value,
    )
    return plan, True


def close_plan(
    session: Session,
    *,
    plan: Plan,
    outcome: str,
    user_id: str | None,
    arr: float | None = None,
    reason: str | None = None,
    revisit_on: date | None = None,
) -> Plan:
    """Won needs the expansion ARR, lost a reason, not-this-cycle a revisit date."""
    if plan.status != "open":
        raise PlanError(f"This plan was already closed as {plan.status.replace('_', ' ')}.")
    if outcome not in OUTCOMES:
        raise PlanError("A plan closes as won, lost or not this cycle.")
    if outcome == "won" and (arr is None or arr < 0):
        raise PlanError("Tell me the expansion ARR you won, for example 12000.")
    if outcome == "lost" and not (reason and reason.strip()):
        raise PlanError("Say briefly why it was lost, so the team can learn from it.")
    if outcome == "not_this_cycle" and revisit_on is None:
        raise PlanError("Pick the date to revisit, so it does not drift open-ended.")
    plan.status = outcome
    plan.outcome_arr = arr if outcome == "won" else None
    plan.outcome_reason = reason
    plan.revisit_on = revisit_on
    plan.closed_at = utcnow()
    plan.closed_by = user_id
    session.add(plan)
    db.audit.audit(
        session,
        user_id=user_id,
        action=f"plan.{outcome}",
        target_type="plan",
        target_id=plan.id,
        arr=arr,
        reason=reason,
        revisit_on=revisit_on.isoformat() if revisit_on else None,
    )
    return plan


# --- from Slack or the CLI: start, walk the steps, hand over, close --------------------------


@dataclass(frozen=True)
class StartedPlan:
    """The account's plan, whether this call created it, its steps in order, and the account."""

    plan: Plan
    created: bool
    steps: list[PlanStep]
    account: Account


def refuse_plan(account: Account, assessment: Assessment) -> None:
    """The one rule for starting a plan, from Slack or the CLI: not while the health gate
    holds the pitch, and not without something to offer."""
    if assessment.gate.blocked:
        first = assessment.gate.reasons[0]
        raise GateBlocked(account.name, first.fix, first.code)
    if assessment.offer is None:
        raise NothingToOffer(account.name, assessment.recommendation)


def start_account_plan(
    session: Session,
    *,
    account_id: int,
    alert_id: int | None,
    user_id: str | None,
    config: AppConfig,
    today: date,
    now: datetime,
) -> StartedPlan:
    """The account's 90-day (or pre-renewal) plan; an open one is returned, not doubled, and
    a new one must pass ``refuse_plan``. It is tied to ``alert_id`` or else the account's open
    alert, which it notes and acknowledges, so stats count the alert as planned. Slack and the
    CLI (``user_id`` None) both start plans here."""
    account = session.get(Account, account_id)
    if account is None:
        raise Gone("account")
    existing = db.plans.open_plan(session, account_id)
    if existing is not None and existing.id is not None:
        steps = list(db.plans.plan_steps(session, existing.id))
        return StartedPlan(existing, False, steps, account)
    scored = assess_account(session, account, today, config)
    refuse_plan(account, scored.assessment)
    alert = session.get(Alert, alert_id) if alert_id else db.alerts.open_alert(session, account_id)
    latest = scored.facts.latest
    plan, created = start_plan(
        session,
        account=account,
        assessment=scored.assessment,
        start=today,
        owner=account.owner_email,
        user_id=user_id,
        alert=alert,
        renewal_on=latest.renewal_on if latest else None,
    )
    session.flush()
    assert plan.id is not None
    steps = list(db.plans.plan_steps(session, plan.id))
    if created and alert is not None and alert.status in OPEN_ALERT_STATUSES:
        first = next((s for s in steps if s.status == StepStatus.PENDING), None)
        db.audit.audit(
            session,
            user_id=user_id,
            action="alert.plan",
            target_type="alert",
            target_id=alert.id,
            plan=plan.id,
            next=f"{first.name} by {first.due_on.isoformat()}" if first else None,
        )
        if alert.status == AlertStatus.OPEN:  # starting a plan is an acknowledgement too
            alert.status = AlertStatus.ACKNOWLEDGED
            alert.acknowledged_by = alert.acknowledged_by or user_id
            alert.acknowledged_at = alert.acknowledged_at or now
        alerts.changed(session, alert, now)
    return StartedPlan(plan, created, steps, account)


def find_step(session: Session, step_id: int) -> tuple[PlanStep, Plan, Account]:
    found = db.plans.step_with_plan(session, step_id)
    if found is None:
        raise Gone("step")
    return found


def find_plan(session: Session, plan_id: int) -> tuple[Plan, Account]:
    found = db.plans.plan_with_account(session, plan_id)
    if found is None:
        raise Gone("plan")
    return found


def step_still_open(step: PlanStep, plan: Plan, account: Account) -> None:
    if plan.status != "open":
        raise PlanClosed(account.name, plan.status)
    if step.status in CLOSED_STEPS:
        raise StepClosed(step.name, step.status, step.closed_by)


def close_step(
    session: Session,
    *,
    step_id: int,
    user_id: str,
    status: str,
    note: str | None,
    now: datetime,
) -> PlanStep:
    """Done or skipped (with an optional note); a second click on Done changes nothing."""
    step, plan, account = find_step(session, step_id)
    assert step.id is not None
    if step.status == status and step.closed_by == user_id:
        return step
    step_still_open(step, plan, account)
    for old in db.snoozes.active_snoozes(session, target_type="step", target_ids=[step.id]):
        old.ended_at = now
        session.add(old)
    step.status = status
    step.closed_by = user_id
    step.closed_at = now
    if note and note.strip():
        step.note = note.strip()[:2000]
    session.add(step)
    db.audit.audit(
        session,
        user_id=user_id,
        action="step.done" if status == StepStatus.DONE else "step.skip",
        target_type="step",
        target_id=step.id,
        plan=plan.id,
        note=note.strip()[:500] if note and note.strip() else None,
    )
    return step


def snooze_step(
    session: Session, *, step_id: int, user_id: str, until: datetime, now: datetime
) -> PlanStep:
    """The step's reminders wait; when the snooze ends its owner hears about it again."""
    step, plan, account = find_step(session, step_id)
    assert step.id is not None
    step_still_open(step, plan, account)
    if until <= now:
        raise NotInFuture()
    db.snoozes.add_snooze(
        session, target_type="step", target_id=step.id, until=until, by_user=user_id
    )
    db.audit.audit(
        session,
        user_id=user_id,
        action="step.snooze",
        target_type="step",
        target_id=step.id,
        until=until.isoformat(),
    )
    session.flush()
    return step


def may_reassign(
    owner: str | None, *, what: str, user_id: str, caller_emails: list[str], admins: tuple[str, ...]
) -> None:
    """Only the owner (by CRM email) or a configured admin may hand it over."""
    mine = {e.lower() for e in caller_emails}
    if user_id not in admins and owner is not None and owner.lower() not in mine:
        raise NotAllowed("plan" if what == "plan" else "step")


def reassign_step(
    session: Session,
    *,
    step_id: int,
    user_id: str,
    caller_emails: list[str],
    new_owner: str,
    config: AppConfig,
    now: datetime,
) -> PlanStep:
    """``new_owner`` is the new owner's CRM/Slack email."""
    step, plan, account = find_step(session, step_id)
    assert step.id is not None
    step_still_open(step, plan, account)
    may_reassign(
        step.owner or plan.owner,
        what="step",
        user_id=user_id,
        caller_emails=caller_emails,
        admins=config.slack.admins,
    )
    previous = step.owner or plan.owner
    step.owner = new_owner
    session.add(step)
    db.audit.audit(
        session,
        user_id=user_id,
        action="step.reassign",
        target_type="step",
        target_id=step.id,
        to=new_owner,
        previous=previous,
    )
    session.flush()
    return step


def reassign_plan(
    session: Session,
    *,
    plan_id: int,
    user_id: str,
    caller_emails: list[str],
    new_owner: str,
    config: AppConfig,
    now: datetime,
) -> tuple[Plan, Account]:
    """The plan and every open step move to ``new_owner`` (an email)."""
    plan, account = find_plan(session, plan_id)
    if plan.status != "open":
        raise PlanClosed(account.name)
    may_reassign(
        plan.owner,
        what="plan",
        user_id=user_id,
        caller_emails=caller_emails,
        admins=config.slack.admins,
    )
    previous = plan.owner
    plan.owner = new_owner
    session.add(plan)
    for step in db.plans.plan_steps(session, plan_id):
        if step.status in OPEN_STEPS:
            step.owner = new_owner
            session.add(step)
    db.audit.audit(
        session,
        user_id=user_id,
        action="plan.reassign",
        target_type="plan",
        target_id=plan.id,
        to=new_owner,
        previous=previous,
    )
    return plan, account


def close_with_outcome(
    session: Session,
    *,
    plan_id: int,
    user_id: str,
    outcome: str,
    arr: float | None,
    reason: str | None,
    revisit_on: date | None,
    revisit_at: datetime | None,
    now: datetime,
) -> tuple[Plan, Account, Alert | None]:
    """Won, lost, or not this cycle — which schedules the plan's return on the revisit date
    (a snooze on the plan, ending at ``revisit_at``). Returns the alert the plan came from, so
    the caller can say the outcome in its thread."""
    plan, account = find_plan(session, plan_id)
    close_plan(
        session,
        plan=plan,
        outcome=outcome,
        user_id=user_id,
        arr=arr,
        reason=reason,
        revisit_on=revisit_on,
    )
    assert plan.id is not None
    if outcome == Outcome.NOT_THIS_CYCLE and revisit_at is not None:
        db.snoozes.add_snooze(
            session, target_type="plan", target_id=plan.id, until=revisit_at, by_user=user_id
        )
    alert = session.get(Alert, plan.alert_id) if plan.alert_id else None
    return plan, account, alert
