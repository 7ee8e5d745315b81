"""Exactly one offer per account (seed 000 step 2, seeds 003 and 004), chosen from its signals.

The catalogue: seed 000's five offers, and seed 003's add-on or module, new department,
competitive displacement and support upgrade. Order of preference, first match wins:

1. Under-adopting but with a live initiative or request → professional services (help them get
   there faster; it is enablement they pay for, not more of what they are not using).
2. Under-adopting otherwise → no offer (enablement first).
3. At capacity, more active users than bought for, or several people on one seat → capacity
   expansion (seed 004's volume expansion).
4. More departments use it than at purchase → new department (a new use case, reference-led).
5. A competitor in use for something adjacent → competitive displacement (consolidation).
6. Asked for what their plan lacks → an add-on or module when the request names one the config
   lists, otherwise a tier upgrade.
7. A new initiative that fits another offering → cross-sell.
8. Many open support tickets → support upgrade.
9. Renewal in range and the customer is happy (promoter or green health) → multi-year renewal.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    ADD_ON = "add_on"
    NEW_DEPARTMENT = "new_department"
    DISPLACEMENT = "displacement"
    SUPPORT_UPGRADE = "support_upgrade"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    OfferType.CAPACITY: "Capacity expansion",
    OfferType.TIER_UPGRADE: "Tier upgrade",
    OfferType.CROSS_SELL: "Cross-sell",
    OfferType.PROFESSIONAL_SERVICES: "Professional services",
    OfferType.MULTI_YEAR: "Multi-year renewal",
    OfferType.ADD_ON: "Add-on or module",
    OfferType.NEW_DEPARTMENT: "New department",
    OfferType.DISPLACEMENT: "Competitive displacement",
    OfferType.SUPPORT_UPGRADE: "Support upgrade",
}


# The first concrete thing to do for each offer: an action, not the offer restated.
NEXT_STEPS = {
    OfferType.CAPACITY: "Send the usage figures and book a call to size the step up.",
    OfferType.TIER_UPGRADE: "Show what they asked for in a short demo and price the next tier.",
    OfferType.CROSS_SELL: "Book a discovery call with whoever owns the new initiative.",
    OfferType.PROFESSIONAL_SERVICES: "Propose a scoped enablement package timed to their push.",
    OfferType.MULTI_YEAR: "Draft multi-year terms before the renewal conversation opens.",
    OfferType.ADD_ON: "Show the module against the work-around they use now, with its price.",
    OfferType.NEW_DEPARTMENT: "Ask the champion for an introduction to the new team's lead.",
    OfferType.DISPLACEMENT: "Ask what the other tool costs them, then show the same job here.",
    OfferType.SUPPORT_UPGRADE: "Review their last tickets with them and price premium support.",
}


# Seed 004's conversation approach for each kind of expansion, in our words.
APPROACHES = {
    OfferType.CAPACITY: "Proactive: bring the usage figures and frame it as planning ahead.",
    OfferType.TIER_UPGRADE: "Value-led: show what the gap between the tiers costs them today.",
    OfferType.CROSS_SELL: "Executive-led: align with the initiative and its owner, not a feature.",
    OfferType.PROFESSIONAL_SERVICES: "Outcome-led: tie the help to the date their push must land.",
    OfferType.MULTI_YEAR: "Continuity-led: plan next year together before the renewal is urgent.",
    OfferType.ADD_ON: "Value-led: show what the module saves against their work-around.",
    OfferType.NEW_DEPARTMENT: "Reference-led: show how the first team's results can repeat.",
    OfferType.DISPLACEMENT: "Problem-led: put a number on what running two tools costs them.",
    OfferType.SUPPORT_UPGRADE: "Service-led: show how faster answers would have changed their"
    " last few tickets.",
}

# What the customer gets from each offer, in a line: the plan document's "value" of a play.
CUSTOMER_VALUE = {
    OfferType.CAPACITY: "Everyone who relies on it keeps working, without rationing logins.",
    OfferType.TIER_UPGRADE: "What they have been asking for, without the workarounds.",
    OfferType.CROSS_SELL: "One partner for the neighbouring problem they raised.",
    OfferType.PROFESSIONAL_SERVICES: "Their goal reached sooner, with less load on their team.",
    OfferType.MULTI_YEAR: "A fixed price and continuity for the next couple of years.",
    OfferType.ADD_ON: "The capability they asked for, inside the tool they already run.",
    OfferType.NEW_DEPARTMENT: "The new team starts from the first team's results, not from zero.",
    OfferType.DISPLACEMENT: "One tool instead of two: one bill, one login, no hand-offs.",
    OfferType.SUPPORT_UPGRADE: "Faster answers and a named contact when something breaks.",
}

# Seed 000 gives each offer a line to say; these are ours, one per offer in the catalogue.
TALK_LINES = {
    OfferType.CAPACITY: "You're close to the edge of what you bought; let's size the next step"
    " before it gets in the way.",
    OfferType.TIER_UPGRADE: "What you asked for is in the next plan up; let's see whether it pays"
    " for itself for you.",
    OfferType.CROSS_SELL: "We have something built for the problem you described; now that the"
    " core is working, it may be worth a look.",
    OfferType.PROFESSIONAL_SERVICES: "You have a big push coming and a busy team; our services"
    " people could get you there in weeks, not months.",
    OfferType.MULTI_YEAR: "Let's settle the renewal early and look at a term that covers the next"
    " couple of years, with what's coming on the roadmap.",
    OfferType.ADD_ON: "There's a module that does exactly what you asked for; it plugs into what"
    " you already run.",
    OfferType.NEW_DEPARTMENT: "Another team of yours has started using it; we could set them up"
    " properly, the way the first team got its results.",
    OfferType.DISPLACEMENT: "You're paying for a separate tool for something we also do; putting"
    " it in one place could save money and hand-offs.",
    OfferType.SUPPORT_UPGRADE: "You've had a lot of tickets lately; premium support would get you"
    " faster answers and a named contact.",
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


@dataclass(frozen=True)
class OfferContext:
    """What the catalogue needs beyond the scored signals; empty values choose nothing."""

    departments_grown: str | None = None  # evidence that more departments use it
    competitor: str | None = None  # evidence that they use a competitor for something adjacent
    add_ons: Mapping[str, str] | None = None  # request word → add-on or module
    support_tickets: int = 5  # open tickets at which support is worth upgrading


def _add_on(request: str, add_ons: Mapping[str, str] | None) -> str | None:
    text = request.lower()
    return next((name for word, name in (add_ons or {}).items() if word.lower() in text), None)


def choose_offer(
    signals: list[Signal],
    latest: Snapshot | None,
    activation: ActivationFinding | None,
    context: OfferContext | None = None,
) -> Offer | None:
    by_key = {s.key: s for s in signals}
    ctx = context or OfferContext()

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

    def outgrowing(s: Signal) -> Offer:
        return Offer(
            OfferType.CAPACITY, f"they are outgrowing what they bought: {s.evidence}", s.evidence
        )

    if s := first(SignalKey.CAPACITY):
        return outgrowing(s)
    if ctx.departments_grown:
        return Offer(
            OfferType.NEW_DEPARTMENT,
            f"new teams have taken it up: {ctx.departments_grown}",
            ctx.departments_grown,
        )
    if s := first(SignalKey.TEAM_EXPANDED, SignalKey.SHARED_SEAT):
        return outgrowing(s)
    if ctx.competitor:
        return Offer(
            OfferType.DISPLACEMENT,
            f"they pay another vendor for something we also do: {ctx.competitor}",
            ctx.competitor,
        )
    if s := first(SignalKey.FEATURE_REQUEST):
        module = _add_on(s.evidence, ctx.add_ons)
        if module is not None:
            return Offer(OfferType.ADD_ON, f"{module} answers what they {s.evidence}", s.evidence)
        return Offer(
            OfferType.TIER_UPGRADE, f"the next tier answers what they {s.evidence}", s.evidence
        )
    if s := first(SignalKey.NEW_INITIATIVE):
        return Offer(
            OfferType.CROSS_SELL, f"another offering fits their new work: {s.evidence}", s.evidence
        )
    tickets = latest.open_tickets if latest is not None else None
    if tickets is not None and tickets >= ctx.support_tickets:
        evidence = f"{tickets} support tickets open"
        return Offer(
            OfferType.SUPPORT_UPGRADE,
            f"{evidence}; premium support would answer them faster",
            evidence,
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
