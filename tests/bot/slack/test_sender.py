"""The outbox sender against the fake Slack: once per alert whatever Slack answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.settings import AppConfig
from bot.slack import services
from bot.slack.config import QuietHours, RoutingConfig, RoutingRule, SlackConfig
from bot.slack.flows import Deps
from bot.slack.sender import quiet_hours_end
from db import repo
from db.engine import SessionFactory, transaction
from db.models import Alert, OutboxMessage
from tests.bot.slack.conftest import MAYA
from tests.fakes import FakeSlack, validate_blocks


def outbox(factory: SessionFactory) -> list[OutboxMessage]:
    with factory() as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def alerts(factory: SessionFactory) -> list[Alert]:
    with factory() as session:
        return list(session.exec(select(Alert).order_by(col(Alert.id))).all())


def alert_posts(slack: FakeSlack) -> list[dict]:
    return [p for p in slack.posts() if not p.get("thread_ts") and p["channel"] != "#radar-admin"]


@pytest.mark.usefixtures("seeded")
def test_every_alert_is_posted_once_and_its_ts_stored(deps: Deps, slack, factory) -> None:
    report = deps.sender.run_once(limit=500)
    posted = alerts(factory)
    channel_alerts = [a for a in posted if a.delivery == "channel"]
    assert len(report.sent) == len(channel_alerts) == len(alert_posts(slack))
    for alert in channel_alerts:
        assert alert.ts and alert.channel and alert.posted_at
    for post in alert_posts(slack):
        assert not validate_blocks(post["blocks"])
        assert post["unfurl_links"] is False
    # a second run, and a stray duplicate 'post' row, post nothing new
    with transaction(factory) as session:
        repo.enqueue(session, alert=channel_alerts[0], kind="post", payload={})
    deps.sender.run_once(limit=500)
    assert len(alert_posts(slack)) == len(channel_alerts)
    assert slack.calls("chat.update")  # the duplicate became an edit


@pytest.mark.usefixtures("seeded")
def test_owner_is_mentioned_or_named_and_lookups_are_cached(deps: Deps, slack, factory) -> None:
    deps.sender.run_once(limit=500)
    texts = {p["text"]: json.dumps(p["blocks"]) for p in alert_posts(slack)}
    brightops = next(b for t, b in texts.items() if "BrightOps" in t)
    assert f"<@{MAYA}>" in brightops
    luis = [b for b in texts.values() if "Luis Ortega (no Slack account found)" in b]
    assert luis  # not in Slack: named in plain text, still posted
    lookups = slack.calls("users.lookupByEmail")
    assert len(lookups) == len({c["email"] for c in lookups})  # one call per owner


@pytest.mark.usefixtures("seeded")
def test_429_then_500_then_success_posts_exactly_once(deps: Deps, slack: FakeSlack, factory):
    first = min(
        (m for m in outbox(factory) if m.kind == "post"), key=lambda m: (-m.priority, m.id or 0)
    )
    slack.rate_limit("chat.postMessage", retry_after=2, times=1)
    slack.inject("/api/chat.postMessage", status=500, times=1)
    report = deps.sender.run_once(limit=1)
    assert report.sent == [first.id]
    assert len(alert_posts(slack)) == 1
    attempts = slack.requests_to("/api/chat.postMessage")
    assert len(attempts) == 3  # the 429, the 500 and the one that landed
    deps.sender.run_once(limit=500)
    assert len(alert_posts(slack)) == len([a for a in alerts(factory) if a.delivery == "channel"])


@pytest.mark.usefixtures("seeded")
def test_persistent_5xx_backs_off_in_the_outbox(deps: Deps, slack: FakeSlack, factory) -> None:
    slack.inject("/api/chat.postMessage", status=503, times=None)
    report = deps.sender.run_once(limit=1)
    assert report.retrying and not report.sent
    row = next(m for m in outbox(factory) if m.id == report.retrying[0])
    assert (
        row.status == "pending" and row.attempts == 1 and row.last_error == "fatal_error (HTTP 503)"
    )
    assert row.next_attempt_at > datetime.now(UTC) + timedelta(seconds=10)
    assert not alert_posts(slack)
    slack.clear_faults()
    deps.sender.clock = lambda: datetime.now(UTC) + timedelta(minutes=1)
    deps.sender.run_once(limit=500)
    assert len(alert_posts(slack)) == len([a for a in alerts(factory) if a.ts])


def test_channel_not_found_is_recorded_reported_once_and_not_retried(
    make_deps: Callable[[AppConfig], Deps], slack: FakeSlack, factory, today
) -> None:
    from bot.cycle import run_cycle
    from sources.demo import demo_batch

    config = AppConfig(
        slack=SlackConfig(admin_channel="#radar-admin", hourly_cap_per_channel=50),
        routing=RoutingConfig(rules=(RoutingRule(segment="SMB", channel="#gone"),)),
    )
    run_cycle(factory, [demo_batch(today)], today, config)
    slack.set_channel_error("#gone", "channel_not_found")
    deps = make_deps(config)
    deps.sender.run_once(limit=500)
    failed = [m for m in outbox(factory) if m.status == "failed"]
    assert failed and all(m.last_error == "channel_not_found" for m in failed)
    assert all(m.attempts == 1 and m.channel == "#gone" for m in failed)
    deps.sender.run_once(limit=500)  # the admin reports go out
    reports = [p for p in slack.posts() if p["channel"] == "#radar-admin"]
    assert len(reports) == len(failed)
    assert "channel_not_found" in reports[0]["text"] and "not be retried" in reports[0]["text"]
    calls = len(slack.calls("chat.postMessage"))
    deps.sender.run_once(limit=500)
    assert len(slack.calls("chat.postMessage")) == calls  # never retried
    # the SMB alerts that could be posted elsewhere still were
    assert alert_posts(slack)


@pytest.mark.usefixtures("seeded")
def test_hourly_cap_holds_the_rest_back_in_score_order(
    make_deps: Callable[[AppConfig], Deps], slack: FakeSlack, factory
) -> None:
    deps = make_deps(AppConfig(slack=SlackConfig(hourly_cap_per_channel=3)))
    report = deps.sender.run_once(limit=500)
    assert len(report.sent) == 3 and report.deferred
    scores = sorted((a.score for a in alerts(factory) if a.delivery == "channel"), reverse=True)
    posted = sorted((a.score for a in alerts(factory) if a.ts), reverse=True)
    assert posted == scores[:3]  # the highest scores went first
    waiting = [m for m in outbox(factory) if m.status == "pending"]
    assert all(m.next_attempt_at > datetime.now(UTC) + timedelta(minutes=50) for m in waiting)
    # an hour later the next three go, again highest score first
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    deps.sender.clock = lambda: later
    deps.sender.run_once(limit=500)
    posted = sorted((a.score for a in alerts(factory) if a.ts), reverse=True)
    assert posted == scores[:6]


@pytest.mark.usefixtures("seeded")
def test_updates_edit_the_stored_message_and_collapse(deps: Deps, slack, factory) -> None:
    deps.sender.run_once(limit=500)
    alert = next(a for a in alerts(factory) if a.ts)
    with transaction(factory) as session:
        for _ in range(3):
            repo.enqueue(session, alert=alert, kind="update", payload={})
    deps.sender.run_once(limit=500)
    edits = [c for c in slack.calls("chat.update") if c["ts"] == alert.ts]
    assert len(edits) == 1 and edits[0]["channel"] == alert.channel


@pytest.mark.usefixtures("seeded")
def test_thread_waits_for_its_parent_then_replies_in_it(deps: Deps, slack, factory) -> None:
    alert = next(a for a in alerts(factory) if a.delivery == "channel")
    with transaction(factory) as session:
        repo.enqueue(session, alert=alert, kind="thread", payload={"reason": "new_trigger"})
    deps.sender.run_once(limit=500)
    posted = next(a for a in alerts(factory) if a.id == alert.id)
    replies = [p for p in slack.posts() if p.get("thread_ts") == posted.ts]
    assert len(replies) <= 1
    deps.sender.clock = lambda: datetime.now(UTC) + timedelta(minutes=2)
    deps.sender.run_once(limit=500)
    replies = [p for p in slack.posts() if p.get("thread_ts") == posted.ts]
    assert len(replies) == 1 and "New signal" in replies[0]["text"]


def test_quiet_hours_follow_the_recipients_timezone() -> None:
    quiet = QuietHours(start=datetime(2000, 1, 1, 20).time(), end=datetime(2000, 1, 1, 8).time())
    late_berlin = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)  # 22:30 in Berlin
    ends = quiet_hours_end(late_berlin, "Europe/Berlin", quiet)
    assert ends == datetime(2026, 11, 21, 7, 0, tzinfo=UTC)  # 08:00 Berlin
    assert quiet_hours_end(late_berlin, "America/Los_Angeles", quiet) is None  # 13:30 there
    early = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)  # 06:00 Berlin
    assert quiet_hours_end(early, "Europe/Berlin", quiet) == datetime(
        2026, 11, 20, 7, 0, tzinfo=UTC
    )
    assert quiet_hours_end(late_berlin, None, QuietHours(enabled=False)) is None


@pytest.mark.usefixtures("seeded")
def test_dms_wait_for_the_end_of_quiet_hours(deps: Deps, slack: FakeSlack, factory) -> None:
    with transaction(factory) as session:
        repo.enqueue(session, alert=None, kind="dm", payload={"user": MAYA, "text": "hello"})
        repo.enqueue(
            session,
            alert=None,
            kind="dm",
            payload={"email": "jonas.weber@example.com", "text": "hi"},
        )
    tomorrow = datetime.now(UTC) + timedelta(days=1)  # after the rows were queued
    night_in_berlin = tomorrow.replace(hour=22, minute=0, second=0, microsecond=0)
    deps.sender.clock = lambda: night_in_berlin  # 23:00 Berlin, 17:00 New York
    deps.sender.run_once(limit=500)
    dms = [p for p in slack.posts() if p["channel"].startswith("D")]
    assert [p["text"] for p in dms] == ["hi"]  # Jonas (New York) now, Maya (Berlin) waits
    deps.sender.clock = lambda: night_in_berlin + timedelta(hours=9)  # 08:00 Berlin
    deps.sender.run_once(limit=500)
    dms = [p for p in slack.posts() if p["channel"].startswith("D")]
    assert sorted(p["text"] for p in dms) == ["hello", "hi"]


@pytest.mark.usefixtures("seeded")
def test_dismissed_before_delivery_is_never_posted(deps: Deps, slack, factory) -> None:
    alert = next(a for a in alerts(factory) if a.delivery == "channel")
    assert alert.id is not None
    with transaction(factory) as session:
        services.dismiss(
            session,
            alert_id=alert.id,
            user_id=MAYA,
            reason="timing",
            note=None,
            now=datetime.now(UTC),
        )
    deps.sender.run_once(limit=500)
    assert not [p for p in alert_posts(slack) if alert.summary["name"] in p["text"]]


@pytest.mark.usefixtures("seeded")
def test_cleared_alert_message_says_so_and_loses_its_buttons(deps: Deps, slack, factory) -> None:
    deps.sender.run_once(limit=500)
    alert = next(a for a in alerts(factory) if a.ts)
    with transaction(factory) as session:
        stored = session.get(Alert, alert.id)
        assert stored is not None
        stored.status = "cleared"
        session.add(stored)
        repo.enqueue(session, alert=stored, kind="update", payload={"reason": "cleared"})
    deps.sender.run_once(limit=500)
    edit = [c for c in slack.calls("chat.update") if c["ts"] == alert.ts][-1]
    text = json.dumps(edit["blocks"], ensure_ascii=False)
    assert "Every signal behind this alert has cleared" in text
    assert "alert_acknowledge" not in text and "Opening" not in text


def test_the_same_state_raises_no_new_alert_and_sends_nothing(
    deps: Deps, slack, factory, config, today
) -> None:
    from bot.cycle import run_cycle
    from sources.demo import demo_batch

    run_cycle(factory, [demo_batch(today)], today, config)
    deps.sender.run_once(limit=500)
    calls = len(slack.slack_calls)
    rows = len(outbox(factory))
    run_cycle(factory, [demo_batch(today)], today, config)  # the same facts again
    assert len(outbox(factory)) == rows
    deps.sender.run_once(limit=500)
    assert len(slack.slack_calls) == calls
