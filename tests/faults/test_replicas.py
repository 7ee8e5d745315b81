"""Two replicas of ``expansion-radar run`` on one PostgreSQL database, through a full cycle
(poll, score, deliver): every alert is posted once."""

from __future__ import annotations

import time
from pathlib import Path

from sqlmodel import select

from db.engine import SessionFactory
from db.models import PollRun
from tests.fakes import FakeSlack
from tests.faults.conftest import (
    ADMIN_CHANNEL,
    Bot,
    bot_env,
    pending_posts,
    report,
    tally,
    wait_until,
)

CONFIG = f"""
sources:
  demo:
    enabled: true
  schedule:
    interval_minutes: 1
    rescore_cron: null
alerts:
  post_bands: [priority, ready, candidate]
  digest_bands: []
slack:
  sender_interval_seconds: 1
  hourly_cap_per_channel: 1000
  admin_channel: "{ADMIN_CHANNEL}"
"""


def test_two_replicas_post_each_alert_once(
    tmp_path: Path,
    pg_url: str,
    pg_factory: SessionFactory,
    slack: FakeSlack,
    bots: list[Bot],
) -> None:
    env = bot_env(tmp_path, pg_url, slack, CONFIG)
    one, two = Bot("replica-1", tmp_path, env), Bot("replica-2", tmp_path, env)
    bots += [one, two]
    one.start()
    two.start()
    one.wait_healthy()
    two.wait_healthy()
    wait_until(
        lambda: slack.posts() and pending_posts(pg_factory) == 0,
        timeout=120,
        what="the alerts to be delivered",
    )
    time.sleep(3)  # a few more sender ticks on both replicas: a double would show now
    result = tally(slack, pg_factory)
    report("two replicas, one database", result)
    assert result.owed > 0
    assert (result.posted, result.lost, result.doubled) == (result.owed, 0, 0)

    with pg_factory() as session:
        scoring = session.exec(select(PollRun).where(PollRun.source == "scoring")).all()
    assert scoring and all(r.status == "ok" for r in scoring)
    for bot in (one, two):  # both serve Slack, statelessly, from the shared database
        said = bot.slash(slack, "brightops")
        assert said.status == 200 and "BrightOps" in said.text
        assert bot.alive(), bot.output()
