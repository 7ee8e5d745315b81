"""The poll end to end over real HTTP: fakes -> sources -> database -> re-scoring -> outbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

import db.runs
from bot.infra.settings import AppConfig
from bot.poll.run import PollSummary, poll, poll_source
from bot.poll.runs import SCORING
from db import migrate
from db.engine import SessionFactory, make_engine, session_factory
from db.models import Account, ExternalId, OutboxMessage, PollRun, Snapshot, SourceState
from scoring.config import Gate, ScoringConfig
from sources.base import JoinPolicy, Source
from sources.config import UsageConfig
from sources.crm_config import HubSpotConfig
from sources.hubspot import HubSpotSource
from sources.records import Batch
from sources.usage_api import UsageAPISource
from tests.fakes import FakeHubSpot, FakeUsageAPI
from tests.sources.conftest import FAST, HS_TOKEN, TODAY, USAGE_METRICS, USAGE_TOKEN

# The synthetic portfolios carry no outcomes; the alerts, not seed 004's gate, are under test.
CONFIG = AppConfig(scoring=ScoringConfig(gate=Gate(require_outcome=False)))


def hs_source(fake: FakeHubSpot, token: str = HS_TOKEN, **config: Any) -> HubSpotSource:
    config = {"search_requests_per_second": 1000, "overlap_seconds": 0, **config}
    return HubSpotSource(url=fake.url, token=token, config=HubSpotConfig(**config), http=FAST)


def usage_source(fake: FakeUsageAPI, **config: Any) -> UsageAPISource:
    cfg: UsageConfig = USAGE_METRICS.model_copy(update={"overlap_seconds": 0, **config})
    return UsageAPISource(url=fake.url, token=USAGE_TOKEN, config=cfg, http=FAST)


def run(factory: SessionFactory, *sources: Source, **kw: Any) -> PollSummary:
    return poll(factory, sources, today=TODAY, config=CONFIG, **kw)


def count(session: Session, model: Any, *where: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def outcome(summary: PollSummary, name: str) -> Any:
    return next(o for o in summary.sources if o.name == name)


def test_poll_joins_crm_and_usage_then_reads_only_changes(
    factory: SessionFactory, hubspot: FakeHubSpot, usage: FakeUsageAPI
) -> None:
    ids = hubspot.populate(200, seed=11)
    usage_ids = usage.populate(200, seed=11)
    first = run(factory, hs_source(hubspot), usage_source(usage))
    assert first.ok
    assert outcome(first, "hubspot").created == 200
    assert outcome(first, "usage").unmatched == 0  # every usage record found its company
    assert first.evaluated == 200 and first.scoring.new_episodes > 0
    with factory() as session:
        assert count(session, Account) == 200
        assert count(session, ExternalId, ExternalId.source == "usage") == 200
        snaps = session.exec(select(Snapshot)).all()
        assert len(snaps) == 200  # one per account: CRM and usage merged into today's row
        assert all(s.seats_purchased and s.seats_used is not None for s in snaps)
        runs = {r.source: r for r in db.runs.last_poll_runs(session)}
        assert runs["hubspot"].status == runs["usage"].status == runs[SCORING].status == "ok"
        assert runs[SCORING].episodes == first.scoring.new_episodes
        posts = count(session, OutboxMessage)
        assert posts == len(first.scoring.new_alerts)

    hubspot.reset_requests()
    usage.reset_requests()
    second = run(factory, hs_source(hubspot), usage_source(usage))
    assert second.ok and second.evaluated == 0
    assert second.scoring.new_episodes == 0 and second.scoring.new_alerts == []
    # owners (active, archived), companies and deals search; ticket pipelines, tickets search,
    # champion contacts search
    assert hubspot.request_count == 7
    assert usage.request_count == 1
    with factory() as session:
        assert count(session, OutboxMessage) == posts

    hubspot.set_properties("companies", ids[3], seats_purchased=10_000)
    usage.set_record(usage_ids[5], seats_used=1)
    third = run(factory, hs_source(hubspot), usage_source(usage))
    assert third.evaluated == 2
    assert outcome(third, "hubspot").fetched == 1 and outcome(third, "usage").fetched == 1


def test_expired_token_fails_visibly_and_keeps_the_last_good_data(
    factory: SessionFactory, hubspot: FakeHubSpot, usage: FakeUsageAPI
) -> None:
    hubspot.populate(50, seed=12)
    usage.populate(50, seed=12)
    assert run(factory, hs_source(hubspot), usage_source(usage)).ok
    with factory() as session:
        before = [
            (s.account_id, s.seats_purchased, s.seats_used) for s in session.exec(select(Snapshot))
        ]
        good = session.get(SourceState, "hubspot")
        assert good is not None
        good_cursor, good_success = good.cursor, good.last_success_at

    hubspot.auth_token = "pat-na1-rotated"  # the token we hold has expired
    summary = run(factory, hs_source(hubspot), usage_source(usage))
    failed = outcome(summary, "hubspot")
    assert not summary.ok and failed.status == "failed"
    assert "HubSpot rejected the access token" in (failed.error or "")
    assert outcome(summary, "usage").status == "ok"  # the other source still ran
    with factory() as session:
        after = [
            (s.account_id, s.seats_purchased, s.seats_used) for s in session.exec(select(Snapshot))
        ]
        state = session.get(SourceState, "hubspot")
        run_row = session.get(PollRun, failed.run_id)
        assert after == before
        assert state is not None and run_row is not None
        assert state.cursor == good_cursor and state.last_success_at == good_success
        assert state.last_error and "HUBSPOT_ACCESS_TOKEN" in state.last_error
        assert run_row.status == "failed" and run_row.errors[0].startswith("error: HubSpot")
        stored = " ".join([state.last_error, *run_row.errors])
        assert HS_TOKEN not in stored and "pat-na1-rotated" not in stored


class CrashAfter:
    """A source that dies (a killed process, a lost network) after ``n`` batches."""

    def __init__(self, inner: Source, n: int) -> None:
        self.inner, self.n = inner, n
        self.name, self.policy = inner.name, inner.policy
        self.cursors: list[str | None] = []

    def fetch(self, cursor: str | None, today: date) -> Iterator[Batch]:
        for i, batch in enumerate(self.inner.fetch(cursor, today)):
            if i == self.n:
                raise RuntimeError("power cut")
            self.cursors.append(batch.cursor)
            yield batch

    def close(self) -> None:
        self.inner.close()


def test_a_crash_resumes_from_the_last_committed_cursor(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    ids = hubspot.populate(300, seed=13)
    crashing = CrashAfter(hs_source(hubspot, batch_size=100), 2)
    result = poll_source(factory, crashing, today=TODAY)
    assert result.status == "failed" and "power cut" in (result.error or "")
    with factory() as session:
        assert count(session, Account) == 200  # two batches committed, nothing half-written
        state = session.get(SourceState, "hubspot")
        assert state is not None and state.cursor == crashing.cursors[-1]
        assert db.runs.pending_count(session) == 200  # queued for re-scoring, not lost
    hubspot.reset_requests()
    again = run(factory, hs_source(hubspot, batch_size=100))
    assert again.ok and outcome(again, "hubspot").fetched == 100
    assert len([r for r in hubspot.requests if r.path == "/crm/v3/objects/companies"]) == 1
    with factory() as session:
        assert count(session, Account) == len(ids)
        assert count(session, ExternalId) == len(ids)
        assert db.runs.pending_count(session) == 0


def test_a_database_error_rolls_back_that_batch_and_its_cursor(
    factory: SessionFactory, hubspot: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    hubspot.populate(300, seed=14)
    real = db.runs.mark_pending
    calls = {"n": 0}

    def flaky(session: Session, *, account_ids: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        real(session, account_ids=account_ids)

    monkeypatch.setattr(db.runs, "mark_pending", flaky)
    result = poll_source(factory, hs_source(hubspot, batch_size=100), today=TODAY)
    assert result.status == "failed" and "disk full" in (result.error or "")
    with factory() as session:
        assert count(session, Account) == 100  # the second batch is gone with its cursor
    monkeypatch.setattr(db.runs, "mark_pending", real)
    assert run(factory, hs_source(hubspot, batch_size=100)).ok
    with factory() as session:
        assert count(session, Account) == 300


def test_malformed_records_are_counted_on_the_run(
    factory: SessionFactory, usage: FakeUsageAPI
) -> None:
    usage.add_raw({"account_id": "a", "seats_used": -1, "seats_purchased": 5})
    usage.add_raw({"account_id": "b", "seats_used": "many"})
    usage.add_raw({"no": "id"})
    usage.add_raw({"account_id": "c", "seats_used": 3, "domain": "nobody.example"})
    summary = run(factory, usage_source(usage))
    result = outcome(summary, "usage")
    assert (result.fetched, result.rejected, result.unmatched) == (4, 2, 2)  # b, no id; a, c
    assert result.issues["seats_used: negative"] == 1
    with factory() as session:
        row = session.get(PollRun, result.run_id)
        assert row is not None and (row.rejected, row.unmatched) == (2, 2)
        assert "unknown field — seats_used: negative: 1" in row.errors
        assert any("usage:c (domain nobody.example): no account matches" in e for e in row.errors)
        assert count(session, Account) == 0  # usage records never invent accounts


def test_ten_thousand_accounts_then_a_delta_poll(
    tmp_path: Path, hubspot: FakeHubSpot, usage: FakeUsageAPI
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'big.db'}")
    migrate.upgrade(engine)
    factory = session_factory(engine)
    ids = hubspot.populate(10_000, seed=15)
    usage.populate(10_000, seed=15)
    hubspot.record_requests = usage.record_requests = False

    started = time.monotonic()
    first = run(factory, hs_source(hubspot), usage_source(usage))
    took = time.monotonic() - started
    assert first.ok and first.evaluated == 10_000, first
    assert outcome(first, "usage").unmatched == 0
    alerts = len(first.scoring.new_alerts) + len(first.scoring.digest_alerts)
    assert alerts > 0
    assert took < 60

    hubspot.reset_requests()
    usage.reset_requests()
    second = run(factory, hs_source(hubspot), usage_source(usage))
    assert second.ok
    # only the delta is asked for (4 requests, and 3 for tickets and champions)
    assert hubspot.request_count == 7 and usage.request_count == 1
    assert second.evaluated == 0 and second.scoring.new_episodes == 0
    assert second.scoring.new_alerts == second.scoring.digest_alerts == []

    hubspot.touch(ids[:100])  # 1% changed
    hubspot.reset_requests()
    third = run(factory, hs_source(hubspot), usage_source(usage))
    assert outcome(third, "hubspot").fetched == 100 and third.evaluated == 0  # same values
    assert hubspot.request_count == 7  # as above
    with factory() as session:
        assert count(session, Account) == 10_000
        assert count(session, Snapshot) == 10_000


def test_one_failing_source_does_not_stop_the_next(
    factory: SessionFactory, hubspot: FakeHubSpot, usage: FakeUsageAPI
) -> None:
    usage.add_record({"account_id": "x", "seats_used": 1, "seats_purchased": 2})
    summary = run(factory, hs_source(hubspot, token="wrong"), usage_source(usage))
    assert [o.status for o in summary.sources] == ["failed", "ok"]


class Empty:
    name = "empty"
    policy = JoinPolicy()

    def fetch(self, cursor: str | None, today: date) -> Iterator[Batch]:
        yield Batch(cursor='{"since":1}')

    def close(self) -> None:
        pass


def test_rescore_all_queues_every_account(factory: SessionFactory, hubspot: FakeHubSpot) -> None:
    hubspot.populate(20, seed=16)
    run(factory, hs_source(hubspot))
    summary = run(factory, Empty(), rescore_all=True)
    assert summary.evaluated == 20
    assert summary.scoring.new_episodes == 0  # same day, same facts: nothing new
