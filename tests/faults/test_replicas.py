"""Two replicas of ``expansion-radar run`` on one PostgreSQL database, through a full cycle
(poll, score, deliver): every alert is posted once."""

from __future__ import annotations

from sqlmodel import select

from db.engine import SessionFactory
from db.models import PollRun
from tests.fakes import FakeSlack
from tests.faults.conftest import (
    Bots,
    demo_config,
    posted_once,
    wait_delivered,
)

CONFIG = demo_config(interval_minutes=1)


def test_two_replicas_post_each_alert_once(
    pg_url: str, pg_factory: SessionFactory, slack: FakeSlack, bots: Bots
) -> None:
    env = bots.env(pg_url, CONFIG)
    one, two = bots.start(env, "replica-1"), bots.start(env, "replica-2")
    one.wait_healthy()
    two.wait_healthy()
    wait_delivered(slack, pg_factory, timeout=120, what="the alerts to be delivered")
    result = posted_once(slack, pg_factory, "two replicas, one database")
    assert result.owed > 0

    with pg_factory() as session:
        scoring = session.exec(select(PollRun).where(PollRun.source == "scoring")).all()
    assert scoring and all(r.status == "ok" for r in scoring)
    for bot in (one, two):  # both serve Slack, statelessly, from the shared database
        said = bot.slash(slack, "brightops")
        assert said.status == 200 and "BrightOps" in said.text
        assert bot.alive(), bot.output()
