"""Scheduled Slack work: deliver the outbox, bring snoozed alerts back, escalate once, remind
plan-step owners, bring snoozed plans and steps back, and send the daily and weekly digests.

Each job runs on one replica at a time (a database lease), owns its transactions, logs what
it did, and lets one failing alert not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import db.accounts
import db.alerts
import db.outbox
import db.plans
import db.snoozes
from bot.domain import alerts as domain_alerts
from bot.domain.digests import collect_daily_digests, collect_weekly_summary
from bot.domain.reminders import collect_snooze_returns, collect_step_reminders
from bot.infra.leases import run_exclusively
from bot.infra.logs import log_context
from bot.infra.settings import AppConfig
from bot.infra.timezones import TzLookup, zone
from bot.slack import plan_cards, services
from bot.slack.blocks.digests import (
    daily_digest_blocks,
    daily_digest_text,
    weekly_summary_blocks,
    weekly_summary_text,
)
from bot.slack.routing import Router
from bot.slack.sender import Sender
from db.engine import SessionFactory, transaction
from db.models import utcnow

log = logging.getLogger(__name__)


class Scheduler(Protocol):
    """The part of APScheduler's BackgroundScheduler the jobs need."""

    def add_job(self, func: Callable[..., Any], trigger: str, **kwargs: Any) -> Any: ...


def send_outbox(sender: Sender) -> int:
    report = sender.run_once(limit=200)
    return len(report.sent)


def return_snoozed_alerts(
    factory: SessionFactory, config: AppConfig, now: datetime | None = None
) -> list[int]:
    """End alert snoozes whose time has come; each alert reopens in its own transaction."""
    now = now or utcnow()
    with factory() as session:
        due = [
            (s.id, s.target_id)
            for s in db.snoozes.expired_snoozes(session, now)
            if s.target_type == "alert"
        ]
    returned = []
    for snooze_id, alert_id in due:
        try:
            with transaction(factory) as session:
                for snooze in db.snoozes.active_snoozes(
                    session, target_type="alert", target_ids=[alert_id]
                ):
                    if snooze.id == snooze_id:
                        snooze.ended_at = now
                        session.add(snooze)
                domain_alerts.snooze_returned(session, alert_id=alert_id, now=now, config=config)
            returned.append(alert_id)
        except Exception:
            log.exception("bringing back snoozed alert %s failed; will retry", alert_id)
    return returned


def escalate_unacknowledged(
    factory: SessionFactory, config: AppConfig, now: datetime | None = None
) -> list[int]:
    """Priority alerts nobody acknowledged within ``escalation.after_hours``: escalate once."""
    now = now or utcnow()
    policy = config.slack.escalation
    with factory() as session:
        ids = [
            a.id
            for a in db.alerts.alerts_to_escalate(
                session,
                posted_before=now - timedelta(hours=policy.after_hours),
                bands=policy.bands,
            )
            if a.id is not None
        ]
    done = []
    for alert_id in ids:
        try:
            with transaction(factory) as session:
                found = db.alerts.alert_and_account(session, alert_id)
                if found is None or found[0].escalated_at is not None:
                    continue
                domain_alerts.escalate(session, alert=found[0], config=config, now=now)
            done.append(alert_id)
        except Exception:
            log.exception("escalating alert %s failed; will retry", alert_id)
    return done


def owner_zones(factory: SessionFactory, router: Router, now: datetime) -> TzLookup:
    """CRM owner email → their Slack timezone, for every account and plan-step owner. Looked
    up before the job opens its transaction: Slack is never asked while it is open."""
    with factory() as session:
        owners: set[str | None] = set(db.accounts.account_owners(session))
        owners |= {step.owner or plan.owner for step, plan, _ in db.plans.open_steps(session)}
    return router.zones_for(owners, now=now)


def send_step_reminders(
    factory: SessionFactory, router: Router, config: AppConfig, now: datetime | None = None
) -> int:
    """Step-open and overdue reminders owed now. Marking them sent and queueing them happen in
    one transaction, so each goes out once however often this ticks."""
    now = now or utcnow()
    tz_of = owner_zones(factory, router, now)
    with transaction(factory) as session:
        due = collect_step_reminders(session, now=now, tz_of=tz_of, hour=config.slack.reminder_hour)
        for reminder in due:
            plan_cards.step_reminder(session, reminder=reminder)
    return len(due)


def return_snoozed_plans(factory: SessionFactory, now: datetime | None = None) -> int:
    """Plan and step snoozes that ended: their owners hear about it (alerts have their own job)."""
    now = now or utcnow()
    with transaction(factory) as session:
        back = collect_snooze_returns(session, now=now)
        told = sum(plan_cards.snooze_return(session, back=b, now=now) for b in back)
    return told


def send_daily_digests(
    factory: SessionFactory, router: Router, config: AppConfig, now: datetime | None = None
) -> int:
    """Each CSM's morning DM (claimed and queued together; empty ones are never sent)."""
    now = now or utcnow()
    tz_of = owner_zones(factory, router, now)
    with transaction(factory) as session:
        digests = collect_daily_digests(
            session, now=now, tz_of=tz_of, hour=config.slack.digest_hour
        )
        for digest in digests:
            db.outbox.enqueue(
                session,
                alert=None,
                kind="dm",
                payload={
                    "email": digest.owner,
                    "text": daily_digest_text(digest),
                    "blocks": [b.to_dict() for b in daily_digest_blocks(digest)],
                },
            )
    return len(digests)


def post_weekly_summary(
    factory: SessionFactory, config: AppConfig, default_channel: str, now: datetime | None = None
) -> bool:
    """The managers' summary, once per ISO week at the configured day and hour."""
    now = now or utcnow()
    policy = config.slack
    local = now.astimezone(zone(policy.weekly_summary_tz))
    if local.weekday() != policy.weekly_summary_day or local.hour < policy.weekly_summary_hour:
        return False  # cheap check first: the movers are worth computing once a week only
    channel = policy.weekly_summary_channel or default_channel
    with transaction(factory) as session:
        movers = services.top_movers(
            session,
            since=now - timedelta(days=7),
            before_day=local.date() - timedelta(days=7),
            config=config,
        )
        summary = collect_weekly_summary(
            session,
            now=now,
            channel=channel,
            tz_name=policy.weekly_summary_tz,
            weekday=policy.weekly_summary_day,
            hour=policy.weekly_summary_hour,
            movers=movers,
        )
        if summary is None:
            return False
        db.outbox.enqueue(
            session,
            alert=None,
            kind="channel",
            payload={
                "channel": channel,
                "text": weekly_summary_text(summary),
                "blocks": [b.to_dict() for b in weekly_summary_blocks(summary)],
            },
        )
    return True


def add_jobs(
    scheduler: Scheduler, *, factory: SessionFactory, config: AppConfig, sender: Sender
) -> None:
    """The Slack jobs, each behind a lease so replicas take turns."""

    def guarded(name: str, job: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            with log_context(job=name):
                try:
                    run_exclusively(factory, name, job, ttl=timedelta(seconds=30))
                except Exception:
                    log.exception("job %s failed; it runs again at its next tick", name)

        return run

    interval = config.slack.sender_interval_seconds
    scheduler.add_job(
        guarded("slack.outbox", lambda: send_outbox(sender)),
        "interval",
        seconds=interval,
        id="slack.outbox",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        guarded("slack.snoozes", lambda: return_snoozed_alerts(factory, config)),
        "interval",
        minutes=1,
        id="slack.snoozes",
        max_instances=1,
        coalesce=True,
    )
    router = sender.router
    scheduler.add_job(
        guarded("slack.reminders", lambda: send_step_reminders(factory, router, config)),
        "interval",
        minutes=5,
        id="slack.reminders",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        guarded("slack.plan_snoozes", lambda: return_snoozed_plans(factory)),
        "interval",
        minutes=1,
        id="slack.plan_snoozes",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        guarded("slack.daily_digest", lambda: send_daily_digests(factory, router, config)),
        "interval",
        minutes=5,
        id="slack.daily_digest",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        guarded(
            "slack.weekly_summary",
            lambda: post_weekly_summary(factory, config, router.default_channel),
        ),
        "interval",
        minutes=5,
        id="slack.weekly_summary",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        guarded("slack.escalation", lambda: escalate_unacknowledged(factory, config)),
        "interval",
        minutes=5,
        id="slack.escalation",
        max_instances=1,
        coalesce=True,
    )
