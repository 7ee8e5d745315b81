"""Every row of seed 000's readiness table, with its exact points, its evidence and its edges."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from scoring.config import ScoringConfig
from scoring.evidence import SignalKey, fmt_date
from scoring.facts import EventKind
from scoring.signals import readiness_signals
from tests.scoring.helpers import TODAY, account, event, snap

CFG = ScoringConfig()


def keys(facts) -> dict[SignalKey, int]:
    return {s.key: s.points for s in readiness_signals(facts, TODAY, CFG)}


def only(facts, key: SignalKey):
    found = [s for s in readiness_signals(facts, TODAY, CFG) if s.key is key]
    assert len(found) == 1, readiness_signals(facts, TODAY, CFG)
    return found[0]


def test_quiet_healthy_account_earns_nothing() -> None:
    assert keys(account()) == {}


@pytest.mark.parametrize(("used", "awarded"), [(79, False), (80, True), (100, True)])
def test_capacity_seats_at_80_percent_earns_12(used: int, awarded: bool) -> None:
    facts = account(snap(60), snap(0, seats_used=used))
    assert (keys(facts).get(SignalKey.CAPACITY) == 12) is awarded
    if awarded:
        assert f"{used} of 100 seats" in only(facts, SignalKey.CAPACITY).evidence


def test_capacity_from_a_metered_limit() -> None:
    facts = account(snap(60), snap(0, usage={"api_calls": 8_100.0}, limits={"api_calls": 10_000}))
    sig = only(facts, SignalKey.CAPACITY)
    assert sig.points == 12
    assert "API calls at 8,100 of 10,000 (81%)" in sig.evidence


def test_capacity_unknown_purchased_never_fires() -> None:
    assert SignalKey.CAPACITY not in keys(account(snap(0, seats_used=500, seats_purchased=0)))
    assert SignalKey.CAPACITY not in keys(account(snap(0, seats_used=500, seats_purchased=None)))


@pytest.mark.parametrize(("days", "awarded"), [(0, True), (90, True), (91, False)])
def test_positive_outcome_in_last_90_days_earns_10(days: int, awarded: bool) -> None:
    facts = account(events=(event(EventKind.OUTCOME, days, "cut churn by 8%"),))
    assert (keys(facts).get(SignalKey.POSITIVE_OUTCOME) == 10) is awarded


def test_milestone_counts_as_outcome_with_evidence() -> None:
    facts = account(events=(event(EventKind.MILESTONE, 5, "went live in 3 regions"),))
    sig = only(facts, SignalKey.POSITIVE_OUTCOME)
    assert "went live in 3 regions" in sig.evidence and "15 Nov 2026" in sig.evidence


def test_departments_expanded_earns_8() -> None:
    facts = account(snap(120, departments=2), snap(0, departments=3))
    sig = only(facts, SignalKey.TEAM_EXPANDED)
    assert sig.points == 8 and "3 departments use it, up from 2" in sig.evidence


@pytest.mark.parametrize(("users", "awarded"), [(54, False), (55, True)])
def test_active_users_grown_10_percent_earns_8(users: int, awarded: bool) -> None:
    facts = account(snap(120, active_users=50), snap(0, active_users=users))
    assert (keys(facts).get(SignalKey.TEAM_EXPANDED) == 8) is awarded
    if awarded:
        assert only(facts, SignalKey.TEAM_EXPANDED).evidence == (
            f"{users} active users, up 10% from 50 since first seen on 23 Jul 2026"
        )


PURCHASED = date(2025, 3, 1)


def test_growth_is_measured_from_the_values_at_purchase_when_the_crm_keeps_them() -> None:
    facts = account(
        snap(0, departments=3, departments_at_purchase=1, headcount=250, headcount_at_purchase=200),
        purchased_on=PURCHASED,
    )  # one snapshot is enough: the baseline is not a snapshot
    assert only(facts, SignalKey.TEAM_EXPANDED).evidence == (
        "3 departments use it, up from 1 since purchase (1 Mar 2025)"
    )
    assert only(facts, SignalKey.COMPANY_GROWTH).evidence == (
        "250 employees, up from 200 since purchase (1 Mar 2025)"
    )


def test_the_value_at_purchase_wins_over_the_first_snapshot() -> None:
    first_seen = (snap(100, departments=2, active_users=50), snap(0, departments=3))
    assert SignalKey.TEAM_EXPANDED in keys(account(*first_seen))
    at_purchase = replace(first_seen[1], departments_at_purchase=3, active_users_at_purchase=49)
    assert SignalKey.TEAM_EXPANDED not in keys(account(first_seen[0], at_purchase))


def test_since_purchase_without_a_purchase_date_and_since_first_seen_without_a_baseline() -> None:
    undated = account(snap(0, active_users=66, active_users_at_purchase=60))
    assert only(undated, SignalKey.TEAM_EXPANDED).evidence == (
        "66 active users, up 10% from 60 since purchase"
    )
    first_seen = account(snap(100, headcount=200), snap(0, headcount=230), purchased_on=PURCHASED)
    assert only(first_seen, SignalKey.COMPANY_GROWTH).evidence == (
        "230 employees, up from 200 since first seen on 12 Aug 2026"
    )


@pytest.mark.parametrize(("days", "awarded"), [(180, True), (181, False)])
def test_feature_request_earns_8(days: int, awarded: bool) -> None:
    facts = account(events=(event(EventKind.FEATURE_REQUEST, days, "SSO"),))
    assert (keys(facts).get(SignalKey.FEATURE_REQUEST) == 8) is awarded


@pytest.mark.parametrize(("nps", "awarded"), [(7, False), (8, True), (10, True)])
def test_nps_8_or_more_in_60_days_earns_7(nps: int, awarded: bool) -> None:
    facts = account(snap(60), snap(0, nps=nps))
    assert (keys(facts).get(SignalKey.ADVOCACY) == 7) is awarded


def test_old_nps_does_not_count_and_latest_score_wins() -> None:
    assert SignalKey.ADVOCACY not in keys(account(snap(61, nps=10), snap(0)))
    assert SignalKey.ADVOCACY not in keys(account(snap(30, nps=10), snap(0, nps=5)))


@pytest.mark.parametrize(("surveyed", "awarded"), [(60, True), (61, False)])
def test_an_nps_is_dated_by_its_survey_date_not_the_snapshot_day(
    surveyed: int, awarded: bool
) -> None:
    on = TODAY - timedelta(days=surveyed)
    facts = account(snap(0, nps=10, nps_on=on))  # polled today, surveyed earlier
    assert (SignalKey.ADVOCACY in keys(facts)) is awarded
    if awarded:
        sig = only(facts, SignalKey.ADVOCACY)
        assert (sig.evidence, sig.observed_on) == (f"NPS 10 on {fmt_date(on)}", on)


def test_a_survey_date_after_today_is_not_recent() -> None:
    facts = account(snap(0, nps=10, nps_on=TODAY + timedelta(days=1)))
    assert SignalKey.ADVOCACY not in keys(facts)


def test_without_a_survey_date_an_nps_is_dated_by_the_first_snapshot_holding_it() -> None:
    repeated = account(snap(90, nps=10), snap(30, nps=10, seats_used=60), snap(0, nps=10))
    assert SignalKey.ADVOCACY not in keys(repeated)  # given 90 days ago, repeated since
    assert repeated.latest_nps() == (10, TODAY - timedelta(days=90))
    changed = account(snap(90, nps=6), snap(30, nps=10), snap(10, nps=None), snap(0, nps=10))
    sig = only(changed, SignalKey.ADVOCACY)  # unknown for a day is not a change
    assert (sig.evidence, sig.observed_on) == ("NPS 10 on 21 Oct 2026", TODAY - timedelta(30))


def test_a_survey_date_kept_on_an_earlier_snapshot_of_the_same_score_is_used() -> None:
    on = TODAY - timedelta(days=75)
    facts = account(snap(70, nps=9, nps_on=on), snap(0, nps=9))  # a later row lost the date
    assert facts.latest_nps() == (9, on)
    assert SignalKey.ADVOCACY not in keys(facts)


@pytest.mark.parametrize(("days", "awarded"), [(60, True), (61, False)])
def test_praise_in_60_days_earns_7(days: int, awarded: bool) -> None:
    facts = account(events=(event(EventKind.PRAISE, days, "thanked us publicly"),))
    assert (keys(facts).get(SignalKey.ADVOCACY) == 7) is awarded


@pytest.mark.parametrize(
    ("days", "awarded"), [(59, False), (60, True), (90, True), (120, True), (121, False)]
)
def test_renewal_60_to_120_days_earns_5(days: int, awarded: bool) -> None:
    facts = account(snap(60), snap(0, renewal_on=TODAY + timedelta(days=days)))
    assert (keys(facts).get(SignalKey.RENEWAL_WINDOW) == 5) is awarded


def test_renewal_evidence_names_date_and_days() -> None:
    facts = account(snap(60), snap(0, renewal_on=TODAY + timedelta(days=75)))
    assert only(facts, SignalKey.RENEWAL_WINDOW).evidence.startswith("renews 3 Feb 2027, 75 days")


def test_new_initiative_earns_5() -> None:
    facts = account(events=(event(EventKind.INITIATIVE, 10, "a data platform rebuild"),))
    assert only(facts, SignalKey.NEW_INITIATIVE).points == 5


@pytest.mark.parametrize(
    ("purchased", "users", "awarded"), [(1, 2, True), (1, 1, False), (2, 5, False)]
)
def test_several_users_on_one_paid_seat_earns_5(purchased: int, users: int, awarded: bool) -> None:
    facts = account(snap(0, seats_purchased=purchased, seats_used=1, active_users=users))
    assert (keys(facts).get(SignalKey.SHARED_SEAT) == 5) is awarded


def test_company_grew_in_employees_or_revenue_earns_4() -> None:
    by_people = account(snap(200, headcount=200), snap(0, headcount=201))
    by_revenue = account(snap(200, annual_revenue=1e6), snap(0, annual_revenue=1.2e6))
    assert only(by_people, SignalKey.COMPANY_GROWTH).points == 4
    assert (
        "revenue $1,200,000, up from $1,000,000"
        in only(by_revenue, SignalKey.COMPANY_GROWTH).evidence
    )


def test_unknown_values_award_nothing() -> None:
    facts = account(
        snap(200, headcount=None, active_users=None, departments=None, annual_revenue=None),
        snap(
            0,
            headcount=None,
            active_users=None,
            departments=None,
            annual_revenue=None,
            seats_used=None,
            renewal_on=None,
            nps=None,
        ),
    )
    assert keys(facts) == {}


def test_every_signal_at_once_scores_the_table_total() -> None:
    facts = account(
        snap(200, departments=1, active_users=1, headcount=100),
        snap(
            0,
            seats_purchased=1,
            seats_used=1,
            active_users=3,
            departments=2,
            headcount=150,
            nps=9,
            renewal_on=TODAY + timedelta(days=90),
        ),
        events=(
            event(EventKind.OUTCOME, 5, "win"),
            event(EventKind.FEATURE_REQUEST, 5, "SSO"),
            event(EventKind.INITIATIVE, 5, "new plant"),
        ),
    )
    assert keys(facts) == {
        SignalKey.CAPACITY: 12,
        SignalKey.POSITIVE_OUTCOME: 10,
        SignalKey.TEAM_EXPANDED: 8,
        SignalKey.FEATURE_REQUEST: 8,
        SignalKey.ADVOCACY: 7,
        SignalKey.RENEWAL_WINDOW: 5,
        SignalKey.NEW_INITIATIVE: 5,
        SignalKey.SHARED_SEAT: 5,
        SignalKey.COMPANY_GROWTH: 4,
    }
    assert sum(keys(facts).values()) == 64
