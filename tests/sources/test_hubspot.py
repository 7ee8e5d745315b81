"""HubSpot source against the fake HubSpot over real HTTP."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from sources.base import dump_cursor, load_cursor
from sources.crm_config import HubSpotConfig, HubSpotProperties
from sources.http import AuthError, QuotaExhausted
from sources.hubspot import HubSpotSource
from sources.records import Batch
from tests.fakes import FakeHubSpot
from tests.sources.conftest import FAST, HS_TOKEN, TODAY, Sleeps

COMPANIES = "/crm/v3/objects/companies"
SEARCH = "/crm/v3/objects/companies/search"


def source(
    fake: FakeHubSpot, sleeps: Sleeps | None = None, token: str = HS_TOKEN, **config: Any
) -> HubSpotSource:
    config.setdefault("search_requests_per_second", 1000)
    return HubSpotSource(
        url=fake.url, token=token, config=HubSpotConfig(**config), http=FAST, sleep=sleeps
    )


def fetch_all(src: HubSpotSource, cursor: str | None = None) -> list[Batch]:
    try:
        return list(src.fetch(cursor, TODAY))
    finally:
        src.close()


def company_id(index: int) -> str:
    return str(20_000_000_001 + index)


def test_full_sync_pages_through_companies_deals_and_owners(hubspot: FakeHubSpot) -> None:
    ids = hubspot.populate(250, seed=1)
    batches = fetch_all(source(hubspot, batch_size=100))
    accounts = [a for b in batches for a in b.accounts]
    assert sorted(a.external_id for a in accounts) == sorted(ids)
    assert len(hubspot.requests_to(COMPANIES)) == 3  # 100 + 100 + 50
    assert len(hubspot.requests_to("/crm/v3/objects/deals")) >= 3  # ~325 deals, 100 a page
    assert [b.cursor is not None for b in batches] == [True] * len(batches)
    assert "run" in load_cursor(batches[0].cursor)  # mid-sync: where to resume
    assert set(load_cursor(batches[-1].cursor)) == {"since"}  # done: changes since the start

    first = hubspot.synthetic[0]
    account = next(a for a in accounts if a.external_id == company_id(0))
    snap = next(s for b in batches for s in b.snapshots if s.external_id == company_id(0))
    owner_email = hubspot._owners[str(31_000_000 + first.owner_index)]["email"]
    assert account.name == first.name and account.domain == first.domain
    assert account.owner_email == owner_email
    assert snap.seats_purchased == first.seats_purchased
    assert snap.headcount == first.employees
    assert snap.renewal_on == first.renewal_date
    assert snap.arr == pytest.approx(first.renewal_amount)
    assert snap.health == (first.health or None)
    assert snap.nps == (first.nps if first.nps is not None and 0 <= first.nps <= 10 else None)


def test_429_with_retry_after_in_the_middle_of_paging(hubspot: FakeHubSpot, sleeps: Sleeps) -> None:
    ids = hubspot.populate(250, seed=2)
    hubspot.fail_after(1, COMPANIES, status=429, headers={"Retry-After": "2"})
    batches = fetch_all(source(hubspot, sleeps))
    got = [a.external_id for b in batches for a in b.accounts]
    assert sorted(got) == sorted(ids)  # every company once, none lost to the 429
    assert len(hubspot.requests_to(COMPANIES)) == 4  # three pages + the refused one
    assert any(2.0 <= s <= 2.3 for s in sleeps)


def test_burst_limit_without_retry_after_holds_every_request_back(
    hubspot: FakeHubSpot, sleeps: Sleeps
) -> None:
    ids = hubspot.populate(20, seed=3)
    hubspot.rate_limit("TEN_SECONDLY_ROLLING", path_prefix=COMPANIES, times=2)
    # Companies only: the tickets' and champions' requests would wait in the window too.
    off = {"enabled": False}
    src = source(hubspot, sleeps, tickets=off, champions=off)
    batches = fetch_all(src)
    assert len([a for b in batches for a in b.accounts]) == len(ids)
    assert src.request_stats.rate_limited == 2  # counted for the poll's metrics
    wait = FAST.rate_limit_wait_seconds or 0
    assert len([s for s in sleeps if 0.5 * wait < s <= wait]) == 2  # the window, scaled down


def test_burst_limit_waits_the_window_the_headers_describe(
    hubspot: FakeHubSpot, sleeps: Sleeps
) -> None:
    hubspot.populate(20, seed=3)
    hubspot.rate_limit("TEN_SECONDLY_ROLLING", path_prefix=COMPANIES, times=1)
    src = HubSpotSource(
        url=hubspot.url,
        token=HS_TOKEN,
        config=HubSpotConfig(  # companies only: later reads would wait in the window too
            burst_window_seconds=3, tickets={"enabled": False}, champions={"enabled": False}
        ),
        http=FAST.model_copy(update={"rate_limit_wait_seconds": None}),
        sleep=sleeps,
    )
    fetch_all(src)
    assert [round(s) for s in sleeps if s > 1] == [10]  # the fake's 10,000 ms window


def test_daily_limit_stops_with_a_clear_error(hubspot: FakeHubSpot, sleeps: Sleeps) -> None:
    hubspot.populate(5, seed=3)
    hubspot.rate_limit("DAILY", path_prefix=COMPANIES)
    with pytest.raises(QuotaExhausted, match="daily API limit"):
        fetch_all(source(hubspot, sleeps))
    assert sleeps == []


def test_502_then_success(hubspot: FakeHubSpot) -> None:
    ids = hubspot.populate(30, seed=4)
    hubspot.inject(COMPANIES, status=502)
    batches = fetch_all(source(hubspot))
    assert len([a for b in batches for a in b.accounts]) == len(ids)


def test_timeout_then_success(hubspot: FakeHubSpot) -> None:
    ids = hubspot.populate(30, seed=4)
    hubspot.inject("/crm/v3/owners", delay=1.2)
    batches = fetch_all(source(hubspot))
    assert len([a for b in batches for a in b.accounts]) == len(ids)


def test_expired_token_is_a_clear_error_without_the_token(hubspot: FakeHubSpot) -> None:
    hubspot.populate(5)
    with pytest.raises(AuthError) as caught:
        fetch_all(source(hubspot, token="pat-na1-expired-0000"))
    message = str(caught.value)
    assert "HUBSPOT_ACCESS_TOKEN" in message and "INVALID_AUTHENTICATION" in message
    assert "pat-na1-expired-0000" not in message
    assert hubspot.request_count == 1  # no retry on a refused token


def test_malformed_companies_are_counted_never_zero(hubspot: FakeHubSpot) -> None:
    hubspot.add_owner(1, "ada@example.com", "Ada", "Lovelace")
    hubspot.add_company(
        1,
        {
            "name": "Good",
            "domain": "good.com",
            "hubspot_owner_id": "1",
            "seats_purchased": "100",
            "nps": "9",
            "health": "Green",
        },
    )
    hubspot.add_company(
        2,
        {
            "name": "Strings",
            "seats_purchased": "lots",
            "numberofemployees": "-5",
            "nps": "14",
            "health": "purple",
            "hubspot_owner_id": "999",
            "annualrevenue": "1000000",
        },
    )
    hubspot.add_company(3, {"name": None, "domain": None})
    hubspot.add_company(4, {"name": "Zero", "seats_purchased": "0", "annualrevenue": "5"})
    hubspot.add_company(5, {"name": "", "domain": "https://www.Fallback.io/about"})
    batches = fetch_all(source(hubspot))
    accounts = {a.external_id: a for b in batches for a in b.accounts}
    snaps = {s.external_id: s for b in batches for s in b.snapshots}
    issues: Counter[str] = sum((b.issues for b in batches), Counter())
    rejects = [r for b in batches for r in b.rejects]

    assert set(accounts) == {"1", "2", "4", "5"}
    assert rejects == ["hubspot:3: no name and no domain: cannot be shown as an account"]
    assert accounts["1"].owner_email == "ada@example.com"
    assert snaps["1"].seats_purchased == 100 and snaps["1"].nps == 9
    assert accounts["2"].owner_email is None
    assert snaps["2"].seats_purchased is None and snaps["2"].headcount is None
    assert snaps["2"].nps is None and snaps["2"].health is None
    assert snaps["4"].seats_purchased is None  # purchased 0 is unknown, not a divisor
    assert accounts["5"].name == "fallback.io" and accounts["5"].domain == "fallback.io"
    assert issues == {
        "seats_purchased: not a number": 1,
        "headcount: negative": 1,
        "nps: outside 0-10": 1,
        "health: unknown health value": 1,
        "owner: unknown HubSpot owner id": 1,
        "seats_purchased: is 0": 1,
        "name: missing; the domain is used as the name": 1,
    }


def test_custom_property_names_and_usage_alias(hubspot: FakeHubSpot) -> None:
    hubspot.add_company(
        7, {"name": "Acme", "licenses": "40", "tier": "Enterprise", "product_account": "acct_7"}
    )
    props = HubSpotProperties(seats_purchased="licenses", plan="tier", usage_id="product_account")
    batches = fetch_all(source(hubspot, properties=props))
    account = batches[-1].accounts[0]
    assert account.plan == "Enterprise" and account.aliases == {"usage": "acct_7"}
    assert batches[-1].snapshots[0].seats_purchased == 40
    asked = hubspot.requests_to(COMPANIES)[0].query["properties"].split(",")
    assert {"licenses", "tier", "product_account"} <= set(asked)


def test_incremental_reads_only_what_changed(hubspot: FakeHubSpot) -> None:
    ids = hubspot.populate(300, seed=6)
    first = fetch_all(source(hubspot, overlap_seconds=0))
    cursor = first[-1].cursor
    hubspot.reset_requests()

    changed = ids[10:15]
    hubspot.set_properties("companies", changed[0], seats_purchased=999)
    hubspot.touch(changed[1:])
    renewal_deal = next(
        d
        for d in hubspot.deal_ids
        if hubspot.deal(d)["dealtype"] == "existingbusiness"
        and str(20_000_000_001 + 100) in hubspot._assoc[("deals", "companies")].get(d, [])
    )
    hubspot.set_properties("deals", renewal_deal, closedate="2027-03-01", amount="54321")

    second = fetch_all(source(hubspot, overlap_seconds=0), cursor)
    accounts = sorted(a.external_id for b in second for a in b.accounts)
    snaps = {s.external_id: s for b in second for s in b.snapshots}
    assert accounts == sorted(changed)
    assert snaps[changed[0]].seats_purchased == 999
    assert snaps[company_id(100)].renewal_on == date(2027, 3, 1)
    assert snaps[company_id(100)].arr == 54321
    assert len(hubspot.requests_to(SEARCH)) == 1
    assert len(hubspot.requests_to("/crm/v3/objects/deals/search")) == 1
    assert len(hubspot.requests_to("/crm/v4/associations/deals/companies/batch/read")) == 1
    assert len([r for r in hubspot.requests if r.path == COMPANIES]) == 0
    assert json.loads(second[-1].cursor or "{}")["since"] > json.loads(cursor or "{}")["since"]


def _ids_once(batches: list[Batch]) -> Counter[str]:
    return Counter(a.external_id for b in batches for a in b.accounts)


def test_search_window_over_10000_is_split_and_reads_each_once(hubspot: FakeHubSpot) -> None:
    ids = hubspot.populate(10_300, seed=7, now=datetime(2025, 1, 1, tzinfo=UTC))
    start = datetime.now(UTC) - timedelta(minutes=30)
    for n in range(0, len(ids), 103):  # 100 distinct modification times over 20 minutes
        hubspot.touch(ids[n : n + 103], start + timedelta(seconds=12 * (n // 103)))
    hubspot.reset_requests()
    cursor = dump_cursor({"since": int((start - timedelta(minutes=1)).timestamp() * 1000)})
    batches = fetch_all(source(hubspot, overlap_seconds=0, batch_size=2000), cursor)
    assert [r for r in hubspot.requests if r.path == COMPANIES] == []  # search, not list
    seen = _ids_once(batches)
    assert len(seen) == len(ids) and set(seen.values()) == {1}
    bodies = [r.json() for r in hubspot.requests_to(SEARCH)]
    assert max(int(b.get("after", 0)) for b in bodies) < 10_000  # past the cap is a 400
    windows = {tuple(f["value"] for f in b["filterGroups"][0]["filters"]) for b in bodies}
    assert len(windows) == 3  # the whole window (over the cap), then its two halves


def test_more_than_10000_in_one_millisecond_walks_by_id(hubspot: FakeHubSpot) -> None:
    ids = hubspot.populate(10_250, seed=8, now=datetime(2025, 1, 1, tzinfo=UTC))
    moment = datetime.now(UTC) - timedelta(minutes=5)
    hubspot.touch(ids, moment)  # a bulk import: every company modified in the same ms
    since = int((moment - timedelta(minutes=1)).timestamp() * 1000)
    hubspot.reset_requests()
    cursor = dump_cursor({"since": since})
    seen = _ids_once(fetch_all(source(hubspot, overlap_seconds=0, batch_size=5000), cursor))
    assert len(seen) == len(ids) and set(seen.values()) == {1}
    bodies = [r.json() for r in hubspot.requests_to(SEARCH)]
    assert any(
        f["propertyName"] == "hs_object_id" for b in bodies for f in b["filterGroups"][0]["filters"]
    )
    assert max(int(b.get("after", 0)) for b in bodies) < 10_000


def test_resume_from_a_mid_sync_cursor(hubspot: FakeHubSpot) -> None:
    ids = hubspot.populate(300, seed=9)
    batches = fetch_all(source(hubspot, batch_size=100))
    middle = batches[1].cursor  # as if the poll crashed after committing the second batch
    done = {a.external_id for b in batches[:2] for a in b.accounts}
    hubspot.reset_requests()
    rest = fetch_all(source(hubspot, batch_size=100), middle)
    again = {a.external_id for b in rest for a in b.accounts}
    assert done | again == set(ids) and not done & again
    assert len([r for r in hubspot.requests if r.path == COMPANIES]) == 1  # only the last page
