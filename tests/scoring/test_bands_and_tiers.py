from __future__ import annotations

import pytest

from scoring.bands import Band, band_for
from scoring.config import Bands, OpportunityWeights
from scoring.opportunity import Tier, tier_for, weighted_score


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (64, Band.PRIORITY),
        (35, Band.PRIORITY),
        (34, Band.READY),
        (20, Band.READY),
        (19, Band.CANDIDATE),
        (10, Band.CANDIDATE),
        (9, Band.NOT_YET),
        (0, Band.NOT_YET),
    ],
)
def test_band_edges(score: int, band: Band) -> None:
    assert band_for(score) is band


def test_band_edges_follow_config() -> None:
    assert band_for(30, Bands(priority=30, ready=15, candidate=5)) is Band.PRIORITY


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (10.0, Tier.TIER_1),
        (8.0, Tier.TIER_1),
        (7.99, Tier.TIER_2),
        (6.0, Tier.TIER_2),
        (5.9, Tier.TIER_3),
        (4.0, Tier.TIER_3),
        (3.9, Tier.TIER_4),
        (2.0, Tier.TIER_4),
        (1.9, Tier.TIER_5),
        (0.0, Tier.TIER_5),
    ],
)
def test_opportunity_tiers(score: float, tier: Tier) -> None:
    assert tier_for(score) is tier


def test_weights_are_40_30_30() -> None:
    w = OpportunityWeights()
    assert weighted_score(10, 5, 5, w) == 7.0
    assert weighted_score(5, 10, 5, w) == 6.5
    assert weighted_score(5, 5, 10, w) == 6.5


def test_hours_to_close_follow_the_effort_scale() -> None:
    """Less effort (a higher score) never costs more hours, and self-serve needs no AE."""
    from itertools import pairwise

    from scoring.opportunity import hours_to_close

    hours = [hours_to_close(e) for e in range(1, 11)]
    assert hours_to_close(10) == (1, 0) and hours_to_close(1) == (16, 24)
    assert all(a[0] >= b[0] and a[1] >= b[1] for a, b in pairwise(hours))
