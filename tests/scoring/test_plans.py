from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from scoring.plans import ninety_day_plan, renewal_plan

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
