"""Scheduled Slack work: deliver the outbox, bring snoozed alerts back, escalate once, remind
plan-step owners, bring snoozed plans and steps back, and send the daily and weekly digests.

Each job runs in ``bot.infra.scheduled.guarded`` (one replica at a time behind a database
lease, logged, never raising into the scheduler) and handles its items with
``bot.infra.scheduled.each``: one short transaction per item, so one failing item does not
stop the others. Slack is never called while a transaction is open.
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
from bot.domain.digests import claim_daily_digest, collect_weekly_summary
from bot.domain.reminders import (
    SnoozeReturn,
    claim_step_reminder,
    end_snooze,
    plan_snoozes_ended,
    steps_owing_reminders,
)
from bot.infra import scheduled
from bot.infra.scheduled import each
from bot.infra.settings import AppConfig
from bot.infra.timezones import TzLookup, zone
from bot.slack import plan_cards, services
from bot.slack.blocks.base import drawn
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
from db.outbox_payloads import ChannelMessage, DirectMessage

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

    def reopen(item: tuple[int | None, int]) -> int:
        snooze_id, alert_id = item
        with transaction(factory) as session:
            for snooze in db.snoozes.active_snoozes(
                session, target_type="alert", target_ids=[alert_id]
            ):
                if snooze.id == snooze_id:
                    snooze.ended_at = now
                    session.add(snooze)
            domain_alerts.snooze_returned(session, alert_id=alert_id, now=now, config=config)
        return alert_id

    return each(due, reopen, what="bringing back snoozed alert")


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

    def escalate(alert_id: int) -> int | None:
        with transaction(factory) as session:
            found = db.alerts.alert_and_account(session, alert_id)
            if found is None or found[0].escalated_at is not None:
                return None
            domain_alerts.escalate(session, alert=found[0], config=config, now=now)
        return alert_id

    return [i for i in each(ids, escalate, what="escalating alert") if i is not None]


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
    """Step-open and overdue reminders owed now, one step per transaction: marking a reminder
    sent and queueing it happen together, so each goes out once however often this ticks, and
    one failing step does not stop the others."""
    now = now or utcnow()
    hour = config.slack.reminder_hour
    tz_of = owner_zones(factory, router, now)
    with factory() as session:
        step_ids = steps_owing_reminders(session, now=now, tz_of=tz_of, hour=hour)

    def remind(step_id: int) -> bool:
        with transaction(factory) as session:
            reminder = claim_step_reminder(
                session, step_id=step_id, now=now, tz_of=tz_of, hour=hour
            )
            if reminder is not None:
                plan_cards.step_reminder(session, reminder=reminder)
        return reminder is not None

    return sum(each(step_ids, remind, what="reminding plan step"))


def return_snoozed_plans(factory: SessionFactory, now: datetime | None = None) -> int:
    """Plan and step snoozes that ended: their owners hear about it (alerts have their own
    job). Each snooze ends in its own transaction."""
    now = now or utcnow()
    with factory() as session:
        back = plan_snoozes_ended(session, now=now)

    def tell(item: SnoozeReturn) -> bool:
        with transaction(factory) as session:
            if not end_snooze(session, back=item, now=now):
                return False
            return plan_cards.snooze_return(session, back=item, now=now)

    return sum(each(back, tell, what="ending plan snooze"))


def send_daily_digests(
    factory: SessionFactory, router: Router, config: AppConfig, now: datetime | None = None
) -> int:
    """Each CSM's morning DM, one CSM per transaction (claimed and queued together; empty
    ones are never sent); one failing digest does not stop the others."""
    now = now or utcnow()
    tz_of = owner_zones(factory, router, now)
    with factory() as session:
        owners = db.accounts.account_owners(session)

    def send(owner: str) -> bool:
        with transaction(factory) as session:
            digest = claim_daily_digest(
                session, owner=owner, now=now, tz=tz_of(owner), hour=config.slack.digest_hour
            )
            if digest is None:
                return False
            db.outbox.enqueue(
                session,
                DirectMessage(
                    email=digest.owner,
                    text=daily_digest_text(digest),
                    blocks=drawn(daily_digest_blocks(digest)),
                ),
                alert=None,
            )
        return True

    return sum(each(owners, send, what="daily digest for"))


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
            shadow=services.shadow_lines(session, config, now=now, days=7),
        )
        if summary is None:
            return False
        db.outbox.enqueue(
            session,
            ChannelMessage(
                channel=channel,
                text=weekly_summary_text(summary),
                blocks=drawn(weekly_summary_blocks(summary)),
            ),
            alert=None,
        )
    return True


def add_jobs(
    scheduler: Scheduler, *, factory: SessionFactory, config: AppConfig, sender: Sender
) -> None:
    """The Slack jobs, each behind a lease so replicas take turns. Each run reads the config in
    use (``sender.config``, swapped by ``/expansion admin reload``); their intervals are set
    here, once."""

    def guarded(name: str, job: Callable[[], object]) -> Callable[[], None]:
        return scheduled.guarded(factory, name, job)

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
        guarded("slack.snoozes", lambda: return_snoozed_alerts(factory, sender.config)),
        "interval",
        minutes=1,
        id="slack.snoozes",
        max_instances=1,
        coalesce=True,
    )
    router = sender.router
    scheduler.add_job(
        guarded("slack.reminders", lambda: send_step_reminders(factory, router, sender.config)),
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
        guarded("slack.daily_digest", lambda: send_daily_digests(factory, router, sender.config)),
        "interval",
        minutes=5,
        id="slack.daily_digest",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        guarded(
            "slack.weekly_summary",
            lambda: post_weekly_summary(factory, sender.config, router.default_channel),
        ),
        "interval",
        minutes=5,
        id="slack.weekly_summary",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        guarded("slack.escalation", lambda: escalate_unacknowledged(factory, sender.config)),
        "interval",
        minutes=5,
        id="slack.escalation",
        max_instances=1,
        coalesce=True,
    )
