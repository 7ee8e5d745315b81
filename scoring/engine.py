"""One call that runs every rule on an account and returns a self-explaining result."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from scoring.activation import ActivationFinding, activation_need
from scoring.bands import Band, band_for
from scoring.config import ScoringConfig
from scoring.evidence import Signal, SignalKey
from scoring.facts import AccountFacts, EventKind
from scoring.gate import GateResult, health_gate, quarter_end
from scoring.offer import NEXT_STEPS, Offer, OfferContext, choose_offer
from scoring.opportunity import Opportunity, score_opportunity
from scoring.scripts import Objection, objection_answers, opening_script
from scoring.signals import competitor_in_use, departments_grown, readiness_signals
from scoring.triggers import (
    Episode,
    detect_episodes,
    live_episodes,
    most_recent,
)


class Verdict:
    """What an assessment and a readiness both answer from their signals, gate and offer."""

    signals: tuple[Signal, ...]
    gate: GateResult
    offer: Offer | None

    @property
    def score(self) -> int:
        return sum(s.points for s in self.signals)

    @property
    def pitchable(self) -> bool:
        """Worth a conversation now: not gated and there is something to offer."""
        return not self.gate.blocked and self.offer is not None


@dataclass(frozen=True)
class Assessment(Verdict):
    account_id: str
    name: str
    today: date
    signals: tuple[Signal, ...]
    band: Band
    episodes: tuple[Episode, ...]  # every episode in the history, oldest first
    trigger: Episode | None  # the most recent live episode: it chooses the opening
    gate: GateResult
    activation: ActivationFinding | None
    offer: Offer | None  # None when gated, Not yet, under-adopting without intent, or no fit
    opportunity: Opportunity | None
    script: str
    objections: tuple[Objection, ...]

    @property
    def pace(self) -> str:
        """When to talk: the band's pace, unless the gate holds the pitch."""
        return "on hold until fixed" if self.gate.blocked else self.band.when

    @property
    def next_step(self) -> str:
        """The first action to take, whatever the state: fix, enable, pitch or wait."""
        if self.gate.blocked:
            return self.gate.fix_first or ""
        if self.activation is not None and self.offer is None:
            return self.activation.recommendation
        if self.offer is not None:
            return NEXT_STEPS[self.offer.type]
        if self.band is Band.NOT_YET:
            return "Keep building value; nothing to raise until more signals show."
        return "Keep building value; none of its signals points to an offer yet."

    @property
    def recommendation(self) -> str:
        if self.gate.blocked:
            return f"Fix first: {self.gate.fix_first}"
        if self.activation is not None and self.offer is None:
            return f"Activate first: {self.activation.recommendation}"
        if self.offer is None and self.band is Band.NOT_YET:
            return "Not yet: focus on health and adoption before any expansion talk."
        if self.offer is None:
            return "Nothing to offer yet: keep building value."
        return f"{self.offer.type.label}: {self.offer.reason}"


@dataclass(frozen=True)
class Readiness(Verdict):
    """The part of an assessment that says whether to pitch: the signals, band, gate and offer
    (no episodes, opportunity or script). A replay asks only this of most days."""

    facts: AccountFacts  # the facts known on the day
    signals: tuple[Signal, ...]
    band: Band
    gate: GateResult
    activation: ActivationFinding | None
    offer: Offer | None


def readiness(facts: AccountFacts, today: date, cfg: ScoringConfig | None = None) -> Readiness:
    """The facts known on ``today`` and what they say: signals, band, gate, activation, offer."""
    cfg = cfg or ScoringConfig()
    if any(s.taken_on > today for s in facts.history) or any(e.on > today for e in facts.events):
        facts = replace(
            facts,
            history=[s for s in facts.history if s.taken_on <= today],
            events=[e for e in facts.events if e.on <= today],
        )
    signals = readiness_signals(facts, today, cfg)
    band = band_for(sum(s.points for s in signals), cfg.bands)
    gate = health_gate(facts, today, cfg.gate)
    activation = activation_need(facts, cfg.activation)
    offer = None
    if not gate.blocked and band is not Band.NOT_YET:
        context = OfferContext(
            departments_grown=departments_grown(facts),
            competitor=competitor_in_use(facts, today, cfg),
            add_ons=cfg.offers.add_ons,
            support_tickets=cfg.offers.support_tickets,
        )
        offer = choose_offer(signals, facts.latest, activation, context)
    return Readiness(facts, tuple(signals), band, gate, activation, offer)


def readiness_changes(facts: AccountFacts, start: date, end: date, cfg: ScoringConfig) -> set[date]:
    """Every day from ``start`` to ``end`` on which ``readiness`` may differ from the day
    before: the facts changed (a snapshot or event is dated that day), or a window of the rules
    opens or closes (an event or NPS ageing out of its signal, a renewal entering or leaving
    its range, a silence passing the gate's limit, our quarter's quiet days). Between two such
    days the answer is the same, so a replay asks once. Keep in step with the rules in
    ``scoring/signals.py`` and ``scoring/gate.py``: tests compare a replay that relies on this
    with one that scores every day."""
    s, g = cfg.signals, cfg.gate
    one = timedelta(days=1)
    windows = {
        EventKind.OUTCOME: s.outcome_days,
        EventKind.MILESTONE: s.outcome_days,
        EventKind.FEATURE_REQUEST: s.feature_request_days,
        EventKind.PRAISE: s.advocacy_days,
        EventKind.INITIATIVE: s.initiative_days,
        EventKind.COMPETITOR: s.feature_request_days,
    }
    days: set[date] = set()
    for event in facts.events:
        days.add(event.on)
        if event.kind in windows:
            days.add(event.on + timedelta(days=windows[event.kind]) + one)
    advocacy = timedelta(days=s.advocacy_days)
    for snap in facts.history:
        days.add(snap.taken_on)
        days.add(snap.taken_on + advocacy + one)
        if snap.nps_on is not None:
            days |= {snap.nps_on, snap.nps_on + advocacy + one}
        if snap.renewal_on is not None:
            days.add(snap.renewal_on - timedelta(days=s.renewal_max_days))
            days.add(snap.renewal_on - timedelta(days=s.renewal_min_days) + one)
        if snap.last_contact_on is not None:
            days.add(snap.last_contact_on + timedelta(days=g.max_days_since_contact) + one)
    day = start
    while day <= end:
        last = quarter_end(day, g.fiscal_year_start_month)
        days |= {last - timedelta(days=g.quarter_end_quiet_days) + one, last + one}
        day = last + one
    return {d for d in days if start <= d <= end}


def readiness_key(cfg: ScoringConfig) -> tuple[object, ...]:
    """The parts of a config ``readiness`` reads: two configs with the same key give the same
    readiness (a replay of two configs that differ only in triggers asks once)."""
    return (
        cfg.points,
        cfg.signals,
        cfg.bands,
        cfg.gate,
        cfg.activation,
        cfg.offers.model_dump_json(),
    )


def assess(facts: AccountFacts, today: date, cfg: ScoringConfig | None = None) -> Assessment:
    """Score an account as of ``today``; facts dated after ``today`` are ignored."""
    cfg = cfg or ScoringConfig()
    ready = readiness(facts, today, cfg)
    facts, signals, band, gate = ready.facts, ready.signals, ready.band, ready.gate
    activation, offer = ready.activation, ready.offer
    episodes = detect_episodes(facts, today, cfg)
    trigger = most_recent(live_episodes(episodes, today, cfg))
    latest = facts.latest
    opportunity = None
    if offer is not None and latest is not None:
        opportunity = score_opportunity(
            offer.type, latest, band, trigger is not None, cfg.offers, cfg.opportunity
        )
    script = opening_script(
        facts.name,
        facts.contact_name,
        trigger,
        offer,
        today=today,
        renewal_on=latest.renewal_on if latest is not None else None,
    )
    gap = next((s.evidence for s in signals if s.key is SignalKey.CAPACITY), "")
    return Assessment(
        account_id=facts.account_id,
        name=facts.name,
        today=today,
        signals=signals,
        band=band,
        episodes=tuple(episodes),
        trigger=trigger,
        gate=gate,
        activation=activation,
        offer=offer,
        opportunity=opportunity,
        script=script,
        objections=tuple(objection_answers(gap)) if offer else (),
    )
