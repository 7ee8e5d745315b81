"""A source that answers garbage for an hour: the last good data stays, the admin channel
hears about it once (not on every poll), and once more when the source is healthy again.

An hour of polling is six polls ten minutes apart; nothing in the behaviour depends on the
clock, only on the sequence of runs, so the polls simply run back to back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlmodel import col, select

from bot.infra.settings import AlertPolicy, AppConfig, Settings
from bot.poll.run import PollSummary, poll
from bot.slack.client import make_client
from bot.slack.config import SlackConfig
from bot.slack.routing import Router
from bot.slack.sender import Sender
from db.engine import SessionFactory
from db.models import Snapshot
from tests.bot.test_poll import hs_source, usage_source
from tests.fakes import FakeHubSpot, FakeSlack, FakeUsageAPI
from tests.faults.conftest import ADMIN_CHANNEL, admin_rows
from tests.sources.conftest import hubspot_and_usage

TODAY = date(2026, 11, 22)
CONFIG = AppConfig(
    slack=SlackConfig(admin_channel=ADMIN_CHANNEL, hourly_cap_per_channel=1000),
    alerts=AlertPolicy(post_bands=("priority", "ready"), digest_bands=()),
)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeHubSpot, FakeUsageAPI]]:
    with hubspot_and_usage(30, seed=21) as fakes:
        yield fakes


def run(factory: SessionFactory, hubspot: FakeHubSpot, usage: FakeUsageAPI) -> PollSummary:
    return poll(factory, [hs_source(hubspot), usage_source(usage)], today=TODAY, config=CONFIG)


def status(summary: PollSummary, name: str) -> str:
    return next(o.status for o in summary.sources if o.name == name)


def usage_values(factory: SessionFactory) -> list[tuple[int, int | None, int | None]]:
    with factory() as session:
        rows = session.exec(select(Snapshot).order_by(col(Snapshot.account_id))).all()
    return [(r.account_id, r.seats_used, r.active_users) for r in rows]


def test_an_hour_of_garbage_warns_once_and_keeps_the_last_good_data(
    factory: SessionFactory,
    fakes: tuple[FakeHubSpot, FakeUsageAPI],
    slack: FakeSlack,
) -> None:
    hubspot, usage = fakes
    assert run(factory, hubspot, usage).ok
    good = usage_values(factory)
    assert any(seats is not None for _, seats, _ in good)
    assert admin_rows(factory) == []

    # The usage API breaks: an HTML error page with status 200, then pages of records that
    # are not records at all — six polls, an hour at one poll every ten minutes.
    usage.inject("/accounts", status=200, body="<html><h1>Maintenance</h1></html>", times=3)
    usage.inject(
        "/accounts",
        status=200,
        body={"data": ["garbage", 42, None, [1, 2]], "next_cursor": None},
        times=3,
    )
    for _ in range(6):
        summary = run(factory, hubspot, usage)
        assert status(summary, "hubspot") == "ok"
        usage_run = next(o for o in summary.sources if o.name == "usage")
        assert usage_run.status == "failed" or usage_run.rejected == usage_run.fetched > 0
    assert usage_values(factory) == good  # the last good data is kept
    warnings = admin_rows(factory)
    assert len(warnings) == 1, warnings  # once, not on every poll
    assert "*usage*" in warnings[0] and "not JSON" in warnings[0]

    # Healthy again: one note, then quiet.
    assert run(factory, hubspot, usage).ok
    assert run(factory, hubspot, usage).ok
    notes = admin_rows(factory)
    assert len(notes) == 2 and "healthy again" in notes[1]

    # And the admin channel receives exactly those two messages.
    settings = Settings(slack_bot_token=slack.auth_token, slack_api_url=slack.url)
    client = make_client(settings)
    sender = Sender(
        factory=factory,
        client=client,
        config=CONFIG,
        router=Router(CONFIG, "#expansion", client, factory),
    )
    sender.run_once(limit=500)
    sender.run_once(limit=500)
    admin_posts = [p["text"] for p in slack.posts() if p.get("channel") == ADMIN_CHANNEL]
    assert admin_posts == notes
