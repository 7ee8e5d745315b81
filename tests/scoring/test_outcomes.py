"""Outcome metrics on a small fixture portfolio, against values worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from scoring.outcomes import (
    AlertRecord,
    PlanRecord,
    RevenuePoint,
    expansion_share,
    outcome_metrics,
    retained_after_expansion,
    retention,
)

T0 = datetime(2026, 6, 1, 9, 0)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


ALERTS = [
    # trigger, created, acknowledged after, feedback, plan?, posted, estimate
    AlertRecord("capacity", T0, h(2), "useful", True, True, 10_000),
    AlertRecord("capacity", T0, h(4), "useful", True, True, 8_000),
    AlertRecord("capacity", T0, None, "noise", False, True, 5_000),
    AlertRecord("renewal", T0, h(30), "useful", True, True, 4_000),
    AlertRecord("renewal", T0, None, None, False, True, 3_000),
    AlertRecord("success", T0, h(1), "noise", False, True, 6_000),
    AlertRecord("success", T0, None, None, False, False, 2_000),  # digest only
]
PLANS = [
    PlanRecord("capacity", "capacity", "won", T0, T0 + timedelta(days=40), 12_000, 10_000),
    PlanRecord("capacity", "capacity", "lost", T0, T0 + timedelta(days=60), None, 8_000),
    PlanRecord("renewal", "multi_year", "not_this_cycle", T0, T0 + timedelta(days=80), None, 4_000),
    PlanRecord("success", "tier_upgrade", "won", T0, T0 + timedelta(days=20), 6_000, 6_000),
    PlanRecord("initiative", "cross_sell", "open", T0, None, None, 9_000),
]


def test_outcome_metrics_match_hand_computed_values() -> None:
    m = outcome_metrics(ALERTS, PLANS)
    # Pipeline: open plans 9,000 + posted alerts without a plan and not marked noise: 3,000.
    assert m.pipeline_arr == 12_000
    assert m.won_arr == 18_000 and m.average_deal_arr == 9_000
    # Closed plans: capacity 1 won of 2; renewal 0 of 1; success 1 of 1.
    assert {k: (r.hits, r.total) for k, r in m.conversion_by_trigger.items()} == {
        "capacity": (1, 2),
        "renewal": (0, 1),
        "success": (1, 1),
    }
    assert m.conversion_by_offer["capacity"].value == 0.5
    assert m.conversion_by_offer["multi_year"].value == 0.0
    # (40 + 60 + 80 + 20) / 4 = 50 days.
    assert m.average_days_to_close == 50
    # 6 posted alerts, 3 with a plan.
    assert (m.alert_to_plan.hits, m.alert_to_plan.total) == (3, 6)
    # Acknowledged after 2, 4, 30 and 1 hours: median 3.
    assert m.median_hours_to_ack == 3
    # Precision: capacity 2 useful of 3 rated; renewal 1 of 1; success 0 of 1.
    assert {k: (r.hits, r.total) for k, r in m.precision_by_trigger.items()} == {
        "capacity": (2, 3),
        "renewal": (1, 1),
        "success": (0, 1),
    }
    assert m.nrr is None and m.grr is None  # no revenue data


def test_nrr_and_grr() -> None:
    points = [
        RevenuePoint("a", 100_000, 130_000),  # expanded
        RevenuePoint("b", 50_000, 40_000),  # contracted
        RevenuePoint("c", 50_000, None),  # churned
        RevenuePoint("d", None, 80_000),  # new logo: not in the base
    ]
    nrr, grr = retention(points)
    assert nrr == pytest.approx(170_000 / 200_000)  # 0.85
    assert grr == pytest.approx(140_000 / 200_000)  # 0.70


def test_empty_portfolio_has_no_rates() -> None:
    m = outcome_metrics([], [])
    assert m.alert_to_plan.value is None and m.average_days_to_close is None
    assert m.median_hours_to_ack is None and m.conversion_by_trigger == {}


def test_expansion_share_counts_growth_of_existing_customers_over_all_arr() -> None:
    points = [RevenuePoint("a", 100.0, 150.0), RevenuePoint("b", 200.0, 180.0)]
    # a grew by 50, b shrank (not negative expansion); a new logo adds 50 to the total only
    assert expansion_share(points, 150.0 + 180.0 + 50.0) == pytest.approx(50 / 380)
    assert expansion_share(points, 0.0) is None


def test_retention_after_expansion_waits_90_days_and_follows_the_account() -> None:
    now = datetime(2027, 3, 1)
    old, fresh = now - timedelta(days=100), now - timedelta(days=30)

    def won(account: str, closed: datetime, status: str = "won") -> PlanRecord:
        return PlanRecord("capacity", "capacity", status, None, closed, 1.0, 1.0, account)

    plans = [won("a", old), won("b", old), won("c", fresh), won("d", old, "lost")]
    rate = retained_after_expansion(plans, {"a": 10.0, "b": 0.0, "c": 0.0, "d": 5.0}, now)
    assert (rate.hits, rate.total) == (1, 2)  # a kept, b churned; c too fresh; d never expanded
