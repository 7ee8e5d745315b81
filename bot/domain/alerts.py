"""The alert lifecycle: acknowledge, snooze (and its return), not now, reassign, escalate and
feedback. Keyword-only, session in, no commit: the caller owns the transaction, so a click is
all-or-nothing.

Every change to an alert is written to the audit log and, for an alert posted in a channel,
queues an ``update`` of its message in the outbox (same transaction), so the message shows who
did what and when. Refusals raise ``bot.domain.errors`` types; the wording is bot/slack's.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session

import db.alerts
import db.audit
import db.outbox
import db.snoozes
from bot.domain.errors import AlertClosed, BadChoice, Gone, NotAllowed, NotInFuture
from bot.infra.settings import AppConfig
from db.models import OPEN_ALERT_STATUSES, Account, Alert, AlertStatus
from db.outbox_payloads import Escalation, FollowUp, FollowUpReason, SnoozeEndedDM, UpdateAlert

SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
NOT_NOW_REASONS = (
    ("in_talks", "Already talking to them about it"),
    ("timing", "Bad timing for this customer"),
    ("not_fit", "The offer does not fit"),
    ("declined", "Customer said no recently"),
    ("data", "The data looks wrong"),
    ("other", "Something else"),
)
"""Why an alert is not for now: (code, words). The modal offers the words; the alert stores
them (first letter lowered) with the note, and the card's activity shows them."""
FEEDBACK_VALUES = ("useful", "noise")


def not_now_text(reason: str, note: str | None) -> str | None:
    """The stored reason: the chosen reason's words and the note; None for an unknown code."""
    label = dict(NOT_NOW_REASONS).get(reason)
    if label is None:
        return None
    text = label[:1].lower() + label[1:]
    return text + (f": {note.strip()}" if note and note.strip() else "")


def find(session: Session, alert_id: int) -> tuple[Alert, Account]:
    found = db.alerts.alert_and_account(session, alert_id)
    if found is None:
        raise Gone("alert")
    return found


def still_open(alert: Alert, account: Account) -> None:
    if alert.status not in OPEN_ALERT_STATUSES:
        raise AlertClosed(account.name, alert.status)


def changed(session: Session, alert: Alert, now: datetime) -> None:
    """Stamp the change and queue the update of the alert's channel message."""
    alert.updated_at = now
    session.add(alert)
    if alert.delivery == "channel":
        db.outbox.enqueue(session, UpdateAlert(), alert=alert)


def end_snoozes(session: Session, alert: Alert, now: datetime) -> None:
    assert alert.id is not None
    for old in db.snoozes.active_snoozes(session, target_type="alert", target_ids=[alert.id]):
        old.ended_at = now
        session.add(old)


def acknowledge(session: Session, *, alert_id: int, user_id: str, now: datetime) -> Alert:
    alert, account = find(session, alert_id)
    still_open(alert, account)
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return alert  # a double click changes nothing
    end_snoozes(session, alert, now)
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by = user_id
    alert.acknowledged_at = now
    alert.snoozed_until = None
    db.audit.audit(
        session,
        user_id=user_id,
        action="alert.acknowledge",
        target_type="alert",
        target_id=alert.id,
    )
    changed(session, alert, now)
    return alert


def snooze(
    session: Session, *, alert_id: int, user_id: str, until: datetime, now: datetime
) -> Alert:
    alert, account = find(session, alert_id)
    still_open(alert, account)
    if until <= now:
        raise NotInFuture()
    assert alert.id is not None
    db.snoozes.add_snooze(
        session, target_type="alert", target_id=alert.id, until=until, by_user=user_id
    )
    alert.status = AlertStatus.SNOOZED
    alert.snoozed_until = until
    db.audit.audit(
        session,
        user_id=user_id,
        action="alert.snooze",
        target_type="alert",
        target_id=alert.id,
        until=until.isoformat(),
    )
    changed(session, alert, now)
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
    """Not now, with one of ``NOT_NOW_REASONS`` and an optional note."""
    alert, account = find(session, alert_id)
    still_open(alert, account)
    text = not_now_text(reason, note)
    if text is None:
        raise BadChoice("reason")
    end_snoozes(session, alert, now)
    alert.status = AlertStatus.DISMISSED
    alert.dismissed_reason = text[:500]
    alert.snoozed_until = None
    db.audit.audit(
        session,
        user_id=user_id,
        action="alert.dismiss",
        target_type="alert",
        target_id=alert.id,
        reason=text[:500],
        code=reason,
    )
    changed(session, alert, now)
    return alert


def may_reassign(alert: Alert, *, user_id: str, config: AppConfig) -> None:
    """Only the alert's owner or a configured admin may hand it over; an alert whose owner
    has no Slack account yet is anyone's to pick up, so it never gets stuck."""
    admins = config.slack.admins
    if user_id not in admins and alert.owner_slack_id not in (None, user_id):
        raise NotAllowed("alert", alert.owner_slack_id, tuple(admins))


def reassign(
    session: Session,
    *,
    alert_id: int,
    user_id: str,
    new_owner: str,
    config: AppConfig,
    now: datetime,
) -> Alert:
    alert, account = find(session, alert_id)
    still_open(alert, account)
    may_reassign(alert, user_id=user_id, config=config)
    if not isinstance(new_owner, str) or not SLACK_USER.match(new_owner):
        raise BadChoice("person")
    if new_owner == alert.owner_slack_id:
        return alert
    previous = alert.owner_slack_id
    alert.owner_slack_id = new_owner
    db.audit.audit(
        session,
        user_id=user_id,
        action="alert.reassign",
        target_type="alert",
        target_id=alert.id,
        to=new_owner,
        previous=previous,
    )
    changed(session, alert, now)
    if alert.delivery == "channel":
        db.outbox.enqueue(session, FollowUp(FollowUpReason.REASSIGNED), alert=alert)
    return alert


def record_feedback(
    session: Session, *, alert_id: int, user_id: str, value: str, now: datetime
) -> Alert:
    """One vote per person (a later click changes it); the latest vote is the alert's."""
    if value not in FEEDBACK_VALUES:
        raise BadChoice("feedback")
    alert, _account = find(session, alert_id)
    assert alert.id is not None
    if dict(db.alerts.feedback_votes(session, alert.id)).get(user_id) == value:
        return alert  # the same vote twice changes nothing
    alert.feedback = value
    alert.feedback_by = user_id
    alert.feedback_at = now
    db.audit.audit(
        session,
        user_id=user_id,
        action="alert.feedback",
        target_type="alert",
        target_id=alert.id,
        value=value,
    )
    changed(session, alert, now)
    return alert


# --- what the jobs do -----------------------------------------------------------------------


def snooze_returned(
    session: Session, *, alert_id: int, now: datetime, config: AppConfig
) -> Alert | None:
    """A snooze on this alert ended: reopen it, update the message, say so in its thread and
    (if configured) tell the owner directly."""
    found = db.alerts.alert_and_account(session, alert_id)
    if found is None:
        return None
    alert, account = found
    if alert.status != AlertStatus.SNOOZED:
        return alert  # acknowledged or dismissed meanwhile: nothing comes back
    alert.status = AlertStatus.ACKNOWLEDGED if alert.acknowledged_by else AlertStatus.OPEN
    alert.snoozed_until = None
    db.audit.audit(
        session, user_id=None, action="alert.snooze_end", target_type="alert", target_id=alert.id
    )
    changed(session, alert, now)
    if alert.delivery == "channel":
        db.outbox.enqueue(session, FollowUp(FollowUpReason.SNOOZE_ENDED), alert=alert)
    if config.slack.dm_owner_on_snooze_end:
        dm = (
            SnoozeEndedDM(user=alert.owner_slack_id)
            if alert.owner_slack_id
            else SnoozeEndedDM(email=account.owner_email)
        )
        if dm.user or dm.email:
            db.outbox.enqueue(session, dm, alert=alert)
    return alert


def escalate(session: Session, *, alert: Alert, config: AppConfig, now: datetime) -> None:
    """Once per alert: a note in its thread and, if configured, a message to the target."""
    target = config.slack.escalation.target
    alert.escalated_at = now
    session.add(alert)
    db.audit.audit(
        session,
        user_id=None,
        action="alert.escalate",
        target_type="alert",
        target_id=alert.id,
        target=target,
    )
    db.outbox.enqueue(session, FollowUp(FollowUpReason.ESCALATED, extra=target), alert=alert)
    if target:
        db.outbox.enqueue(session, Escalation(target), alert=alert)
