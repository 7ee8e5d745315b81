"""The generic usage API source against the fake usage API over real HTTP."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sources.base import load_cursor
from sources.config import UsageConfig, UsageFields, UsageMetric
from sources.records import Batch
from sources.usage_api import UsageAPISource
from tests.fakes import FakeUsageAPI
from tests.sources.conftest import FAST, TODAY, USAGE_METRICS, USAGE_TOKEN, Sleeps


def source(
    fake: FakeUsageAPI, config: UsageConfig | None = None, sleeps: Sleeps | None = None
) -> UsageAPISource:
    return UsageAPISource(
        url=fake.url, token=USAGE_TOKEN, config=config or USAGE_METRICS, http=FAST, sleep=sleeps
    )


def fetch_all(src: UsageAPISource, cursor: str | None = None) -> list[Batch]:
    try:
        return list(src.fetch(cursor, TODAY))
    finally:
        src.close()


def small_pages(**changes: Any) -> UsageConfig:
    return USAGE_METRICS.model_copy(update={"page_size": 100, "batch_size": 100, **changes})


def test_multi_page_with_a_429_in_the_middle(usage: FakeUsageAPI, sleeps: Sleeps) -> None:
    ids = usage.populate(350, seed=1)
    usage.fail_after(2, "/accounts", status=429, headers={"Retry-After": "1"})
    batches = fetch_all(source(usage, small_pages(), sleeps))
    snaps = [s for b in batches for s in b.snapshots]
    assert sorted(s.external_id for s in snaps) == sorted(ids)
    assert usage.request_count == 5  # 4 pages + the refused one
    assert 1.0 <= sleeps[0] <= 1.1
    first = usage.synthetic[0]
    snap = next(s for s in snaps if s.external_id == ids[0])
    assert snap.seats_used == first.seats_used
    assert snap.seats_purchased == first.seats_purchased
    assert snap.usage == {"api_calls": first.api_calls_30d, "storage_gb": first.storage_gb}
    assert snap.limits == {
        "api_calls": first.api_calls_limit,
        "storage_gb": first.storage_limit_gb,
    }
    assert batches[0].join_keys[ids[0]].domain == first.domain


def test_incremental_asks_for_updated_since(usage: FakeUsageAPI) -> None:
    old = datetime.now(UTC) - timedelta(days=3)
    usage.add_record({"account_id": "a1", "seats_used": 5, "seats_purchased": 10}, updated_at=old)
    usage.add_record({"account_id": "a2", "seats_used": 6, "seats_purchased": 10}, updated_at=old)
    first = fetch_all(source(usage))
    usage.reset_requests()
    usage.set_record("a2", seats_used=9)
    second = fetch_all(source(usage), first[-1].cursor)
    assert [s.external_id for b in second for s in b.snapshots] == ["a2"]
    assert "updated_since" in usage.requests[0].query
    assert usage.request_count == 1


def test_malformed_records_are_rejected_or_unknown(usage: FakeUsageAPI) -> None:
    usage.add_raw({"account_id": "ok", "seats_used": "12", "seats_purchased": 20})
    usage.add_raw({"account_id": "strings", "seats_used": "twelve", "seats_purchased": "20"})
    usage.add_raw(
        {"account_id": "nulls", "seats_used": None, "seats_purchased": None, "active_users": 3}
    )
    usage.add_raw(
        {"account_id": "negative", "seats_used": -4, "seats_purchased": 10, "active_users": 2}
    )
    usage.add_raw({"account_id": "absurd", "seats_used": 5000, "seats_purchased": 10})
    usage.add_raw({"account_id": "zero", "seats_used": 7, "seats_purchased": 0})
    usage.add_raw(
        {
            "account_id": "types",
            "seats_used": [1],
            "seats_purchased": {"n": 1},
            "limits": "lots",
            "usage": {"api_calls_30d": True},
        }
    )
    usage.add_raw({"seats_used": 1})  # no id
    usage.add_raw(["not", "an", "object"])
    usage.add_raw({"account_id": "ok", "seats_used": 99, "seats_purchased": 100})  # duplicate
    usage.add_raw({"account_id": True, "seats_used": 1})  # a bool is not an id
    batches = fetch_all(source(usage))
    snaps = {s.external_id: s for b in batches for s in b.snapshots}
    rejects = [r for b in batches for r in b.rejects]
    issues: Counter[str] = sum((b.issues for b in batches), Counter())

    assert snaps["ok"].seats_used == 12 and snaps["ok"].seats_purchased == 20
    assert snaps["strings"].seats_used is None and snaps["strings"].seats_purchased == 20
    assert snaps["nulls"].seats_used is None and snaps["nulls"].seats_purchased is None
    assert snaps["negative"].seats_used is None
    assert snaps["absurd"].seats_used is None and snaps["absurd"].seats_purchased == 10
    assert snaps["zero"].seats_purchased is None and snaps["zero"].seats_used == 7
    assert "types" not in snaps  # nothing usable left
    assert len(rejects) == 5
    assert any("duplicate" in r for r in rejects)
    assert any("not an object" in r for r in rejects)
    assert issues["seats_used: not a number"] == 1
    assert issues["seats_used: negative"] == 1
    assert issues["seats_used: more than 10× seats purchased"] == 1
    assert issues["seats_purchased: is 0"] == 1
    assert issues["seats_used: wrong type (list)"] == 1
    assert issues["usage: wrong type (str)"] == 0  # metrics are mapped one by one here
    for snap in snaps.values():  # no bad value ever became a zero
        for name in ("seats_used", "seats_purchased", "active_users"):
            assert getattr(snap, name) != 0


def test_field_mapping_for_another_shape(usage: FakeUsageAPI) -> None:
    usage.add_raw(
        {
            "id": "x-1",
            "org": {"website": "https://www.example.org/"},
            "stats": {"seats": {"used": 45, "paid": 50}, "people": 40},
            "meters": {"events": 900},
            "quota": {"events": 1000},
        }
    )
    config = UsageConfig(
        fields=UsageFields(
            account_id="id",
            domain="org.website",
            seats_used="stats.seats.used",
            seats_purchased="stats.seats.paid",
            active_users="stats.people",
            usage="meters",
            limits="quota",
            updated_at=None,
        )
    )
    batches = fetch_all(source(usage, config))
    snap = batches[-1].snapshots[0]
    assert (snap.seats_used, snap.seats_purchased, snap.active_users) == (45, 50, 40)
    assert snap.usage == {"events": 900} and snap.limits == {"events": 1000}
    assert batches[-1].join_keys["x-1"].domain == "example.org"


def test_metric_mapping_pairs_usage_with_its_limit(usage: FakeUsageAPI) -> None:
    usage.add_raw({"account_id": "m", "u": {"calls": 95}, "l": {"calls_per_month": 100}})
    config = UsageConfig(metrics={"calls": UsageMetric(usage="u.calls", limit="l.calls_per_month")})
    snap = fetch_all(source(usage, config))[-1].snapshots[0]
    assert snap.usage == {"calls": 95} and snap.limits == {"calls": 100}


def test_resume_from_a_mid_sync_cursor(usage: FakeUsageAPI) -> None:
    ids = usage.populate(300, seed=2)
    batches = fetch_all(source(usage, small_pages()))
    middle = batches[0].cursor
    assert load_cursor(middle)["run"]["page"]
    usage.reset_requests()
    rest = fetch_all(source(usage, small_pages()), middle)
    done = {s.external_id for s in batches[0].snapshots}
    again = {s.external_id for b in rest for s in b.snapshots}
    assert done | again == set(ids) and not done & again
    assert "cursor" in usage.requests[0].query


def test_expired_page_cursor_starts_the_pass_again(usage: FakeUsageAPI) -> None:
    ids = usage.populate(120, seed=3)
    cursor = '{"run":{"mode":"full","page":"not-a-real-cursor","until":1},"since":null}'
    batches = fetch_all(source(usage, small_pages()), cursor)
    assert {s.external_id for b in batches for s in b.snapshots} == set(ids)
