"""A first sync that finds hundreds of Ready accounts posts one summary, not a day-long drip."""

from __future__ import annotations

import copy
from datetime import date

from sqlmodel import select

from bot.domain.digests import _daily
from bot.infra.settings import AppConfig
from bot.poll.cycle import run_cycle
from bot.poll.opening import post_priority
from bot.slack.config import RoutingConfig, SlackConfig
from bot.slack.deps import Deps
from bot.slack.flood import HELD
from db.engine import SessionFactory
from db.models import Account, Alert, utcnow
from sources.demo import demo_batch, load_demo_spec
from tests.fakes import FakeSlack, validate_blocks

DAY = date(2026, 11, 20)
BOOK = 300


def ready_book(n: int) -> dict:
    """``n`` copies of one Ready demo account (same score), each with its own ARR."""
    spec = load_demo_spec()
    model = next(a for a in spec["accounts"] if a["name"] == "Granite Manufacturing")
    accounts = []
    for i in range(n):
        acct = copy.deepcopy(model)
        acct |= {"id": f"F{i:04d}", "name": f"Flood {i:04d}", "domain": f"flood{i}.example"}
        acct["arr"] = 10_000 + 100 * i  # ties on score, broken by opportunity value
        accounts.append(acct)
    return spec | {"accounts": accounts}


def test_a_first_sync_of_hundreds_posts_one_summary_and_the_top_five(
    make_deps, slack: FakeSlack, factory: SessionFactory
) -> None:
    config = AppConfig(slack=SlackConfig(hourly_cap_per_channel=10), routing=RoutingConfig())
    deps: Deps = make_deps(config)
    result = run_cycle(factory, [demo_batch(DAY, ready_book(BOOK))], DAY, config)
    assert len(result.new_alerts) == BOOK
    for _ in range(3):  # the job runs again and again: nothing more drips out
        deps.sender.run_once(limit=500)
    posts = [p for p in slack.posts() if not p.get("thread_ts")]
    summaries = [p for p in posts if "just became ready" in p["text"]]
    cards = [p for p in posts if p not in summaries]
    assert len(summaries) == 1 and len(cards) == 5, [p["text"][:60] for p in posts]
    summary = summaries[0]
    assert not validate_blocks(summary["blocks"])
    assert (
        "*300 accounts just became ready for an expansion conversation* (Ready 300)"
        in (summary["text"])
    )
    assert "The other 295 are in each owner's App Home" in summary["text"]
    # the five with the most at stake: the largest ARR among equal scores
    top = [f"Flood {i:04d}" for i in range(BOOK - 1, BOOK - 6, -1)]
    assert [name for name in top if name in summary["text"]] == top
    assert all(any(name in c["text"] for name in top) for c in cards)
    with factory() as session:
        alerts = session.exec(select(Alert)).all()
        held = [a for a in alerts if a.delivery == HELD]
        assert len(held) == 295 and all(a.ts is None for a in held)
        owner = session.exec(select(Account.owner_email)).first()
        assert owner is not None
        digest = _daily(session, owner, DAY, None, utcnow())
    assert len(digest.held) == 295 and not digest.new_candidates


def test_a_few_alerts_are_posted_one_by_one_as_before(
    make_deps, slack: FakeSlack, factory: SessionFactory
) -> None:
    config = AppConfig(slack=SlackConfig(hourly_cap_per_channel=50), routing=RoutingConfig())
    deps: Deps = make_deps(config)
    result = run_cycle(factory, [demo_batch(DAY, ready_book(12))], DAY, config)
    deps.sender.run_once(limit=500)
    posts = [p for p in slack.posts() if not p.get("thread_ts")]
    assert len(posts) == len(result.new_alerts) == 12
    assert not any("just became ready" in p["text"] for p in posts)


def test_priority_breaks_equal_scores_by_value_and_stays_under_admin_notes() -> None:
    import db.outbox

    assert post_priority(30, 20_000) > post_priority(30, 10_000) > post_priority(29, 999_999)
    assert post_priority(99, 50_000_000) < db.outbox.ADMIN_PRIORITY
