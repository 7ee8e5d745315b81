"""Exactly one offer per account (seed 000 step 2, seed 004 step 3), chosen from its signals.

Order of preference, first match wins:

1. Under-adopting but with a live initiative or request → professional services (help them get
   there faster; it is enablement they pay for, not more of what they are not using).
2. Under-adopting otherwise → no offer (enablement first).
3. At capacity, team grown, or several people on one seat → capacity expansion.
4. Asked for what their plan lacks → tier upgrade.
5. A new initiative that fits another offering → cross-sell.
6. Renewal in range and the customer is happy (promoter or green health) → multi-year renewal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from scoring.activation import ActivationFinding
from scoring.evidence import Signal, SignalKey
from scoring.facts import Health, Snapshot


class OfferType(StrEnum):
    CAPACITY = "capacity"
    TIER_UPGRADE = "tier_upgrade"
    CROSS_SELL = "cross_sell"
    PROFESSIONAL_SERVICES = "professional_services"
    MULTI_YEAR = "multi_year"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    OfferType.CAPACITY: "Capacity expansion",
    OfferType.TIER_UPGRADE: "Tier upgrade",
    OfferType.CROSS_SELL: "Cross-sell",
    OfferType.PROFESSIONAL_SERVICES: "Professional services",
    OfferType.MULTI_YEAR: "Multi-year renewal",
}


# The first concrete thing to do for each offer: an action, not the offer restated.
NEXT_STEPS = {
    OfferType.CAPACITY: "Send the usage figures and book a call to size the step up.",
    OfferType.TIER_UPGRADE: "Show what they asked for in a short demo and price the next tier.",
    OfferType.CROSS_SELL: "Book a discovery call with whoever owns the new initiative.",
    OfferType.PROFESSIONAL_SERVICES: "Propose a scoped enablement package timed to their push.",
    OfferType.MULTI_YEAR: "Draft multi-year terms before the renewal conversation opens.",
}


# Seed 004's conversation approach for each kind of expansion, in our words.
APPROACHES = {
    OfferType.CAPACITY: "Proactive: bring the usage figures and frame it as planning ahead.",
    OfferType.TIER_UPGRADE: "Value-led: show what the gap between the tiers costs them today.",
    OfferType.CROSS_SELL: "Executive-led: align with the initiative and its owner, not a feature.",
    OfferType.PROFESSIONAL_SERVICES: "Outcome-led: tie the help to the date their push must land.",
    OfferType.MULTI_YEAR: "Continuity-led: plan next year together before the renewal is urgent.",
}


def approach_for(value: str) -> str:
    """The approach for a stored offer value; unknown values have none."""
    try:
        return APPROACHES[OfferType(value)]
    except ValueError:
        return ""


def offer_label(value: str) -> str:
    """A stored offer value as people read it (``cross_sell`` → ``Cross-sell``)."""
    try:
        return OfferType(value).label
    except ValueError:
        return value.replace("_", " ")


@dataclass(frozen=True)
class Offer:
    type: OfferType
    reason: str
    basis: str = ""  # the evidence of the signal it rests on, for a script to cite


def choose_offer(
    signals: list[Signal], latest: Snapshot | None, activation: ActivationFinding | None
) -> Offer | None:
    by_key = {s.key: s for s in signals}

    def first(*keys: SignalKey) -> Signal | None:
        return next((by_key[k] for k in keys if k in by_key), None)

    if activation is not None:
        intent = first(SignalKey.NEW_INITIATIVE, SignalKey.FEATURE_REQUEST)
        if intent is None:
            return None
        return Offer(
            OfferType.PROFESSIONAL_SERVICES,
            f"only {activation.evidence}, but they have a push coming: {intent.evidence};"
            " guided help gets them there faster",
            intent.evidence,
        )
    if s := first(SignalKey.CAPACITY, SignalKey.TEAM_EXPANDED, SignalKey.SHARED_SEAT):
        return Offer(
            OfferType.CAPACITY, f"they are outgrowing what they bought: {s.evidence}", s.evidence
        )
    if s := first(SignalKey.FEATURE_REQUEST):
        return Offer(
            OfferType.TIER_UPGRADE, f"the next tier answers what they {s.evidence}", s.evidence
        )
    if s := first(SignalKey.NEW_INITIATIVE):
        return Offer(
            OfferType.CROSS_SELL, f"another offering fits their new work: {s.evidence}", s.evidence
        )
    renewal = first(SignalKey.RENEWAL_WINDOW)
    happy = SignalKey.ADVOCACY in by_key or (latest is not None and latest.health is Health.GREEN)
    if renewal is not None and happy:
        return Offer(
            OfferType.MULTI_YEAR,
            f"a healthy account whose renewal is in range ({renewal.evidence}); lock in continuity",
            renewal.evidence,
        )
    return None
