"""The scheduler's source jobs: triggers, no overlap, the lease, errors kept inside."""

from __future__ import annotations

import time
from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import col, select

import db.runs
from bot.infra.settings import AppConfig, Settings
from bot.scheduler import POLL_JOB, RESCORE_JOB, build_scheduler, poll_job, rescore_job
from db.engine import SessionFactory, transaction
from db.models import PollRun, utcnow
from sources.config import DemoSourceConfig, SourcesConfig
from sources.config_base import ScheduleConfig

DEMO = AppConfig(sources=SourcesConfig(demo=DemoSourceConfig(enabled=True)))


def test_interval_from_poll_interval_minutes(factory: SessionFactory) -> None:
    scheduler = build_scheduler(Settings(poll_interval_minutes=15), AppConfig(), factory)
    job = scheduler.get_job(POLL_JOB)
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(minutes=15)
    assert job.max_instances == 1 and job.coalesce is True
    rescore = scheduler.get_job(RESCORE_JOB)
    assert isinstance(rescore.trigger, CronTrigger) and rescore.max_instances == 1


def test_cron_expression_wins(factory: SessionFactory) -> None:
    schedule = ScheduleConfig(cron="*/20 7-19 * * mon-fri", rescore_cron=None)
    config = AppConfig(sources=SourcesConfig(schedule=schedule))
    scheduler = build_scheduler(Settings(), config, factory)
    job = scheduler.get_job(POLL_JOB)
    assert isinstance(job.trigger, CronTrigger)
    assert "*/20" in str(job.trigger) and scheduler.get_job(RESCORE_JOB) is None


def test_config_refuses_a_bad_cron() -> None:
    try:
        ScheduleConfig(cron="every morning")
    except ValueError as exc:
        assert "is not a cron expression" in str(exc)
    else:
        raise AssertionError("accepted a bad cron expression")


def runs(factory: SessionFactory) -> list[PollRun]:
    with factory() as session:
        return list(session.exec(select(PollRun).order_by(col(PollRun.id))).all())


def test_poll_job_runs_the_sources_under_the_lease(factory: SessionFactory) -> None:
    poll_job(Settings(), DEMO, factory)
    assert [(r.source, r.status) for r in runs(factory)] == [("demo", "ok"), ("scoring", "ok")]
    with transaction(factory) as session:
        db.runs.acquire_lease(
            session, name="poll", holder="other-replica", now=utcnow(), ttl=timedelta(minutes=5)
        )
    poll_job(Settings(), DEMO, factory)  # another replica is polling: skipped
    rescore_job(DEMO, factory)
    assert len(runs(factory)) == 2


def test_poll_job_keeps_failures_inside(factory: SessionFactory) -> None:
    settings = Settings(hubspot_access_token="pat-na1-x", hubspot_api_url="http://127.0.0.1:9")
    fast = SourcesConfig.model_validate(
        {"http": {"max_attempts": 1, "connect_timeout_seconds": 0.2}}
    )
    poll_job(settings, AppConfig(sources=fast), factory)  # no exception escapes
    assert next((r.source, r.status) for r in runs(factory)) == ("hubspot", "failed")


def test_started_scheduler_polls_at_start(factory: SessionFactory) -> None:
    scheduler = build_scheduler(Settings(), DEMO, factory)
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(r.source == "scoring" for r in runs(factory)):
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
    assert [r.source for r in runs(factory)] == ["demo", "scoring"]
