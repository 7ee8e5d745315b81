"""Tests of the Salesforce fake itself (SOQL, paging, tokens), over real HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from tests.fakes import (
    FakeSalesforce,
)
from tests.fakes.conftest import NOW

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
