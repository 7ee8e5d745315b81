"""Tests of the product-usage API fake itself, over real HTTP."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx

from tests.fakes import (
    FakeUsageAPI,
)
from tests.fakes.conftest import NOW


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
