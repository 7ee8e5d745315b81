"""kill -9 the bot mid-poll and mid-delivery, restart it, and count what Slack received.

Kill points, chosen honestly:

- mid-poll: HubSpot's third page of companies hangs; the process dies with two batches
  committed (accounts, snapshots, cursor) and the rest unread. The restart resumes from the
  committed cursor once the dead process's poll lease expires.
- mid-delivery: three alerts are posted; Slack has not yet accepted the fourth (the fake
  holds the request and then drops it) when the process dies waiting for Slack. The restart
  must post the fourth and the rest, and never re-post the first three (their channel and ts
  were committed with their delivery). The fourth is left claimed by the dead process; once
  the claim expires its channel's history is checked (it is not there) and it is posted.

Slack accepting a post and the process dying before the database records its ts is covered
in test_delivery.py: the post carries its outbox id and is found in the channel's history.
"""

from __future__ import annotations

from sqlmodel import select

from db.engine import SessionFactory
from db.models import Account
from tests.fakes import FakeSlack
from tests.faults.conftest import (
    POST_EVERY_ALERT,
    Bots,
    hubspot_runs,
    pending_posts,
    posted_once,
    tally,
)
from tests.sources.conftest import HS_TOKEN, USAGE_TOKEN, hubspot_and_usage
from tests.waiting import wait_until

CONFIG = (
    """
scoring:
  gate:
    require_outcome: false  # synthetic accounts carry no outcomes; delivery is under test
sources:
  hubspot:
    page_size: 50
    batch_size: 50
    search_requests_per_second: 1000
    overlap_seconds: 0
  usage:
    metrics:
      api_calls: {usage: usage.api_calls_30d, limit: limits.api_calls_per_month}
      storage_gb: {usage: usage.storage_gb, limit: limits.storage_gb}
  http:
    timeout_seconds: 120
    max_attempts: 2
    backoff_initial_seconds: 0.05
    backoff_max_seconds: 0.1
  schedule:
    interval_minutes: 1
    run_at_start: true
    rescore_cron: null
"""
    + POST_EVERY_ALERT
)


def test_kill_9_mid_poll_and_mid_delivery_posts_every_alert_once(
    pg_url: str, pg_factory: SessionFactory, slack: FakeSlack, bots: Bots
) -> None:
    with hubspot_and_usage(200, seed=11) as (hubspot, usage):
        env = bots.env(
            pg_url,
            CONFIG,
            HUBSPOT_ACCESS_TOKEN=HS_TOKEN,
            HUBSPOT_API_URL=hubspot.url,
            USAGE_API_URL=usage.url,
            USAGE_API_TOKEN=USAGE_TOKEN,
        )

        # 1. Mid-poll: the third page of companies never comes back.
        hang = hubspot.inject(
            "/crm/v3/objects/companies", method="GET", after=2, delay=600, drop=True, times=None
        )
        bot = bots.start(env)
        wait_until(
            lambda: (
                hang.fired >= 1
                and any(r.fetched >= 50 and r.status == "running" for r in hubspot_runs(pg_factory))
            ),
            timeout=120,
            what="the poll to commit a batch and hang on the next page",
        )
        bot.kill()
        hubspot.clear_faults()
        with pg_factory() as session:
            assert len(session.exec(select(Account)).all()) < 200  # really mid-poll
        assert not slack.posts()

        # 2. Mid-delivery: Slack takes three posts, then holds the fourth (and any retry of
        # it) until the kill, never accepting it.
        stall = slack.inject("/api/chat.postMessage", after=3, delay=600, drop=True, times=None)
        bot.start()
        wait_until(
            lambda: stall.fired >= 1,
            timeout=240,  # the dead poll lease expires (30 s), the minute's poll runs
            what="the restarted bot to poll, then block on the fourth post",
        )
        bot.kill()
        slack.clear_faults()
        first = tally(slack, pg_factory)
        assert first.posted == 3 and first.doubled == 0

        # 3. Restart and let it finish.
        bot.start()
        bot.wait_healthy()
        wait_until(
            lambda: pending_posts(pg_factory) == 0,
            timeout=180,  # the dead sender's lease expires (30 s) first
            what="every alert to be delivered",
        )
        result = posted_once(slack, pg_factory, "kill -9 mid-poll and mid-delivery")
        assert result.owed > 3

        with pg_factory() as session:
            assert len(session.exec(select(Account)).all()) == 200  # the poll lost nothing
        killed, *later = hubspot_runs(pg_factory)
        assert killed.status == "failed"  # the killed run, marked when the next poll started
        assert killed.errors[0].startswith("error: abandoned")
        assert "ok" in [r.status for r in later]
        assert bot.alive(), bot.output()
