"""Tests of the HubSpot fake itself, over real HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tests.fakes import (
    FakeHubSpot,
)
from tests.fakes.conftest import NOW, ms


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
