"""What the buttons and commands do, and what the cards show. Keyword-only, session in,
no Slack client, no commit: the caller owns the transaction, so a click is all-or-nothing.

Every change to an alert is written to the audit log and queues an ``update`` of its Slack
message in the outbox (same transaction), so the message shows who did what and when.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot import plans
from bot.alerts import summarize
from bot.portfolio import assess_account
from bot.settings import AppConfig
from bot.slack.errors import UserError
from bot.slack.model import (
    Activity,
    Card,
    HomeData,
    KeyFacts,
    ListItem,
    Owner,
    SignalLine,
    TriggerLine,
)
from bot.slack.mrkdwn import escape
from db import repo
from db.models import OPEN_ALERT_STATUSES, Account, Alert, AlertStatus, Plan, PlanStep, Snapshot

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
    snapshot: Snapshot | None,
    usage: list[tuple[date, float]],
    owner: Owner,
    alert: Alert | None = None,
    activity: tuple[Activity, ...] = (),
    plan_open: bool = False,
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
    )


def key_facts(snapshot: Snapshot | None, today: date) -> KeyFacts:
    if snapshot is None:
        return KeyFacts()
    renewal = snapshot.renewal_on
    return KeyFacts(
        arr=snapshot.arr,
        renewal_on=renewal,
        days_left=(renewal - today).days if renewal else None,
        health=snapshot.health,
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
        snapshot=repo.latest_snapshot(session, account.id),
        usage=repo.usage_series(session, account.id),
        owner=Owner(owner_id, account.owner_name),
        alert=alert,
        activity=activity(session, alert) if alert else (),
        plan_open=repo.open_plan(session, account.id) is not None,
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
    """Priority accounts, open alerts, snoozes with return dates, plan steps due this week."""
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
    admins = config.slack.admins
    if admins and user_id not in admins and alert.owner_slack_id not in (None, user_id):
        raise UserError(
            "Only the alert's owner or a Slack admin of Expansion Radar can reassign it."
        )
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
