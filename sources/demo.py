"""The bundled sample portfolio, expanded into records dated relative to ``today``.

Dates in the file are day counts, so the demo always looks current: a renewal "75 days away"
is 75 days after whatever day the demo runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from importlib import resources
from typing import Any

from scoring.facts import EventKind, Health
from sources.base import JoinPolicy, dump_cursor
from sources.parse import normalize_domain
from sources.records import AccountRecord, Batch, EventRecord, SnapshotRecord

SOURCE = "demo"


def _series(value: Any, index: int) -> Any:
    return value[index] if isinstance(value, list) else value


def load_demo_spec() -> dict[str, Any]:
    text = resources.files("sources").joinpath("data/demo_portfolio.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def demo_batch(today: date, spec: dict[str, Any] | None = None) -> Batch:
    spec = spec or load_demo_spec()
    every = int(spec.get("snapshot_every_days", 30))
    batch = Batch()
    for acct in spec["accounts"]:
        ext = acct["id"]
        owner = acct.get("owner")
        batch.accounts.append(
            AccountRecord(
                source=SOURCE,
                external_id=ext,
                name=acct["name"],
                domain=normalize_domain(acct["domain"]) if acct.get("domain") else None,
                owner_name=owner,
                owner_email=f"{owner.lower().replace(' ', '.')}@example.com" if owner else None,
                segment=acct.get("segment"),
                plan=acct.get("plan"),
                contact_name=acct.get("contact"),
                purchased_on=today - timedelta(days=acct.get("purchased_days_ago", 400)),
            )
        )
        n = len(acct["seats_used"]) if isinstance(acct["seats_used"], list) else 6
        for i in range(n):
            taken_on = today - timedelta(days=every * (n - 1 - i))
            batch.snapshots.append(_snapshot(acct, i, n, taken_on, today))
        for j, event in enumerate(acct.get("events", [])):
            batch.events.append(
                EventRecord(
                    source=SOURCE,
                    external_id=ext,
                    kind=EventKind(event["kind"]),
                    on=today - timedelta(days=event["days_ago"]),
                    detail=event.get("detail", ""),
                    key=f"{ext}-e{j}",
                )
            )
    return batch


def _health(value: str | None) -> Health | None:
    return Health(value) if value else None


def _health_at(value: str | list[str] | None, i: int, last: bool) -> Health | None:
    """A series gives each snapshot's health; a single value is today's, after green months."""
    if isinstance(value, list):
        return _health(_series(value, i))
    return _health(value) if last else Health.GREEN


def _snapshot(acct: dict[str, Any], i: int, n: int, taken_on: date, today: date) -> SnapshotRecord:
    last = i == n - 1
    contact = today - timedelta(days=acct.get("last_contact_days_ago", 14))
    nps_on = today - timedelta(days=acct.get("nps_days_ago", 10_000))
    nps = acct.get("nps") if taken_on >= nps_on and taken_on - nps_on < timedelta(days=30) else None
    features = acct.get("features")
    usage = {k: float(_series(v, i)) for k, v in acct.get("usage", {}).items()}
    at_purchase = acct.get("at_purchase", {})
    return SnapshotRecord(
        source=SOURCE,
        external_id=acct["id"],
        taken_on=taken_on,
        seats_used=_series(acct["seats_used"], i),
        seats_purchased=_series(acct["seats_purchased"], i),
        active_users=_series(acct.get("active_users", acct["seats_used"]), i),
        departments=_series(acct.get("departments"), i),
        headcount=_series(acct.get("headcount"), i),
        annual_revenue=_series(acct.get("annual_revenue"), i),
        usage=usage,
        limits={k: float(v) for k, v in acct.get("limits", {}).items()},
        health=_health_at(acct.get("health"), i, last),
        nps=nps,
        nps_on=nps_on if nps is not None else None,
        open_urgent_tickets=acct.get("urgent_tickets", 0) if last else 0,
        last_contact_on=min(contact, taken_on),
        renewal_on=today + timedelta(days=acct["renewal_in_days"]),
        arr=float(acct["arr"]),
        features_used=features[0] if features else None,
        features_available=features[1] if features else None,
        headcount_at_purchase=at_purchase.get("headcount"),
        departments_at_purchase=at_purchase.get("departments"),
        seats_at_purchase=at_purchase.get("seats"),
        active_users_at_purchase=at_purchase.get("active_users"),
    )


class DemoSource:
    """The sample portfolio as a pollable source (no network): one batch, dated ``today``."""

    name = SOURCE
    policy = JoinPolicy()

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self.spec = spec

    def fetch(self, cursor: str | None, today: date) -> Iterator[Batch]:
        batch = demo_batch(today, self.spec)
        batch.fetched = len(batch.accounts)
        batch.total_hint = batch.fetched
        batch.cursor = dump_cursor({"day": today.isoformat()})
        yield batch

    def close(self) -> None:
        """Nothing to release."""
