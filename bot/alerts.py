"""Turning an assessment into alert state: what to store (``AlertSummary``), when it changed,
what to send."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from scoring.engine import Assessment, Readiness

if TYPE_CHECKING:
    from bot.infra.settings import AlertPolicy

Delivery = Literal["channel", "digest"]


@dataclass(frozen=True)
class SignalSummary:
    key: str = ""
    label: str = ""
    points: int = 0
    evidence: str = ""


@dataclass(frozen=True)
class TriggerSummary:
    kind: str = ""
    label: str = ""
    on: date | None = None
    evidence: str = ""
    key: str = ""


@dataclass(frozen=True)
class OfferSummary:
    type: str = ""
    label: str = ""
    reason: str = ""


@dataclass(frozen=True)
class OpportunitySummary:
    expansion_arr: float = 0.0
    revenue: int = 0
    effort: int = 0
    likelihood: int = 0
    score: float = 0.0
    tier: int = 0


@dataclass(frozen=True)
class GateSummary:
    code: str = ""
    evidence: str = ""
    fix: str = ""


@dataclass(frozen=True)
class AlertSummary:
    """What an alert shows, frozen at alert time: written by the cycle, stored as JSON in
    ``alert.summary``, read back by the cards, lists, digests and stats. ``from_json`` reads
    rows stored by older versions too: a missing key gets its default."""

    account: str = ""
    name: str = ""
    as_of: date | None = None
    score: int = 0
    band: str = "not_yet"
    signals: tuple[SignalSummary, ...] = ()
    trigger: TriggerSummary | None = None
    offer: OfferSummary | None = None
    opportunity: OpportunitySummary | None = None
    gate: tuple[GateSummary, ...] = ()
    activation: str | None = None
    script: str = ""
    recommendation: str = ""

    @classmethod
    def of(cls, assessment: Assessment) -> AlertSummary:
        a = assessment
        return cls(
            account=a.account_id,
            name=a.name,
            as_of=a.today,
            score=a.score,
            band=a.band.value,
            signals=tuple(
                SignalSummary(s.key.value, s.label, s.points, s.evidence) for s in a.signals
            ),
            trigger=(
                TriggerSummary(
                    a.trigger.kind.value,
                    a.trigger.kind.label,
                    a.trigger.on,
                    a.trigger.evidence,
                    a.trigger.dedupe_key,
                )
                if a.trigger
                else None
            ),
            offer=OfferSummary(a.offer.type.value, a.offer.type.label, a.offer.reason)
            if a.offer
            else None,
            opportunity=(
                OpportunitySummary(
                    a.opportunity.expansion_arr,
                    a.opportunity.revenue,
                    a.opportunity.effort,
                    a.opportunity.likelihood,
                    a.opportunity.score,
                    int(a.opportunity.tier),
                )
                if a.opportunity
                else None
            ),
            gate=tuple(GateSummary(r.code.value, r.evidence, r.fix) for r in a.gate.reasons),
            activation=a.activation.evidence if a.activation else None,
            script=a.script,
            recommendation=a.recommendation,
        )

    def to_json(self) -> dict[str, Any]:
        """The stored form (the keys and shapes rows have always had)."""
        t, o, p = self.trigger, self.offer, self.opportunity
        return {
            "account": self.account,
            "name": self.name,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "score": self.score,
            "band": self.band,
            "signals": [asdict(s) for s in self.signals],
            "trigger": (
                {
                    "kind": t.kind,
                    "label": t.label,
                    "on": t.on.isoformat() if t.on else None,
                    "evidence": t.evidence,
                    "key": t.key,
                }
                if t
                else None
            ),
            "offer": asdict(o) if o else None,
            "opportunity": asdict(p) if p else None,
            "gate": [asdict(g) for g in self.gate],
            "activation": self.activation,
            "script": self.script,
            "recommendation": self.recommendation,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> AlertSummary:
        """A stored summary, however old: missing keys (or a missing row) get defaults."""
        d = data or {}
        t, o, p = d.get("trigger"), d.get("offer"), d.get("opportunity")
        return cls(
            account=str(d.get("account") or ""),
            name=str(d.get("name") or ""),
            as_of=_day(d.get("as_of")),
            score=int(d.get("score") or 0),
            band=str(d.get("band") or "not_yet"),
            signals=tuple(
                SignalSummary(
                    str(s.get("key") or ""),
                    str(s.get("label") or ""),
                    int(s.get("points") or 0),
                    str(s.get("evidence") or ""),
                )
                for s in d.get("signals") or ()
            ),
            trigger=(
                TriggerSummary(
                    str(t.get("kind") or ""),
                    str(t.get("label") or ""),
                    _day(t.get("on")),
                    str(t.get("evidence") or ""),
                    str(t.get("key") or ""),
                )
                if isinstance(t, Mapping)
                else None
            ),
            offer=(
                OfferSummary(
                    str(o.get("type") or ""), str(o.get("label") or ""), str(o.get("reason") or "")
                )
                if isinstance(o, Mapping)
                else None
            ),
            opportunity=(
                OpportunitySummary(
                    float(p.get("expansion_arr") or 0.0),
                    int(p.get("revenue") or 0),
                    int(p.get("effort") or 0),
                    int(p.get("likelihood") or 0),
                    float(p.get("score") or 0.0),
                    int(p.get("tier") or 0),
                )
                if isinstance(p, Mapping)
                else None
            ),
            gate=tuple(
                GateSummary(
                    str(g.get("code") or ""), str(g.get("evidence") or ""), str(g.get("fix") or "")
                )
                for g in d.get("gate") or ()
            ),
            activation=None if d.get("activation") is None else str(d["activation"]),
            script=str(d.get("script") or ""),
            recommendation=str(d.get("recommendation") or ""),
        )

    @property
    def expansion_arr(self) -> float:
        return self.opportunity.expansion_arr if self.opportunity else 0.0

    @staticmethod
    def expansion_arr_of(data: Mapping[str, Any] | None) -> float:
        """``from_json(data).expansion_arr`` without reading the rest: stats and digests
        read it for every alert."""
        opportunity = (data or {}).get("opportunity")
        if not isinstance(opportunity, Mapping):
            return 0.0
        return float(opportunity.get("expansion_arr") or 0.0)


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def summarize(assessment: Assessment) -> dict[str, Any]:
    """The stored (JSON) form of an assessment's ``AlertSummary``."""
    return AlertSummary.of(assessment).to_json()


def state_hash(assessment: Assessment) -> str:
    """Changes when anything a CSM would care about changes; equal state means no new alert."""
    a = assessment
    state = {
        "band": a.band.value,
        "score": a.score,
        "signals": sorted(s.key.value for s in a.signals),
        "trigger": a.trigger.dedupe_key if a.trigger else None,
        "offer": a.offer.type.value if a.offer else None,
        "gate": sorted(r.code.value for r in a.gate.reasons),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def delivery_for(assessment: Assessment | Readiness, policy: AlertPolicy) -> Delivery | None:
    """Where a new alert on this assessment goes: a channel now, the digest, or nowhere (not
    pitchable, or its band is in neither list). The cycle and the backtest both ask this."""
    if not assessment.pitchable:
        return None
    band = assessment.band.value
    if band in policy.digest_bands:
        return "digest"
    return "channel" if band in policy.post_bands else None
