"""Activation vs expansion (seed 003): selling more to someone not using what they have
destroys trust, so low adoption turns the recommendation into enablement."""

from __future__ import annotations

from dataclasses import dataclass

from scoring.config import Activation
from scoring.evidence import fmt_pct
from scoring.facts import AccountFacts


@dataclass(frozen=True)
class ActivationFinding:
    adoption: float
    evidence: str
    recommendation: str


def activation_need(facts: AccountFacts, cfg: Activation) -> ActivationFinding | None:
    latest = facts.latest
    if latest is None:
        return None
    adoption = latest.feature_adoption()
    if adoption is None or adoption >= cfg.min_feature_adoption:
        return None
    return ActivationFinding(
        adoption,
        f"{latest.features_used} of {latest.features_available} features they own in use"
        f" ({fmt_pct(adoption)})",
        "Run an enablement session on the features they already pay for; revisit expansion"
        " once adoption passes " + fmt_pct(cfg.min_feature_adoption) + ".",
    )
