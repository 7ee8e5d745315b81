"""The facts scoring reads: an account's snapshot history and the events logged against it.

:class:`Snapshot` is also the one declaration of what a snapshot fact is: each fact is a typed
field whose metadata (:func:`as_fact`) gives its kind and any bound. Everything else is derived
from that list (:data:`SNAPSHOT_FACTS`): the source records (a subclass), the values a source may
map and how each is checked, the file targets, the repository's columns, the carry-forward on
ingest. The table in ``db/models.py`` mirrors it column by column (typed, for mypy and Alembic);
a test fails until the two agree. See docs/architecture.md, "One declaration per fact".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from enum import StrEnum
from typing import Any


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
    COMPETITOR = "competitor"  # they use a competitor for something adjacent we also do


@dataclass(frozen=True)
class Event:
    kind: EventKind
    on: date
    detail: str = ""
    key: str = ""  # stable id from the source; falls back to kind+date when empty

    @property
    def stable_key(self) -> str:
        return self.key or f"{self.kind.value}:{self.on.isoformat()}"


class FactKind(StrEnum):
    """What a fact's value is, which says how a source's raw value is read and how it is stored."""

    COUNT = "count"  # a whole number, 0 or more (seats, users, employees)
    AMOUNT = "amount"  # a non-negative number (money)
    SCORE = "score"  # a whole number from 0 to the fact's maximum (NPS 0-10)
    DATE = "date"  # a calendar day
    HEALTH = "health"  # green / yellow / red, through a source's health_values
    METRICS = "metrics"  # metric name -> number (usage, limits); empty when unknown


@dataclass(frozen=True)
class FactSpec:
    """One snapshot fact as the rest of the program sees it (built from :class:`Snapshot`)."""

    name: str
    kind: FactKind
    maximum: float | None = None  # a fact-specific upper bound; None: the kind's own


_SPEC = "expansion_radar_fact"


def as_fact(of: FactKind, *, maximum: float | None = None) -> Mapping[str, Any]:
    """The field metadata that makes a :class:`Snapshot` field a fact of that kind."""
    return {_SPEC: (of, maximum)}


COUNT, AMOUNT, DATE = as_fact(FactKind.COUNT), as_fact(FactKind.AMOUNT), as_fact(FactKind.DATE)
HEALTH, METRICS = as_fact(FactKind.HEALTH), as_fact(FactKind.METRICS)


@dataclass(frozen=True)
class Snapshot:
    """One observation of an account. ``None`` means unknown, never zero.

    Every field but ``taken_on`` is a fact; its metadata says which kind. Adding a fact: one
    line here, its column in ``db/models.py`` and a migration.
    """

    taken_on: date
    seats_used: int | None = field(default=None, metadata=COUNT)
    seats_purchased: int | None = field(default=None, metadata=COUNT)
    active_users: int | None = field(default=None, metadata=COUNT)
    departments: int | None = field(default=None, metadata=COUNT)
    headcount: int | None = field(default=None, metadata=COUNT)
    annual_revenue: float | None = field(default=None, metadata=AMOUNT)
    usage: Mapping[str, float] = field(default_factory=dict, metadata=METRICS)
    limits: Mapping[str, float] = field(default_factory=dict, metadata=METRICS)
    health: Health | None = field(default=None, metadata=HEALTH)
    nps: int | None = field(default=None, metadata=as_fact(FactKind.SCORE, maximum=10))
    # The day the NPS survey was answered, when the CRM keeps it; unknown: the score is dated
    # by the first snapshot that holds its current value (``AccountFacts.latest_nps``).
    nps_on: date | None = field(default=None, metadata=DATE)
    open_urgent_tickets: int | None = field(default=None, metadata=COUNT)
    # Every open support ticket, urgent or not: many of them call for a support upgrade.
    open_tickets: int | None = field(default=None, metadata=COUNT)
    last_contact_on: date | None = field(default=None, metadata=DATE)
    renewal_on: date | None = field(default=None, metadata=DATE)
    arr: float | None = field(default=None, metadata=AMOUNT)
    features_used: int | None = field(default=None, metadata=COUNT)
    features_available: int | None = field(default=None, metadata=COUNT)
    # Baselines "as at purchase" when the CRM keeps them (the purchase date is the account's
    # ``purchased_on``); unknown: growth is measured from the first snapshot instead.
    headcount_at_purchase: int | None = field(default=None, metadata=COUNT)
    departments_at_purchase: int | None = field(default=None, metadata=COUNT)
    seats_at_purchase: int | None = field(default=None, metadata=COUNT)
    active_users_at_purchase: int | None = field(default=None, metadata=COUNT)

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


SNAPSHOT_FACTS: tuple[FactSpec, ...] = tuple(
    FactSpec(f.name, *f.metadata[_SPEC]) for f in fields(Snapshot) if _SPEC in f.metadata
)
"""Every snapshot fact in declaration order: the list the other layers are built from."""


@dataclass(frozen=True)
class AccountFacts:
    account_id: str
    name: str
    history: Sequence[Snapshot]  # oldest first
    events: Sequence[Event] = ()
    purchased_on: date | None = None  # contract start: the day "at purchase" values are from
    plan: str | None = None
    contact_name: str | None = None  # the customer's champion, used to open scripts
    segment: str | None = None

    @property
    def latest(self) -> Snapshot | None:
        return self.history[-1] if self.history else None

    @property
    def baseline(self) -> Snapshot | None:
        """The first snapshot: what growth is measured from when no value at purchase is known."""
        return self.history[0] if self.history else None

    def latest_nps(self) -> tuple[int, date] | None:
        """The most recent known NPS and the day it was given: the survey date when the source
        keeps one, else the first snapshot holding the score since it last changed. Snapshots
        that only repeat it (another fact changed) never move its date."""
        score: int | None = None
        since: date | None = None
        for snap in reversed(self.history):
            if snap.nps is None:
                continue  # not known that day: not a change
            if score is None:
                score = snap.nps
            elif snap.nps != score:
                break
            if snap.nps_on is not None:
                return score, snap.nps_on
            since = snap.taken_on
        return None if score is None or since is None else (score, since)

    def events_of(self, *kinds: EventKind) -> list[Event]:
        if not self.events:  # most accounts: asked for by several rules, so kept cheap
            return []
        return sorted((e for e in self.events if e.kind in kinds), key=lambda e: e.on)
