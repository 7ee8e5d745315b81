"""``expansion-radar poll`` and ``status`` as a user runs them: a real process, real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

import db.runs
from db import migrate
from db.engine import make_engine, session_factory, transaction
from db.models import PollRun, utcnow
from tests.cli import run_cli as cli
from tests.fakes import FakeHubSpot, FakeUsageAPI
from tests.sources.conftest import HS_TOKEN, USAGE_TOKEN, hubspot_and_usage

CONFIG = """
sources:
  http: {max_attempts: 2, backoff_initial_seconds: 0.01, backoff_max_seconds: 0.02}
  hubspot: {search_requests_per_second: 1000}
  usage:
    metrics:
      api_calls: {usage: usage.api_calls_30d, limit: limits.api_calls_per_month}
"""


@pytest.fixture
def fakes() -> Iterator[tuple[FakeHubSpot, FakeUsageAPI]]:
    with hubspot_and_usage(60, seed=21) as fakes:
        yield fakes


def test_poll_then_status(tmp_path: Path, fakes: tuple[FakeHubSpot, FakeUsageAPI]) -> None:
    hubspot, usage = fakes
    (tmp_path / "radar.yml").write_text(CONFIG, encoding="utf-8")
    env = {
        "EXPANSION_RADAR_CONFIG": "radar.yml",
        "HUBSPOT_ACCESS_TOKEN": HS_TOKEN,
        "HUBSPOT_API_URL": hubspot.url,
        "USAGE_API_URL": usage.url,
        "USAGE_API_TOKEN": USAGE_TOKEN,
    }
    first = cli("poll", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "hubspot: done" in first.stdout and "usage: done" in first.stdout
    assert "Re-scored 60 accounts" in first.stdout

    only = cli("poll", "--source", "usage", cwd=tmp_path, env=env)
    assert only.returncode == 0 and "hubspot" not in only.stdout.split("Poll")[-1]

    hubspot.auth_token = "pat-na1-rotated"
    failed = cli("poll", cwd=tmp_path, env=env)
    assert failed.returncode == 1
    assert "HubSpot rejected the access token" in failed.stdout

    status = cli("status", cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    out = status.stdout
    assert "hubspot (HUBSPOT_ACCESS_TOKEN set)" in out and "usage (USAGE_API_URL set" in out
    assert "last error" in out and "HubSpot rejected the access token" in out
    assert "changes since" in out and "accounts waiting to be re-scored" in out
    for secret in (HS_TOKEN, USAGE_TOKEN):
        assert secret not in out and secret not in status.stderr and secret not in failed.stderr

    unknown = cli("poll", "--source", "zendesk", cwd=tmp_path, env=env)
    assert unknown.returncode == 1 and "no configured source named zendesk" in unknown.stderr


def test_poll_waits_its_turn_behind_a_running_poll(
    tmp_path: Path, fakes: tuple[FakeHubSpot, FakeUsageAPI]
) -> None:
    hubspot, _ = fakes
    url = f"sqlite:///{tmp_path / 'radar.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:  # a scheduled poll of another replica, mid-way
        db.runs.acquire_lease(
            session,
            name="poll",
            holder="radar-2:4242:0f1e2d3c",
            now=utcnow(),
            ttl=timedelta(minutes=5),
        )
    (tmp_path / "radar.yml").write_text(CONFIG, encoding="utf-8")
    env = {
        "DATABASE_URL": url,
        "EXPANSION_RADAR_CONFIG": "radar.yml",
        "HUBSPOT_ACCESS_TOKEN": HS_TOKEN,
        "HUBSPOT_API_URL": hubspot.url,
    }
    busy = cli("poll", cwd=tmp_path, env=env)
    assert busy.returncode == 1
    assert "another poll is running (radar-2:4242 until" in busy.stderr, busy.stderr
    assert hubspot.request_count == 0
    with factory() as session:
        assert session.exec(select(PollRun)).all() == []
    engine.dispose()
