"""The facts scoring reads: an account's snapshot history and the events logged against it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Health(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class EventKind(StrEnum):
    """Things a CSM or a CRM logs about an account that are not numbers in a snapshot."""

    OUTCOME = "outcome"  # a positive result or ROI the customer reported
    MILESTONE = "milestone"  # a success moment (go-live, record month, award)
    FEATURE_REQUEST = "feature_request"  # asked for something their plan does not include
    PRAISE = "praise"  # unprompted positive feedback
    INITIATIVE = "initiative"  # a new project that fits another of our offerings
    ONBOARDING_COMPLETED = "onboarding_completed"
    CHAMPION_LEFT = "champion_left"
    CHAMPION_ADDED = "champion_added"


@dataclass(frozen=True)
class Event:
    kind: EventKind
    on: date
    detail: str = ""
    key: str = ""  # stable id from the source; falls back to kind+date when empty

    @property
    def stable_key(self) -> str:
        return self.key or f"{self.kind.value}:{self.on.isoformat()}"


@dataclass(frozen=True)
class Snapshot:
    """One observation of an account. ``None`` means unknown, never zero."""

    taken_on: date
    seats_used: int | None = None
    seats_purchased: int | None = None
    active_users: int | None = None
    departments: int | None = None
    headcount: int | None = None
    annual_revenue: float | None = None
    usage: Mapping[str, float] = field(default_factory=dict)
    limits: Mapping[str, float] = field(default_factory=dict)
    health: Health | None = None
    nps: int | None = None
    open_urgent_tickets: int | None = None
    last_contact_on: date | None = None
    renewal_on: date | None = None
    arr: float | None = None
    features_used: int | None = None
    features_available: int | None = None

    def seat_utilisation(self) -> float | None:
        if self.seats_used is None or not self.seats_purchased or self.seats_purchased <= 0:
            return None
        return self.seats_used / self.seats_purchased

    def limit_utilisations(self) -> dict[str, float]:
        """Usage over limit per metered dimension, skipping dimensions without a positive limit."""
        out: dict[str, float] = {}
        for name, limit in self.limits.items():
            used = self.usage.get(name)
            if used is not None and limit > 0:
                out[name] = used / limit
        return out

    def capacity(self) -> tuple[str, float] | None:
        """The most-used dimension of what they bought: ("seats", 0.94) or ("api_calls", 0.9)."""
        candidates: list[tuple[str, float]] = []
        seats = self.seat_utilisation()
        if seats is not None:
            candidates.append(("seats", seats))
        candidates.extend(self.limit_utilisations().items())
        if not candidates:
            return None
        return max(candidates, key=lambda item: (item[1], item[0] == "seats"))

    def feature_adoption(self) -> float | None:
        if self.features_used is None or not self.features_available:
            return None
        return self.features_used / self.features_available


@dataclass(frozen=True)
class AccountFacts:
    account_id: str
    name: str
    history: Sequence[Snapshot]  # oldest first; the first is the baseline "at purchase"
    events: Sequence[Event] = ()
    purchased_on: date | None = None
    plan: str | None = None
    contact_name: str | None = None  # the customer's champion, used to open scripts
    segment: str | None = None

    @property
    def latest(self) -> Snapshot | None:
        return self.history[-1] if self.history else None

    @property
    def baseline(self) -> Snapshot | None:
        return self.history[0] if self.history else None

    def events_of(self, *kinds: EventKind) -> list[Event]:
        if not self.events:  # most accounts: asked for by several rules, so kept cheap
            return []
        return sorted((e for e in self.events if e.kind in kinds), key=lambda e: e.on)
