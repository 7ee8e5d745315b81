"""Shadow rules end to end against the fake Slack: a candidate that differs from the live rules
in one threshold (capacity fires at 80% instead of 85%) posts its alerts to its own channel,
marked as shadow, with nothing to act on; the live channel gets exactly what it gets without
shadow rules; nothing is escalated, reminded or digested from the shadow; and
``/expansion stats`` and the weekly summary set the two side by side."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.infra.settings import AppConfig, Settings
from bot.poll.cycle import run_cycle
from bot.slack import jobs
from bot.slack.app import create_app, deps_of
from bot.slack.client import make_client
from bot.slack.deps import Deps
from bot.slack.errors import UserError
from db import migrate
from db.engine import SessionFactory, make_engine, session_factory, transaction
from db.models import Account, Alert, Plan, ShadowAlert
from sources.demo import demo_batch, load_demo_spec
from tests.bot.slack.conftest import (
    BOSS,
    JONAS,
    MAYA,
    SECRET,
    command_body,
    post,
    signed,
    wait_for,
)
from tests.fakes import FakeSlack, validate_blocks

LIVE = "#expansion"
SHADOW = "#expansion-shadow"
DAY0 = date(2026, 10, 1)
DAY1 = DAY0 + timedelta(days=30)
# seats in use of 150 bought: (a month ago, now). Aster 79% → 82%: only 80% fires. Birch
# 73% → 90%: both fire (and its team grew: Ready). Cedar 67% → 70%: neither.
SEATS = {"Aster": (118, 123), "Birch": (110, 135), "Cedar": (100, 105)}
BANDS = ["priority", "ready", "candidate"]  # live and shadow alike: only the threshold differs
CANDIDATE = f"""
scoring:
  triggers:
    capacity_fire: 0.80
    capacity_rearm: 0.75
alerts:
  post_bands: {BANDS}
  digest_bands: []
"""


def live_config(rules: Path | None) -> AppConfig:
    alerts: dict[str, Any] = {"post_bands": BANDS, "digest_bands": []}
    if rules is not None:
        alerts["shadow"] = {"channel": SHADOW, "rules": str(rules)}
    return AppConfig.model_validate(
        {
            "alerts": alerts,
            "slack": {
                "admin_channel": "#radar-admin",
                "hourly_cap_per_channel": 50,
                "escalation": {"target": BOSS, "after_hours": 1, "bands": BANDS},
            },
        }
    )


@pytest.fixture
def config(tmp_path: Path) -> AppConfig:
    rules = tmp_path / "candidate.yml"
    rules.write_text(CANDIDATE, encoding="utf-8")
    return live_config(rules)


def book(day: date, seats: Mapping[str, tuple[int, ...]] = SEATS) -> dict[str, Any]:
    """Copies of one demo account, told apart only by their seats in use: the first value for
    the six months to ``DAY0``, then one value a month (what is known on ``day``)."""
    spec = load_demo_spec()
    model = next(a for a in spec["accounts"] if a["name"] == "Granite Manufacturing")
    months = (day - DAY0).days // 30
    accounts = []
    for name, (before, *after) in seats.items():
        acct = copy.deepcopy(model)
        acct |= {"id": name.upper(), "name": name, "domain": f"{name.lower()}.example"}
        used = ([before] * 6 + after)[: 6 + months]
        acct["seats_used"], acct["departments"], acct["headcount"] = (
            used,
            [3] * len(used),
            [1200] * len(used),
        )
        ago = 200 + (day - DAY0).days  # one outcome, long before either day
        acct["events"] = [{"kind": "outcome", "days_ago": ago, "detail": "scrap rate down 9%"}]
        accounts.append(acct)
    return spec | {"accounts": accounts}


def play(
    factory: SessionFactory,
    config: AppConfig,
    deps: Deps,
    seats: Mapping[str, tuple[int, ...]] = SEATS,
) -> None:
    """Two monthly polls, each followed by the sender."""
    for day in (DAY0, DAY1):
        run_cycle(factory, [demo_batch(day, book(day, seats))], day, config)
        deps.sender.run_once(limit=500)


def cards(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [p for p in slack.posts() if p["channel"] == channel and not p.get("thread_ts")]


def names(posts: list[dict[str, Any]]) -> list[str]:
    return sorted(n for p in posts for n in SEATS if n in p["text"])


@pytest.fixture
def without_shadow(tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    """The live channel's cards when the same history is played with no shadow rules: its own
    database and its own fake Slack."""
    engine = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    migrate.upgrade(engine)
    factory = session_factory(engine)
    with FakeSlack() as fake:
        fake.add_user(JONAS, "jonas.weber@example.com", "jonas", "Jonas Weber")
        settings = Settings(
            slack_bot_token=fake.auth_token,
            slack_signing_secret=SECRET,
            slack_api_url=fake.url,
            expansion_channel=LIVE,
        )
        plain = live_config(None)
        deps = deps_of(create_app(settings, plain, factory, client=make_client(settings)))
        play(factory, plain, deps)
        yield cards(fake, LIVE)
    engine.dispose()


def test_the_shadow_posts_only_to_its_channel_and_the_live_channel_is_unchanged(
    server: tuple[str, Deps],
    slack: FakeSlack,
    factory: SessionFactory,
    config: AppConfig,
    without_shadow: list[dict[str, Any]],
) -> None:
    url, deps = server
    play(factory, config, deps)

    live, shadow = cards(slack, LIVE), cards(slack, SHADOW)
    assert {p["channel"] for p in slack.posts()} == {LIVE, SHADOW}
    # the live channel: exactly what it gets without shadow rules (Birch crossed 85%)
    assert [p["text"] for p in live] == [p["text"] for p in without_shadow]
    assert names(live) == ["Birch"]
    # the shadow channel: the candidate's alerts only (Aster crossed 80% but not 85%)
    assert names(shadow) == ["Aster", "Birch"]
    for card in shadow:
        assert card["text"].startswith("Shadow, not live"), card["text"]
        assert not validate_blocks(card["blocks"])
        assert not [b for b in card["blocks"] if b["type"] == "actions"]  # nothing to act on
        body = str(card["blocks"])
        assert "Shadow alert, not live" in body and "candidate.yml" in body
        assert "<@" not in body and "<!" not in body  # nobody is notified
    with factory() as session:
        assert len(session.exec(select(Alert)).all()) == 1
        assert len(session.exec(select(ShadowAlert)).all()) == 2

    # the same poll again: nothing new anywhere
    before = len(slack.posts())
    run_cycle(factory, [demo_batch(DAY1, book(DAY1))], DAY1, config)
    deps.sender.run_once(limit=500)
    assert len(slack.posts()) == before

    # escalation and the digests read only the live alerts
    later = datetime.now(UTC) + timedelta(hours=2)
    with factory() as session:
        live_ids = [a.id for a in session.exec(select(Alert)).all()]
    assert jobs.escalate_unacknowledged(factory, config, later) == live_ids
    assert jobs.return_snoozed_alerts(factory, config, later) == []
    assert jobs.send_step_reminders(factory, deps.router, config, later) == 0
    morning = later.replace(hour=12, minute=0) + timedelta(days=1)
    jobs.send_daily_digests(factory, deps.router, config, morning)
    deps.sender.clock = lambda: morning
    deps.sender.run_once(limit=500)
    new = slack.posts()[before:]
    assert new, "the live alert was escalated"
    assert not [p for p in new if p["channel"] == SHADOW]
    shadow_ts = {p.get("ts") for p in slack.calls("chat.postMessage") if p["channel"] == SHADOW}
    assert not [p for p in new if p.get("thread_ts") in shadow_ts - {None}]
    assert not [p for p in new if "Aster" in str(p)], "Aster has no live alert to tell anyone of"

    body = command_body(slack, "stats", user=MAYA, rid="stats-shadow")
    assert post(url, body, signed(body)).status_code == 200  # acked at once, answered after
    answer = wait_for(lambda: slack.responses("stats-shadow"))[-1]
    text = str(answer["blocks"])
    assert "Shadow rules candidate.yml (posting in #expansion-shadow)" in text
    assert "Alerts: shadow 2 (2 posted) · live 1 (1 posted)" in text
    assert "1 alerted by both · 1 only by the shadow rules · 0 only by the live rules" in text
    assert "Capacity trigger: fires at 80% of what they bought (live: 85%)" in text
    assert not validate_blocks(answer["blocks"])


def test_stats_and_the_weekly_summary_compare_how_the_alerts_fared(
    make_deps, slack: FakeSlack, factory: SessionFactory, config: AppConfig
) -> None:
    """Shadow alerts take the vote of the live alert of the same trigger; a plan on the
    account within 90 days counts for whichever rule set alerted on it."""
    deps = make_deps(config)
    play(factory, config, deps)
    now = datetime.now(UTC)
    with transaction(factory) as session:
        birch = session.exec(select(Alert)).one()
        birch.feedback = "noise"
        session.add(birch)
        aster = session.exec(select(Account).where(Account.name == "Aster")).one()
        assert aster.id is not None
        session.add(Plan(account_id=aster.id, kind="ninety_day", started_on=now.date()))
    monday = (now + timedelta(days=7 - now.weekday())).replace(hour=10)
    assert jobs.post_weekly_summary(factory, config, LIVE, now=monday)
    deps.sender.clock = lambda: monday
    deps.sender.run_once(limit=500)
    weekly = wait_for(lambda: [p for p in slack.posts() if "weekly summary" in p["text"]])[0]
    text = str(weekly["blocks"])
    assert not validate_blocks(weekly["blocks"])
    assert "Alerts: shadow 2 (2 posted) · live 1 (1 posted)" in text
    # Birch's Noise vote counts on both sides (the same capacity trigger); Aster's plan only
    # on the shadow side, which alerted on it
    assert "Voted Useful: shadow 0% (0/1) · live 0% (0/1)" in text
    assert "Plan started within 90 days: shadow 50% (1/2) · live 0% (0/1)" in text
    assert "Plans won: shadow — · live —" in text


def test_a_flood_of_shadow_alerts_is_one_summary_in_the_shadow_channel(
    make_deps, slack: FakeSlack, factory: SessionFactory, config: AppConfig
) -> None:
    """Turning shadow rules on over a whole book can raise many alerts at once: the shadow
    channel gets the top five and one summary, as a live channel would."""
    many = {f"Aster {i:02d}": (118, 123) for i in range(40)}  # all cross 80%, none 85%
    deps = make_deps(config)
    play(factory, config, deps, many)
    for _ in range(2):
        deps.sender.run_once(limit=500)
    assert cards(slack, LIVE) == []
    shadow = cards(slack, SHADOW)
    summaries = [p for p in shadow if "Shadow rules, not live" in p["text"]]
    assert len(summaries) == 1 and len(shadow) == 6, [p["text"][:50] for p in shadow]
    assert "would have raised 40 alerts in one go" in summaries[0]["text"]
    assert "The other 35 are not posted" in summaries[0]["text"]
    assert not validate_blocks(summaries[0]["blocks"])
    with factory() as session:
        held = session.exec(select(ShadowAlert).where(ShadowAlert.delivery == "summary")).all()
    assert len(held) == 35


def test_the_app_will_not_start_with_the_shadow_channel_as_its_live_channel(
    settings: Settings, factory: SessionFactory, config: AppConfig
) -> None:
    same = settings.model_copy(update={"expansion_channel": SHADOW})
    with pytest.raises(UserError, match="the shadow channel #expansion-shadow is also"):
        create_app(same, config, factory, client=make_client(same))
