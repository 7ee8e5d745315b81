"""Turning an assessment into alert state: what to store, when it changed, what to send."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from scoring.engine import Assessment


def summarize(assessment: Assessment) -> dict[str, Any]:
    """A JSON-safe snapshot of an assessment: what the alert shows, frozen at alert time."""
    a = assessment
    return {
        "account": a.account_id,
        "name": a.name,
        "as_of": a.today.isoformat(),
        "score": a.score,
        "band": a.band.value,
        "signals": [
            {"key": s.key.value, "label": s.label, "points": s.points, "evidence": s.evidence}
            for s in a.signals
        ],
        "trigger": (
            {
                "kind": a.trigger.kind.value,
                "label": a.trigger.kind.label,
                "on": a.trigger.on.isoformat(),
                "evidence": a.trigger.evidence,
                "key": a.trigger.dedupe_key,
            }
            if a.trigger
            else None
        ),
        "offer": (
            {"type": a.offer.type.value, "label": a.offer.type.label, "reason": a.offer.reason}
            if a.offer
            else None
        ),
        "opportunity": (
            {
                "expansion_arr": a.opportunity.expansion_arr,
                "revenue": a.opportunity.revenue,
                "effort": a.opportunity.effort,
                "likelihood": a.opportunity.likelihood,
                "score": a.opportunity.score,
                "tier": int(a.opportunity.tier),
            }
            if a.opportunity
            else None
        ),
        "gate": [
            {"code": r.code.value, "evidence": r.evidence, "fix": r.fix} for r in a.gate.reasons
        ],
        "activation": a.activation.evidence if a.activation else None,
        "script": a.script,
        "recommendation": a.recommendation,
    }


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
