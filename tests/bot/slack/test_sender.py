"""The outbox sender against the fake Slack: once per alert whatever Slack answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

import db.outbox
import db.slack_cache
from bot.infra.settings import AppConfig, Settings
from bot.slack import services
from bot.slack.client import make_client
from bot.slack.config import QuietHours, RoutingConfig, RoutingRule, SlackConfig
from bot.slack.deps import Deps
from bot.slack.history import EVENT_TYPE, outbox_metadata
from bot.slack.outgoing import quiet_hours_end
from bot.slack.sender import Sender
from db.engine import SessionFactory, transaction
from db.models import Alert, OutboxMessage
from db.outbox_payloads import (
    DirectMessage,
    FollowUp,
    FollowUpReason,
    PostAlert,
    ThreadReply,
    UpdateAlert,
)
from tests.bot.slack.conftest import MAYA
from tests.fakes import FakeSlack, validate_blocks

FOUND = "found in Slack after an unanswered post"


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
        db.outbox.enqueue(session, PostAlert(), alert=channel_alerts[0])
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
    from bot.poll.cycle import run_cycle
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
            db.outbox.enqueue(session, UpdateAlert(), alert=alert)
    deps.sender.run_once(limit=500)
    edits = [c for c in slack.calls("chat.update") if c["ts"] == alert.ts]
    assert len(edits) == 1 and edits[0]["channel"] == alert.channel


@pytest.mark.usefixtures("seeded")
def test_thread_waits_for_its_parent_then_replies_in_it(deps: Deps, slack, factory) -> None:
    alert = next(a for a in alerts(factory) if a.delivery == "channel")
    with transaction(factory) as session:
        db.outbox.enqueue(session, FollowUp(FollowUpReason.NEW_TRIGGER), alert=alert)
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
        db.outbox.enqueue(session, DirectMessage(user=MAYA, text="hello"), alert=None)
        db.outbox.enqueue(
            session,
            DirectMessage(email="jonas.weber@example.com", text="hi"),
            alert=None,
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
        db.outbox.enqueue(session, UpdateAlert(reason="cleared"), alert=stored)
    deps.sender.run_once(limit=500)
    edit = [c for c in slack.calls("chat.update") if c["ts"] == alert.ts][-1]
    text = json.dumps(edit["blocks"], ensure_ascii=False)
    assert "Every signal behind this alert has cleared" in text
    assert "alert_acknowledge" not in text and "Opening" not in text


def test_the_same_state_raises_no_new_alert_and_sends_nothing(
    deps: Deps, slack, factory, config, today
) -> None:
    from bot.poll.cycle import run_cycle
    from sources.demo import demo_batch

    run_cycle(factory, [demo_batch(today)], today, config)
    deps.sender.run_once(limit=500)
    calls = len(slack.slack_calls)
    rows = len(outbox(factory))
    run_cycle(factory, [demo_batch(today)], today, config)  # the same facts again
    assert len(outbox(factory)) == rows
    deps.sender.run_once(limit=500)
    assert len(slack.slack_calls) == calls


# --- exactly once: no transaction across the network, unanswered posts looked up -----------


def first_post(factory: SessionFactory) -> OutboxMessage:
    """The post row the sender takes first (highest score)."""
    return min(
        (m for m in outbox(factory) if m.kind == "post"), key=lambda m: (-m.priority, m.id or 0)
    )


def impatient(deps: Deps, settings: Settings, **kwargs: object) -> Sender:
    """A sender like the app's whose client gives up on Slack after 1 s."""
    return Sender(
        factory=deps.factory,
        client=make_client(settings, timeout=1),
        config=deps.config,
        router=deps.router,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.usefixtures("seeded")
def test_every_post_carries_its_outbox_id(deps: Deps, slack: FakeSlack, factory) -> None:
    deps.sender.run_once(limit=500)
    rows = {m.alert_id: m.id for m in outbox(factory) if m.kind == "post"}
    by_ts = {a.ts: a.id for a in alerts(factory) if a.ts}
    calls = [c for c in slack.slack_calls if c.method == "chat.postMessage"]
    assert len(calls) == len(by_ts) > 0
    for call in calls:
        outbox_id = rows[by_ts[call.response["ts"]]]
        assert outbox_id is not None
        assert call.args["metadata"] == outbox_metadata(outbox_id)
        assert call.args["metadata"]["event_type"] == EVENT_TYPE


@pytest.mark.usefixtures("seeded")
def test_a_post_answered_after_the_timeout_is_found_not_posted_again(
    deps: Deps, settings: Settings, slack: FakeSlack, factory
) -> None:
    sender = impatient(deps, settings)
    first = first_post(factory)
    slack.answer_late("chat.postMessage", 2.5)  # Slack takes it, answers after we gave up
    report = sender.run_once(limit=1)
    assert report.sent == [first.id]
    assert len(alert_posts(slack)) == 1
    row = next(m for m in outbox(factory) if m.id == first.id)
    assert row.status == "sent" and row.last_error == FOUND and row.claimed_by is None
    alert = next(a for a in alerts(factory) if a.id == first.alert_id)
    posted = slack.channel_messages("#expansion")
    assert alert.channel == slack.channel_id("#expansion") and alert.ts == posted[0]["ts"]
    assert len(slack.calls("conversations.list")) == 1  # the name's id, looked up once
    with factory() as session:
        assert db.slack_cache.channel_id(session, "#expansion") == alert.channel

    sender.run_once(limit=500)  # the rest go out once each; nothing is posted twice
    assert len(alert_posts(slack)) == len([a for a in alerts(factory) if a.delivery == "channel"])
    assert len(slack.calls("conversations.list")) == 1


@pytest.mark.usefixtures("seeded")
def test_a_thread_reply_answered_late_is_found_among_the_replies(
    deps: Deps, settings: Settings, slack: FakeSlack, factory
) -> None:
    deps.sender.run_once(limit=500)
    alert = next(a for a in alerts(factory) if a.ts)
    with transaction(factory) as session:
        db.outbox.enqueue(session, ThreadReply("Step 2 is due"), alert=alert)
    slack.answer_late("chat.postMessage", 2.5)
    report = impatient(deps, settings).run_once(limit=500)
    assert len(report.sent) == 1
    replies = [p for p in slack.posts() if p.get("thread_ts") == alert.ts]
    assert [p["text"] for p in replies] == ["Step 2 is due"]
    assert slack.calls("conversations.replies") and not slack.calls("conversations.history")


@pytest.mark.parametrize("landed", [True, False])
@pytest.mark.usefixtures("seeded")
def test_a_claim_left_by_a_dead_sender_is_checked_before_posting(
    deps: Deps, slack: FakeSlack, factory, landed: bool
) -> None:
    first = first_post(factory)
    assert first.id is not None
    channel = slack.add_channel("#expansion")
    died = datetime.now(UTC) - timedelta(minutes=5)
    expired = died + timedelta(seconds=90)
    with transaction(factory) as session:  # a sender claimed it, armed it and was killed
        assert db.outbox.claim_outbox(
            session, first.id, holder="dead", now=datetime.now(UTC), until=expired
        )
        assert db.outbox.arm_outbox(
            session,
            first.id,
            holder="dead",
            channel="#expansion",
            thread_ts=None,
            now=died,
            until=expired,
        )
    with factory() as session:
        assert first.id in db.outbox.due_outbox_ids(session, datetime.now(UTC))
    if landed:  # Slack took its post before the process died
        deps.client.chat_postMessage(
            channel=channel, text="the dead sender's post", metadata=outbox_metadata(first.id)
        )
    before = len(slack.posts())
    report = deps.sender.run_once(limit=1)
    assert report.sent == [first.id]
    alert = next(a for a in alerts(factory) if a.id == first.alert_id)
    row = next(m for m in outbox(factory) if m.id == first.id)
    if landed:
        assert len(slack.posts()) == before  # found, not posted again
        assert row.last_error == FOUND
        assert alert.ts == slack.channel_messages(channel)[0]["ts"]
    else:
        assert len(slack.posts()) == before + 1
        assert row.last_error is None and alert.ts


@pytest.mark.usefixtures("seeded")
def test_no_post_while_slack_cannot_say_whether_it_has_the_message(
    deps: Deps, settings: Settings, slack: FakeSlack, factory
) -> None:
    first = first_post(factory)
    slack.answer_late("chat.postMessage", 2.5)
    slack.set_method_error("conversations.list", "missing_scope", times=None)
    report = impatient(deps, settings).run_once(limit=1)
    assert report.retrying == [first.id]
    row = next(m for m in outbox(factory) if m.id == first.id)
    assert row.status == "pending" and row.attempts == 1 and row.unconfirmed_since
    assert row.last_error == "could not check whether Slack has it: missing_scope"
    assert len(alert_posts(slack)) == 1  # the one Slack took; no second try
    slack.clear_method_errors()
    deps.sender.clock = lambda: datetime.now(UTC) + timedelta(minutes=1)
    deps.sender.run_once(limit=1)
    row = next(m for m in outbox(factory) if m.id == first.id)
    assert row.status == "sent" and row.last_error == FOUND and len(alert_posts(slack)) == 1


@pytest.mark.usefixtures("seeded")
def test_a_long_retry_after_puts_the_row_back_without_spending_an_attempt(
    deps: Deps, slack: FakeSlack, factory
) -> None:
    first = first_post(factory)
    slack.rate_limit("chat.postMessage", retry_after=60, times=1)
    report = deps.sender.run_once(limit=1)
    assert report.retrying == [first.id]
    row = next(m for m in outbox(factory) if m.id == first.id)
    assert row.status == "pending" and row.attempts == 0 and row.unconfirmed_since is None
    assert row.next_attempt_at > datetime.now(UTC) + timedelta(seconds=55)
    assert row.last_error == "ratelimited (HTTP 429)" and not alert_posts(slack)
    deps.sender.clock = lambda: datetime.now(UTC) + timedelta(seconds=61)
    assert deps.sender.run_once(limit=1).sent == [first.id]
    assert len(alert_posts(slack)) == 1


@pytest.mark.usefixtures("seeded")
def test_two_senders_at_once_post_each_alert_once(
    make_deps: Callable[[AppConfig], Deps], config: AppConfig, slack: FakeSlack, factory
) -> None:
    slack.inject("/api/chat.postMessage", delay=0.05, times=None)  # slow enough to overlap
    replicas = [make_deps(config).sender for _ in range(2)]
    threads = [threading.Thread(target=r.run_once, kwargs={"limit": 500}) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    owed = [a for a in alerts(factory) if a.delivery == "channel"]
    assert len(alert_posts(slack)) == len(owed)
    assert all(a.ts for a in owed)
    assert all(m.status == "sent" for m in outbox(factory) if m.kind == "post")


def test_one_alert_has_one_message_in_flight(factory: SessionFactory, today) -> None:
    from bot.poll.cycle import run_cycle
    from sources.demo import demo_batch

    run_cycle(factory, [demo_batch(today)], today, AppConfig())
    post = first_post(factory)
    assert post.id is not None
    with transaction(factory) as session:
        alert = session.get(Alert, post.alert_id)
        update = db.outbox.enqueue(session, UpdateAlert(), alert=alert)
    assert update.id is not None
    now = datetime.now(UTC)
    until = now + timedelta(seconds=90)
    with transaction(factory) as session:
        assert db.outbox.claim_outbox(session, post.id, holder="a", now=now, until=until)
    with transaction(factory) as session:  # the post is in flight: its edit waits
        assert db.outbox.claim_outbox(session, update.id, holder="b", now=now, until=until) is None
        assert db.outbox.claim_outbox(session, post.id, holder="b", now=now, until=until) is None
    later = until + timedelta(seconds=1)  # the claim expired: its sender died
    with transaction(factory) as session:
        taken = db.outbox.claim_outbox(session, post.id, holder="c", now=later, until=later)
        assert taken is not None and taken.claimed_by == "c"
    with transaction(factory) as session:
        assert not db.outbox.finish_outbox(session, post.id, holder="a", status="sent")
        assert db.outbox.finish_outbox(session, post.id, holder="c", status="sent", sent_at=later)
    with transaction(factory) as session:
        assert db.outbox.claim_outbox(session, update.id, holder="b", now=now, until=until)
