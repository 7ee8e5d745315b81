"""A poll killed mid-way (kill -9: no ``finally``, no lease release) must not stay "running".

Once no process holds the poll lease, ``status`` and ``/healthz`` show the run as abandoned;
the next poll marks it failed with the reason, and goes on from the last written batch.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from rich.console import Console
from sqlmodel import select

import db.runs
from bot.infra.health import HealthCheck
from bot.infra.leases import run_exclusively
from bot.infra.settings import AppConfig, Settings
from bot.output.poll_cli import status_view
from bot.poll.run import poll
from db.engine import SessionFactory
from db.models import Account, utcnow
from tests.bot.test_poll import hs_source
from tests.cli import ROOT
from tests.fakes import FakeHubSpot
from tests.faults.conftest import hubspot_runs
from tests.sources.conftest import HS_TOKEN, TODAY
from tests.waiting import wait_until

COMPANIES = "/crm/v3/objects/companies"

# The poller in a child process, as the scheduler runs it: under the poll lease (renewed every
# ttl / 3), reading HubSpot 50 companies a batch.
CHILD = textwrap.dedent(
    """
    import sys
    from datetime import date, timedelta

    from bot.infra.leases import run_exclusively
    from bot.poll.run import poll
    from bot.infra.settings import AppConfig
    from db.engine import make_engine, session_factory
    from sources.config_base import HttpConfig
    from sources.crm_config import HubSpotConfig
    from sources.hubspot import HubSpotSource

    database_url, hubspot_url, token = sys.argv[1:4]
    factory = session_factory(make_engine(database_url))
    source = HubSpotSource(
        url=hubspot_url,
        token=token,
        config=HubSpotConfig(page_size=50, batch_size=50, search_requests_per_second=1000),
        http=HttpConfig(timeout_seconds=600, max_attempts=1),
    )
    run_exclusively(
        factory,
        "poll",
        lambda: poll(factory, [source], today=date(2026, 11, 22), config=AppConfig()),
        ttl=timedelta(seconds=2),
    )
    """
)


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(auth_token=HS_TOKEN, burst_limit=100_000) as fake:
        fake.populate(200, seed=17)
        yield fake


def status_text(factory: SessionFactory, hubspot: FakeHubSpot) -> str:
    settings = Settings(hubspot_access_token=HS_TOKEN, hubspot_api_url=hubspot.url)
    out = Console(file=io.StringIO(), width=400, color_system=None)
    with factory() as session:
        out.print(status_view(session, settings, AppConfig()))
    assert isinstance(out.file, io.StringIO)
    return out.file.getvalue()


def lease_lapsed(factory: SessionFactory) -> bool:
    with factory() as session:
        lease = db.runs.lease_holder(session, "poll")
        if lease is None:
            return False
        expires = lease.expires_at
        return (expires if expires.tzinfo else expires.replace(tzinfo=utcnow().tzinfo)) < utcnow()


def test_a_killed_poll_is_shown_abandoned_then_marked_failed_and_the_next_poll_proceeds(
    database_url: str, factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    # The third page of companies never comes back: the child has written two batches.
    hubspot.inject(COMPANIES, method="GET", after=2, delay=600, drop=True, times=None)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url, hubspot.url, HS_TOKEN],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(
            lambda: any(r.status == "running" and r.fetched >= 100 for r in hubspot_runs(factory)),
            timeout=90,
            what="the child's poll to write two batches and hang on the third page",
        )
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    hubspot.clear_faults()
    [killed] = hubspot_runs(factory)
    assert killed.status == "running"  # nothing of the dead process could finish it

    # Its lease lapses (2 s here, 30 s in production): from then on it shows as abandoned.
    wait_until(lambda: lease_lapsed(factory), timeout=30, what="the dead poller's lease to lapse")
    text = status_text(factory, hubspot)
    assert re.search(r"last run\s+abandoned, .*its process stopped before it finished", text), text
    code, health = HealthCheck(factory, ["hubspot"]).check()
    assert code == 200 and health["sources"]["hubspot"]["last_run"]["status"] == "abandoned"

    # The next poll takes the lease at once, marks the dead run and finishes the read.
    summary = run_exclusively(
        factory,
        "poll",
        lambda: poll(factory, [hs_source(hubspot)], today=TODAY, config=AppConfig()),
    )
    assert summary is not None and summary.ok
    killed_now, latest = hubspot_runs(factory)
    assert killed_now.id == killed.id and killed_now.status == "failed"
    assert killed_now.finished_at is not None
    assert killed_now.errors[0].startswith("error: abandoned: the process running this poll")
    assert latest.status == "ok"
    with factory() as session:
        assert len(session.exec(select(Account)).all()) == 200
        state = db.runs.source_state(session, "hubspot")
        assert state.last_error is not None and state.last_error.startswith("abandoned")
    text = status_text(factory, hubspot)
    assert re.search(r"last run\s+ok", text) and re.search(r"last error\s+.*abandoned", text), text
    code, health = HealthCheck(factory, ["hubspot"]).check()
    assert health["sources"]["hubspot"]["last_run"]["status"] == "ok"
