"""Seed 002's Expansion Plan for one account, as a typed document built from live data.

The account's facts, its assessment (``scoring``) and its open plan, if any, become one
``PlanDocument``; ``bot/output/plan_document.py`` renders it as Markdown or HTML, and Slack
publishes that as a canvas or a file. Nothing here knows about Slack or formats: text fields
hold plain words and CRM text as it came, and each renderer escapes for its medium.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlmodel import Session

import db.plans
from bot.domain.brief import expansion_brief
from bot.domain.portfolio import Scored, assess_account
from bot.infra.settings import AppConfig
from db.models import Account, Plan, PlanStep
from scoring.brief import Brief, build_brief
from scoring.config import ScoringConfig
from scoring.engine import Assessment
from scoring.evidence import Signal, SignalKey, fmt_date
from scoring.facts import Health, Snapshot
from scoring.offer import CUSTOMER_VALUE, OfferType
from scoring.opportunity import score_opportunity
from scoring.plans import (
    PlanKind,
    add_months,
    plan_steps,
    renewal_plan,
    renewal_within_horizon,
)

STRONG_POINTS = 8  # seed 000's heaviest signals (8–12 points) are the strong ones


class Strength(StrEnum):
    STRONG = "strong"
    MODERATE = "moderate"


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Likelihood(StrEnum):
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"


@dataclass(frozen=True)
class StateRow:
    metric: str
    value: str


@dataclass(frozen=True)
class SignalRow:
    strength: Strength
    signal: str
    evidence: str  # CRM-derived
    opportunity: str


@dataclass(frozen=True)
class Play:
    title: str
    offer: str
    trigger: str  # why now (CRM-derived)
    value: str  # what the customer gets, in their terms
    arr: float
    timing: str
    owner: str  # CRM-derived
    approach: str  # CRM-derived (the offer's reason)
    talk_track: str  # CRM-derived (the script names their contact)


@dataclass(frozen=True)
class TimelineStep:
    weeks_before: int
    action: str
    owner: str  # CSM, AE, Legal
    due_on: date
    status: str = "planned"


@dataclass(frozen=True)
class RenewalStrategy:
    renewal_on: date
    within_horizon: bool
    risk: Risk
    risk_reasons: tuple[str, ...]
    expansion: Likelihood
    expand_with: str
    timeline: tuple[TimelineStep, ...]
    timeline_opens: date  # six months before the renewal: when the timeline applies


@dataclass(frozen=True)
class PlanStepLine:
    due_on: date
    name: str
    owner: str  # the role
    status: str


@dataclass(frozen=True)
class PlanDocument:
    account: str  # CRM-derived
    as_of: date
    csm: str  # CRM-derived
    ae: str
    arr: float
    renewal_on: date | None
    potential_arr: float
    confidence: int  # percent
    band: str
    score: int
    holding_back: str | None  # why there is no play yet (CRM-derived)
    state: tuple[StateRow, ...]
    signals: tuple[SignalRow, ...]
    plays: tuple[Play, ...]
    renewal: RenewalStrategy | None
    guide: tuple[str, ...]  # CRM-derived
    objections: tuple[tuple[str, str], ...]
    plan_kind: str | None  # the open plan's calendar, if there is one
    plan_steps: tuple[PlanStepLine, ...]
    brief: Brief  # seed 004's expansion brief and ROI

    @property
    def strong(self) -> tuple[SignalRow, ...]:
        return tuple(s for s in self.signals if s.strength is Strength.STRONG)

    @property
    def moderate(self) -> tuple[SignalRow, ...]:
        return tuple(s for s in self.signals if s.strength is Strength.MODERATE)


_PROPOSE = {
    SignalKey.CAPACITY: "More seats or higher limits before they hit the ceiling",
    SignalKey.POSITIVE_OUTCOME: "Build on the result: agree the next outcome to aim for",
    SignalKey.TEAM_EXPANDED: "Licences for the teams already using it",
    SignalKey.FEATURE_REQUEST: "A look at the tier that includes what they asked for",
    SignalKey.ADVOCACY: "A reference or case study, then the next step",
    SignalKey.RENEWAL_WINDOW: "Start the renewal early, with room to grow in it",
    SignalKey.NEW_INITIATIVE: "The offering that fits their new project",
    SignalKey.SHARED_SEAT: "A seat for each person who uses it",
    SignalKey.COMPANY_GROWTH: "Check the setup still fits a larger company",
}

_VALUE = CUSTOMER_VALUE

_ACTIONS = {  # seed 002's pre-renewal steps, by weeks before renewal
    12: "Executive business review",
    8: "Renewal and expansion proposal",
    4: "Negotiate and finalise",
    2: "Contract execution",
}
_WEEKS = tuple(_ACTIONS)


def build_plan_document(
    scored: Scored,
    *,
    plan: Plan | None = None,
    steps: Sequence[PlanStep] = (),
    config: ScoringConfig | None = None,
    brief: Brief | None = None,
) -> PlanDocument:
    """The document for an assessed account; ``plan``/``steps`` are its open plan, if any;
    ``brief`` is seed 004's brief with what the plans know (``bot.domain.brief``)."""
    a, account, latest = scored.assessment, scored.account, scored.facts.latest
    cfg = config or ScoringConfig()
    opp = a.opportunity
    csm = account.owner_name or account.owner_email or "not assigned"
    renewal_on = latest.renewal_on if latest else None
    return PlanDocument(
        account=account.name,
        as_of=a.today,
        csm=csm,
        ae="not on record",
        arr=scored.arr,
        renewal_on=renewal_on,
        potential_arr=opp.expansion_arr if opp and a.pitchable else 0.0,
        confidence=opp.likelihood * 10 if opp and a.pitchable else 0,
        band=a.band.label,
        score=a.score,
        holding_back=None if a.pitchable else a.recommendation,
        state=_state(latest),
        signals=tuple(_signal_row(s) for s in sorted(a.signals, key=lambda s: -s.points)),
        plays=_plays(scored, csm, plan, steps, cfg),
        renewal=_renewal(a, latest, plan, steps),
        guide=_guide(a),
        objections=tuple((o.says, o.answer) for o in a.objections),
        plan_kind=plan.kind if plan else None,
        plan_steps=tuple(PlanStepLine(s.due_on, s.name, s.role, s.status) for s in steps),
        brief=brief or build_brief(a, scored.facts),
    )


def plan_document(
    session: Session, account: Account, today: date, config: AppConfig
) -> PlanDocument:
    """Assess the account as of ``today`` and read its open plan."""
    scored = assess_account(session, account, today, config)
    plan = db.plans.open_plan(session, account.id) if account.id is not None else None
    steps = db.plans.plan_steps(session, plan.id) if plan and plan.id is not None else ()
    return build_plan_document(
        scored,
        plan=plan,
        steps=steps,
        config=config.scoring,
        brief=expansion_brief(session, scored),
    )


def _pct(part: int | None, whole: int | None, of: str) -> str:
    if part is None or not whole:
        return "not on record"
    return f"{round(100 * part / whole)}% {of}"


def _state(latest: Snapshot | None) -> tuple[StateRow, ...]:
    if latest is None:
        return (StateRow("Data", "No snapshot on record yet"),)
    seats = (
        f"{latest.seats_used} of {latest.seats_purchased}"
        if latest.seats_used is not None and latest.seats_purchased
        else "not on record"
    )
    nps = (
        f"{latest.nps}/10" + (f" ({fmt_date(latest.nps_on)})" if latest.nps_on else "")
        if latest.nps is not None
        else "no recent score"
    )
    used, available = latest.features_used, latest.features_available
    return (
        StateRow("Users / seats", seats),
        StateRow("Adoption", _pct(latest.active_users, latest.seats_purchased, "of seats active")),
        StateRow("Health", latest.health.value.capitalize() if latest.health else "not on record"),
        StateRow("NPS", nps),
        StateRow(
            "Features in use",
            f"{used} of {available}" if used is not None and available else "not on record",
        ),
        StateRow(
            "Features not yet used",
            str(available - used)
            if used is not None and available and available >= used
            else "not on record",
        ),
    )


def _signal_row(s: Signal) -> SignalRow:
    strength = Strength.STRONG if s.points >= STRONG_POINTS else Strength.MODERATE
    return SignalRow(strength, s.label, s.evidence, _PROPOSE[s.key])


def _timing(
    plan: Plan | None, steps: Sequence[PlanStep], a: Assessment, renewal_on: date | None
) -> str:
    """The next open step of the plan, or of the plan that would start today."""
    if plan is not None:
        for step in steps:
            if step.status in ("pending", "overdue"):
                return f"{step.name} by {fmt_date(step.due_on)} ({step.role})"
        return "Every step of the plan is closed"
    _, specs = plan_steps(a.today, renewal_on)
    first = specs[0]
    return f"{first.name} by {fmt_date(first.due_on)} ({first.role}), {a.band.when}"


def _plays(
    scored: Scored,
    csm: str,
    plan: Plan | None,
    steps: Sequence[PlanStep],
    cfg: ScoringConfig,
) -> tuple[Play, ...]:
    """The assessment's offer; and, when the renewal is near, the renewal itself as a play."""
    a, latest = scored.assessment, scored.facts.latest
    if not a.pitchable or a.offer is None or latest is None:
        return ()
    renewal_on = latest.renewal_on
    trigger = (
        f"{a.trigger.evidence} ({fmt_date(a.trigger.on)})"
        if a.trigger
        else (a.signals[0].evidence if a.signals else a.offer.reason)
    )
    plays = [
        Play(
            title=a.offer.type.label,
            offer=a.offer.type.label,
            trigger=trigger,
            value=_VALUE[a.offer.type],
            arr=a.opportunity.expansion_arr if a.opportunity else 0.0,
            timing=_timing(plan, steps, a, renewal_on),
            owner=f"{csm} (CSM)",
            approach=a.offer.reason,
            talk_track=a.script,
        )
    ]
    if a.offer.type is not OfferType.MULTI_YEAR and renewal_within_horizon(a.today, renewal_on):
        assert renewal_on is not None
        renewal = score_opportunity(
            OfferType.MULTI_YEAR, latest, a.band, a.trigger is not None, cfg.offers, cfg.opportunity
        )
        review = renewal_plan(a.today, renewal_on)[0]
        plays.append(
            Play(
                title=OfferType.MULTI_YEAR.label,
                offer=OfferType.MULTI_YEAR.label,
                trigger=f"Renewal on {fmt_date(renewal_on)}",
                value=_VALUE[OfferType.MULTI_YEAR],
                arr=renewal.expansion_arr,
                timing=f"{review.name} by {fmt_date(review.due_on)} ({review.role})",
                owner=f"AE, with {csm} (CSM)",
                approach=f"Fold the {a.offer.type.label.lower()} into a longer renewal",
                talk_track="",
            )
        )
    return tuple(plays)


def _risk(latest: Snapshot, a: Assessment) -> tuple[Risk, tuple[str, ...]]:
    reasons = [r.evidence for r in a.gate.reasons]
    if a.gate.blocked or latest.health is Health.RED:
        return Risk.HIGH, tuple(reasons or ["Health is red"])
    if latest.health is Health.YELLOW:
        reasons.append("Health is yellow")
    if latest.nps is None and not any(s.key is SignalKey.ADVOCACY for s in a.signals):
        reasons.append("No recent NPS or praise on record")
    if latest.open_urgent_tickets:
        reasons.append(f"{latest.open_urgent_tickets} urgent tickets open")
    return (Risk.MEDIUM if reasons else Risk.LOW), tuple(reasons)


def _renewal(
    a: Assessment, latest: Snapshot | None, plan: Plan | None, steps: Sequence[PlanStep]
) -> RenewalStrategy | None:
    if latest is None or latest.renewal_on is None or latest.renewal_on < a.today:
        return None
    renewal_on = latest.renewal_on
    risk, reasons = _risk(latest, a)
    if a.gate.blocked:
        expansion = Likelihood.UNLIKELY
    elif a.pitchable:
        expansion = Likelihood.LIKELY
    else:
        expansion = Likelihood.POSSIBLE
    expand_with = a.offer.type.label if a.offer else "Nothing yet: keep building value"
    if plan is not None and plan.kind == PlanKind.RENEWAL.value and len(steps) == len(_WEEKS):
        timeline = tuple(
            TimelineStep(w, s.name, s.role, s.due_on, s.status)
            for w, s in zip(_WEEKS, steps, strict=True)
        )
    else:
        timeline = tuple(
            TimelineStep(w, spec.name, spec.role, spec.due_on)
            for w, spec in zip(_WEEKS, renewal_plan(a.today, renewal_on), strict=True)
        )
    return RenewalStrategy(
        renewal_on=renewal_on,
        within_horizon=renewal_within_horizon(a.today, renewal_on),
        risk=risk,
        risk_reasons=reasons,
        expansion=expansion,
        expand_with=expand_with,
        timeline=timeline,
        timeline_opens=add_months(renewal_on, -6),
    )


def _guide(a: Assessment) -> tuple[str, ...]:
    """The renewal conversation in four moves, filled in with what we know."""
    win = next((s for s in a.signals if s.key is SignalKey.POSITIVE_OUTCOME), None)
    value = (
        f"Open with the value they got, in their numbers: {win.evidence}."
        if win
        else "Open with the value they got, in their numbers; ask for one if you have none."
    )
    next_step = (
        f"Bring in the {a.offer.type.label.lower()} as the obvious next step: {a.offer.reason}."
        if a.offer
        else "Only raise growth once the basics are working for them."
    )
    return (
        value,
        "Check progress against what they wanted when they signed.",
        next_step,
        "Name any worry before they do, and agree what happens next, with a date.",
    )
