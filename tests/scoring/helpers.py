"""Builders for scoring inputs: a quiet, healthy baseline that each test changes one thing in."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from scoring.facts import AccountFacts, Event, EventKind, Health, Snapshot

TODAY = date(2026, 11, 20)  # a Friday, mid-quarter (fiscal year starting in January)


def snap(days_ago: int = 0, **kw: Any) -> Snapshot:
    base: dict[str, Any] = {
        "seats_used": 50,
        "seats_purchased": 100,
        "active_users": 50,
        "departments": 2,
        "headcount": 200,
        "annual_revenue": 1_000_000.0,
        "health": Health.GREEN,
        "nps": None,
        "open_urgent_tickets": 0,
        "last_contact_on": TODAY - timedelta(days=10),
        "renewal_on": TODAY + timedelta(days=300),
        "arr": 50_000.0,
        "features_used": 15,
        "features_available": 20,
    }
    base.update(kw)
    return Snapshot(taken_on=TODAY - timedelta(days=days_ago), **base)


def account(
    *history: Snapshot, events: tuple[Event, ...] = (), name: str = "Acme", **kw: Any
) -> AccountFacts:
    hist = list(history) or [snap(60), snap(0)]
    return AccountFacts(
        account_id=kw.pop("account_id", "acme"), name=name, history=hist, events=events, **kw
    )


def event(kind: EventKind, days_ago: int, detail: str = "", key: str = "") -> Event:
    return Event(kind, TODAY - timedelta(days=days_ago), detail, key)


def with_latest(facts: AccountFacts, **kw: Any) -> AccountFacts:
    """Same account, the latest snapshot changed."""
    hist = list(facts.history)
    hist[-1] = replace(hist[-1], **kw)
    return replace(facts, history=hist)
