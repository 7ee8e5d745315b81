"""Seed 004's expansion brief and ROI: built from the customer's own numbers and words, never
inventing a payback, and never failing on odd data."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.brief import NO_BUYER, NO_OUTCOME, NO_PAYBACK, NO_PROBLEM, NOT_ON_RECORD, build_brief
from scoring.engine import assess
from scoring.facts import AccountFacts, EventKind
from scoring.offer import CUSTOMER_VALUE, OfferType
from tests.scoring.helpers import TODAY, account, event, snap
from tests.scoring.test_properties import accounts


def test_shared_seats_pay_back_from_the_value_each_person_already_gets() -> None:
    facts = account(
        snap(60, seats_used=1, seats_purchased=1, active_users=1, arr=2400.0),
        snap(0, seats_used=1, seats_purchased=1, active_users=4, arr=2400.0),
        events=(event(EventKind.OUTCOME, 8, "shipped on time"),),
        contact_name="Noor Haddad",
    )
    a = assess(facts, TODAY)
    assert a.offer is not None and a.offer.type is OfferType.CAPACITY
    brief = build_brief(a, facts)
    assert brief.account_arr == 2400 and brief.contact == "Noor"
    assert brief.economic_buyer == NO_BUYER and brief.problem == NO_PROBLEM
    assert brief.expansion_arr == 9600  # 2400 per seat x 4 more seats (1 -> 5, 20% headroom)
    roi = brief.roi
    assert roi.current_value == "shipped on time (12 Nov 2026)"
    assert roi.incremental_outcome == CUSTOMER_VALUE[OfferType.CAPACITY]
    # 2400 / 4 people / 12 = 50 a month each; 3 people beyond the one seat: 150 a month.
    assert roi.monthly_value == 150 and roi.payback_months == 64
    assert roi.payback == "about 64 months" and "3 more people use it" in roi.payback_basis


def test_no_payback_without_numbers_that_support_it() -> None:
    facts = account(
        snap(0, seats_used=95, seats_purchased=100, active_users=95),
        events=(event(EventKind.FEATURE_REQUEST, 5, "asked for SSO"),),
    )
    brief = build_brief(assess(facts, TODAY), facts)
    assert brief.contact == NOT_ON_RECORD and brief.roi.current_value == NO_OUTCOME
    assert brief.roi.payback_months is None and brief.roi.payback == NO_PAYBACK


def test_the_problem_is_their_own_words_when_they_asked() -> None:
    asked = event(EventKind.FEATURE_REQUEST, 5, "asked for SSO")
    facts = account(events=(event(EventKind.OUTCOME, 20, "halved onboarding time"), asked))
    a = assess(facts, TODAY)
    assert a.offer is not None and a.offer.type is OfferType.TIER_UPGRADE
    brief = build_brief(a, facts)
    assert brief.problem == "asked for SSO"
    assert brief.roi.payback == NO_PAYBACK  # a tier upgrade has no customer number to use
    assert brief.solution.startswith("Tier upgrade: ")


def test_facts_after_the_day_are_ignored() -> None:
    facts = account(snap(0, arr=1000.0))
    later = replace(snap(0, arr=9999.0), taken_on=TODAY + timedelta(days=3))
    brief = build_brief(assess(facts, TODAY), replace(facts, history=[*facts.history, later]))
    assert brief.account_arr == 1000


@st.composite
def crowded(draw: st.DrawFn) -> AccountFacts:
    """Accounts near or past their seats, where a payback may be computable."""
    bought = draw(st.integers(1, 500))
    used = draw(st.integers(0, 1000))
    arr = draw(st.floats(0, 1e9, allow_nan=False))
    latest = snap(0, seats_purchased=bought, seats_used=min(used, bought), active_users=used)
    return account(snap(90), replace(latest, arr=arr))


@settings(max_examples=300, deadline=None)
@given(accounts() | crowded(), st.none() | st.text(max_size=30))
def test_brief_never_raises_and_money_is_never_negative(
    facts: AccountFacts, contact: str | None
) -> None:
    facts = replace(facts, contact_name=contact)
    brief = build_brief(assess(facts, TODAY), facts)
    assert brief.account_arr >= 0 and brief.expansion_arr >= 0
    assert brief.roi.expansion_cost == brief.expansion_arr
    assert brief.roi.payback_months is None or brief.roi.payback_months >= 1
    assert brief.roi.monthly_value is None or brief.roi.monthly_value > 0
    assert (brief.roi.payback_months is None) == (brief.roi.monthly_value is None)
    assert brief.contact == NOT_ON_RECORD or brief.contact.split() == [brief.contact]
    assert brief.problem and brief.roi.current_value and brief.roi.payback
