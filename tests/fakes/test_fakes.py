"""Tests of the fake servers themselves, over real HTTP (httpx, slack_sdk, slack_bolt)."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from tests.fakes import (
    FakeHubSpot,
    FakeSalesforce,
    FakeSlack,
    FakeUsageAPI,
    sign_request,
    synthetic_accounts,
)

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as fake:
        yield fake


@pytest.fixture
def hs_client(hubspot: FakeHubSpot) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {hubspot.auth_token}"}
    with httpx.Client(base_url=hubspot.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def salesforce() -> Iterator[FakeSalesforce]:
    with FakeSalesforce(today=NOW.date()) as fake:
        yield fake


@pytest.fixture
def sf_client(salesforce: FakeSalesforce) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {salesforce.auth_token}"}
    with httpx.Client(base_url=salesforce.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def usage() -> Iterator[FakeUsageAPI]:
    with FakeUsageAPI(page_size=50) as fake:
        yield fake


@pytest.fixture
def usage_client(usage: FakeUsageAPI) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {usage.auth_token}"}
    with httpx.Client(base_url=usage.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> WebClient:
    return WebClient(token=slack.auth_token, base_url=slack.url, timeout=10)


# ---------------------------------------------------------------------------
# base behaviour
# ---------------------------------------------------------------------------


def test_binds_loopback_ephemeral_port_and_records_requests(
    usage: FakeUsageAPI, usage_client: httpx.Client
) -> None:
    assert usage.url.startswith("http://127.0.0.1:")
    assert usage.port > 0
    usage_client.get("/accounts", params={"limit": 5})
    method, path, query, headers, body = usage.requests[-1]
    assert (method, path, query) == ("GET", "/accounts", {"limit": "5"})
    assert headers["authorization"] == f"Bearer {usage.auth_token}"
    assert body == b""
    assert usage.request_count == 1


def test_keep_alive_many_requests_one_connection(
    usage: FakeUsageAPI, usage_client: httpx.Client
) -> None:
    usage.populate(10, seed=1, now=NOW)
    for _ in range(50):
        assert usage_client.get("/accounts").status_code == 200
    assert usage.request_count == 50
    assert not usage.errors


def test_fail_after_n_successes_then_recovers(
    usage: FakeUsageAPI, usage_client: httpx.Client
) -> None:
    usage.populate(10, seed=1, now=NOW)
    usage.fail_after(3, "/accounts", status=502)
    statuses = [usage_client.get("/accounts").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 502, 200]


def test_delay_fault_causes_client_timeout(usage: FakeUsageAPI) -> None:
    usage.inject("/accounts", delay=5.0)
    headers = {"Authorization": f"Bearer {usage.auth_token}"}
    with httpx.Client(base_url=usage.url, headers=headers, timeout=0.3) as client:
        with pytest.raises(httpx.TimeoutException):
            client.get("/accounts")
        # the fault was consumed; the next call is served normally
        assert client.get("/accounts").status_code == 200


def test_drop_fault_closes_connection(usage: FakeUsageAPI, usage_client: httpx.Client) -> None:
    usage.inject("/accounts", drop=True)
    with pytest.raises(httpx.TransportError):
        usage_client.get("/accounts")
    assert usage_client.get("/accounts").status_code == 200


def test_stop_does_not_hang_on_pending_delay() -> None:
    fake = FakeUsageAPI().start()
    fake.inject("/", delay=30.0)
    started = time.monotonic()
    with httpx.Client(base_url=fake.url, timeout=5) as client:

        def call() -> None:
            with contextlib.suppress(httpx.HTTPError):
                client.get("/accounts")

        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.2)
        fake.stop()
        t.join(5)
    assert time.monotonic() - started < 5


def test_synthetic_accounts_deterministic() -> None:
    a = synthetic_accounts(50, seed=7, now=NOW)
    b = synthetic_accounts(50, seed=7, now=NOW)
    assert a == b
    assert len({x.domain for x in a}) == 50
    assert any(x.seats_used > x.seats_purchased for x in a)


# ---------------------------------------------------------------------------
# HubSpot
# ---------------------------------------------------------------------------


def test_hubspot_list_pagination_all_ids_once(
    hubspot: FakeHubSpot, hs_client: httpx.Client
) -> None:
    ids = hubspot.populate(1050, seed=3, now=NOW)
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 100, "properties": "name,seats_purchased,plan"}
        if after:
            params["after"] = after
        resp = hs_client.get("/crm/v3/objects/companies", params=params)
        assert resp.status_code == 200
        assert resp.headers["X-HubSpot-RateLimit-Max"] == "190"
        assert "X-HubSpot-RateLimit-Remaining" in resp.headers
        assert resp.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        body = resp.json()
        pages += 1
        for rec in body["results"]:
            seen.append(rec["id"])
            props = rec["properties"]
            assert all(v is None or isinstance(v, str) for v in props.values())
            assert {"name", "seats_purchased", "plan", "hs_object_id"} <= set(props)
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
    assert pages == 11
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))


def test_hubspot_list_limit_over_100_is_400(hs_client: httpx.Client) -> None:
    resp = hs_client.get("/crm/v3/objects/companies", params={"limit": 101})
    assert resp.status_code == 400
    assert resp.json()["category"] == "VALIDATION_ERROR"


def test_hubspot_auth_failure_body(hubspot: FakeHubSpot) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        resp = httpx.get(hubspot.url + "/crm/v3/objects/companies", headers=headers)
        assert resp.status_code == 401
        body = resp.json()
        assert body["status"] == "error"
        assert body["category"] == "INVALID_AUTHENTICATION"
        assert body["correlationId"]
        assert "Authentication credentials not found" in body["message"]


def test_hubspot_429_injection_with_retry_after(
    hubspot: FakeHubSpot, hs_client: httpx.Client
) -> None:
    hubspot.populate(5, seed=1, now=NOW)
    hubspot.rate_limit("TEN_SECONDLY_ROLLING", retry_after=2)
    resp = hs_client.get("/crm/v3/objects/companies")
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "2"
    body = resp.json()
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["status"] == "error" and body["correlationId"]
    assert hs_client.get("/crm/v3/objects/companies").status_code == 200
    # plain inject(status=429) on search gives the search "secondly" body
    hubspot.inject("/crm/v3/objects/companies/search", status=429)
    resp = hs_client.post("/crm/v3/objects/companies/search", json={"limit": 10})
    assert resp.status_code == 429
    assert resp.json()["message"] == "You have reached your secondly limit."


def test_hubspot_enforced_burst_limit() -> None:
    with FakeHubSpot(burst_limit=3, enforce_rate_limit=True) as fake:
        headers = {"Authorization": f"Bearer {fake.auth_token}"}
        with httpx.Client(base_url=fake.url, headers=headers) as client:
            codes = [client.get("/crm/v3/owners").status_code for _ in range(4)]
            assert codes == [200, 200, 200, 429]
            assert client.get("/crm/v3/owners").json()["policyName"] == "TEN_SECONDLY_ROLLING"


def test_hubspot_search_incremental_window(hubspot: FakeHubSpot, hs_client: httpx.Client) -> None:
    ids = hubspot.populate(300, seed=5, now=NOW - timedelta(days=200))
    changed = ids[10:25]
    hubspot.touch(changed, NOW)
    hubspot.touch(ids[40:42], NOW + timedelta(hours=2))
    body = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "hs_lastmodifieddate",
                        "operator": "GTE",
                        "value": str(ms(NOW)),
                    },
                    {
                        "propertyName": "hs_lastmodifieddate",
                        "operator": "LT",
                        "value": str(ms(NOW + timedelta(hours=1))),
                    },
                ]
            }
        ],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["name", "hs_lastmodifieddate"],
        "limit": 10,
    }
    resp = hs_client.post("/crm/v3/objects/companies/search", json=body)
    assert resp.status_code == 200
    assert "X-HubSpot-RateLimit-Max" not in resp.headers  # no rate headers on search
    page1 = resp.json()
    assert page1["total"] == 15
    assert page1["paging"]["next"]["after"] == "10"
    resp2 = hs_client.post(
        "/crm/v3/objects/companies/search", json=body | {"after": page1["paging"]["next"]["after"]}
    )
    page2 = resp2.json()
    assert "paging" not in page2
    got = [r["id"] for r in page1["results"] + page2["results"]]
    assert sorted(got) == sorted(changed)
    # BETWEEN and GT forms, ISO value accepted too
    between = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "hs_lastmodifieddate",
                        "operator": "BETWEEN",
                        "value": NOW.isoformat(),
                        "highValue": str(ms(NOW + timedelta(hours=3))),
                    }
                ]
            }
        ],
        "limit": 100,
    }
    assert hs_client.post("/crm/v3/objects/companies/search", json=between).json()["total"] == 17
    gt = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": str(ms(NOW))}
                ]
            }
        ],
        "limit": 100,
    }
    assert hs_client.post("/crm/v3/objects/companies/search", json=gt).json()["total"] == 2


def test_hubspot_search_10k_cap(hubspot: FakeHubSpot, hs_client: httpx.Client) -> None:
    hubspot.populate(10_150, seed=9, now=NOW)
    body: dict[str, Any] = {
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        "properties": ["name"],
        "limit": 200,
    }
    seen: set[str] = set()
    after = "0"
    status = 200
    while True:
        resp = hs_client.post("/crm/v3/objects/companies/search", json=body | {"after": after})
        status = resp.status_code
        if status != 200:
            break
        data = resp.json()
        assert data["total"] == 10_150  # total keeps reporting the full count
        seen.update(r["id"] for r in data["results"])
        after = data["paging"]["next"]["after"]
    assert status == 400
    assert after == "10000"
    assert resp.json()["category"] == "VALIDATION_ERROR"
    assert len(seen) == 10_000


def test_hubspot_search_validation(hs_client: httpx.Client) -> None:
    url = "/crm/v3/objects/companies/search"
    assert hs_client.post(url, json={"limit": 201}).status_code == 400
    flt = {"propertyName": "name", "operator": "HAS_PROPERTY"}
    six_groups = {"filterGroups": [{"filters": [flt]} for _ in range(6)]}
    assert hs_client.post(url, json=six_groups).status_code == 400
    seven_filters = {"filterGroups": [{"filters": [flt] * 7}]}
    assert hs_client.post(url, json=seven_filters).status_code == 400
    two_sorts = {"sorts": ["name", "domain"]}
    assert hs_client.post(url, json=two_sorts).status_code == 400


def test_hubspot_deals_and_associations(hubspot: FakeHubSpot, hs_client: httpx.Client) -> None:
    hubspot.add_owner("31000099", "rep@example.com", "Ada", "Lovelace")
    hubspot.add_company(
        "101", {"name": "Acme", "domain": "acme.com", "hubspot_owner_id": "31000099"}, NOW
    )
    hubspot.add_deal(
        "501",
        {"dealname": "Acme renewal", "amount": 1200.5, "closedate": NOW + timedelta(days=30)},
        NOW,
        company_id="101",
    )
    deals = hs_client.get(
        "/crm/v3/objects/deals", params={"associations": "companies", "properties": "amount"}
    ).json()
    rec = deals["results"][0]
    assert rec["properties"]["amount"] == "1200.5"
    assert rec["associations"]["companies"]["results"] == [{"id": "101", "type": "deal_to_company"}]
    v4 = hs_client.get("/crm/v4/objects/deals/501/associations/companies").json()
    assert v4["results"][0]["toObjectId"] == 101
    assert {t["typeId"] for t in v4["results"][0]["associationTypes"]} == {5, 341}
    batch = hs_client.post(
        "/crm/v4/associations/deals/companies/batch/read", json={"inputs": [{"id": "501"}]}
    )
    assert batch.status_code == 200
    assert batch.json()["results"][0]["from"] == {"id": "501"}
    owners = hs_client.get("/crm/v3/owners", params={"email": "rep@example.com"}).json()
    assert owners["results"][0]["id"] == "31000099"
    assert isinstance(owners["results"][0]["userId"], int)
    one = hs_client.get("/crm/v3/objects/companies/101", params={"properties": "hubspot_owner_id"})
    assert one.json()["properties"]["hubspot_owner_id"] == "31000099"
    assert hs_client.get("/crm/v3/objects/companies/999").status_code == 404


def test_hubspot_owners_paging(hubspot: FakeHubSpot, hs_client: httpx.Client) -> None:
    hubspot.populate(500, seed=2, now=NOW)  # -> 10 owners
    seen: list[str] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"after": after} if after else {})
        body = hs_client.get("/crm/v3/owners", params=params).json()
        seen += [o["id"] for o in body["results"]]
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
    assert seen == hubspot.owner_ids
    assert len(seen) == 10


# ---------------------------------------------------------------------------
# Salesforce
# ---------------------------------------------------------------------------

SOQL_ACCOUNTS = (
    "SELECT Id, Name, Website, NumberOfEmployees, AnnualRevenue, OwnerId, Owner.Email, "
    "Seats_Purchased__c, Health__c, NPS__c, Last_Contact__c, Plan__c, SystemModstamp FROM Account"
)


def test_salesforce_soql_paging(salesforce: FakeSalesforce, sf_client: httpx.Client) -> None:
    ids = salesforce.populate(4500, seed=4, now=NOW)
    resp = sf_client.get("/services/data/v62.0/query", params={"q": SOQL_ACCOUNTS})
    assert resp.status_code == 200
    assert re.fullmatch(r"api-usage=\d+/\d+", resp.headers["Sforce-Limit-Info"])
    body = resp.json()
    assert [body["totalSize"], body["done"]] == [4500, False]
    assert len(body["records"]) == 2000
    assert re.fullmatch(r"/services/data/v62\.0/query/01g[A-Z0-9]{15}-2000", body["nextRecordsUrl"])
    seen = [r["Id"] for r in body["records"]]
    pages = 1
    while not body["done"]:
        body = sf_client.get(body["nextRecordsUrl"]).json()
        seen += [r["Id"] for r in body["records"]]
        pages += 1
    assert "nextRecordsUrl" not in body
    assert pages == 3
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    rec = body["records"][0]
    assert rec["attributes"]["type"] == "Account"
    assert rec["attributes"]["url"] == f"/services/data/v62.0/sobjects/Account/{rec['Id']}"
    assert rec["Owner"]["attributes"]["type"] == "User"
    assert "@" in rec["Owner"]["Email"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000", rec["SystemModstamp"])
    assert len(rec["Id"]) == 18


def test_salesforce_batch_size_and_incremental(
    salesforce: FakeSalesforce, sf_client: httpx.Client
) -> None:
    ids = salesforce.populate(30, seed=4, now=NOW - timedelta(days=200))
    salesforce.batch_size = 4
    salesforce.touch(ids[:10], NOW + timedelta(minutes=5))
    soql = (
        "SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp > 2026-01-15T12:00:00Z "
        "ORDER BY SystemModstamp ASC"
    )
    body = sf_client.get("/services/data/v62.0/query", params={"q": soql}).json()
    assert body["totalSize"] == 10 and len(body["records"]) == 4
    got = [r["Id"] for r in body["records"]]
    while not body["done"]:
        body = sf_client.get(body["nextRecordsUrl"]).json()
        got += [r["Id"] for r in body["records"]]
    assert sorted(got) == sorted(ids[:10])
    # batchSize header is clamped to >= 200 and never exceeds the server's batch size
    salesforce.batch_size = 2000
    resp = sf_client.get(
        "/services/data/v62.0/query",
        params={"q": "SELECT Id FROM Account"},
        headers={"Sforce-Query-Options": "batchSize=10"},
    )
    assert len(resp.json()["records"]) == 30


def test_salesforce_opportunities_and_null_owner(
    salesforce: FakeSalesforce, sf_client: httpx.Client
) -> None:
    salesforce.populate(20, seed=4, now=NOW)
    salesforce.add_account("001Fk0000009999AAA", {"Name": "Orphan Co"})
    soql = (
        "SELECT Id, Name, Amount, CloseDate, StageName, AccountId, Account.Name, Owner.Email "
        "FROM Opportunity WHERE Type = 'Renewal' AND IsClosed = false ORDER BY CloseDate DESC"
    )
    body = sf_client.get("/services/data/v62.0/query", params={"q": soql}).json()
    assert body["totalSize"] == 20
    dates = [r["CloseDate"] for r in body["records"]]
    assert dates == sorted(dates, reverse=True)
    assert body["records"][0]["Account"]["attributes"]["type"] == "Account"
    orphan = sf_client.get(
        "/services/data/v62.0/query",
        params={"q": "SELECT Id, Owner.Email FROM Account WHERE Name = 'orphan co'"},
    ).json()
    assert orphan["records"][0]["Owner"] is None


def test_salesforce_event_fields_come_back_typed(
    salesforce: FakeSalesforce, sf_client: httpx.Client
) -> None:
    """The custom Account fields an org keeps for events: dates as YYYY-MM-DD, checkboxes as
    JSON booleans, numbers as numbers, and a checkbox filters as one."""
    salesforce.add_account(
        "001Fk0000000001AAA",
        {
            "Name": "Acme",
            "Last_Win_Date__c": datetime(2026, 1, 10, tzinfo=UTC).date(),
            "Last_Win__c": "Went live",
            "Feature_Requests__c": 3,
            "Onboarding_Complete__c": True,
        },
    )
    salesforce.add_account("001Fk0000000002AAA", {"Name": "Beta"})
    soql = (
        "SELECT Id, Last_Win_Date__c, Last_Win__c, Feature_Requests__c, Onboarding_Complete__c"
        " FROM Account WHERE Onboarding_Complete__c = true"
    )
    body = sf_client.get("/services/data/v62.0/query", params={"q": soql}).json()
    assert body["totalSize"] == 1
    record = {k: v for k, v in body["records"][0].items() if k != "attributes"}
    assert record == {
        "Id": "001Fk0000000001AAA",
        "Last_Win_Date__c": "2026-01-10",
        "Last_Win__c": "Went live",
        "Feature_Requests__c": 3.0,
        "Onboarding_Complete__c": True,
    }


def test_salesforce_errors(salesforce: FakeSalesforce, sf_client: httpx.Client) -> None:
    url = "/services/data/v62.0/query"
    bad = httpx.get(salesforce.url + url, params={"q": "SELECT Id FROM Account"})
    assert bad.status_code == 401
    assert bad.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    malformed = sf_client.get(url, params={"q": "SELEC Id FROM Account"})
    assert malformed.status_code == 400
    assert malformed.json()[0]["errorCode"] == "MALFORMED_QUERY"
    assert "Sforce-Limit-Info" in malformed.headers
    assert sf_client.get(url, params={"q": "SELECT Nope FROM Account"}).json()[0]["errorCode"] == (
        "INVALID_FIELD"
    )
    assert sf_client.get(url, params={"q": "SELECT Id FROM Nope"}).json()[0]["errorCode"] == (
        "INVALID_TYPE"
    )
    quoted = sf_client.get(
        url, params={"q": "SELECT Id FROM Account WHERE SystemModstamp > '2026-01-01T00:00:00Z'"}
    )
    assert quoted.status_code == 400
    salesforce.exhaust_api_limit()
    limited = sf_client.get(url, params={"q": "SELECT Id FROM Account"})
    assert limited.status_code == 403
    assert limited.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert limited.headers["Sforce-Limit-Info"] == "api-usage=100000/100000"


def test_salesforce_token_rotation(salesforce: FakeSalesforce, sf_client: httpx.Client) -> None:
    url = "/services/data/v62.0/query"
    new = salesforce.rotate_token()
    assert sf_client.get(url, params={"q": "SELECT Id FROM Account"}).status_code == 401
    token = httpx.post(
        salesforce.url + "/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
    ).json()
    assert token["access_token"] == new
    assert token["instance_url"] == salesforce.url
    ok = httpx.get(
        token["instance_url"] + url,
        params={"q": "SELECT Id FROM Account"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert ok.status_code == 200 and ok.json() == {"totalSize": 0, "done": True, "records": []}


# ---------------------------------------------------------------------------
# Usage API
# ---------------------------------------------------------------------------


def test_usage_pagination_all_ids_once(usage: FakeUsageAPI, usage_client: httpx.Client) -> None:
    ids = usage.populate(523, seed=6, now=NOW)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        body = usage_client.get("/accounts", params={"cursor": cursor} if cursor else {}).json()
        pages += 1
        seen += [r["account_id"] for r in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 11
    assert seen == ids
    rec = usage.record(ids[0])
    assert set(rec) >= {
        "account_id",
        "seats_used",
        "seats_purchased",
        "active_users",
        "limits",
        "usage",
        "updated_at",
    }


def test_usage_updated_since(usage: FakeUsageAPI, usage_client: httpx.Client) -> None:
    ids = usage.populate(200, seed=6, now=NOW - timedelta(days=30))
    for account_id in ids[100:160]:
        usage.set_record(account_id, updated_at=NOW + timedelta(minutes=1), seats_used=999)
    since = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = usage_client.get("/accounts", params={"updated_since": since, "limit": 25}).json()
    got = [r["account_id"] for r in body["data"]]
    while body["next_cursor"]:
        body = usage_client.get("/accounts", params={"cursor": body["next_cursor"]}).json()
        got += [r["account_id"] for r in body["data"]]
    assert got == ids[100:160]
    assert usage.record(ids[100])["seats_used"] == 999
    assert usage_client.get("/accounts", params={"updated_since": "yesterday"}).status_code == 400
    assert usage_client.get("/accounts", params={"cursor": "garbage!"}).status_code == 400


def test_usage_malformed_records_verbatim(usage: FakeUsageAPI, usage_client: httpx.Client) -> None:
    raws: list[dict[str, Any]] = [
        {"account_id": "acct_bad1", "seats_used": "12", "seats_purchased": "ten"},
        {"account_id": "acct_bad2", "seats_used": None, "seats_purchased": -5, "limits": None},
        {"seats_used": 3},
        {"account_id": 42, "usage": {"api_calls_30d": "n/a"}, "extra": [1, 2]},
    ]
    for raw in raws:
        usage.add_raw(raw)
    body = usage_client.get("/accounts").json()
    assert body["data"] == raws
    assert body["next_cursor"] is None


def test_usage_auth_and_429(usage: FakeUsageAPI, usage_client: httpx.Client) -> None:
    resp = httpx.get(usage.url + "/accounts", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401
    assert resp.json()["error"] == "unauthorized"
    usage.rate_limit(retry_after=3)
    resp = usage_client.get("/accounts")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"
    assert resp.json()["error"] == "rate_limited"


def test_usage_100k_pages_fast() -> None:
    with FakeUsageAPI(page_size=1000) as fake:
        fake.populate(100_000, seed=1, now=NOW)
        started = time.monotonic()
        n = 0
        headers = {"Authorization": f"Bearer {fake.auth_token}"}
        with httpx.Client(base_url=fake.url, headers=headers) as client:
            cursor = None
            while True:
                body = client.get("/accounts", params={"cursor": cursor} if cursor else {}).json()
                n += len(body["data"])
                cursor = body["next_cursor"]
                if cursor is None:
                    break
        assert n == 100_000
        assert time.monotonic() - started < 30


# ---------------------------------------------------------------------------
# Slack
# ---------------------------------------------------------------------------


def test_slack_auth_test_and_post(slack: FakeSlack, web: WebClient) -> None:
    assert web.auth_test()["user_id"] == "U0FAKEBOT"
    r1 = web.chat_postMessage(channel="C111", text="hello")
    r2 = web.chat_postMessage(
        channel="C111",
        text="fallback",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}],
    )
    assert r1["ok"] and r1["channel"] == "C111"
    assert re.fullmatch(r"\d{10}\.\d{6}", r1["ts"])
    assert float(r2["ts"]) > float(r1["ts"])
    assert r2["message"]["blocks"][0]["type"] == "section"
    assert [p["text"] for p in slack.posts()] == ["hello", "fallback"]
    assert slack.calls("auth.test") == [{}]
    upd = web.chat_update(channel="C111", ts=r1["ts"], text="edited")
    assert upd["ts"] == r1["ts"] and upd["text"] == "edited"
    with pytest.raises(SlackApiError) as exc:
        web.chat_update(channel="C111", ts="1.000001", text="x")
    assert exc.value.response["error"] == "message_not_found"
    link = web.chat_getPermalink(channel="C111", message_ts=r1["ts"])
    assert link["permalink"].endswith(r1["ts"].replace(".", ""))
    eph = web.chat_postEphemeral(channel="C111", user="U1", text="psst")
    assert eph["message_ts"]


def test_slack_auth_errors(slack: FakeSlack) -> None:
    bad = WebClient(token="xoxb-wrong", base_url=slack.url)
    with pytest.raises(SlackApiError) as exc:
        bad.auth_test()
    assert exc.value.response.status_code == 200
    assert exc.value.response["error"] == "invalid_auth"
    anon = WebClient(base_url=slack.url)
    with pytest.raises(SlackApiError) as exc:
        anon.chat_postMessage(channel="C1", text="x")
    assert exc.value.response["error"] == "not_authed"


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([{"type": "divider"}] * 51, "/blocks"),
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
            "/blocks/0/text/text",
        ),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "/blocks/0/text/text",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}
                    ],
                }
            ],
            "/blocks/0/elements/0/text/text",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "ok"},
                            "value": "v" * 2001,
                        }
                    ],
                }
            ],
            "/blocks/0/elements/0/value",
        ),
    ],
)
def test_slack_invalid_blocks(
    slack: FakeSlack, web: WebClient, blocks: list[dict[str, Any]], pointer: str
) -> None:
    with pytest.raises(SlackApiError) as exc:
        web.chat_postMessage(channel="C111", text="t", blocks=blocks)
    resp = exc.value.response
    assert resp["error"] == "invalid_blocks"
    assert any(f"[json-pointer:{pointer}]" in e for e in resp["errors"])
    assert resp["response_metadata"]["messages"][0].startswith("[ERROR] ")
    assert slack.posts() == []


def test_slack_limits_at_boundary_are_ok(web: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}] + [
        {"type": "divider"}
    ] * 49
    assert web.chat_postMessage(channel="C1", text="t", blocks=blocks)["ok"]


def test_slack_channel_errors(slack: FakeSlack, web: WebClient) -> None:
    slack.set_channel_error("C404", "channel_not_found")
    slack.set_channel_error("C_OUT", "not_in_channel")
    slack.set_channel_error("C_OLD", "is_archived")
    for channel, error in (
        ("C404", "channel_not_found"),
        ("C_OUT", "not_in_channel"),
        ("C_OLD", "is_archived"),
    ):
        with pytest.raises(SlackApiError) as exc:
            web.chat_postMessage(channel=channel, text="x")
        assert exc.value.response["error"] == error
    with pytest.raises(SlackApiError) as exc, pytest.warns(UserWarning):
        web.chat_postMessage(channel="C1")
    assert exc.value.response["error"] == "no_text"


def test_slack_rate_limit_and_retry(slack: FakeSlack) -> None:
    slack.rate_limit("chat.postMessage", retry_after=0)
    plain = WebClient(token=slack.auth_token, base_url=slack.url)
    with pytest.raises(SlackApiError) as exc:
        plain.chat_postMessage(channel="C1", text="x")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] in ("0", ["0"])
    assert exc.value.response["error"] == "ratelimited"
    slack.rate_limit("chat.postMessage", retry_after=0)
    retrying = WebClient(
        token=slack.auth_token,
        base_url=slack.url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    assert retrying.chat_postMessage(channel="C1", text="x")["ok"]
    slack.inject("/api/chat.postMessage", status=503)
    with pytest.raises(SlackApiError) as exc:
        plain.chat_postMessage(channel="C1", text="x")
    assert exc.value.response.status_code == 503


def test_slack_users_and_dm(slack: FakeSlack, web: WebClient) -> None:
    emails = slack.populate(100, seed=1)
    email, uid = next(iter(emails.items()))
    user = web.users_lookupByEmail(email=email.upper())["user"]
    assert user["id"] == uid and "tz" in user and isinstance(user["tz_offset"], int)
    assert web.users_info(user=uid)["user"]["profile"]["email"] == email
    with pytest.raises(SlackApiError) as exc:
        web.users_lookupByEmail(email="nobody@example.com")
    assert exc.value.response["error"] == "users_not_found"
    dm = web.conversations_open(users=uid)["channel"]["id"]
    assert dm.startswith("D")
    assert web.chat_postMessage(channel=dm, text="hi")["channel"] == dm


def test_slack_unknown_method(web: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        web.api_call("bogus.method")
    assert exc.value.response["error"] == "unknown_method"


def test_slack_views(slack: FakeSlack, web: WebClient) -> None:
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "h"}}],
    }
    pub = web.views_publish(user_id="U1", view=home)["view"]
    assert pub["id"].startswith("V") and pub["type"] == "home"
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Settings"}, "blocks": []}
    opened = web.views_open(trigger_id="123.456.abc", view=modal)["view"]
    with pytest.raises(SlackApiError) as exc:
        web.views_open(trigger_id="123.456.abc", view=modal)
    assert exc.value.response["error"] == "exchanged_trigger_id"
    updated = web.views_update(view_id=opened["id"], view=modal | {"private_metadata": "x"})
    assert updated["view"]["private_metadata"] == "x"
    with pytest.raises(SlackApiError) as exc:
        web.views_open(
            trigger_id="1.2.x",
            view=modal | {"title": {"type": "plain_text", "text": "t" * 25}},
        )
    assert exc.value.response["error"] == "invalid_arguments"
    slack.set_method_error("views.publish", "not_enabled", times=1)
    with pytest.raises(SlackApiError) as exc:
        web.views_publish(user_id="U1", view=home)
    assert exc.value.response["error"] == "not_enabled"


def test_slack_form_encoded_and_json_string_blocks(slack: FakeSlack) -> None:
    blocks = json.dumps([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}])
    resp = httpx.post(
        slack.url + "chat.postMessage",
        content=urlencode({"channel": "C1", "text": "t", "blocks": blocks}),
        headers={
            "Authorization": f"Bearer {slack.auth_token}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert resp.status_code == 200 and resp.json()["error"] == "invalid_blocks"
    resp = httpx.post(slack.url + "auth.test", data={"token": slack.auth_token})
    assert resp.json()["ok"] is True


def test_slack_response_url(slack: FakeSlack) -> None:
    url = slack.url_for_response("abc")
    hook = WebhookClient(url)
    for i in range(5):
        assert hook.send(text=f"reply {i}", response_type="ephemeral").status_code == 200
    assert hook.send(text="sixth").status_code == 404
    assert [p["text"] for p in slack.responses("abc")] == [f"reply {i}" for i in range(5)]


def test_slack_response_url_expires() -> None:
    now = [1_700_000_000.0]
    with FakeSlack(clock=lambda: now[0]) as fake:
        hook = WebhookClient(fake.url_for_response("r1"))
        assert hook.send(text="ok").status_code == 200
        now[0] += 1801
        assert hook.send(text="late").status_code == 404


def test_slack_with_bolt_app(slack: FakeSlack) -> None:
    from slack_bolt import App, BoltRequest

    secret = "test-signing-secret"
    app = App(
        signing_secret=secret,
        client=WebClient(token=slack.auth_token, base_url=slack.url),
        process_before_response=True,  # run the listener inside dispatch()
    )
    assert slack.calls("auth.test")  # Bolt verifies the token at construction

    @app.command("/crm")
    def crm(ack: Any, respond: Any, client: WebClient, command: dict[str, Any]) -> None:
        ack()
        respond(text=f"looked up {command['text']}")
        client.chat_postMessage(channel=command["channel_id"], text="done")

    body = urlencode(
        {
            "command": "/crm",
            "text": "acme",
            "team_id": "T111",
            "channel_id": "C111",
            "user_id": "U111",
            "trigger_id": "1.2.abc",
            "response_url": slack.url_for_response("cmd1"),
        }
    )
    headers: dict[str, str | Sequence[str]] = dict(sign_request(secret, body))
    resp = app.dispatch(BoltRequest(body=body, headers=headers))
    assert resp.status == 200
    assert slack.responses("cmd1")[0]["text"] == "looked up acme"
    assert slack.posts()[-1]["text"] == "done"


def test_sign_request_matches_contract_vector() -> None:
    body = (
        "token=x&team_id=T111&channel_id=C111&user_id=U111&command=%2Fcrm&text=acme&response_url="
        "https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT111%2F1%2Fabc&trigger_id=1.2.abc"
    )
    headers = sign_request("test-signing-secret", body, timestamp=1700000000)
    assert headers["X-Slack-Signature"] == (
        "v0=fef74cfa7c70f51cae7355a860f3244016fcb08164800502b0e5e7f397eafe21"
    )


MARK = {"event_type": "expansion_radar_outbox_posted", "event_payload": {"outbox_id": 7, "v": 1}}


def test_slack_names_a_channel_by_id_and_pages_its_history(
    slack: FakeSlack, web: WebClient
) -> None:
    first = web.chat_postMessage(channel="#general", text="zero")
    cid = first["channel"]
    assert re.fullmatch(r"C[A-Z0-9]{10}", cid) and slack.channel_id("#general") == cid
    for i in range(1, 5):
        web.chat_postMessage(channel="general", text=str(i), metadata=MARK if i == 3 else None)
    with pytest.raises(SlackApiError) as exc:  # names are not accepted by the read methods
        web.conversations_history(channel="#general")
    assert exc.value.response["error"] == "channel_not_found"

    seen: list[str] = []
    cursor = None
    while True:
        page = web.conversations_history(channel=cid, limit=2, cursor=cursor)
        seen += [m["text"] for m in page["messages"]]
        assert all("metadata" not in m for m in page["messages"])  # not without the flag
        cursor = page["response_metadata"]["next_cursor"]
        assert page["has_more"] == bool(cursor)
        if not cursor:
            break
    assert seen == ["4", "3", "2", "1", "zero"]  # newest first

    marked = web.conversations_history(channel=cid, include_all_metadata=True)["messages"]
    assert [m["metadata"] for m in marked if "metadata" in m] == [MARK]
    newer = web.conversations_history(channel=cid, oldest=first["ts"])["messages"]
    assert [m["text"] for m in newer] == ["4", "3", "2", "1"]  # oldest is exclusive
    with pytest.raises(SlackApiError) as exc:
        web.conversations_history(channel=cid, cursor="not-a-cursor")
    assert exc.value.response["error"] == "invalid_cursor"


def test_slack_thread_replies_stay_out_of_the_channel_history(web: WebClient) -> None:
    parent = web.chat_postMessage(channel="#deals", text="parent")
    cid, ts = parent["channel"], parent["ts"]
    web.chat_postMessage(channel=cid, thread_ts=ts, text="reply 1", metadata=MARK)
    web.chat_postMessage(channel=cid, thread_ts=ts, text="reply 2")
    history = web.conversations_history(channel=cid)["messages"]
    assert [m["text"] for m in history] == ["parent"]
    thread = web.conversations_replies(channel=cid, ts=ts, include_all_metadata=True)
    assert [m["text"] for m in thread["messages"]] == ["parent", "reply 1", "reply 2"]
    assert thread["messages"][1]["metadata"] == MARK
    assert "metadata" not in web.conversations_replies(channel=cid, ts=ts)["messages"][1]
    with pytest.raises(SlackApiError) as exc:
        web.conversations_replies(channel=cid, ts="1.000000")
    assert exc.value.response["error"] == "thread_not_found"


def test_slack_lists_channels_in_pages_and_joins_public_ones(
    slack: FakeSlack, web: WebClient
) -> None:
    for i in range(5):
        slack.add_channel(f"team-{i}")
    secret = slack.add_channel("secret", private=True, member=False)
    outside = slack.add_channel("#outside", member=False)
    names: dict[str, str] = {}
    cursor = None
    while True:
        page = web.conversations_list(
            types="public_channel,private_channel", limit=2, cursor=cursor
        )
        names |= {c["name"]: c["id"] for c in page["channels"]}
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert names["outside"] == outside and secret not in names.values()
    assert {f"team-{i}" for i in range(5)} <= set(names)

    with pytest.raises(SlackApiError) as exc:
        web.conversations_history(channel=outside)
    assert exc.value.response["error"] == "not_in_channel"
    assert web.conversations_join(channel=outside)["channel"]["is_member"] is True
    assert web.conversations_history(channel=outside)["messages"] == []
    with pytest.raises(SlackApiError) as exc:
        web.conversations_join(channel=secret)
    assert exc.value.response["error"] == "method_not_supported_for_channel_type"


@pytest.mark.parametrize(
    "metadata",
    [
        {"event_type": "x"},
        {"event_type": "", "event_payload": {}},
        {"event_type": 3, "event_payload": {}},
        {"event_type": "x", "event_payload": "not an object"},
        "not json",
    ],
)
def test_slack_rejects_malformed_message_metadata(web: WebClient, metadata: Any) -> None:
    with pytest.raises(SlackApiError) as exc:
        web.api_call(
            "chat.postMessage", json={"channel": "C111", "text": "hi", "metadata": metadata}
        )
    assert exc.value.response["error"] == "invalid_metadata_format"


def test_slack_answer_late_stores_the_post_before_answering(slack: FakeSlack) -> None:
    impatient = WebClient(token=slack.auth_token, base_url=slack.url, timeout=1, retry_handlers=[])
    late = slack.answer_late("chat.postMessage", 3)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel="#slow", text="did it land?")
    assert time.monotonic() - started < 2.5
    assert late.fired == 1
    assert [m["text"] for m in slack.channel_messages("#slow")] == ["did it land?"]
    assert impatient.chat_postMessage(channel="#slow", text="quick")["ok"]  # the fault is spent
