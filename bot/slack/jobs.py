"""Scheduled Slack work: deliver the outbox, bring snoozed alerts back, escalate once.

Each job runs on one replica at a time (a database lease), owns its transactions, logs what
it did, and lets one failing alert not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.leases import run_exclusively
from bot.logs import log_context
from bot.settings import AppConfig
from bot.slack import services
from bot.slack.sender import Sender
from db import repo
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
            for s in repo.expired_snoozes(session, now)
            if s.target_type == "alert"
        ]
    returned = []
    for snooze_id, alert_id in due:
        try:
            with transaction(factory) as session:
                for snooze in repo.active_snoozes(
                    session, target_type="alert", target_ids=[alert_id]
                ):
                    if snooze.id == snooze_id:
                        snooze.ended_at = now
                        session.add(snooze)
                services.snooze_returned(session, alert_id=alert_id, now=now, config=config)
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
            for a in repo.alerts_to_escalate(
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
                found = repo.alert_and_account(session, alert_id)
                if found is None or found[0].escalated_at is not None:
                    continue
                services.escalate(session, alert=found[0], config=config, now=now)
            done.append(alert_id)
        except Exception:
            log.exception("escalating alert %s failed; will retry", alert_id)
    return done


def add_jobs(
    scheduler: Scheduler, *, factory: SessionFactory, config: AppConfig, sender: Sender
) -> None:
    """The Slack jobs, each behind a lease so replicas take turns."""

    def guarded(name: str, job: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            with log_context(job=name):
                try:
                    run_exclusively(factory, name, job, ttl=timedelta(minutes=5))
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
    scheduler.add_job(
        guarded("slack.escalation", lambda: escalate_unacknowledged(factory, config)),
        "interval",
        minutes=5,
        id="slack.escalation",
        max_instances=1,
        coalesce=True,
    )
