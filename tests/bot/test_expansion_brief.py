"""The brief's two lines that only the plans know: the discovery call and a comparable
customer (seed 004 step 5)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import db.accounts
import db.plans
from bot.domain.brief import expansion_brief
from bot.domain.plans import close_plan
from bot.domain.portfolio import assess_account
from bot.infra.settings import AppConfig
from bot.poll.cycle import run_cycle
from db.engine import SessionFactory, transaction
from db.models import Plan
from scoring.brief import NO_DISCOVERY, NO_REFERENCE, Brief
from sources.demo import demo_batch
from tests.bot.test_plans import _start as start_plan_for

DAY = date(2026, 11, 20)


def _brief(factory: SessionFactory, key: str) -> Brief:
    with factory() as session:
        account = db.accounts.account_by_key(session, key)
        assert account is not None
        return expansion_brief(session, assess_account(session, account, DAY, AppConfig()))


def _start(factory: SessionFactory, key: str) -> int:
    with transaction(factory) as s:
        plan: Plan = start_plan_for(s, key)[0]
        assert plan.id is not None
        return plan.id


def test_discovery_call_and_comparable_customer_come_from_the_plans(
    factory: SessionFactory,
) -> None:
    run_cycle(factory, [demo_batch(DAY)], DAY, AppConfig())
    before = _brief(factory, "kestrel-media")
    assert (before.discovery, before.reference) == (NO_DISCOVERY, NO_REFERENCE)

    won = _start(factory, "brightops-agency")  # another capacity expansion, won
    with transaction(factory) as s:
        plan = s.get(Plan, won)
        assert plan is not None
        close_plan(s, plan=plan, outcome="won", user_id="U1", arr=5_000)
        plan.closed_at = datetime(2026, 11, 18, 15, tzinfo=UTC)
    kestrel = _start(factory, "kestrel-media")
    brief = _brief(factory, "kestrel-media")
    assert (
        brief.reference == "BrightOps Agency won a capacity expansion worth $5,000 on 18 Nov 2026"
    )
    assert brief.discovery.startswith("planned by ") and "(Opening conversation)" in brief.discovery
    with transaction(factory) as s:
        first = db.plans.plan_steps(s, kestrel)[0]
        first.status = "done"
        first.closed_at = datetime(2026, 11, 19, 10, tzinfo=UTC)
    assert _brief(factory, "kestrel-media").discovery == "held on 19 Nov 2026"
    rows = dict(_brief(factory, "kestrel-media").rows())
    assert rows["Discovery call"] == "held on 19 Nov 2026"
    assert rows["Comparable customer"].startswith("BrightOps Agency won")
    # a different kind of expansion has no comparable customer yet
    assert _brief(factory, "northwind-logistics").reference == NO_REFERENCE
