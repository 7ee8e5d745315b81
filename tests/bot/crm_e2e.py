"""What the end-to-end tests of CRM data (dated facts, events, tickets and champions) share:
a poll that must succeed, a company in the fake HubSpot, and reading back what was stored and
what the scoring makes of it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import select

import db.accounts
import db.facts
from bot.infra.settings import AppConfig
from bot.poll.run import PollSummary, poll
from db.engine import SessionFactory
from db.models import TriggerEpisode
from scoring.evidence import Signal, SignalKey
from scoring.facts import AccountFacts
from scoring.signals import readiness_signals
from sources.base import Source
from tests.fakes import FakeHubSpot, FakeSalesforce

CONFIG = AppConfig()
D0 = date(2026, 11, 22)
MODIFIED = datetime(2026, 11, 1, tzinfo=UTC)


def run(factory: SessionFactory, day: date, *sources: Source) -> PollSummary:
    """One poll of ``sources`` on ``day``, which must succeed."""
    summary = poll(factory, list(sources), today=day, config=CONFIG)
    assert summary.ok, summary
    return summary


def company(fake: FakeHubSpot, cid: int, **properties: Any) -> None:
    """A company with a name, a domain and 100 seats, and ``properties`` besides."""
    base = {"name": f"Company {cid}", "domain": f"c{cid}.example", "seats_purchased": 100}
    fake.add_company(cid, base | properties, updated_at=MODIFIED)


def acme(fake: FakeSalesforce, **fields: Any) -> str:
    """Acme, an Account at acme.example with ``fields`` besides; its id."""
    account = "001000000000001AAA"
    fake.add_account(
        account, {"Name": "Acme", "Website": "acme.example", **fields}, modstamp=MODIFIED
    )
    return account


def epoch_ms(day: date) -> str:
    """A HubSpot date property as the v3 spec's example sends it: midnight UTC, epoch ms."""
    return str(int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000))


def facts_of(factory: SessionFactory, source: str, external_id: str) -> AccountFacts:
    """The scoring input of the account that ``source`` knows as ``external_id``."""
    with factory() as session:
        ids = db.accounts.external_id_map(session, source=source, external_ids=[external_id])
        return db.facts.load_facts_many(session, account_ids=ids.values())[ids[external_id]]


def signals(facts: AccountFacts, day: date) -> dict[SignalKey, Signal]:
    return {s.key: s for s in readiness_signals(facts, day, CONFIG.scoring)}


def count(factory: SessionFactory, model: Any) -> int:
    """How many rows ``model``'s table holds."""
    with factory() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def episode_kinds(factory: SessionFactory) -> Counter[str]:
    with factory() as session:
        return Counter(session.exec(select(TriggerEpisode.kind)).all())
