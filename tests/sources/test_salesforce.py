"""Salesforce source against the fake Salesforce over real HTTP."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

import pytest

from sources.base import load_cursor
from sources.crm_config import SalesforceConfig, SalesforceFields
from sources.http import AuthError, QuotaExhausted
from sources.records import Batch
from sources.salesforce import SalesforceSource, soql_datetime
from tests.fakes import FakeSalesforce
from tests.sources.conftest import FAST, SF_TOKEN, TODAY, Sleeps


def source(
    fake: FakeSalesforce,
    sleeps: Sleeps | None = None,
    token: str = SF_TOKEN,
    **config: Any,
) -> SalesforceSource:
    return SalesforceSource(
        instance_url=fake.url,
        token=token,
        config=SalesforceConfig(**config),
        http=FAST,
        sleep=sleeps,
    )


def fetch_all(src: SalesforceSource, cursor: str | None = None) -> list[Batch]:
    try:
        return list(src.fetch(cursor, TODAY))
    finally:
        src.close()


def soql(fake: FakeSalesforce) -> list[str]:
    return [r.query["q"] for r in fake.requests if "q" in r.query]


def test_full_sync_follows_next_records_url(salesforce: FakeSalesforce) -> None:
    salesforce.batch_size = 200
    ids = salesforce.populate(450, seed=1)
    batches = fetch_all(source(salesforce, batch_size=200))
    accounts = {a.external_id: a for b in batches for a in b.accounts}
    snaps = {s.external_id: s for b in batches for s in b.snapshots}
    assert sorted(accounts) == sorted(ids)
    pages = [r for r in salesforce.requests if "/query/01g" in r.path]
    assert len(pages) >= 2 + 1  # Accounts: 3 pages (2 via nextRecordsUrl); Opportunities: more
    assert all(r.headers.get("sforce-query-options") == "batchSize=2000" for r in pages)

    first = salesforce.synthetic[0]
    account, snap = accounts[ids[0]], snaps[ids[0]]
    assert account.domain == first.domain  # from Website "www.…"
    assert account.owner_email is not None and account.owner_email.endswith(
        "@radar-test.example.com"
    )
    assert account.plan == first.plan.capitalize()
    assert snap.seats_purchased == first.seats_purchased
    assert snap.renewal_on == first.renewal_date
    assert snap.arr == pytest.approx(first.renewal_amount)
    assert snap.health == (first.health or None)


def test_api_version_is_configurable(salesforce: FakeSalesforce) -> None:
    salesforce.populate(3)
    fetch_all(source(salesforce, api_version="v61.0"))
    assert {r.path.split("/")[3] for r in salesforce.requests} == {"v61.0"}


def test_incremental_on_system_modstamp(salesforce: FakeSalesforce) -> None:
    ids = salesforce.populate(200, seed=2, now=datetime(2025, 6, 1, tzinfo=UTC))
    first = fetch_all(source(salesforce, overlap_seconds=0))
    salesforce.reset_requests()
    salesforce.touch(ids[:4])
    salesforce.update(ids[4], NumberOfEmployees=12345)
    renewal = next(
        o
        for o in salesforce.ids("Opportunity")
        if salesforce.record(o)["AccountId"] == ids[7] and salesforce.record(o)["Type"] == "Renewal"
    )
    salesforce.update(renewal, CloseDate=date(2027, 2, 2), Amount=777.0)

    second = fetch_all(source(salesforce, overlap_seconds=0), first[-1].cursor)
    assert sorted(a.external_id for b in second for a in b.accounts) == sorted(ids[:5])
    snaps = {s.external_id: s for b in second for s in b.snapshots}
    assert snaps[ids[4]].headcount == 12345
    assert snaps[ids[7]].renewal_on == date(2027, 2, 2) and snaps[ids[7]].arr == 777.0
    queries = [unquote_plus(q) for q in soql(salesforce)]
    # Accounts, renewals and Cases changed since the cursor; the champion roles in full (a
    # role removed leaves no record to find by date).
    assert len(queries) == 4 and all("SystemModstamp >= " in q for q in queries[:3])
    assert "FROM Case" in queries[2] and "FROM AccountContactRole" in queries[3]
    since = load_cursor(first[-1].cursor)["since"]
    assert soql_datetime(since) in queries[0]


def test_expired_session_is_a_clear_error(salesforce: FakeSalesforce) -> None:
    salesforce.populate(3)
    salesforce.rotate_token()
    with pytest.raises(AuthError) as caught:
        fetch_all(source(salesforce))
    assert "INVALID_SESSION_ID" in str(caught.value)
    assert "SALESFORCE_ACCESS_TOKEN" in str(caught.value)
    assert SF_TOKEN not in str(caught.value)
    assert salesforce.request_count == 1


def test_request_limit_exceeded_is_reported(salesforce: FakeSalesforce, sleeps: Sleeps) -> None:
    salesforce.populate(3)
    salesforce.exhaust_api_limit()
    with pytest.raises(QuotaExhausted, match="REQUEST_LIMIT_EXCEEDED"):
        fetch_all(source(salesforce, sleeps))
    assert sleeps == []


def test_503_and_429_are_retried(salesforce: FakeSalesforce, sleeps: Sleeps) -> None:
    salesforce.batch_size = 200
    ids = salesforce.populate(300, seed=3)
    salesforce.fail_after(1, "/services/data/v62.0/query/", status=503)
    salesforce.inject("/services/data/v62.0/query", status=429, headers={"Retry-After": "1"})
    batches = fetch_all(source(salesforce, sleeps))
    assert sorted(a.external_id for b in batches for a in b.accounts) == sorted(ids)
    assert any(s >= 1.0 for s in sleeps)


def test_bad_field_mapping_names_the_field(salesforce: FakeSalesforce) -> None:
    salesforce.populate(3)
    fields = SalesforceFields(seats_purchased="Licenses__c")
    with pytest.raises(Exception, match=r"Salesforce refused the query \(INVALID_FIELD"):
        fetch_all(source(salesforce, fields=fields))


def test_bad_values_and_missing_owner(salesforce: FakeSalesforce) -> None:
    salesforce.add_user("005Fk0000000001AAA", "rep@example.com", "Rep One")
    salesforce.add_account(
        "001Fk0000000001AAA",
        {"Name": "Fine", "OwnerId": "005Fk0000000001AAA", "Seats_Purchased__c": 50, "NPS__c": 8},
    )
    salesforce.add_account(
        "001Fk0000000002AAA",
        {
            "Name": "Orphan",
            "OwnerId": "005Fk0000000099AAA",
            "NumberOfEmployees": 10,
            "Health__c": "Chartreuse",
            "Website": "not a domain!",
        },
    )
    batches = fetch_all(source(salesforce))
    accounts = {a.external_id: a for b in batches for a in b.accounts}
    issues: Counter[str] = sum((b.issues for b in batches), Counter())
    assert accounts["001Fk0000000001AAA"].owner_email == "rep@example.com"
    assert accounts["001Fk0000000002AAA"].owner_email is None
    assert issues["owner: unknown Salesforce user"] == 1
    assert issues["health: unknown health value"] == 1
    assert issues["domain: not a domain"] == 1


def test_soql_datetime_is_unquoted_utc_seconds() -> None:
    ms = int(datetime(2026, 5, 20, 20, 49, 32, 999_000, tzinfo=UTC).timestamp() * 1000)
    assert soql_datetime(ms) == "2026-05-20T20:49:32Z"
    assert soql_datetime(ms + int(timedelta(seconds=1).total_seconds() * 1000)) > soql_datetime(ms)
