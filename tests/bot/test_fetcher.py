"""A full read in a helper process: the same batches, cursors, errors and log lines as the
source gives in the poller's own process, over real HTTP to the fakes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.infra.metrics import REGISTRY
from bot.poll.fetcher import ProcessSource
from bot.poll.run import poll_source
from db.engine import SessionFactory
from db.models import Account, Snapshot
from sources.base import JoinPolicy, load_cursor
from sources.crm_config import HubSpotConfig
from sources.http import SourceError
from sources.hubspot import HubSpotSource
from sources.records import Batch
from tests.fakes import FakeHubSpot
from tests.sources.conftest import FAST, HS_TOKEN, TODAY


def build_hubspot(url: str, token: str = HS_TOKEN) -> HubSpotSource:
    config = HubSpotConfig(search_requests_per_second=1000, overlap_seconds=0, batch_size=200)
    return HubSpotSource(url=url, token=token, config=config, http=FAST)


def in_process(url: str, token: str = HS_TOKEN) -> ProcessSource:
    policy = build_hubspot(url, token).policy
    return ProcessSource("hubspot", policy, partial(build_hubspot, url, token))


def read(batches: Iterator[Batch]) -> list[Batch]:
    return list(batches)


def test_a_full_read_in_a_helper_yields_what_the_source_yields(hubspot: FakeHubSpot) -> None:
    hubspot.populate(700, seed=21)
    direct = read(build_hubspot(hubspot.url).fetch(None, TODAY))
    helped = read(in_process(hubspot.url).fetch(None, TODAY))
    assert len(helped) == len(direct) > 3  # several batches of 200 companies
    for mine, theirs in zip(helped, direct, strict=True):
        assert [a.external_id for a in mine.accounts] == [a.external_id for a in theirs.accounts]
        assert mine.accounts == theirs.accounts and mine.snapshots == theirs.snapshots
        assert mine.fetched == theirs.fetched and mine.rejects == theirs.rejects
        assert load_cursor(mine.cursor).keys() == load_cursor(theirs.cursor).keys()
    assert helped[-1].cursor is not None


def test_the_poller_writes_a_helper_read_and_reads_the_delta_in_its_own_process(
    factory: SessionFactory, hubspot: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = hubspot.populate(450, seed=22)
    first = poll_source(factory, in_process(hubspot.url), today=TODAY)
    assert first.status == "ok" and first.created == 450 and first.batches >= 3
    with factory() as session:
        assert session.exec(select(func.count()).select_from(Account)).one() == 450

    def no_child(self: ProcessSource, today: date) -> Iterator[Batch]:
        raise AssertionError("an incremental read must not start a helper process")

    monkeypatch.setattr(ProcessSource, "_in_child", no_child)
    hubspot.set_properties("companies", ids[7], seats_purchased=4321)
    second = poll_source(factory, in_process(hubspot.url), today=TODAY)
    assert second.status == "ok" and second.fetched == 1 and second.changed == 1
    with factory() as session:
        seats = session.exec(select(Snapshot.seats_purchased)).all()
        assert 4321 in seats


def test_a_source_error_in_the_helper_is_the_source_error(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    hubspot.populate(20, seed=23)
    with pytest.raises(SourceError) as caught:
        read(in_process(hubspot.url, token="pat-na1-expired").fetch(None, TODAY))
    direct = build_hubspot(hubspot.url, token="pat-na1-expired")
    with pytest.raises(SourceError) as expected:
        read(direct.fetch(None, TODAY))
    assert str(caught.value) == str(expected.value)
    outcome = poll_source(factory, in_process(hubspot.url, token="pat-na1-expired"), today=TODAY)
    assert outcome.status == "failed" and outcome.error == str(expected.value)


@pytest.fixture
def quiet_httpx() -> Iterator[None]:
    """httpx at WARNING, as ``configure_logging`` sets it (it logs every request at INFO)."""
    logger = logging.getLogger("httpx")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


def test_the_helpers_log_lines_go_through_the_pollers_logging(
    hubspot: FakeHubSpot, caplog: pytest.LogCaptureFixture, quiet_httpx: None
) -> None:
    hubspot.populate(300, seed=24)
    hubspot.rate_limit(times=1, retry_after=0)
    caplog.set_level(logging.INFO)
    batches = read(in_process(hubspot.url).fetch(None, TODAY))
    assert sum(len(b.accounts) for b in batches) == 300
    retries = [r for r in caplog.records if "retry 1/" in r.getMessage()]
    assert retries and retries[0].name == "sources.http"
    assert retries[0].process != os.getpid()  # logged in the helper, handled here
    assert not [r for r in caplog.records if r.name.startswith("httpx")]  # its levels held


class _Broken:
    name = "broken"
    policy = JoinPolicy()

    def fetch(self, cursor: str | None, today: date) -> Iterator[Batch]:
        yield Batch(cursor='{"page": 1}')
        raise ValueError("page 2 is not JSON")

    def close(self) -> None:
        pass


def _dies() -> Any:
    os._exit(3)


class _Hangs(_Broken):
    def fetch(self, cursor: str | None, today: date) -> Iterator[Batch]:
        time.sleep(600)
        yield Batch()


def _fails_to_build() -> Any:
    raise KeyError("hubspot.properties.seats_purchased")


def test_a_bug_in_the_helper_stops_the_read_with_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = ProcessSource("broken", JoinPolicy(), _Broken)
    batches = source.fetch(None, TODAY)
    assert next(batches).cursor == '{"page": 1}'  # what came before the bug arrives
    with pytest.raises(RuntimeError, match="ValueError: page 2 is not JSON"):
        next(batches)
    assert any("Traceback" in r.getMessage() for r in caplog.records)


def test_a_source_that_cannot_be_built_in_the_helper_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = ProcessSource("misconfigured", JoinPolicy(), _fails_to_build)
    with pytest.raises(RuntimeError, match=r"KeyError: 'hubspot\.properties\.seats_purchased'"):
        read(source.fetch(None, TODAY))
    assert any("_fails_to_build" in r.getMessage() for r in caplog.records)


def test_a_helper_that_dies_is_a_failed_read_not_a_hang() -> None:
    source = ProcessSource("doomed", JoinPolicy(), _dies)
    with pytest.raises(SourceError, match=r"stopped unexpectedly \(exit code 3\)"):
        read(source.fetch(None, TODAY))


POLLER = """
import multiprocessing as mp, threading, time
from datetime import date
from bot.poll.fetcher import ProcessSource
from sources.base import JoinPolicy
from tests.bot.test_fetcher import _Hangs
batches = ProcessSource("slow", JoinPolicy(), _Hangs).fetch(None, date(2026, 12, 2))
threading.Thread(target=lambda: next(batches, None), daemon=True).start()
while not mp.active_children():
    time.sleep(0.05)
print(mp.active_children()[0].pid, flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" in state  # exited; only its new parent has not reaped it


def test_a_helper_whose_poller_is_killed_exits() -> None:
    root = Path(__file__).resolve().parents[2]
    poller = subprocess.Popen(
        [sys.executable, "-c", POLLER], cwd=root, stdout=subprocess.PIPE, text=True
    )
    try:
        assert poller.stdout is not None
        helper = int(poller.stdout.readline())
        assert not _gone(helper)
        poller.send_signal(signal.SIGKILL)
        poller.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not _gone(helper) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(helper), "the helper outlived its poller"
    finally:
        poller.kill()


def test_configured_api_sources_are_read_in_helpers_with_their_own_join_policy() -> None:
    from bot.infra.settings import AppConfig, Settings
    from bot.poll.registry import _build, configured_sources

    settings = Settings(
        _env_file=None,
        hubspot_access_token="pat-na1-test",
        usage_api_url="http://127.0.0.1:9/",
        usage_api_token="usage-test",
    )
    usage = {"join_on": ["domain"], "creates_accounts": False}
    config = AppConfig.model_validate({"sources": {"usage": usage}})
    sources = configured_sources(settings, config)
    assert [s.name for s in sources] == ["hubspot", "usage"]
    for source in sources:
        assert isinstance(source, ProcessSource)
        built = _build(source.name, settings, config, None)
        assert source.policy == built.policy
        built.close()
    off = AppConfig.model_validate(
        {"sources": {"usage": usage, "schedule": {"fetch_in_processes": False}}}
    )
    assert not any(isinstance(s, ProcessSource) for s in configured_sources(settings, off))


def test_the_helpers_429s_reach_the_pollers_metrics(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    hubspot.populate(300, seed=25)
    hubspot.rate_limit("TEN_SECONDLY_ROLLING", path_prefix="/crm/v3/objects/companies", times=2)
    before = REGISTRY.get_sample_value(
        "expansion_radar_source_ratelimited_total", {"source": "hubspot"}
    )
    outcome = poll_source(factory, in_process(hubspot.url), today=TODAY)
    assert outcome.status == "ok" and outcome.rate_limited == 2
    after = REGISTRY.get_sample_value(
        "expansion_radar_source_ratelimited_total", {"source": "hubspot"}
    )
    assert (after or 0) - (before or 0) == 2
