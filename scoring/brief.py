"""Seed 004's expansion brief (step 5) and expansion ROI (step 6) for one account.

Built from an assessment and the account's facts, nothing else: every value is either a number
the customer's own records give, their own words from a logged event, or a plain "not on
record" where we hold nothing. The payback is computed only where the customer's numbers
support it (a capacity offer with people already using it beyond the seats bought); otherwise
it says so instead of guessing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scoring.engine import Assessment
from scoring.evidence import fmt_date, fmt_money
from scoring.facts import AccountFacts, Event, EventKind, Snapshot
from scoring.offer import CUSTOMER_VALUE, OfferType
from scoring.triggers import TriggerKind

NOT_ON_RECORD = "not on record"
NO_BUYER = "not on record: we hold no budget owner, so ask the champion who signs"
NO_PROBLEM = "not confirmed yet: ask in discovery"
NO_OUTCOME = "no outcome recorded"
NO_PAYBACK = "payback not computable from the data we have"
NO_DISCOVERY = "not booked: starting a plan schedules it as its first step"
NO_REFERENCE = "none yet: no other account has won this kind of expansion"

# The events whose words say what the customer needs (a win says what they got, not a problem).
_NEED_KINDS = (EventKind.FEATURE_REQUEST, EventKind.INITIATIVE, EventKind.COMPETITOR)
_NEED_TRIGGERS = (TriggerKind.FEATURE_REQUEST, TriggerKind.INITIATIVE)


@dataclass(frozen=True)
class Roi:
    """Step 6: what they have now, what the step costs, what it brings, how soon it pays."""

    current_value: str  # their own words from the latest outcome or milestone, or NO_OUTCOME
    expansion_cost: float  # a year, the expansion ARR
    incremental_outcome: str  # what the offer brings them, in our words
    monthly_value: float | None  # value a month the customer's numbers support; None: none do
    payback_months: int | None  # whole months to cover the cost; None: not computable
    payback_basis: str  # how the payback was worked out, or why it could not be

    @property
    def payback(self) -> str:
        """The payback as people read it."""
        if self.payback_months is None:
            return NO_PAYBACK
        unit = "month" if self.payback_months == 1 else "months"
        return f"about {self.payback_months} {unit}"

    def rows(self) -> tuple[tuple[str, str], ...]:
        """Seed 004's ROI framework, line by line, as each renderer shows it."""
        return (
            ("Current value", self.current_value),
            ("Expansion cost", f"{fmt_money(self.expansion_cost)} a year"),
            ("Expected outcome", self.incremental_outcome),
            ("Payback", self.payback),
            ("How", self.payback_basis),
        )


@dataclass(frozen=True)
class Brief:
    """Step 5: the one-page brief a CSM takes to their manager or sales before moving on."""

    account: str
    account_arr: float
    expansion_arr: float
    expansion_type: str
    signals: tuple[str, ...]  # the evidence of each signal identified
    contact: str  # the champion's first name only, or NOT_ON_RECORD
    economic_buyer: str
    problem: str  # in the customer's words when an event gives them, else NO_PROBLEM
    solution: str
    next_step: str
    roi: Roi
    discovery: str = NO_DISCOVERY  # the discovery call: held on, or planned by, a date
    reference: str = NO_REFERENCE  # a comparable customer who expanded the same way, and how

    def rows(self) -> tuple[tuple[str, str], ...]:
        """Seed 004's brief, line by line, as each renderer shows it."""
        return (
            ("Account ARR", fmt_money(self.account_arr)),
            ("Potential expansion ARR", fmt_money(self.expansion_arr)),
            ("Expansion type", self.expansion_type),
            ("Signals identified", "; ".join(self.signals) or "none yet"),
            ("Customer contact", self.contact),
            ("Economic buyer", self.economic_buyer),
            ("Problem, in their words", self.problem),
            ("Proposed solution", self.solution),
            ("Discovery call", self.discovery),
            ("Comparable customer", self.reference),
            ("Next step", self.next_step),
        )


def build_brief(
    a: Assessment,
    facts: AccountFacts,
    *,
    discovery: str | None = None,
    reference: str | None = None,
) -> Brief:
    """The brief and ROI for ``a``; ``facts`` are the account's, facts after ``a.today`` are
    ignored. ``discovery`` and ``reference`` come from the plans the caller holds (the open
    plan's first step; another account's won plan of the same offer). Never raises on odd
    data: unknown values read as "not on record"."""
    latest = next((s for s in reversed(facts.history) if s.taken_on <= a.today), None)
    events = [e for e in facts.events if e.on <= a.today and e.detail.strip()]
    account_arr = max(latest.arr or 0.0, 0.0) if latest is not None else 0.0
    cost = max(a.opportunity.expansion_arr, 0.0) if a.opportunity is not None else 0.0
    offer = a.offer
    return Brief(
        account=facts.name,
        account_arr=account_arr,
        expansion_arr=cost,
        expansion_type=offer.type.label if offer else "none yet",
        signals=tuple(s.evidence for s in a.signals),
        contact=_first_name(facts.contact_name),
        economic_buyer=NO_BUYER,
        problem=_problem(a, events),
        solution=f"{offer.type.label}: {offer.reason}" if offer else "nothing to propose yet",
        next_step=a.next_step,
        roi=_roi(a, latest, events, cost),
        discovery=discovery or NO_DISCOVERY,
        reference=reference or NO_REFERENCE,
    )


def _first_name(name: str | None) -> str:
    words = (name or "").split()
    return words[0] if words else NOT_ON_RECORD


def _problem(a: Assessment, events: list[Event]) -> str:
    """Their words about a need: the trigger's, else the event the offer rests on."""
    if a.trigger is not None and a.trigger.detail.strip() and a.trigger.kind in _NEED_TRIGGERS:
        return a.trigger.detail.strip()
    basis = a.offer.basis if a.offer is not None else ""
    for event in sorted(events, key=lambda e: e.on, reverse=True):
        if event.kind in _NEED_KINDS and basis and event.detail.strip() in basis:
            return event.detail.strip()
    return NO_PROBLEM


def _roi(a: Assessment, latest: Snapshot | None, events: list[Event], cost: float) -> Roi:
    wins = [e for e in events if e.kind in (EventKind.OUTCOME, EventKind.MILESTONE)]
    win = max(wins, key=lambda e: e.on) if wins else None
    current = f"{win.detail.strip()} ({fmt_date(win.on)})" if win else NO_OUTCOME
    outcome = CUSTOMER_VALUE[a.offer.type] if a.offer else "nothing to propose yet"
    monthly, months, basis = _payback(a, latest, cost)
    return Roi(current, cost, outcome, monthly, months, basis)


def _payback(
    a: Assessment, latest: Snapshot | None, cost: float
) -> tuple[float | None, int | None, str]:
    """For a capacity offer only: the people already using it beyond the seats bought each get
    the value a person gets today (their ARR ÷ the people using it). That value a month, set
    against the yearly cost, gives the months to pay back. Anything else: not computable."""
    if a.offer is None or a.offer.type is not OfferType.CAPACITY or latest is None:
        return None, None, "only a capacity offer has customer numbers to work from"
    arr, bought = latest.arr or 0.0, latest.seats_purchased or 0
    people = max(latest.seats_used or 0, latest.active_users or 0)
    over = people - bought
    if cost <= 0 or arr <= 0 or bought <= 0 or over <= 0:
        return None, None, "nobody uses it beyond the seats bought yet, so no value is proven"
    per_person = arr / people / 12
    monthly = per_person * over
    ratio = cost / monthly if monthly > 0 else math.inf
    if not math.isfinite(ratio) or not math.isfinite(monthly):
        return None, None, "the numbers on record are too small to work from"
    months = max(1, math.ceil(round(ratio, 6)))
    basis = (
        f"{over} more {'person uses' if over == 1 else 'people use'} it than the {bought}"
        f" seat{'' if bought == 1 else 's'} bought; each person gets {fmt_money(per_person)}"
        " a month of value today"
        f" ({fmt_money(arr)} ARR ÷ {people} people ÷ 12), so {fmt_money(monthly)} a month"
        f" covers {fmt_money(cost)} in {months} month{'' if months == 1 else 's'}"
    )
    return monthly, months, basis
