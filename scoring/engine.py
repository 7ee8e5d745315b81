"""One call that runs every rule on an account and returns a self-explaining result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from scoring.activation import ActivationFinding, activation_need
from scoring.bands import Band, band_for
from scoring.config import ScoringConfig
from scoring.evidence import Signal, SignalKey
from scoring.facts import AccountFacts
from scoring.gate import GateResult, health_gate
from scoring.offer import NEXT_STEPS, Offer, choose_offer
from scoring.opportunity import Opportunity, score_opportunity
from scoring.scripts import Objection, objection_answers, opening_script
from scoring.signals import readiness_signals
from scoring.triggers import (
    Episode,
    detect_episodes,
    live_episodes,
    most_recent,
)


@dataclass(frozen=True)
class Assessment:
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
    def score(self) -> int:
        return sum(s.points for s in self.signals)

    @property
    def pitchable(self) -> bool:
        """Worth a conversation now: not gated and there is something to offer."""
        return not self.gate.blocked and self.offer is not None

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
        return "Keep building value and watch for a trigger."

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


def _readiness(
    facts: AccountFacts, today: date, cfg: ScoringConfig
) -> tuple[AccountFacts, list[Signal], Band, GateResult, ActivationFinding | None, Offer | None]:
    """The facts known on ``today`` and what they say: signals, band, gate, activation, offer."""
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
        offer = choose_offer(signals, facts.latest, activation)
    return facts, signals, band, gate, activation, offer


def pitchable_on(facts: AccountFacts, today: date, cfg: ScoringConfig | None = None) -> bool:
    """``assess(...).pitchable`` without the rest (episodes, opportunity, script): all a replay
    asks of the days an alert stays open."""
    _, _, _, gate, _, offer = _readiness(facts, today, cfg or ScoringConfig())
    return not gate.blocked and offer is not None


def assess(
    facts: AccountFacts,
    today: date,
    cfg: ScoringConfig | None = None,
    *,
    episodes_later: Sequence[Episode] | None = None,
) -> Assessment:
    """Score an account as of ``today``; facts dated after ``today`` are ignored.

    ``episodes_later``: the account's episodes as of a later day, from the same facts and
    config (a replay detects them once). Episodes are edges, so the ones as of ``today`` are
    exactly those dated up to ``today``; passing them saves detecting them again each day."""
    cfg = cfg or ScoringConfig()
    facts, signals, band, gate, activation, offer = _readiness(facts, today, cfg)
    if episodes_later is None:
        episodes = detect_episodes(facts, today, cfg)
    else:
        episodes = [e for e in episodes_later if e.on <= today]
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
        signals=tuple(signals),
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
