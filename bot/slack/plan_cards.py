"""Plan steps as Slack shows them: the step card, what the step and plan buttons do (glue over
``bot/domain/plans.py``, worded by ``wording.py``), and the reminders and snooze returns queued
for the sender. Keyword-only, session in, no Slack client, no commit."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

import db.audit
import db.outbox
import db.plans
import db.slack_cache
import db.snoozes
from bot.domain import plans as domain_plans
from bot.domain.reminders import SnoozeReturn, StepReminder
from bot.infra.settings import AppConfig
from bot.slack.blocks.base import drawn
from bot.slack.blocks.steps import outcome_text, plan_back_text, step_blocks, step_text
from bot.slack.model import Owner, StepCard
from bot.slack.wording import worded, worded_call
from db.models import Account, Alert, Plan
from db.outbox_payloads import BlockJson, DirectMessage, ThreadReply


def slack_id_of(session: Session, email: str | None) -> str | None:
    """A CRM owner's Slack id from the cache (no Slack call): for mentions and pickers."""
    cached = db.slack_cache.slack_user(session, email) if email else None
    return cached.user_id if cached else None


def step_card(session: Session, *, step_id: int, event: str | None = None) -> StepCard:
    """The step as its reminder shows it now: status, who closed or snoozed it, the owner."""
    with worded():
        step, plan, account = domain_plans.find_step(session, step_id)
    assert step.id is not None and plan.id is not None
    owner = step.owner or plan.owner
    snoozes = db.snoozes.active_snoozes(session, target_type="step", target_ids=[step.id])
    reassigned = db.audit.target_audit(
        session, target_type="step", target_id=step.id, actions=["step.reassign"]
    )
    positions = [s.position for s in db.plans.plan_steps(session, plan.id)]
    closing = db.audit.target_audit(
        session, target_type="step", target_id=step.id, actions=["step.done", "step.skip"]
    )
    closed = step.status in domain_plans.CLOSED_STEPS
    return StepCard(
        step_id=step.id,
        plan_id=plan.id,
        account=account.name,
        name=step.name,
        window_start=step.window_start,
        due_on=step.due_on,
        status=step.status,
        owner=Owner(slack_id_of(session, owner), owner),
        event=event,
        closed_by=step.closed_by,
        closed_at=step.closed_at,
        note=closing[-1].detail.get("note") if closed and closing else None,  # not the hint
        snoozed_until=snoozes[-1].until if snoozes else None,
        snoozed_by=snoozes[-1].by_user if snoozes else None,
        last=bool(positions) and step.position == max(positions),
        plan_status=plan.status,
        reassigned_by=reassigned[-1].user_id if reassigned else None,
        role=step.role,
    )


def close_step(
    session: Session,
    *,
    step_id: int,
    user_id: str,
    status: str,
    note: str | None,
    now: datetime,
) -> StepCard:
    """Done or skipped (with an optional note); a second click on Done changes nothing."""
    with worded():
        domain_plans.close_step(
            session, step_id=step_id, user_id=user_id, status=status, note=note, now=now
        )
    return step_card(session, step_id=step_id)


def snooze_step(
    session: Session, *, step_id: int, user_id: str, until: datetime, now: datetime
) -> StepCard:
    with worded():
        domain_plans.snooze_step(session, step_id=step_id, user_id=user_id, until=until, now=now)
    return step_card(session, step_id=step_id)


def reassign_step(
    session: Session,
    *,
    step_id: int,
    user_id: str,
    caller_emails: list[str],
    new_owner: str,
    config: AppConfig,
    now: datetime,
) -> StepCard:
    """``new_owner`` is the new owner's CRM/Slack email."""
    with worded():
        domain_plans.reassign_step(
            session,
            step_id=step_id,
            user_id=user_id,
            caller_emails=caller_emails,
            new_owner=new_owner,
            config=config,
            now=now,
        )
    return step_card(session, step_id=step_id)


reassign_plan = worded_call(domain_plans.reassign_plan)


def close_plan(
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
) -> tuple[Plan, Account]:
    """Close the plan (bot/domain/plans.py) and say the outcome in its alert's thread."""
    with worded():
        plan, account, alert = domain_plans.close_with_outcome(
            session,
            plan_id=plan_id,
            user_id=user_id,
            outcome=outcome,
            arr=arr,
            reason=reason,
            revisit_on=revisit_on,
            revisit_at=revisit_at,
            now=now,
        )
    if alert is not None and alert.delivery == "channel":
        text = outcome_text(account.name, outcome, arr, reason, revisit_on)
        db.outbox.enqueue(session, ThreadReply(text), alert=alert)
    return plan, account


def step_reminder(session: Session, *, reminder: StepReminder) -> None:
    """Queue one reminder (in the transaction that marked it sent): a reply in the alert's
    thread when the plan came from a posted alert, and a DM to the step's owner."""
    card = step_card(session, step_id=reminder.step_id, event=reminder.event)
    text = step_text(card)
    blocks = drawn(step_blocks(card))
    alert = session.get(Alert, reminder.alert_id) if reminder.alert_id else None
    if alert is not None and alert.delivery == "channel":
        db.outbox.enqueue(session, ThreadReply(text, blocks), alert=alert)
    if reminder.owner:
        db.outbox.enqueue(
            session, DirectMessage(email=reminder.owner, text=text, blocks=blocks), alert=None
        )
    db.audit.audit(
        session,
        user_id=None,
        action=f"step.remind_{reminder.event}",
        target_type="step",
        target_id=reminder.step_id,
    )


def snooze_return(session: Session, *, back: SnoozeReturn, now: datetime) -> bool:
    """A plan or step snooze ended: tell its owner, with the step's buttons. False: nothing to
    say (the step was closed meanwhile, or nobody owns it)."""
    blocks: tuple[BlockJson, ...] | None = None  # a plan's return is plain text
    if back.target_type == "step":
        found = db.plans.step_with_plan(session, back.target_id)
        if found is None:
            return False
        step, plan, _account = found
        if plan.status != "open" or step.status in domain_plans.CLOSED_STEPS:
            return False
        owner = step.owner or plan.owner
        card = step_card(session, step_id=back.target_id, event="back")
        text, blocks = step_text(card), drawn(step_blocks(card))
    elif back.target_type == "plan":
        pair = db.plans.plan_with_account(session, back.target_id)
        if pair is None:
            return False
        plan, account = pair
        owner = plan.owner
        text = plan_back_text(account.name, plan.status, plan.revisit_on)
    else:
        return False
    db.audit.audit(
        session,
        user_id=None,
        action=f"{back.target_type}.snooze_end",
        target_type=back.target_type,
        target_id=back.target_id,
    )
    if not owner:
        return False
    db.outbox.enqueue(session, DirectMessage(email=owner, text=text, blocks=blocks), alert=None)
    return True
