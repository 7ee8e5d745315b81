"""Properties that must hold for any well-typed account."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scoring.bands import band_for
from scoring.config import ScoringConfig
from scoring.engine import assess
from scoring.evidence import Signal, SignalKey, fmt_date
from scoring.facts import AccountFacts, Event, EventKind, Health, Snapshot
from scoring.signals import readiness_signals
from scoring.triggers import detect_episodes

TODAY = date(2026, 11, 20)
CFG = ScoringConfig()
small = st.none() | st.integers(min_value=0, max_value=10_000)
money = st.none() | st.floats(min_value=0, max_value=1e9, allow_nan=False)
days = st.integers(min_value=-400, max_value=400)


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    names = draw(st.lists(st.sampled_from(["api", "storage", "runs"]), unique=True, max_size=3))
    return Snapshot(
        taken_on=TODAY - timedelta(days=draw(st.integers(0, 400))),
        seats_used=draw(small),
        seats_purchased=draw(small),
        active_users=draw(small),
        departments=draw(small),
        headcount=draw(small),
        annual_revenue=draw(money),
        usage={n: draw(st.floats(0, 1e7, allow_nan=False)) for n in names},
        limits={n: draw(st.floats(0, 1e7, allow_nan=False)) for n in names},
        health=draw(st.none() | st.sampled_from(list(Health))),
        nps=draw(st.none() | st.integers(0, 10)),
        open_urgent_tickets=draw(small),
        last_contact_on=draw(st.none() | days.map(lambda d: TODAY - timedelta(days=d))),
        renewal_on=draw(st.none() | days.map(lambda d: TODAY + timedelta(days=d))),
        arr=draw(money),
        features_used=draw(small),
        features_available=draw(small),
        nps_on=draw(st.none() | days.map(lambda d: TODAY - timedelta(days=d))),
        headcount_at_purchase=draw(small),
        departments_at_purchase=draw(small),
        seats_at_purchase=draw(small),
        active_users_at_purchase=draw(small),
    )


@st.composite
def accounts(draw: st.DrawFn) -> AccountFacts:
    history = sorted(draw(st.lists(snapshots(), max_size=8)), key=lambda s: s.taken_on)
    events = draw(
        st.lists(
            st.builds(
                Event,
                kind=st.sampled_from(list(EventKind)),
                on=days.map(lambda d: TODAY - timedelta(days=d)),
                detail=st.text(max_size=40),
            ),
            max_size=6,
        )
    )
    purchased = draw(st.none() | days.map(lambda d: TODAY - timedelta(days=abs(d))))
    name = draw(st.text(min_size=1, max_size=50))
    return AccountFacts("acct", name, history, events, purchased_on=purchased)


@settings(max_examples=300, deadline=None)
@given(accounts())
def test_scoring_never_raises_and_score_is_sum_of_evidence(facts: AccountFacts) -> None:
    result = assess(facts, TODAY)
    assert result.score == sum(s.points for s in result.signals)
    assert all(s.evidence for s in result.signals)
    assert result.band is band_for(result.score)
    if result.gate.blocked:
        assert result.offer is None and result.script == ""
    if result.opportunity is not None:
        assert 0 <= result.opportunity.score <= 10


@given(st.integers(min_value=0, max_value=200))
def test_band_is_a_function_of_the_score_alone(score: int) -> None:
    assert band_for(score) is band_for(score)
    lower = band_for(max(score - 1, 0))
    assert lower.rank >= band_for(score).rank  # never a better band for a lower score


@settings(max_examples=100, deadline=None)
@given(accounts())
def test_episode_keys_are_unique_and_reproducible(facts: AccountFacts) -> None:
    cfg = ScoringConfig()
    first = detect_episodes(facts, TODAY, cfg)
    keys = [e.dedupe_key for e in first]
    assert len(keys) == len(set(keys))
    assert keys == [e.dedupe_key for e in detect_episodes(facts, TODAY, cfg)]


def _advocacy(facts: AccountFacts, day: date) -> Signal | None:
    found = [s for s in readiness_signals(facts, day, CFG) if s.key is SignalKey.ADVOCACY]
    return found[0] if found else None


@settings(max_examples=300, deadline=None)
@given(accounts(), snapshots(), st.integers(1, 90))
def test_repeating_the_current_nps_never_moves_its_date(
    facts: AccountFacts, other: Snapshot, gap: int
) -> None:
    """A later snapshot made because something else changed repeats the score (and the survey
    date it carried): the score keeps its date, and advocacy is awarded exactly as before."""
    known = facts.latest_nps()
    assume(known is not None)
    assert known is not None
    carried = next(s.nps_on for s in reversed(facts.history) if s.nps is not None)
    later = replace(
        other,
        taken_on=facts.history[-1].taken_on + timedelta(days=gap),
        nps=known[0],
        nps_on=carried,
    )
    grown = replace(facts, history=[*facts.history, later])
    assert grown.latest_nps() == known
    assert _advocacy(grown, later.taken_on) == _advocacy(facts, later.taken_on)


@settings(max_examples=300, deadline=None)
@given(accounts())
def test_growth_evidence_says_which_baseline_it_measured_from(facts: AccountFacts) -> None:
    latest = facts.latest
    for signal in readiness_signals(facts, TODAY, CFG):
        if signal.key not in (SignalKey.TEAM_EXPANDED, SignalKey.COMPANY_GROWTH):
            continue
        assert latest is not None
        if "since purchase" in signal.evidence:
            kept = (
                latest.departments_at_purchase,
                latest.active_users_at_purchase,
                latest.headcount_at_purchase,
            )
            assert any(v is not None for v in kept)
            assert ("since purchase (" in signal.evidence) is (facts.purchased_on is not None)
        else:
            assert facts.baseline is not None and facts.baseline is not latest
            assert f"since first seen on {fmt_date(facts.baseline.taken_on)}" in signal.evidence
