"""APScheduler jobs for the sources: the poll (every POLL_INTERVAL_MINUTES, or a cron
expression) and the daily re-scoring that lets date-driven triggers (a renewal entering its
window) fire without any data changing.

Both jobs never overlap themselves (``max_instances=1``), collapse missed runs into one
(``coalesce``), and take the ``poll`` lease, so across replicas only one polls at a time.
They run in ``bot.infra.scheduled.run_job``, the wrapper the Slack jobs use too.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.infra.scheduled import LEASE_TTL as LEASE_TTL  # re-exported: the poll lease's TTL
from bot.infra.scheduled import run_job
from bot.infra.settings import AppConfig, Settings
from bot.poll.run import PollSummary, rescore, run_poll
from bot.poll.runs import POLL_LEASE
from db.engine import SessionFactory
from db.models import PollRunStatus
from sources.config_base import ScheduleConfig

log = logging.getLogger(__name__)

POLL_JOB = "poll"
RESCORE_JOB = "rescore"
# How both jobs run (see above): one run at a time, missed runs as one, however late.
_NEVER_OVERLAP: dict[str, Any] = {
    "max_instances": 1,
    "coalesce": True,
    "misfire_grace_time": None,
    "replace_existing": True,
}
LEASE = POLL_LEASE  # the poll and the re-scoring write the same rows: one at a time


def poll_trigger(settings: Settings, schedule: ScheduleConfig) -> BaseTrigger:
    """The cron expression if one is set, else every ``interval_minutes`` (config) or
    POLL_INTERVAL_MINUTES (environment)."""
    tz = ZoneInfo(schedule.timezone)
    if schedule.cron:
        return CronTrigger.from_crontab(schedule.cron, timezone=tz)
    minutes = schedule.interval_minutes or settings.poll_interval_minutes
    return IntervalTrigger(minutes=minutes, timezone=tz)


def _today(schedule: ScheduleConfig) -> date:
    return datetime.now(ZoneInfo(schedule.timezone)).date()


def poll_job(settings: Settings, config: AppConfig, factory: SessionFactory) -> None:
    """The scheduled poll: errors are logged (and recorded per source), never raised into
    the scheduler, so the next run happens as planned."""
    summary: PollSummary | None = run_job(
        factory,
        POLL_JOB,
        lambda: run_poll(settings, config, factory, today=_today(config.sources.schedule)),
        lease=LEASE,
        ttl=LEASE_TTL,
    )
    if summary is not None and not summary.ok:
        failed = [o.name for o in summary.sources if o.status != PollRunStatus.OK]
        log.warning("scheduled poll finished with failures: %s", ", ".join(failed) or "scoring")


def rescore_job(config: AppConfig, factory: SessionFactory) -> None:
    """The daily pass: every account scored as of today."""
    run_job(
        factory,
        RESCORE_JOB,
        lambda: rescore(
            factory,
            today=_today(config.sources.schedule),
            config=config,
            everything=True,
        ),
        lease=LEASE,
        ttl=LEASE_TTL,
    )


def add_source_jobs(
    scheduler: BackgroundScheduler,
    settings: Settings,
    config: AppConfig,
    factory: SessionFactory,
) -> None:
    """Register the poll and the daily re-scoring on an existing scheduler."""
    schedule = config.sources.schedule
    tz = ZoneInfo(schedule.timezone)
    trigger = poll_trigger(settings, schedule)
    first = datetime.now(tz) if schedule.run_at_start else None
    extra = {"next_run_time": first} if first is not None else {}
    scheduler.add_job(
        poll_job,
        trigger,
        args=(settings, config, factory),
        id=POLL_JOB,
        name="poll sources and re-score what changed",
        **_NEVER_OVERLAP,
        **extra,
    )
    if schedule.rescore_cron:
        scheduler.add_job(
            rescore_job,
            CronTrigger.from_crontab(schedule.rescore_cron, timezone=tz),
            args=(config, factory),
            id=RESCORE_JOB,
            name="re-score every account (date-driven triggers)",
            **_NEVER_OVERLAP,
        )


def build_scheduler(
    settings: Settings, config: AppConfig, factory: SessionFactory
) -> BackgroundScheduler:
    """A scheduler (not started) holding the source jobs; callers add their own jobs and
    ``start()`` it."""
    scheduler = BackgroundScheduler(
        timezone=ZoneInfo(config.sources.schedule.timezone),
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    add_source_jobs(scheduler, settings, config, factory)
    return scheduler
