"""Exactly-once delivery when Slack is slow or the database drops, with ``expansion-radar run``
as a real process and the fake Slack over real HTTP (issue 13, items 2-4).

- Slack accepts a post but answers 12 s late (after the client's 10 s timeout): posted once.
  The sender finds the post in the channel's history by the outbox id it carries.
- The database's backends are terminated (pg_terminate_backend) while a 429 is waited out:
  posted once. No transaction is open while Slack is called or waited for.
- kill -9 while Slack holds the answer to an accepted post: after the restart (and the claim's
  expiry) the post is found in history, not posted again.
- SQLite and a Slack answering every post after 6 s: ``/expansion ack`` is acknowledged within
  Slack's 3 s and the change is recorded — the sender holds no write lock across the network.

The first three need PostgreSQL (several connections, backends to terminate); the last runs on
SQLite alone.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text
from sqlmodel import col, select

from db.engine import SessionFactory, make_engine, session_factory
from db.models import Account, Alert, OutboxMessage
from tests.fakes import FakeSlack
from tests.faults.conftest import (
    Bot,
    Bots,
    demo_config,
    posted_once,
    tally,
    wait_delivered,
)
from tests.waiting import wait_until

CONFIG = demo_config(interval_minutes=60)
FOUND = "found in Slack after an unanswered post"


def found_rows(factory: SessionFactory) -> list[OutboxMessage]:
    """Rows recorded as sent because their post was found in Slack's history."""
    with factory() as session:
        return list(
            session.exec(select(OutboxMessage).where(OutboxMessage.last_error == FOUND)).all()
        )


def deliver_all(bot: Bot, slack: FakeSlack, factory: SessionFactory, *, timeout: float) -> None:
    wait_delivered(slack, factory, timeout=timeout)
    assert bot.alive(), bot.output()


def test_a_post_slack_answers_12_seconds_late_is_posted_once(
    pg_url: str, pg_factory: SessionFactory, slack: FakeSlack, bots: Bots
) -> None:
    late = slack.answer_late("chat.postMessage", 12, times=1)
    bot = bots.start(bots.env(pg_url, CONFIG))
    wait_until(lambda: late.fired, timeout=120, what="the first post to be answered late")
    deliver_all(bot, slack, pg_factory, timeout=120)
    result = posted_once(slack, pg_factory, "Slack answers a post 12 s late")
    assert result.owed > 1
    assert len(found_rows(pg_factory)) == 1  # the late one, found by its outbox id


def test_database_backends_killed_while_a_429_is_waited_out_posts_once(
    pg_url: str, pg_factory: SessionFactory, slack: FakeSlack, bots: Bots
) -> None:
    limited = slack.rate_limit("chat.postMessage", retry_after=4, times=1)
    bot = bots.start(bots.env(pg_url, CONFIG))
    wait_until(lambda: limited.fired, timeout=120, what="a post to be rate limited")
    with pg_factory() as session:  # the bot waits out Retry-After: cut every connection it has
        killed = session.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    assert killed
    deliver_all(bot, slack, pg_factory, timeout=120)
    result = posted_once(slack, pg_factory, "database backends killed during a 429 wait")
    assert result.owed > 1


def test_kill_9_while_slack_holds_the_answer_posts_once_after_restart(
    pg_url: str, pg_factory: SessionFactory, slack: FakeSlack, bots: Bots
) -> None:
    held = slack.answer_late("chat.postMessage", 600, times=1)  # stored, answered never
    bot = bots.start(bots.env(pg_url, CONFIG))
    wait_until(lambda: held.fired, timeout=120, what="a post to wait for its answer")
    time.sleep(0.5)
    bot.kill()
    first = tally(slack, pg_factory)
    assert first.posted == 1 and first.doubled == 0  # Slack has it; the database does not know

    bot.start()
    deliver_all(bot, slack, pg_factory, timeout=240)  # the claim (90 s) and lease expire first
    result = posted_once(slack, pg_factory, "kill -9 while Slack holds a post's answer")
    assert result.owed > 1
    assert len(found_rows(pg_factory)) == 1


def test_sqlite_slash_command_is_acked_in_time_while_slack_is_slow(
    tmp_path: Path, slack: FakeSlack, bots: Bots
) -> None:
    url = f"sqlite:///{tmp_path / 'radar.db'}"
    slow = slack.answer_late("chat.postMessage", 6, times=None)
    bot = bots.start(bots.env(url, CONFIG))
    bot.wait_healthy()
    wait_until(lambda: slow.fired, timeout=120, what="a post to be waiting on Slack")
    time.sleep(0.5)  # the sender is inside chat.postMessage now

    resp = bot.slash(slack, "ack brightops")
    assert resp.status == 200
    assert resp.acked_in < 3.0, f"the ack took {resp.acked_in:.2f} s"
    assert "Acknowledged *BrightOps Agency*" in resp.text

    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            alert = session.exec(
                select(Alert)
                .join(Account, col(Alert.account_id) == col(Account.id))
                .where(Account.name == "BrightOps Agency")
            ).one()
        assert alert.status == "acknowledged" and alert.acknowledged_by == "U0MAYA0001"
    finally:
        engine.dispose()
    assert "database is locked" not in bot.output()
    assert bot.alive(), bot.output()
