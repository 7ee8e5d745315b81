"""Edges, not levels: each trigger fires once per episode, with a stable dedupe key."""

from __future__ import annotations

from datetime import timedelta

from scoring.config import ScoringConfig
from scoring.engine import assess
from scoring.facts import EventKind
from scoring.triggers import TriggerKind, detect_episodes
from tests.scoring.helpers import TODAY, account, event, snap

CFG = ScoringConfig()


def capacity_history(*pcts: float):
    n = len(pcts)
    return account(
        *[
            snap(10 * (n - 1 - i), seats_used=None, usage={"x": p}, limits={"x": 100.0})
            for i, p in enumerate(pcts)
        ]
    )


def capacity_days(*pcts: float) -> list[int]:
    eps = [
        e
        for e in detect_episodes(capacity_history(*pcts), TODAY, CFG)
        if e.kind is TriggerKind.CAPACITY
    ]
    return [(TODAY - e.on).days for e in eps]


def test_capacity_fires_on_first_crossing_of_85() -> None:
    assert capacity_days(84.9, 85) == [0]


def test_capacity_does_not_fire_again_while_high() -> None:
    assert capacity_days(84.9, 85, 90) == [10]


def test_capacity_rearms_only_below_80() -> None:
    assert capacity_days(84.9, 85, 90, 79, 86) == [30, 0]
    assert capacity_days(86, 81, 86) == [20]  # dipping to 81 does not re-arm: no flapping


def test_seat_capacity_episode_says_where_it_came_from() -> None:
    facts = account(
        snap(31, seats_used=38, seats_purchased=50), snap(0, seats_used=47, seats_purchased=50)
    )
    (ep,) = [e for e in detect_episodes(facts, TODAY, CFG) if e.kind is TriggerKind.CAPACITY]
    assert ep.evidence == "47 of 50 seats in use (94%), up from 38 on 20 Oct 2026"


def test_team_growth_fires_per_step_and_needs_a_real_increase() -> None:
    facts = account(snap(60, active_users=50), snap(30, active_users=54), snap(0, active_users=56))
    eps = [e for e in detect_episodes(facts, TODAY, CFG) if e.kind is TriggerKind.TEAM_GROWTH]
    assert [(TODAY - e.on).days for e in eps] == [0]
    tiny = account(snap(60, active_users=3), snap(0, active_users=4))
    assert not [e for e in detect_episodes(tiny, TODAY, CFG) if e.kind is TriggerKind.TEAM_GROWTH]


def test_new_department_is_growth() -> None:
    facts = account(snap(30, departments=2), snap(0, departments=3))
    (ep,) = [e for e in detect_episodes(facts, TODAY, CFG) if e.kind is TriggerKind.TEAM_GROWTH]
    assert "3 departments, up from 2" in ep.evidence


def test_renewal_enters_window_once_per_renewal_date() -> None:
    renewal = TODAY + timedelta(days=80)
    facts = account(
        snap(30, renewal_on=renewal), snap(10, renewal_on=renewal), snap(0, renewal_on=renewal)
    )
    eps = [e for e in detect_episodes(facts, TODAY, CFG) if e.kind is TriggerKind.RENEWAL]
    assert len(eps) == 1 and eps[0].dedupe_key == f"acme:renewal:{renewal.isoformat()}"
    assert (TODAY - eps[0].on).days == 10  # 90 days out is when it entered the window


def test_renewal_enters_window_on_a_day_without_a_snapshot() -> None:
    """Nothing changed since the last snapshot (100 days before the renewal): the renewal still
    enters the window 90 days before, and the daily re-score sees it that day, not later."""
    renewal = TODAY + timedelta(days=80)
    quiet = account(snap(30, renewal_on=renewal), snap(20, renewal_on=renewal))

    def renewals(today_offset: int) -> list[int]:
        today = TODAY + timedelta(days=today_offset)
        found = detect_episodes(quiet, today, CFG)
        return [(TODAY - e.on).days for e in found if e.kind is TriggerKind.RENEWAL]

    assert renewals(-11) == []  # 91 days before the renewal: not yet
    assert renewals(-10) == [10]  # 90 days before: it enters, dated that day
    assert renewals(0) == [10]  # and stays that one episode, on that day
    between = account(snap(30, renewal_on=renewal), snap(0, renewal_on=renewal))
    (ep,) = [e for e in detect_episodes(between, TODAY, CFG) if e.kind is TriggerKind.RENEWAL]
    assert (TODAY - ep.on).days == 10 and ep.evidence.endswith("is 90 days away")


def test_a_renewal_script_read_later_says_how_far_off_the_renewal_is_today() -> None:
    """The episode keeps the day it came into range; the opening is spoken today."""
    renewal = TODAY + timedelta(days=80)
    facts = account(
        snap(30, renewal_on=renewal, seats_used=90),
        snap(20, renewal_on=renewal, seats_used=90),
        events=(event(EventKind.OUTCOME, 40, "Went live"),),
    )
    result = assess(facts, TODAY, CFG)
    assert result.trigger is not None and result.trigger.kind is TriggerKind.RENEWAL
    assert result.trigger.evidence.endswith("is 90 days away")  # when it entered the window
    assert "on 8 Feb 2027, 80 days from now" in result.script and "90 days" not in result.script


def test_logged_events_become_episodes() -> None:
    facts = account(
        events=(
            event(EventKind.MILESTONE, 3, "go-live", key="m1"),
            event(EventKind.ONBOARDING_COMPLETED, 2, "done"),
            event(EventKind.INITIATIVE, 1, "new plant"),
            event(EventKind.PRAISE, 1, "nice"),
        )
    )
    kinds = [e.kind for e in detect_episodes(facts, TODAY, CFG)]
    assert kinds == [TriggerKind.SUCCESS, TriggerKind.ONBOARDING, TriggerKind.INITIATIVE]


def test_dedupe_keys_are_stable_across_runs_and_new_history() -> None:
    base = capacity_history(70, 90)
    first = {e.dedupe_key for e in detect_episodes(base, TODAY, CFG)}
    later = account(
        *base.history, snap(-5, seats_used=None, usage={"x": 95.0}, limits={"x": 100.0})
    )
    second = {e.dedupe_key for e in detect_episodes(later, TODAY + timedelta(days=5), CFG)}
    assert first <= second and first == {e.dedupe_key for e in detect_episodes(base, TODAY, CFG)}


def test_most_recent_trigger_chooses_the_script() -> None:
    facts = account(
        snap(30, seats_used=60),
        snap(0, seats_used=90),
        events=(event(EventKind.OUTCOME, 20, "doubled output"),),
    )
    result = assess(facts, TODAY)
    assert result.trigger is not None and result.trigger.kind is TriggerKind.CAPACITY
    assert "90 of 100 seats" in result.script
    older = account(
        snap(30, seats_used=90),
        snap(20, seats_used=90),
        events=(event(EventKind.OUTCOME, 5, "doubled output"),),
    )
    assert "doubled output" in assess(older, TODAY).script
