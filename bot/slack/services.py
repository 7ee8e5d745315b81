"""What the buttons and commands do, and what the cards show. Keyword-only, session in,
no Slack client, no commit: the caller owns the transaction, so a click is all-or-nothing.

Every change to an alert is written to the audit log and queues an ``update`` of its Slack
message in the outbox (same transaction), so the message shows who did what and when.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot import plans
from bot.alerts import summarize
from bot.cycle import CycleResult, evaluate_many
from bot.portfolio import assess_account
from bot.reminders import SnoozeReturn, StepReminder
from bot.settings import AppConfig
from bot.slack import kinds
from bot.slack.blocks.base import thread_blocks
from bot.slack.blocks.steps import outcome_text, plan_back_text, step_blocks, step_text
from bot.slack.errors import UserError
from bot.slack.model import (
    Activity,
    Card,
    HomeData,
    KeyFacts,
    ListItem,
    LoggedSignal,
    Owner,
    SignalLine,
    SnoozedItem,
    StepCard,
    TriggerLine,
)
from bot.slack.mrkdwn import escape, mention
from bot.stats import load_metrics, metrics_lines
from db import repo
from db.models import OPEN_ALERT_STATUSES, Account, Alert, AlertStatus, Plan, PlanStep, Snapshot
from scoring.engine import Assessment, assess
from scoring.evidence import fmt_date
from scoring.facts import Snapshot as FactSnapshot
from scoring.outcomes import OutcomeMetrics

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
NOT_NOW_LABELS = {
    "in_talks": "already talking to them about it",
    "timing": "bad timing",
    "not_fit": "the offer does not fit",
    "declined": "customer said no recently",
    "data": "the data looks wrong",
    "other": "other",
}
_AUDIT_KINDS = {
    "alert.acknowledge": "acknowledged",
    "alert.snooze": "snoozed",
    "alert.snooze_end": "snooze_ended",
    "alert.dismiss": "dismissed",
    "alert.plan": "plan",
    "alert.reassign": "reassigned",
    "alert.escalate": "escalated",
}


# --- reading: cards and lists -------------------------------------------------------------


def card_from_summary(
    summary: dict[str, Any],
    *,
    account: Account,
    today: date,
    snapshot: Snapshot | FactSnapshot | None,
    usage: list[tuple[date, float]],
    owner: Owner,
    alert: Alert | None = None,
    activity: tuple[Activity, ...] = (),
    plan_open: bool = False,
    votes: tuple[tuple[str, str], ...] = (),
) -> Card:
    trigger = summary.get("trigger")
    offer = summary.get("offer")
    assert account.id is not None
    return Card(
        account_id=account.id,
        name=account.name,
        band=str(summary.get("band", "not_yet")),
        score=int(summary.get("score", 0)),
        as_of=date.fromisoformat(summary["as_of"]) if summary.get("as_of") else today,
        alert_id=alert.id if alert else None,
        status=alert.status if alert else None,
        domain=account.domain,
        trigger=(
            TriggerLine(trigger["label"], date.fromisoformat(trigger["on"]), trigger["evidence"])
            if trigger
            else None
        ),
        signals=tuple(
            SignalLine(int(s["points"]), s["label"], s["evidence"])
            for s in summary.get("signals", [])
        ),
        offer=offer["label"] if offer else None,
        offer_reason=offer["reason"] if offer else None,
        gate=tuple((g["evidence"], g["fix"]) for g in summary.get("gate", [])),
        recommendation=str(summary.get("recommendation", "")),
        script=str(summary.get("script", "")),
        facts=key_facts(snapshot, today),
        usage=tuple(usage),
        owner=owner,
        activity=activity,
        plan_open=plan_open,
        votes=votes,
    )


def usage_points(history: Sequence[FactSnapshot], limit: int = 12) -> list[tuple[date, float]]:
    """Recent (date, capacity ratio) points, oldest first, for a sparkline."""
    points = []
    for snap in history[-limit:]:
        top = snap.capacity()
        if top is not None:
            points.append((snap.taken_on, top[1]))
    return points


def key_facts(snapshot: Snapshot | FactSnapshot | None, today: date) -> KeyFacts:
    if snapshot is None:
        return KeyFacts()
    renewal = snapshot.renewal_on
    return KeyFacts(
        arr=snapshot.arr,
        renewal_on=renewal,
        days_left=(renewal - today).days if renewal else None,
        health=str(snapshot.health) if snapshot.health else None,
        seats_used=snapshot.seats_used,
        seats_purchased=snapshot.seats_purchased,
    )


def activity(session: Session, alert: Alert) -> tuple[Activity, ...]:
    """The alert's story from the audit log: who acknowledged, snoozed, dismissed, planned…"""
    assert alert.id is not None
    out: list[Activity] = []
    for row in repo.alert_audit(session, alert.id):
        kind = _AUDIT_KINDS.get(row.action)
        if kind is None:
            continue
        d = row.detail
        until = datetime.fromisoformat(d["until"]) if d.get("until") else None
        note = d.get("reason") if kind == "dismissed" else d.get("to") or d.get("next")
        out.append(Activity(kind, by=row.user_id, at=row.at, until=until, note=note))
    if alert.status == AlertStatus.CLEARED:
        out.append(Activity("cleared", on=alert.updated_at.date()))
    return tuple(out[-8:])


def alert_card(session: Session, *, alert: Alert, account: Account, today: date) -> Card:
    """The alert as posted: its frozen summary, plus today's facts and what people did."""
    assert account.id is not None
    owner_id = alert.owner_slack_id
    if owner_id is None and account.owner_email:
        cached = repo.slack_user(session, account.owner_email)
        owner_id = cached.user_id if cached else None
    return card_from_summary(
        alert.summary,
        account=account,
        today=today,
        snapshot=repo.latest_snapshot(session, account.id),
        usage=repo.usage_series(session, account.id),
        owner=Owner(owner_id, account.owner_name),
        alert=alert,
        activity=activity(session, alert),
        plan_open=repo.open_plan(session, account.id) is not None,
        votes=tuple(repo.feedback_votes(session, alert.id)) if alert.id else (),
    )


def account_card(session: Session, *, account: Account, config: AppConfig, today: date) -> Card:
    """An account as of today (live score), with its open alert's state when it has one."""
    assert account.id is not None
    scored = assess_account(session, account, today, config)
    alert = repo.open_alert(session, account.id)
    owner_id = alert.owner_slack_id if alert else None
    if owner_id is None and account.owner_email:
        cached = repo.slack_user(session, account.owner_email)
        owner_id = cached.user_id if cached else None
    return card_from_summary(
        summarize(scored.assessment),
        account=account,
        today=today,
        snapshot=scored.facts.latest,  # the history is loaded already: no second query
        usage=usage_points(scored.facts.history),
        owner=Owner(owner_id, account.owner_name),
        alert=alert,
        activity=activity(session, alert) if alert else (),
        plan_open=repo.open_plan(session, account.id) is not None,
        votes=tuple(repo.feedback_votes(session, alert.id)) if alert and alert.id else (),
    )


def list_item(alert: Alert, account: Account) -> ListItem:
    trigger = (alert.summary or {}).get("trigger")
    return ListItem(
        name=account.name,
        band=alert.band,
        score=alert.score,
        detail=trigger["label"] if trigger else "",
        status=alert.status,
        until=alert.snoozed_until,
    )


def book(
    session: Session, *, user_id: str, emails: list[str], limit: int = 200
) -> list[tuple[Alert, Account]]:
    return repo.book_alerts(session, user_id=user_id, emails=emails, limit=limit)


def home_data(
    session: Session, *, user_id: str, emails: list[str], today: date, per_list: int = 60
) -> HomeData:
    """Priority accounts, open alerts, snoozes with return dates, plan steps due this week, and
    the viewer's own outcome numbers when they own accounts."""
    alerts = book(session, user_id=user_id, emails=emails)
    active = [(a, acc) for a, acc in alerts if a.status != AlertStatus.SNOOZED]
    priority = [list_item(a, acc) for a, acc in active if a.band == "priority"]
    snoozed = sorted(
        (list_item(a, acc) for a, acc in alerts if a.status == AlertStatus.SNOOZED),
        key=lambda i: i.until or datetime.max,
    )
    week_end = today + timedelta(days=6 - today.weekday())
    steps: list[ListItem] = []
    for email in emails:
        for step, _plan, account in repo.open_steps(session, owner=email):
            if step.due_on <= week_end:
                steps.append(
                    ListItem(account.name, "", 0, detail=step.name, status=None, due_on=step.due_on)
                )
    steps.sort(key=lambda i: i.due_on or today)
    return HomeData(
        user_id=user_id,
        today=today,
        priority=tuple(priority[:per_list]),
        open_alerts=tuple(list_item(a, acc) for a, acc in active[:per_list]),
        snoozed=tuple(snoozed[:per_list]),
        steps_due=tuple(steps[: per_list * 4]),
        owner_known=bool(emails),
        stats=load_metrics(session, today=today, owner=emails[0]) if emails else None,
    )


# --- writing: what buttons do -------------------------------------------------------------


def _alert(session: Session, alert_id: int) -> tuple[Alert, Account]:
    found = repo.alert_and_account(session, alert_id)
    if found is None:
        raise UserError("That alert no longer exists.")
    return found


def _still_open(alert: Alert, account: Account) -> None:
    if alert.status not in OPEN_ALERT_STATUSES:
        what = {"dismissed": "dismissed", "cleared": "cleared (its signals went away)"}
        state = what.get(alert.status, alert.status)
        raise UserError(f"The alert for *{escape(account.name, single_line=True)}* was {state}.")


def _changed(session: Session, alert: Alert, now: datetime) -> None:
    alert.updated_at = now
    session.add(alert)
    if alert.delivery == "channel":
        repo.enqueue(session, alert=alert, kind="update", payload={})


def acknowledge(session: Session, *, alert_id: int, user_id: str, now: datetime) -> Alert:
    alert, account = _alert(session, alert_id)
    _still_open(alert, account)
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return alert  # a double click changes nothing
    _end_snoozes(session, alert, now)
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by = user_id
    alert.acknowledged_at = now
    alert.snoozed_until = None
    repo.audit(
        session,
        user_id=user_id,
        action="alert.acknowledge",
        target_type="alert",
        target_id=alert.id,
    )
    _changed(session, alert, now)
    return alert


def snooze(
    session: Session, *, alert_id: int, user_id: str, until: datetime, now: datetime
) -> Alert:
    alert, account = _alert(session, alert_id)
    _still_open(alert, account)
    if until <= now:
        raise UserError("Pick a time in the future.")
    assert alert.id is not None
    repo.add_snooze(session, target_type="alert", target_id=alert.id, until=until, by_user=user_id)
    alert.status = AlertStatus.SNOOZED
    alert.snoozed_until = until
    repo.audit(
        session,
        user_id=user_id,
        action="alert.snooze",
        target_type="alert",
        target_id=alert.id,
        until=until.isoformat(),
    )
    _changed(session, alert, now)
    return alert


def dismiss(
    session: Session,
    *,
    alert_id: int,
    user_id: str,
    reason: str,
    note: str | None,
    now: datetime,
) -> Alert:
    alert, account = _alert(session, alert_id)
    _still_open(alert, account)
    label = NOT_NOW_LABELS.get(reason)
    if label is None:
        raise UserError("Pick a reason from the list.")
    text = label + (f": {note.strip()}" if note and note.strip() else "")
    _end_snoozes(session, alert, now)
    alert.status = AlertStatus.DISMISSED
    alert.dismissed_reason = text[:500]
    alert.snoozed_until = None
    repo.audit(
        session,
        user_id=user_id,
        action="alert.dismiss",
        target_type="alert",
        target_id=alert.id,
        reason=text[:500],
        code=reason,
    )
    _changed(session, alert, now)
    return alert


def start_plan(
    session: Session,
    *,
    account_id: int,
    alert_id: int | None,
    user_id: str,
    config: AppConfig,
    today: date,
    now: datetime,
) -> tuple[Plan, bool, list[PlanStep], Account]:
    """The account's 90-day (or pre-renewal) plan; an open one is returned, not doubled."""
    account = session.get(Account, account_id)
    if account is None:
        raise UserError("That account no longer exists.")
    scored = assess_account(session, account, today, config)
    if scored.assessment.gate.blocked:
        raise UserError(
            f"*{escape(account.name, single_line=True)}* needs fixing first:"
            f" {escape(scored.assessment.gate.fix_first)}. No expansion plan until then."
        )
    alert = session.get(Alert, alert_id) if alert_id else repo.open_alert(session, account_id)
    latest = scored.facts.latest
    plan, created = plans.start_plan(
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
    steps = list(repo.plan_steps(session, plan.id))
    if created and alert is not None and alert.status in OPEN_ALERT_STATUSES:
        first = next((s for s in steps if s.status == "pending"), None)
        repo.audit(
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
        _changed(session, alert, now)
    return plan, created, steps, account


def may_reassign(alert: Alert, *, user_id: str, config: AppConfig) -> None:
    """Only the alert's owner or a configured admin may hand it over; an alert whose owner
    has no Slack account yet is anyone's to pick up, so it never gets stuck."""
    admins = config.slack.admins
    if user_id not in admins and alert.owner_slack_id not in (None, user_id):
        ask = ", ".join(mention(u) for u in (alert.owner_slack_id, *admins[:3]) if u)
        raise UserError(
            "Only the alert's owner or an Expansion Radar admin (`slack.admins`) can"
            f" reassign it. Ask {ask}."
        )


def reassign(
    session: Session,
    *,
    alert_id: int,
    user_id: str,
    new_owner: str,
    config: AppConfig,
    now: datetime,
) -> Alert:
    alert, account = _alert(session, alert_id)
    _still_open(alert, account)
    may_reassign(alert, user_id=user_id, config=config)
    if not isinstance(new_owner, str) or not _SLACK_USER.match(new_owner):
        raise UserError("Pick a person from the list.")
    if new_owner == alert.owner_slack_id:
        return alert
    previous = alert.owner_slack_id
    alert.owner_slack_id = new_owner
    repo.audit(
        session,
        user_id=user_id,
        action="alert.reassign",
        target_type="alert",
        target_id=alert.id,
        to=new_owner,
        previous=previous,
    )
    _changed(session, alert, now)
    if alert.delivery == "channel":
        repo.enqueue(session, alert=alert, kind="thread", payload={"reason": "reassigned"})
    return alert


def _end_snoozes(session: Session, alert: Alert, now: datetime) -> None:
    assert alert.id is not None
    for old in repo.active_snoozes(session, target_type="alert", target_ids=[alert.id]):
        old.ended_at = now
        session.add(old)


# --- writing: what the jobs do ------------------------------------------------------------


def snooze_returned(
    session: Session, *, alert_id: int, now: datetime, config: AppConfig
) -> Alert | None:
    """A snooze on this alert ended: reopen it, update the message, say so in its thread and
    (optionally) tell the owner directly."""
    found = repo.alert_and_account(session, alert_id)
    if found is None:
        return None
    alert, account = found
    if alert.status != AlertStatus.SNOOZED:
        return alert  # acknowledged or dismissed meanwhile: nothing comes back
    alert.status = AlertStatus.ACKNOWLEDGED if alert.acknowledged_by else AlertStatus.OPEN
    alert.snoozed_until = None
    repo.audit(
        session, user_id=None, action="alert.snooze_end", target_type="alert", target_id=alert.id
    )
    _changed(session, alert, now)
    if alert.delivery == "channel":
        repo.enqueue(session, alert=alert, kind="thread", payload={"reason": "snooze_ended"})
    if config.slack.dm_owner_on_snooze_end:
        target: dict[str, Any] = (
            {"user": alert.owner_slack_id}
            if alert.owner_slack_id
            else {"email": account.owner_email}
        )
        if target.get("user") or target.get("email"):
            repo.enqueue(
                session, alert=alert, kind="dm", payload={**target, "reason": "snooze_ended"}
            )
    return alert


def escalate(session: Session, *, alert: Alert, config: AppConfig, now: datetime) -> None:
    """Once per alert: a note in its thread and, if configured, a message to the target."""
    target = config.slack.escalation.target
    alert.escalated_at = now
    session.add(alert)
    repo.audit(
        session,
        user_id=None,
        action="alert.escalate",
        target_type="alert",
        target_id=alert.id,
        target=target,
    )
    repo.enqueue(
        session, alert=alert, kind="thread", payload={"reason": "escalated", "extra": target}
    )
    if target:
        repo.enqueue(session, alert=alert, kind="escalate", payload={"target": target})


# --- plan steps: reminders, buttons, reassignment, outcomes (issue 5) -----------------------

STEP_ACTIONS = ("step.done", "step.skip", "step.snooze", "step.reassign", "step.snooze_end")


def slack_id_of(session: Session, email: str | None) -> str | None:
    """A CRM owner's Slack id from the cache (no Slack call): for mentions and pickers."""
    cached = repo.slack_user(session, email) if email else None
    return cached.user_id if cached else None


def _step(session: Session, step_id: int) -> tuple[PlanStep, Plan, Account]:
    found = repo.step_with_plan(session, step_id)
    if found is None:
        raise UserError("That plan step no longer exists.")
    return found


def step_card(session: Session, *, step_id: int, event: str | None = None) -> StepCard:
    """The step as its reminder shows it now: status, who closed or snoozed it, the owner."""
    step, plan, account = _step(session, step_id)
    assert step.id is not None and plan.id is not None
    owner = step.owner or plan.owner
    snoozes = repo.active_snoozes(session, target_type="step", target_ids=[step.id])
    reassigned = repo.target_audit(
        session, target_type="step", target_id=step.id, actions=["step.reassign"]
    )
    positions = [s.position for s in repo.plan_steps(session, plan.id)]
    closing = repo.target_audit(
        session, target_type="step", target_id=step.id, actions=["step.done", "step.skip"]
    )
    closed = step.status in ("done", "skipped")
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
    )


def _step_still_open(step: PlanStep, plan: Plan, account: Account) -> None:
    name = escape(account.name, single_line=True)
    if plan.status != "open":
        raise UserError(
            f"The plan for *{name}* is already closed ({plan.status.replace('_', ' ')})."
        )
    if step.status in ("done", "skipped"):
        by = f" by <@{step.closed_by}>" if step.closed_by else ""
        raise UserError(f"*{escape(step.name, single_line=True)}* was already {step.status}{by}.")


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
    step, plan, account = _step(session, step_id)
    assert step.id is not None
    if step.status == status and step.closed_by == user_id:
        return step_card(session, step_id=step_id)
    _step_still_open(step, plan, account)
    for old in repo.active_snoozes(session, target_type="step", target_ids=[step.id]):
        old.ended_at = now
        session.add(old)
    step.status = status
    step.closed_by = user_id
    step.closed_at = now
    if note and note.strip():
        step.note = note.strip()[:2000]
    session.add(step)
    repo.audit(
        session,
        user_id=user_id,
        action="step.done" if status == "done" else "step.skip",
        target_type="step",
        target_id=step.id,
        plan=plan.id,
        note=note.strip()[:500] if note and note.strip() else None,
    )
    return step_card(session, step_id=step_id)


def snooze_step(
    session: Session, *, step_id: int, user_id: str, until: datetime, now: datetime
) -> StepCard:
    """The step's reminders wait; when the snooze ends its owner hears about it again."""
    step, plan, account = _step(session, step_id)
    assert step.id is not None
    _step_still_open(step, plan, account)
    if until <= now:
        raise UserError("Pick a time in the future.")
    repo.add_snooze(session, target_type="step", target_id=step.id, until=until, by_user=user_id)
    repo.audit(
        session,
        user_id=user_id,
        action="step.snooze",
        target_type="step",
        target_id=step.id,
        until=until.isoformat(),
    )
    session.flush()
    return step_card(session, step_id=step_id)


def _may_reassign(
    owner: str | None, *, user_id: str, caller_emails: list[str], config: AppConfig
) -> None:
    """Only the owner (by CRM email) or a configured admin may hand it over."""
    admins = config.slack.admins
    mine = {e.lower() for e in caller_emails}
    if user_id not in admins and owner is not None and owner.lower() not in mine:
        raise UserError("Only its owner or an Expansion Radar admin can reassign it.")


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
    step, plan, account = _step(session, step_id)
    assert step.id is not None
    _step_still_open(step, plan, account)
    _may_reassign(
        step.owner or plan.owner, user_id=user_id, caller_emails=caller_emails, config=config
    )
    previous = step.owner or plan.owner
    step.owner = new_owner
    session.add(step)
    repo.audit(
        session,
        user_id=user_id,
        action="step.reassign",
        target_type="step",
        target_id=step.id,
        to=new_owner,
        previous=previous,
    )
    session.flush()
    return step_card(session, step_id=step_id)


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
    found = repo.plan_with_account(session, plan_id)
    if found is None:
        raise UserError("That plan no longer exists.")
    plan, account = found
    if plan.status != "open":
        raise UserError(
            f"The plan for *{escape(account.name, single_line=True)}* is already closed."
        )
    _may_reassign(plan.owner, user_id=user_id, caller_emails=caller_emails, config=config)
    previous = plan.owner
    plan.owner = new_owner
    session.add(plan)
    for step in repo.plan_steps(session, plan_id):
        if step.status in ("pending", "overdue"):
            step.owner = new_owner
            session.add(step)
    repo.audit(
        session,
        user_id=user_id,
        action="plan.reassign",
        target_type="plan",
        target_id=plan.id,
        to=new_owner,
        previous=previous,
    )
    return plan, account


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
    """Won, lost, or not this cycle — which schedules the plan's return on the revisit date
    (a snooze on the plan, ending 09:00 the owner's time)."""
    found = repo.plan_with_account(session, plan_id)
    if found is None:
        raise UserError("That plan no longer exists.")
    plan, account = found
    try:
        plans.close_plan(
            session,
            plan=plan,
            outcome=outcome,
            user_id=user_id,
            arr=arr,
            reason=reason,
            revisit_on=revisit_on,
        )
    except plans.PlanError as exc:
        raise UserError(str(exc)) from None
    assert plan.id is not None
    if outcome == "not_this_cycle" and revisit_at is not None:
        repo.add_snooze(
            session, target_type="plan", target_id=plan.id, until=revisit_at, by_user=user_id
        )
    alert = session.get(Alert, plan.alert_id) if plan.alert_id else None
    if alert is not None and alert.delivery == "channel":
        text = outcome_text(account.name, outcome, arr, reason, revisit_on)
        repo.enqueue(session, alert=alert, kind="thread", payload={"text": text})
    return plan, account


def step_reminder(session: Session, *, reminder: StepReminder) -> None:
    """Queue one reminder (in the transaction that marked it sent): a reply in the alert's
    thread when the plan came from a posted alert, and a DM to the step's owner."""
    card = step_card(session, step_id=reminder.step_id, event=reminder.event)
    text = step_text(card)
    drawn = [b.to_dict() for b in step_blocks(card)]
    alert = session.get(Alert, reminder.alert_id) if reminder.alert_id else None
    if alert is not None and alert.delivery == "channel":
        repo.enqueue(session, alert=alert, kind="thread", payload={"text": text, "blocks": drawn})
    if reminder.owner:
        repo.enqueue(
            session,
            alert=None,
            kind="dm",
            payload={"email": reminder.owner, "text": text, "blocks": drawn},
        )
    repo.audit(
        session,
        user_id=None,
        action=f"step.remind_{reminder.event}",
        target_type="step",
        target_id=reminder.step_id,
    )


def snooze_return(session: Session, *, back: SnoozeReturn, now: datetime) -> bool:
    """A plan or step snooze ended: tell its owner, with the step's buttons. False: nothing to
    say (the step was closed meanwhile, or nobody owns it)."""
    if back.target_type == "step":
        found = repo.step_with_plan(session, back.target_id)
        if found is None:
            return False
        step, plan, _account = found
        if plan.status != "open" or step.status in ("done", "skipped"):
            return False
        owner = step.owner or plan.owner
        card = step_card(session, step_id=back.target_id, event="back")
        text, drawn = step_text(card), [b.to_dict() for b in step_blocks(card)]
    elif back.target_type == "plan":
        pair = repo.plan_with_account(session, back.target_id)
        if pair is None:
            return False
        plan, account = pair
        owner = plan.owner
        text = plan_back_text(account.name, plan.status, plan.revisit_on)
        drawn = [b.to_dict() for b in thread_blocks(text)]
    else:
        return False
    repo.audit(
        session,
        user_id=None,
        action=f"{back.target_type}.snooze_end",
        target_type=back.target_type,
        target_id=back.target_id,
    )
    if not owner:
        return False
    repo.enqueue(
        session, alert=None, kind="dm", payload={"email": owner, "text": text, "blocks": drawn}
    )
    return True


# --- alert feedback ------------------------------------------------------------------------


def record_feedback(
    session: Session, *, alert_id: int, user_id: str, value: str, now: datetime
) -> Alert:
    """One vote per person (a later click changes it); the latest vote is the alert's."""
    if value not in ("useful", "noise"):
        raise UserError("Feedback is either useful or noise.")
    alert, _account = _alert(session, alert_id)
    assert alert.id is not None
    if dict(repo.feedback_votes(session, alert.id)).get(user_id) == value:
        return alert  # the same vote twice changes nothing
    alert.feedback = value
    alert.feedback_by = user_id
    alert.feedback_at = now
    repo.audit(
        session,
        user_id=user_id,
        action="alert.feedback",
        target_type="alert",
        target_id=alert.id,
        value=value,
    )
    _changed(session, alert, now)
    return alert


# --- what is waiting, outcome metrics, movers -----------------------------------------------


def snoozed_items(session: Session, *, user_id: str, emails: list[str]) -> list[SnoozedItem]:
    """Alerts, plans and steps the person snoozed or owns that are waiting, soonest first."""
    alert_ids = [
        a.id
        for a, _ in repo.book_alerts(session, user_id=user_id, emails=emails)
        if a.id is not None
    ]
    plan_ids = [p.id for p in repo.plans_owned_by(session, emails=emails) if p.id is not None]
    step_ids = [s.id for s in repo.steps_owned_by(session, emails=emails) if s.id is not None]
    out: list[SnoozedItem] = []
    for snooze in repo.snoozes_by_or_for(
        session, user_id=user_id, alert_ids=alert_ids, plan_ids=plan_ids, step_ids=step_ids
    ):
        item = _snoozed_item(session, snooze.target_type, snooze.target_id)
        if item is not None:
            name, detail = item
            out.append(SnoozedItem(snooze.target_type, name, detail, snooze.until, snooze.by_user))
    return out


def _snoozed_item(session: Session, kind: str, target_id: int) -> tuple[str, str] | None:
    if kind == "alert":
        found = repo.alert_and_account(session, target_id)
        if found is None or found[0].status != AlertStatus.SNOOZED:
            return None
        return found[1].name, f"{found[0].band.replace('_', ' ')} {found[0].score}"
    if kind == "plan":
        pair = repo.plan_with_account(session, target_id)
        if pair is None:
            return None
        plan, account = pair
        state = "not this cycle" if plan.status == "not_this_cycle" else plan.status
        return account.name, f"{plan.kind.replace('_', '-')} plan, {state}"
    if kind == "step":
        step_found = repo.step_with_plan(session, target_id)
        if step_found is None or step_found[0].status in ("done", "skipped"):
            return None
        return step_found[2].name, step_found[0].name
    return None


def stats(
    session: Session, *, emails: list[str], today: date
) -> tuple[tuple[OutcomeMetrics, list[str]] | None, tuple[OutcomeMetrics, list[str]]]:
    """(the caller's own metrics and lines, or None when they own no accounts; the team's)."""
    mine = None
    owned = set(repo.account_owners(session))
    own = next((e for e in emails if e in owned), None)
    if own is not None:
        m = load_metrics(session, today=today, owner=own)
        mine = (m, metrics_lines(m))
    team = load_metrics(session, today=today)
    return mine, (team, metrics_lines(team))


def top_movers(
    session: Session, *, since: datetime, before_day: date, config: AppConfig, limit: int = 5
) -> list[tuple[str, int, int]]:
    """Accounts whose score rose the most since ``since``: each re-scored alert's score now
    against the account's score as of ``before_day`` (recomputed from its snapshots)."""
    changed = repo.alerts_changed_since(session, since=since)
    latest: dict[int, tuple[Alert, Account]] = {}
    for alert, account in changed:
        latest[alert.account_id] = (alert, account)
    facts = repo.load_facts_many(session, account_ids=list(latest))
    moves = []
    for account_id, (alert, account) in latest.items():
        if account_id not in facts:
            continue
        before = assess(facts[account_id], before_day, config.scoring).score
        if alert.score > before:
            moves.append((account.name, before, alert.score))
    moves.sort(key=lambda m: (-(m[2] - m[1]), m[0]))
    return moves[:limit]


# --- signals logged from Slack (issue 12) -------------------------------------------------


def log_signal(
    session: Session,
    *,
    account_id: int,
    kind: str,
    on: date,
    detail: str,
    key: str,
    user_id: str,
    permalink: str | None,
    config: AppConfig,
    today: date,
) -> LoggedSignal:
    """Record the event (once per ``key``) and re-score the account at once, the way a poll
    does (``evaluate_many``: episodes, alerts and their outbox rows, in this transaction).
    Scored before and after on the same ``today``, so the difference is the event's alone."""
    account = session.get(Account, account_id)
    if account is None:
        raise UserError("That account no longer exists.")
    what = kinds.kind_of(kind)
    if what is None:
        raise UserError(f"Pick one of: {kinds.in_plain_words()}.")
    before = assess_account(session, account, today, config).assessment
    added = repo.add_event(
        session,
        account_id=account_id,
        kind=kind,
        on=on,
        detail=detail,
        key=key,
        source=kinds.SOURCE,
        logged_by=user_id,
        permalink=permalink,
    )
    if not added:  # logged before (or by someone else a moment ago): say so, change nothing
        first = repo.event_by_key(session, account_id=account_id, key=key)
        return LoggedSignal(
            account=account.name,
            kind=first.kind if first else kind,
            on=first.on if first else on,
            before_score=before.score,
            before_band=before.band.value,
            after_score=before.score,
            after_band=before.band.value,
            duplicate=True,
            logged_by=first.logged_by if first else None,
            permalink=(first.permalink if first else None) or permalink,
        )
    result = CycleResult()
    after = evaluate_many(session, [account_id], today, config, result)[account_id]
    repo.audit(
        session,
        user_id=user_id,
        action="signal.log",
        target_type="account",
        target_id=account_id,
        kind=kind,
        on=on.isoformat(),
        key=key,
        permalink=permalink,
        score=[before.score, after.score],
    )
    alert_id, alert = _alert_change(result)
    return LoggedSignal(
        account=account.name,
        kind=kind,
        on=on,
        before_score=before.score,
        before_band=before.band.value,
        after_score=after.score,
        after_band=after.band.value,
        permalink=permalink,
        alert_id=alert_id,
        alert=alert,
        held_back=after.gate.fix_first if after.gate.blocked and not before.gate.blocked else None,
        why_unchanged=_why_unchanged(what, on, before, config, today)
        if after.score == before.score
        else None,
    )


def _alert_change(result: CycleResult) -> tuple[int | None, str | None]:
    for ids, what in (
        (result.new_alerts, "opened"),
        (result.digest_alerts, "digest"),
        (result.cleared_alerts, "cleared"),
        (result.updated_alerts, "updated"),
    ):
        if ids:
            return ids[0], what
    return None, None


def _why_unchanged(
    what: kinds.LogKind, on: date, before: Assessment, config: AppConfig, today: date
) -> str | None:
    """Why a logged signal left the score where it was, when a rule says so: too old to
    count, or the account already had that signal's points."""
    days = kinds.window_days(what, config.scoring)
    if what.signal is None or days is None:
        return None
    if on < today - timedelta(days=days):
        return f"{what.label} counts for {days} days, and this one is from {fmt_date(on)}."
    earned = next((s for s in before.signals if s.key is what.signal), None)
    if earned is not None:
        return f"It already had those points: {earned.evidence}."
    return None
