"""What the cards and lists show, and the Slack side of what the alert buttons do.

Reading: the alert and account cards, the book, App Home, what is waiting, outcome metrics.
Writing: thin glue over ``bot/domain/alerts.py`` and ``bot/domain/plans.py`` (where the rules
live), turning their refusals into ``UserError`` wording (``wording.py``). Plan steps' cards and
reminders are in ``plan_cards.py``; a signal logged from Slack in ``signals.py``. Keyword-only,
session in, no Slack client, no commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlmodel import Session

import db.accounts
import db.alerts
import db.audit
import db.facts
import db.plans
import db.slack_cache
import db.snoozes
from bot.alerts import AlertSummary
from bot.domain import alerts as domain_alerts
from bot.domain import plans as domain_plans
from bot.domain.portfolio import assess_account
from bot.domain.shadow_stats import compare, comparison_lines
from bot.domain.stats import load_metrics, metrics_lines
from bot.infra.settings import AppConfig
from bot.slack.model import (
    Activity,
    Card,
    HomeData,
    KeyFacts,
    ListItem,
    Owner,
    SignalLine,
    SnoozedItem,
    TriggerLine,
)
from bot.slack.wording import worded_call
from db.models import Account, Alert, AlertStatus, ShadowAlert, Snapshot
from scoring.engine import assess
from scoring.facts import Snapshot as FactSnapshot
from scoring.offer import approach_for
from scoring.outcomes import OutcomeMetrics

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
    summary: AlertSummary,
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
    trigger, offer = summary.trigger, summary.offer
    assert account.id is not None
    return Card(
        account_id=account.id,
        name=account.name,
        band=summary.band,
        score=summary.score,
        as_of=summary.as_of or today,
        alert_id=alert.id if alert else None,
        status=alert.status if alert else None,
        domain=account.domain,
        trigger=(
            TriggerLine(trigger.label, trigger.on or summary.as_of or today, trigger.evidence)
            if trigger
            else None
        ),
        signals=tuple(SignalLine(s.points, s.label, s.evidence) for s in summary.signals),
        offer=offer.label if offer else None,
        offer_reason=offer.reason if offer else None,
        approach=approach_for(offer.type) if offer else "",
        gate=tuple((g.evidence, g.fix) for g in summary.gate),
        recommendation=summary.recommendation,
        script=summary.script,
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
    for row in db.audit.alert_audit(session, alert.id):
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


def _owner(session: Session, account: Account, alert: Alert | None) -> Owner:
    """Who a card names as owner: the alert's Slack user, else the account owner's (from the
    cache of Slack users), else the owner's name alone."""
    owner_id = alert.owner_slack_id if alert else None
    if owner_id is None and account.owner_email:
        cached = db.slack_cache.slack_user(session, account.owner_email)
        owner_id = cached.user_id if cached else None
    return Owner(owner_id, account.owner_name)


def alert_card(session: Session, *, alert: Alert, account: Account, today: date) -> Card:
    """The alert as posted: its frozen summary, plus today's facts and what people did."""
    assert account.id is not None
    return card_from_summary(
        AlertSummary.from_json(alert.summary),
        account=account,
        today=today,
        snapshot=db.facts.latest_snapshot(session, account.id),
        usage=db.facts.usage_series(session, account.id),
        owner=_owner(session, account, alert),
        alert=alert,
        activity=activity(session, alert),
        plan_open=db.plans.open_plan(session, account.id) is not None,
        votes=tuple(db.alerts.feedback_votes(session, alert.id)) if alert.id else (),
    )


def shadow_card(
    session: Session, *, alert: ShadowAlert, account: Account, today: date, rules: str
) -> Card:
    """A shadow alert as its card shows it: its frozen summary and today's facts, no owner
    mention and nothing people did (nobody acts on a shadow alert)."""
    assert account.id is not None
    card = card_from_summary(
        AlertSummary.from_json(alert.summary),
        account=account,
        today=today,
        snapshot=db.facts.latest_snapshot(session, account.id),
        usage=db.facts.usage_series(session, account.id),
        owner=Owner(None, account.owner_name),
    )
    return replace(card, alert_id=alert.id, status=alert.status, shadow=rules)


def account_card(session: Session, *, account: Account, config: AppConfig, today: date) -> Card:
    """An account as of today (live score), with its open alert's state when it has one."""
    assert account.id is not None
    scored = assess_account(session, account, today, config)
    alert = db.alerts.open_alert(session, account.id)
    return card_from_summary(
        AlertSummary.of(scored.assessment),
        account=account,
        today=today,
        snapshot=scored.facts.latest,  # the history is loaded already: no second query
        usage=usage_points(scored.facts.history),
        owner=_owner(session, account, alert),
        alert=alert,
        activity=activity(session, alert) if alert else (),
        plan_open=db.plans.open_plan(session, account.id) is not None,
        votes=tuple(db.alerts.feedback_votes(session, alert.id)) if alert and alert.id else (),
    )


def list_item(alert: Alert, account: Account) -> ListItem:
    trigger = AlertSummary.from_json(alert.summary).trigger
    return ListItem(
        name=account.name,
        band=alert.band,
        score=alert.score,
        detail=trigger.label if trigger else "",
        status=alert.status,
        until=alert.snoozed_until,
    )


def book(
    session: Session, *, user_id: str, emails: list[str], limit: int = 200
) -> list[tuple[Alert, Account]]:
    return db.alerts.book_alerts(session, user_id=user_id, emails=emails, limit=limit)


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
        for step, _plan, account in db.plans.open_steps(session, owner=email):
            if step.due_on <= week_end:
                steps.append(
                    ListItem(
                        account.name,
                        "",
                        0,
                        detail=f"{step.name} · {step.role}",
                        status=None,
                        due_on=step.due_on,
                    )
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


# --- what buttons do to an alert: the rules are bot/domain/alerts.py (and plans.py for
# starting a plan); a refusal comes out as a UserError in people's words --------------------

acknowledge = worded_call(domain_alerts.acknowledge)
snooze = worded_call(domain_alerts.snooze)
dismiss = worded_call(domain_alerts.dismiss)
may_reassign = worded_call(domain_alerts.may_reassign)
reassign = worded_call(domain_alerts.reassign)
record_feedback = worded_call(domain_alerts.record_feedback)
start_plan = worded_call(domain_plans.start_account_plan)


# --- what is waiting, outcome metrics, movers -----------------------------------------------


def snoozed_items(session: Session, *, user_id: str, emails: list[str]) -> list[SnoozedItem]:
    """Alerts, plans and steps the person snoozed or owns that are waiting, soonest first."""
    alert_ids = [
        a.id
        for a, _ in db.alerts.book_alerts(session, user_id=user_id, emails=emails)
        if a.id is not None
    ]
    plan_ids = [p.id for p in db.plans.plans_owned_by(session, emails=emails) if p.id is not None]
    step_ids = [s.id for s in db.plans.steps_owned_by(session, emails=emails) if s.id is not None]
    out: list[SnoozedItem] = []
    for snooze in db.snoozes.snoozes_by_or_for(
        session, user_id=user_id, alert_ids=alert_ids, plan_ids=plan_ids, step_ids=step_ids
    ):
        item = _snoozed_item(session, snooze.target_type, snooze.target_id)
        if item is not None:
            name, detail = item
            out.append(SnoozedItem(snooze.target_type, name, detail, snooze.until, snooze.by_user))
    return out


def _snoozed_item(session: Session, kind: str, target_id: int) -> tuple[str, str] | None:
    if kind == "alert":
        found = db.alerts.alert_and_account(session, target_id)
        if found is None or found[0].status != AlertStatus.SNOOZED:
            return None
        return found[1].name, f"{found[0].band.replace('_', ' ')} {found[0].score}"
    if kind == "plan":
        pair = db.plans.plan_with_account(session, target_id)
        if pair is None:
            return None
        plan, account = pair
        state = "not this cycle" if plan.status == "not_this_cycle" else plan.status
        return account.name, f"{plan.kind.replace('_', '-')} plan, {state}"
    if kind == "step":
        step_found = db.plans.step_with_plan(session, target_id)
        if step_found is None or step_found[0].status in ("done", "skipped"):
            return None
        return step_found[2].name, step_found[0].name
    return None


def shadow_lines(session: Session, config: AppConfig, *, now: datetime, days: int) -> list[str]:
    """The shadow rules against the live ones over the last ``days`` (at most since the shadow
    rules started); none without shadow rules."""
    found = compare(session, config, since=now - timedelta(days=days), until=now)
    return comparison_lines(found) if found is not None else []


def stats(
    session: Session, *, emails: list[str], today: date
) -> tuple[tuple[OutcomeMetrics, list[str]] | None, tuple[OutcomeMetrics, list[str]]]:
    """(the caller's own metrics and lines, or None when they own no accounts; the team's)."""
    mine = None
    owned = set(db.accounts.account_owners(session))
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
    changed = db.alerts.alerts_changed_since(session, since=since)
    latest: dict[int, tuple[Alert, Account]] = {}
    for alert, account in changed:
        latest[alert.account_id] = (alert, account)
    facts = db.facts.load_facts_many(session, account_ids=list(latest))
    moves = []
    for account_id, (alert, account) in latest.items():
        if account_id not in facts:
            continue
        before = assess(facts[account_id], before_day, config.scoring).score
        if alert.score > before:
            moves.append((account.name, before, alert.score))
    moves.sort(key=lambda m: (-(m[2] - m[1]), m[0]))
    return moves[:limit]
