from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.plans import (
    PlanKind,
    add_months,
    ninety_day_plan,
    plan_kind,
    plan_steps,
    renewal_plan,
)

MONDAY = date(2026, 11, 23)


def test_ninety_day_plan_follows_the_five_phases() -> None:
    steps = ninety_day_plan(MONDAY)
    nominal = [(1, 7), (8, 21), (13, 21), (22, 45), (46, 75), (76, 90)]
    for step, (first, last) in zip(steps, nominal, strict=True):
        opens_late = (step.window_start - MONDAY).days + 1 - first
        assert 0 <= opens_late <= 2 and step.window_start.weekday() < 5  # weekend → Monday
        assert (step.window_end - MONDAY).days + 1 == last
    assert steps[2].conditional and "no reply" in steps[2].name


def test_due_dates_never_fall_on_a_weekend() -> None:
    # Day 7 from a Monday start is a Sunday: due moves back to Friday, inside the window.
    first = ninety_day_plan(MONDAY)[0]
    assert first.window_end.weekday() == 6 and first.due_on == date(2026, 11, 27)


def test_renewal_plan_counts_back_from_renewal() -> None:
    renewal = date(2027, 6, 30)  # a Wednesday
    steps = renewal_plan(MONDAY, renewal)
    assert [s.name for s in steps] == [
        "Executive business review",
        "Renewal and expansion proposal",
        "Negotiate and finalise",
        "Contract execution",
    ]
    assert [(renewal - s.due_on).days for s in steps] == [84, 56, 28, 14]
    assert [s.role for s in steps] == ["CSM", "AE", "AE", "Legal"]


def test_renewal_too_close_makes_past_steps_due_now_in_order() -> None:
    renewal = MONDAY + timedelta(days=40)
    steps = renewal_plan(MONDAY, renewal)
    dues = [s.due_on for s in steps]
    assert dues == sorted(dues) and dues[0] == MONDAY
    assert steps[-1].due_on == renewal - timedelta(days=14) or steps[-1].due_on.weekday() < 5


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1)), st.integers(0, 800))
def test_every_plan_is_on_workdays_and_in_order(start: date, days_to_renewal: int) -> None:
    for steps in (
        ninety_day_plan(start),
        renewal_plan(start, start + timedelta(days=days_to_renewal)),
    ):
        for step in steps:
            assert step.due_on.weekday() < 5
            assert step.window_start <= step.due_on
            assert step.due_on >= start
        main = [s for s in steps if not s.conditional]
        assert [s.due_on for s in main] == sorted(s.due_on for s in main)


def test_material_is_due_before_its_follow_up() -> None:
    # Started Wed 2 Dec 2026: material by day 16 (Thu 17 Dec), the follow-up at day 21 (22 Dec).
    steps = ninety_day_plan(date(2026, 12, 2))
    material, follow_up = steps[1], steps[2]
    assert material.due_on == date(2026, 12, 17)
    assert follow_up.conditional and follow_up.due_on == date(2026, 12, 22)


def test_the_proposal_window_offers_help_with_the_business_case() -> None:
    proposal = ninety_day_plan(MONDAY)[3]
    assert "business case" in proposal.name
    assert (proposal.window_start - MONDAY).days + 1 == 22
    assert (proposal.window_end - MONDAY).days + 1 == 45


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1)))
def test_the_follow_up_always_comes_after_the_material(start: date) -> None:
    steps = ninety_day_plan(start)
    material, follow_up = steps[1], steps[2]
    assert follow_up.due_on > material.due_on
    for step in steps:
        assert step.window_start <= step.due_on <= step.window_end


@pytest.mark.parametrize(
    ("today", "renewal_on", "kind"),
    [
        (date(2026, 12, 2), None, PlanKind.NINETY_DAY),
        (date(2026, 12, 2), date(2026, 12, 2), PlanKind.RENEWAL),  # renews today
        (date(2026, 12, 2), date(2027, 2, 15), PlanKind.RENEWAL),
        (date(2026, 12, 2), date(2027, 6, 2), PlanKind.RENEWAL),  # exactly six months
        (date(2026, 12, 2), date(2027, 6, 3), PlanKind.NINETY_DAY),
        (date(2026, 12, 2), date(2026, 12, 1), PlanKind.NINETY_DAY),  # already past
        (date(2026, 8, 31), date(2027, 2, 28), PlanKind.RENEWAL),  # month end clamps
        (date(2026, 8, 31), date(2027, 3, 1), PlanKind.NINETY_DAY),
    ],
)
def test_the_timeline_follows_the_renewal_date(
    today: date, renewal_on: date | None, kind: PlanKind
) -> None:
    assert plan_kind(today, renewal_on) is kind
    chosen, steps = plan_steps(today, renewal_on)
    assert chosen is kind
    if kind is PlanKind.RENEWAL:
        assert [s.role for s in steps] == ["CSM", "AE", "AE", "Legal"]
    else:
        assert len(steps) == 6


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1)),
    st.one_of(st.none(), st.integers(-400, 800)),
)
def test_a_renewal_within_six_months_always_gets_the_renewal_timeline(
    today: date, days: int | None
) -> None:
    renewal_on = None if days is None else today + timedelta(days=days)
    kind = plan_kind(today, renewal_on)
    if days is None or days < 0 or days > 184:
        assert kind is PlanKind.NINETY_DAY
    elif days <= 181:
        assert kind is PlanKind.RENEWAL
    assert (kind is PlanKind.RENEWAL) == (
        renewal_on is not None and today <= renewal_on <= add_months(today, 6)
    )
