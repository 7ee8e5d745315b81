"""Re-scoring with helper processes gives the same episodes and alerts as scoring in one
process, empties the queue, and is only used where it pays."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

import db.runs
from bot.infra.settings import AppConfig
from bot.poll import parallel
from bot.poll.run import poll_source, rescore
from db import migrate
from db.engine import SessionFactory, make_engine, session_factory
from db.models import Account, Alert, OutboxMessage, TriggerEpisode
from sources.demo import DemoSource
from tests.sources.conftest import TODAY


def config(processes: int | None) -> AppConfig:
    return AppConfig.model_validate({"sources": {"schedule": {"rescore_processes": processes}}})


def scored(factory: SessionFactory, processes: int, chunk: int) -> tuple[Any, int, str | None]:
    assert poll_source(factory, DemoSource(), today=TODAY).status == "ok"
    return rescore(factory, today=TODAY, config=config(processes), chunk=chunk)


def outcome(session: Session) -> dict[str, Any]:
    keys = {a.id: a.key for a in session.exec(select(Account)).all()}
    episodes = {(keys[e.account_id], e.dedupe_key) for e in session.exec(select(TriggerEpisode))}
    alerts = {
        (keys[a.account_id], a.band, a.score, a.offer, a.state_hash, a.delivery)
        for a in session.exec(select(Alert))
    }
    outbox = sorted((m.kind, m.priority) for m in session.exec(select(OutboxMessage)))
    return {"episodes": episodes, "alerts": alerts, "outbox": outbox}


def test_helpers_score_exactly_as_one_process_does(
    factory: SessionFactory, tmp_path: Path, helper_starts: list[int]
) -> None:
    started = helper_starts
    result, done, error = scored(factory, processes=2, chunk=3)
    assert error is None and started == [2]

    alone = make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    migrate.upgrade(alone)
    serial, serial_done, _ = scored(session_factory(alone), processes=0, chunk=3)
    assert started == [2]  # the second run stayed in this process

    assert done == serial_done > 20
    assert result.new_episodes == serial.new_episodes > 0
    assert len(result.new_alerts) == len(serial.new_alerts) > 0
    assert sorted(result.alert_bands.items()) == sorted(serial.alert_bands.items())
    with factory() as session, session_factory(alone)() as other:
        assert outcome(session) == outcome(other)
        assert db.runs.pending_count(session) == 0
    alone.dispose()


def test_helpers_start_only_for_a_big_queue_on_a_shareable_database(tmp_path: Path) -> None:
    assert parallel.helper_count(None, parallel.MIN_PARALLEL - 1) == 0
    assert parallel.helper_count(3, parallel.MIN_PARALLEL) == 3
    assert parallel.helper_count(0, 10**6) == 0
    assert 0 <= parallel.helper_count(None, 10**6) <= parallel.MAX_HELPERS
    memory = make_engine("sqlite://")
    assert parallel.shareable_url(session_factory(memory)) is None
    on_disk = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert parallel.shareable_url(session_factory(on_disk)) == f"sqlite:///{tmp_path / 'x.db'}"


def test_a_failing_helper_fails_the_run_and_leaves_only_its_accounts_queued(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 1)
    # The helpers are pointed at a database that cannot be opened; this process is not.
    missing = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"
    monkeypatch.setattr(parallel, "shareable_url", lambda _factory: missing)
    assert poll_source(factory, DemoSource(), today=TODAY).status == "ok"
    with factory() as session:
        queued = db.runs.pending_count(session)
    result, done, error = rescore(factory, today=TODAY, config=config(1), chunk=3)
    assert error is not None and "unable to open database file" in error
    assert 0 < done < queued  # this process's chunks were scored and counted
    with factory() as session:
        assert db.runs.pending_count(session) == queued - done
        runs = {r.source: r for r in db.runs.last_poll_runs(session)}
        assert runs["scoring"].status == "failed" and runs["scoring"].fetched == done
    assert result.new_episodes > 0


def test_helpers_are_counted_from_the_cpus_this_process_may_use() -> None:
    assert 1 <= parallel.cpus() <= (os.cpu_count() or 1)
    assert parallel.helper_count(16, parallel.MIN_PARALLEL, sqlite=True) == (
        parallel.MAX_SQLITE_HELPERS
    )
    assert parallel.helper_count(16, parallel.MIN_PARALLEL, sqlite=False) == 16
