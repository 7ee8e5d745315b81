"""Opportunity score (seed 003): revenue potential, effort and likelihood, each 1-10,
weighted 0.40 / 0.30 / 0.30 by default, and the tier that says when to act."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

from scoring.bands import Band
from scoring.config import OfferEconomics, OpportunityWeights
from scoring.facts import Health, Snapshot
from scoring.offer import OfferType


class Tier(IntEnum):
    TIER_1 = 1
    TIER_2 = 2
    TIER_3 = 3
    TIER_4 = 4
    TIER_5 = 5

    @property
    def label(self) -> str:
        return _TIER_LABELS[self]


_TIER_LABELS = {
    Tier.TIER_1: "Tier 1 — pursue now",
    Tier.TIER_2: "Tier 2 — this quarter",
    Tier.TIER_3: "Tier 3 — nurture",
    Tier.TIER_4: "Tier 4 — monitor",
    Tier.TIER_5: "Tier 5 — deprioritise",
}


def tier_for(score: float) -> Tier:
    """8.0-10 Tier 1, 6.0-7.9 Tier 2, 4.0-5.9 Tier 3, 2.0-3.9 Tier 4, below 2 Tier 5."""
    if score >= 8.0:
        return Tier.TIER_1
    if score >= 6.0:
        return Tier.TIER_2
    if score >= 4.0:
        return Tier.TIER_3
    if score >= 2.0:
        return Tier.TIER_4
    return Tier.TIER_5


@dataclass(frozen=True)
class Opportunity:
    offer: OfferType
    expansion_arr: float
    revenue: int
    effort: int
    likelihood: int
    score: float

    @property
    def tier(self) -> Tier:
        return tier_for(self.score)


def estimate_expansion_arr(offer: OfferType, latest: Snapshot, econ: OfferEconomics) -> float:
    arr = latest.arr or 0.0
    if arr <= 0:
        return 0.0
    if offer is OfferType.CAPACITY:
        purchased = latest.seats_purchased
        used = max(latest.seats_used or 0, latest.active_users or 0)
        if purchased and purchased > 0:
            wanted = math.ceil(max(used, purchased) * (1 + econ.capacity_headroom))
            extra = max(wanted - purchased, 1)
            return round(arr / purchased * extra, 2)
        return round(arr * econ.capacity_headroom, 2)
    uplift = {
        OfferType.TIER_UPGRADE: econ.tier_upgrade_uplift,
        OfferType.CROSS_SELL: econ.cross_sell_uplift,
        OfferType.PROFESSIONAL_SERVICES: econ.services_uplift,
        OfferType.MULTI_YEAR: econ.multi_year_uplift,
    }[offer]
    return round(arr * uplift, 2)


# (minimum relative growth, points): seed 003's table, each 2-point row split at its midpoint.
_REVENUE_STEPS = (
    (0.75, 10), (0.50, 9), (0.37, 8), (0.25, 7), (0.17, 6),
    (0.10, 5), (0.07, 4), (0.05, 3), (0.025, 2),
)  # fmt: skip


def revenue_points(expansion_arr: float, current_arr: float, econ: OfferEconomics) -> int:
    """Relative growth sets the points; a large absolute amount adds one (seed 003)."""
    if current_arr <= 0 or expansion_arr <= 0:
        return 1
    ratio = expansion_arr / current_arr
    points = next((p for floor, p in _REVENUE_STEPS if ratio >= floor), 1)
    if expansion_arr >= econ.absolute_bonus_arr:
        points += 1
    return min(points, 10)


def effort_points(offer: OfferType, latest: Snapshot, econ: OfferEconomics) -> int:
    """Higher is easier. Big accounts mean more stakeholders, so less easy."""
    points = econ.effort.get(offer.value, 5)
    if (latest.arr or 0) >= econ.large_account_arr:
        points -= 2
    return max(1, min(points, 10))


_BAND_LIKELIHOOD = {Band.PRIORITY: 8, Band.READY: 7, Band.CANDIDATE: 5, Band.NOT_YET: 3}


def likelihood_points(band: Band, latest: Snapshot, has_trigger: bool) -> int:
    points = _BAND_LIKELIHOOD[band]
    if has_trigger:
        points += 1
    if latest.health is Health.YELLOW:
        points -= 1
    elif latest.health is Health.RED:
        points -= 3
    return max(1, min(points, 10))


def weighted_score(revenue: int, effort: int, likelihood: int, w: OpportunityWeights) -> float:
    return round(revenue * w.revenue + effort * w.effort + likelihood * w.likelihood, 2)


def score_opportunity(
    offer: OfferType,
    latest: Snapshot,
    band: Band,
    has_trigger: bool,
    econ: OfferEconomics,
    weights: OpportunityWeights,
) -> Opportunity:
    arr = estimate_expansion_arr(offer, latest, econ)
    revenue = revenue_points(arr, latest.arr or 0.0, econ)
    effort = effort_points(offer, latest, econ)
    likelihood = likelihood_points(band, latest, has_trigger)
    return Opportunity(
        offer,
        arr,
        revenue,
        effort,
        likelihood,
        weighted_score(revenue, effort, likelihood, weights),
    )


# Seed 003's effort scale read as the hours it takes to close, CSM then AE: a single
# conversation, one or two champion-led meetings, a standard cycle with proposal and demo, an
# extended cycle with executive buy-in, a complex enterprise sale. Our estimates, stated in the
# playbook's appendix so a team can replace them with its own.
_HOURS_BY_EFFORT = ((9, 1, 0), (7, 3, 1), (5, 6, 6), (3, 10, 12), (1, 16, 24))


def hours_to_close(effort: int) -> tuple[int, int]:
    """(CSM hours, AE hours) to pursue an opportunity of this effort score (1-10)."""
    return next((csm, ae) for floor, csm, ae in _HOURS_BY_EFFORT if effort >= floor)


# When to look again at an opportunity not pursued now: Tier 3 as a Candidate is asked (60-90
# days), Tier 4 after seed 003's 90 days; Tier 5 is documented and left.
REVISIT_DAYS = {Tier.TIER_3: 60, Tier.TIER_4: 90}
# How soon to act on the others: Tier 1 is assigned this week, Tier 2 reached within 30 days.
ACT_WITHIN_DAYS = {Tier.TIER_1: 7, Tier.TIER_2: 30}
