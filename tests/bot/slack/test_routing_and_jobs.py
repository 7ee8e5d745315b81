"""Routing rules and owners; the snooze-return and escalation jobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from slack_sdk import WebClient
from sqlmodel import select

import db.slack_cache
from bot.infra.settings import AppConfig
from bot.slack import jobs, services
from bot.slack.config import Escalation, RoutingConfig, RoutingRule, SlackConfig
from bot.slack.deps import Deps
from bot.slack.routing import Router
from db.engine import SessionFactory, transaction
from db.models import Account, Alert, AuditLog, OutboxMessage
from tests.bot.slack.conftest import BOSS, MAYA
from tests.fakes import FakeSlack


def account(**kw) -> Account:
    return Account(key="k", name="Acme", **kw)


def test_first_matching_rule_wins_else_the_default_channel() -> None:
    config = AppConfig(
        routing=RoutingConfig(
            rules=(
                RoutingRule(owner="Maya.Chen@example.com", segment="smb", channel="#maya-smb"),
                RoutingRule(segment="Enterprise", channel="#ent"),
                RoutingRule(owner="luis.ortega@example.com", channel="C0LUIS0001"),
            )
        )
    )
    router = Router(config, "#expansion", None, lambda: None)  # type: ignore[arg-type,return-value]
    assert router.channel_for(account(owner_email="maya.chen@example.com", segment="SMB")) == (
        "#maya-smb"
    )
    assert router.channel_for(account(owner_email="maya.chen@example.com", segment="ent")) == (
        "#expansion"
    )
    assert router.channel_for(account(segment="enterprise")) == "#ent"
    assert router.channel_for(account(owner_email="luis.ortega@example.com")) == "C0LUIS0001"


def test_config_is_validated() -> None:
    with pytest.raises(ValidationError, match="owner or a segment"):
        RoutingRule(channel="#x")
    with pytest.raises(ValidationError, match="not a channel"):
        RoutingRule(channel="general chat", segment="smb")
    with pytest.raises(ValidationError, match="user id"):
        RoutingConfig(owner_map={"a@b.c": "maya"})
    with pytest.raises(ValidationError, match="team id"):
        SlackConfig(team_id="acme")
    with pytest.raises(ValidationError):
        SlackConfig(hourly_cap_per_channel=0)
    with pytest.raises(ValidationError):
        AppConfig.model_validate({"slack": {"unknown": 1}})
    assert SlackConfig().escalation.after_hours == 24


def test_owner_lookup_then_cache_then_owner_map(slack: FakeSlack, factory: SessionFactory) -> None:
    client = WebClient(token=slack.auth_token, base_url=slack.url)
    config = AppConfig(routing=RoutingConfig(owner_map={"luis.ortega@example.com": "U0LUIS0001"}))
    router = Router(config, "#expansion", client, factory)
    now = datetime.now(UTC)
    assert router.user_for_email("Maya.Chen@example.com", now=now) == MAYA
    assert router.user_for_email("maya.chen@example.com", now=now) == MAYA
    assert router.user_for_email("luis.ortega@example.com", now=now) == "U0LUIS0001"
    assert router.user_for_email("nobody@example.com", now=now) is None
    assert router.user_for_email("nobody@example.com", now=now) is None
    emails = [c["email"] for c in slack.calls("users.lookupByEmail")]
    assert sorted(emails) == [
        "luis.ortega@example.com",
        "maya.chen@example.com",
        "nobody@example.com",
    ]
    with factory() as session:
        assert db.slack_cache.slack_user(session, "maya.chen@example.com").tz == "Europe/Berlin"  # type: ignore[union-attr]
    # a week later the answers are refreshed
    router.user_for_email("maya.chen@example.com", now=now + timedelta(days=8))
    assert len(slack.calls("users.lookupByEmail")) == 4


def test_a_slack_outage_falls_back_to_the_map(slack: FakeSlack, factory: SessionFactory) -> None:
    client = WebClient(token=slack.auth_token, base_url=slack.url)
    config = AppConfig(routing=RoutingConfig(owner_map={"maya.chen@example.com": "U0MAPPED01"}))
    slack.set_method_error("users.lookupByEmail", "internal_error")
    user = Router(config, "#x", client, factory).user_for_email(
        "maya.chen@example.com", now=datetime.now(UTC)
    )
    assert user == "U0MAPPED01"


def test_a_failed_lookup_is_not_retried_at_once_and_never_waits_out_a_429(
    slack: FakeSlack, factory: SessionFactory
) -> None:
    """users.info answering 429 (Retry-After 2): the lookup gives up at once instead of
    sleeping, the default timezone stands in, and the next commands do not ask again until
    ``failed_lookup_seconds`` have passed."""
    client = WebClient(token=slack.auth_token, base_url=slack.url)
    clock = [1000.0]
    router = Router(AppConfig(), "#x", client, factory, monotonic=lambda: clock[0])
    slack.rate_limit("users.info", retry_after=2, times=None)
    now = datetime.now(UTC)
    started = time.monotonic()
    assert router.user_tz(MAYA, now=now) is None
    assert router.local_now(MAYA, now=now).utcoffset() == timedelta(0)
    assert time.monotonic() - started < 1.5
    assert len(slack.requests_to("/api/users.info")) == 1  # the second ask: from memory
    slack.clear_faults()
    clock[0] += AppConfig().routing.failed_lookup_seconds + 1
    assert router.user_tz(MAYA, now=now) == "Europe/Berlin"
    with factory() as session:  # and the answer is cached in the database
        assert db.slack_cache.slack_user_by_id(session, MAYA).tz == "Europe/Berlin"  # type: ignore[union-attr]


@pytest.mark.usefixtures("seeded")
def test_snoozed_alert_comes_back_in_its_thread(deps: Deps, slack, factory, config) -> None:
    deps.sender.run_once(limit=500)
    with factory() as session:
        alert = session.exec(select(Alert).where(Alert.ts.is_not(None))).first()  # type: ignore[union-attr]
        assert alert is not None and alert.id is not None
    now = datetime.now(UTC)
    with transaction(factory) as session:
        services.snooze(
            session, alert_id=alert.id, user_id=MAYA, until=now + timedelta(days=1), now=now
        )
    assert jobs.return_snoozed_alerts(factory, config, now) == []
    later = now + timedelta(days=1, minutes=1)
    assert jobs.return_snoozed_alerts(factory, config, later) == [alert.id]
    assert jobs.return_snoozed_alerts(factory, config, later) == []  # once
    with factory() as session:
        stored = session.get(Alert, alert.id)
        assert stored is not None and stored.status == "open" and stored.snoozed_until is None
    deps.sender.clock = lambda: noon_after(later)
    deps.sender.run_once(limit=500)
    thread = [p for p in slack.posts() if p.get("thread_ts") == alert.ts]
    assert len(thread) == 1 and "Snooze ended" in thread[0]["text"]
    assert any(c["ts"] == alert.ts for c in slack.calls("chat.update"))


@pytest.mark.usefixtures("seeded")
def test_unacknowledged_priority_alerts_escalate_once(
    make_deps: Callable[[AppConfig], Deps], slack: FakeSlack, factory
) -> None:
    config = AppConfig(
        slack=SlackConfig(
            hourly_cap_per_channel=50, escalation=Escalation(target=BOSS, after_hours=24)
        )
    )
    deps = make_deps(config)
    deps.sender.run_once(limit=500)
    now = datetime.now(UTC)
    assert jobs.escalate_unacknowledged(factory, config, now) == []  # too early
    with factory() as session:
        priority = session.exec(
            select(Alert).where(Alert.band == "priority", Alert.ts.is_not(None))  # type: ignore[union-attr]
        ).all()
        acked = priority[0]
        assert acked.id is not None
    with transaction(factory) as session:
        services.acknowledge(session, alert_id=acked.id, user_id=MAYA, now=now)
    later = now + timedelta(hours=25)
    done = jobs.escalate_unacknowledged(factory, config, later)
    assert sorted(done) == sorted(a.id for a in priority[1:])
    assert jobs.escalate_unacknowledged(factory, config, later) == []  # only once
    deps.sender.clock = lambda: noon_after(later)
    deps.sender.run_once(limit=500)
    dms = [p for p in slack.posts() if p["channel"] == "D" + BOSS[1:]]
    assert len(dms) == len(done)
    assert "no acknowledgement for 24 hours" in dms[0]["text"]
    threads = [p for p in slack.posts() if p.get("thread_ts") and "escalated" in p["text"]]
    assert len(threads) == len(done)
    with factory() as session:
        assert len(session.exec(select(AuditLog).where(AuditLog.action == "alert.escalate")).all())
        pending = session.exec(select(OutboxMessage).where(OutboxMessage.status == "pending")).all()
        assert not pending


def noon_after(moment: datetime) -> datetime:
    """Midday UTC at or after ``moment``: daytime for the fixture's owners, after any queued row."""
    noon = moment.replace(hour=12, minute=0, second=0, microsecond=0)
    return noon if noon >= moment else noon + timedelta(days=1)
