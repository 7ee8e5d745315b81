"""Sources that would hang the poll or pretend: a paging cursor that comes back again, an
endless run of empty pages, a HubSpot page whose ``results`` is null or an object.

Each must fail its source with a message that says what the API did, end the poll (the next
source still runs) and leave the run "failed": never "ok, 0 read", never announced to the
admin channel as recovered. Each poll runs in a thread with a deadline, so a regression that
loops shows up as a failed test instead of a hung suite.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bot.infra.settings import AppConfig
from bot.poll.run import PollSummary, SourceOutcome, poll
from bot.slack.config import SlackConfig
from db.engine import SessionFactory
from db.models import PollRun
from sources.base import Source
from sources.crm_config import SalesforceConfig
from sources.salesforce import SalesforceSource
from tests.bot.test_poll import hs_source, usage_source
from tests.fakes import FakeHubSpot, FakeSalesforce, FakeUsageAPI
from tests.faults.conftest import ADMIN_CHANNEL, admin_rows
from tests.sources.conftest import FAST, HS_TOKEN, SF_TOKEN, TODAY, USAGE_TOKEN

CONFIG = AppConfig(slack=SlackConfig(admin_channel=ADMIN_CHANNEL))
DEADLINE = 60.0  # seconds; a guarded poll ends in about one
COMPANIES = "/crm/v3/objects/companies"


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(auth_token=HS_TOKEN, burst_limit=100_000) as fake:
        fake.populate(120, seed=5)
        yield fake


@pytest.fixture
def usage() -> Iterator[FakeUsageAPI]:
    with FakeUsageAPI(auth_token=USAGE_TOKEN) as fake:
        fake.populate(120, seed=5)
        yield fake


@pytest.fixture
def salesforce() -> Iterator[FakeSalesforce]:
    with FakeSalesforce(auth_token=SF_TOKEN) as fake:
        fake.batch_size = 200
        fake.populate(450, seed=5)
        yield fake


def poll_within(factory: SessionFactory, *sources: Source) -> PollSummary:
    """The poll, which must end within DEADLINE seconds."""
    result: list[PollSummary | BaseException] = []

    def work() -> None:
        try:
            result.append(poll(factory, sources, today=TODAY, config=CONFIG))
        except BaseException as exc:
            result.append(exc)

    worker = threading.Thread(target=work, name="poll-under-test", daemon=True)
    worker.start()
    worker.join(DEADLINE)
    assert not worker.is_alive(), f"the poll did not end within {DEADLINE:g} s (paging forever)"
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def source_outcome(summary: PollSummary, name: str) -> SourceOutcome:
    return next(o for o in summary.sources if o.name == name)


def run_status(factory: SessionFactory, run_id: int) -> tuple[str, list[str]]:
    with factory() as session:
        run = session.get(PollRun, run_id)
        assert run is not None
        return run.status, list(run.errors)


def assert_failed(factory: SessionFactory, summary: PollSummary, name: str, *words: str) -> None:
    outcome = source_outcome(summary, name)
    assert outcome.status == "failed", outcome
    assert outcome.error is not None
    for word in words:
        assert word in outcome.error, outcome.error
    status, errors = run_status(factory, outcome.run_id)
    assert status == "failed" and errors[0] == f"error: {outcome.error}"


def test_usage_api_repeating_next_cursor_fails_the_source_and_the_poll_ends(
    factory: SessionFactory, hubspot: FakeHubSpot, usage: FakeUsageAPI
) -> None:
    record = usage.record(usage.account_ids[0])
    usage.inject(
        "/accounts", status=200, body={"data": [record], "next_cursor": "c-7"}, after=1, times=None
    )
    summary = poll_within(factory, usage_source(usage, page_size=50), hs_source(hubspot))
    assert_failed(factory, summary, "usage", "GET /accounts", "'c-7'", "already read")
    assert source_outcome(summary, "hubspot").status == "ok"  # the next source still ran


def test_hubspot_repeating_paging_after_fails_the_source(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    first = hubspot.company_ids[0]
    looping = {
        "results": [{"id": first, "properties": hubspot.company(first)}],
        "paging": {"next": {"after": "20000000099"}},
    }
    hubspot.inject(COMPANIES, method="GET", status=200, body=looping, after=1, times=None)
    summary = poll_within(factory, hs_source(hubspot, page_size=50))
    assert_failed(factory, summary, "hubspot", COMPANIES, "'20000000099'", "loop")


def test_salesforce_repeating_next_records_url_fails_the_source(
    factory: SessionFactory, salesforce: FakeSalesforce
) -> None:
    def same_url_again(req: Any, fired: int) -> dict[str, Any]:
        return {"totalSize": 450, "done": False, "nextRecordsUrl": req.path, "records": []}

    salesforce.inject("/services/data/v62.0/query/", status=200, body=same_url_again, times=None)
    source = SalesforceSource(
        instance_url=salesforce.url,
        token=SF_TOKEN,
        config=SalesforceConfig(batch_size=200),
        http=FAST,
    )
    summary = poll_within(factory, source)
    assert_failed(factory, summary, "salesforce", "/query", "already read")


def test_an_endless_run_of_empty_pages_fails_the_source(
    factory: SessionFactory, usage: FakeUsageAPI
) -> None:
    def empty_page(req: Any, fired: int) -> dict[str, Any]:
        return {"data": [], "next_cursor": f"empty-{fired}"}  # a new cursor every time

    usage.inject("/accounts", status=200, body=empty_page, times=None)
    summary = poll_within(factory, usage_source(usage))
    assert_failed(factory, summary, "usage", "20 empty pages in a row")
    assert len(usage.requests) == 20  # stopped at the bound, not later


@pytest.mark.parametrize("results", [None, {}], ids=["results-null", "results-object"])
def test_hubspot_results_of_the_wrong_shape_fail_and_are_never_announced_as_recovered(
    factory: SessionFactory, hubspot: FakeHubSpot, results: Any
) -> None:
    hubspot.inject(COMPANIES, method="GET", status=503, times=None)  # down: the first warning
    summary = poll_within(factory, hs_source(hubspot))
    assert source_outcome(summary, "hubspot").status == "failed"
    assert len(admin_rows(factory)) == 1

    hubspot.clear_faults()
    hubspot.inject(COMPANIES, method="GET", status=200, body={"results": results}, times=None)
    for _ in range(2):
        summary = poll_within(factory, hs_source(hubspot))
        kind = "null" if results is None else "an object"
        assert_failed(factory, summary, "hubspot", COMPANIES, f"'results' is {kind}")
        assert source_outcome(summary, "hubspot").fetched == 0
    texts = admin_rows(factory)
    assert len(texts) == 1 and not any("healthy again" in t for t in texts), texts

    hubspot.clear_faults()  # really healthy again: now, and only now, the note
    assert poll_within(factory, hs_source(hubspot)).ok
    assert "healthy again" in admin_rows(factory)[-1]
