"""Shadow rules from a source's wire format to the Slack message: a HubSpot portal's seats in
use, read over HTTP, raise the candidate's alerts in the shadow channel and only the live
rules' in the live channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.infra.settings import AppConfig
from bot.poll.run import poll
from bot.slack.deps import Deps
from db.engine import SessionFactory
from sources.crm_config import HubSpotConfig
from sources.hubspot import HubSpotSource
from tests.bot.crm_e2e import D0, epoch_ms
from tests.bot.slack.test_shadow import CANDIDATE, LIVE, SHADOW, cards, live_config
from tests.fakes import FakeHubSpot, FakeSlack
from tests.sources.conftest import FAST, HS_TOKEN

SEATS = {1: ("Aster", 82), 2: ("Birch", 90), 3: ("Cedar", 75)}  # of 100, after 70 a day before


def source(fake: FakeHubSpot) -> HubSpotSource:
    config = HubSpotConfig.model_validate(
        {
            "properties": {"seats_used": "seats_used"},
            "events": {"last_win": {"kind": "Win", "date": "last_win_date"}},
            "search_requests_per_second": 1000,
            "overlap_seconds": 0,
        }
    )
    return HubSpotSource(url=fake.url, token=HS_TOKEN, config=config, http=FAST)


def portal(fake: FakeHubSpot, *, later: bool) -> None:
    for cid, (name, used) in SEATS.items():
        fake.add_company(
            cid,
            {
                "name": name,
                "domain": f"{name.lower()}.example",
                "seats_purchased": 100,
                "seats_used": used if later else 70,
                "health": "green",
                "last_contact_date": epoch_ms(D0 - timedelta(days=3)),
                "last_win_date": epoch_ms(D0 - timedelta(days=40)),
            },
            updated_at=datetime.now(UTC) - timedelta(minutes=0 if later else 10),
        )


def test_seats_read_from_hubspot_reach_each_channel_by_its_own_rules(
    make_deps, slack: FakeSlack, hubspot: FakeHubSpot, factory: SessionFactory, tmp_path: Path
) -> None:
    rules = tmp_path / "candidate.yml"
    rules.write_text(CANDIDATE, encoding="utf-8")
    config: AppConfig = live_config(rules)
    deps: Deps = make_deps(config)
    for day, later in ((D0, False), (D0 + timedelta(days=1), True)):
        portal(hubspot, later=later)
        summary = poll(factory, [source(hubspot)], today=day, config=config)
        assert summary.ok, summary
        deps.sender.run_once(limit=500)
    live, shadow = cards(slack, LIVE), cards(slack, SHADOW)
    assert len(live) == 1 and "Birch" in live[0]["text"]  # only 90% crossed 85%
    assert sorted(n for p in shadow for n in ("Aster", "Birch", "Cedar") if n in p["text"]) == [
        "Aster",
        "Birch",
    ]  # 82% and 90% crossed 80%; 75% crossed neither
    assert all(p["text"].startswith("Shadow, not live") for p in shadow)
