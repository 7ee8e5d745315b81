"""Properties that must hold for any well-typed account."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.bands import band_for
from scoring.config import ScoringConfig
from scoring.engine import assess
from scoring.facts import AccountFacts, Event, EventKind, Health, Snapshot
from scoring.triggers import detect_episodes

TODAY = date(2026, 11, 20)
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
    return AccountFacts("acct", draw(st.text(min_size=1, max_size=50)), history, events)


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
