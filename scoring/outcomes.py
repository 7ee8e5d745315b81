"""Outcome metrics (seed 001): is the program making money, and are the alerts any good?

Pure arithmetic over plain records, so every figure can be checked by hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import mean, median


@dataclass(frozen=True)
class AlertRecord:
    trigger: str | None  # kind of the episode that raised it
    created_at: datetime
    acknowledged_at: datetime | None = None
    feedback: str | None = None  # "useful" | "noise" | None
    has_plan: bool = False
    posted: bool = True  # False for digest-only alerts
    expansion_arr: float = 0.0  # estimate while open


@dataclass(frozen=True)
class PlanRecord:
    trigger: str | None
    offer: str | None
    status: str  # open | won | lost | not_this_cycle
    alert_created_at: datetime | None
    closed_at: datetime | None = None
    outcome_arr: float | None = None
    expected_arr: float = 0.0
    account: str | None = None  # whose plan: post-expansion retention follows the account


@dataclass(frozen=True)
class RevenuePoint:
    account: str
    start_arr: float | None  # ARR at the start of the period (None: not a customer then)
    end_arr: float | None  # ARR at the end (None or 0: churned)


@dataclass(frozen=True)
class Rate:
    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    @property
    def text(self) -> str:
        """``75% (3/4)``, or ``—`` with nothing to count."""
        return "—" if self.value is None else f"{self.value * 100:.0f}% ({self.hits}/{self.total})"


@dataclass
class OutcomeMetrics:
    pipeline_arr: float = 0.0
    won_arr: float = 0.0
    average_deal_arr: float | None = None
    conversion_by_trigger: dict[str, Rate] = field(default_factory=dict)
    conversion_by_offer: dict[str, Rate] = field(default_factory=dict)
    average_days_to_close: float | None = None
    alert_to_plan: Rate = field(default_factory=lambda: Rate(0, 0))
    median_hours_to_ack: float | None = None
    precision_by_trigger: dict[str, Rate] = field(default_factory=dict)
    nrr: float | None = None
    grr: float | None = None
    expansion_share: float | None = None  # expansion ARR over all ARR at the period's end
    retained_after_expansion: Rate = field(default_factory=lambda: Rate(0, 0))
    conversations: int = 0  # plans whose opening conversation is done


CLOSED = ("won", "lost", "not_this_cycle")


def _rates(pairs: Iterable[tuple[str, bool]]) -> dict[str, Rate]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key, hit in pairs:
        counts[key][1] += 1
        counts[key][0] += int(hit)
    return {k: Rate(h, t) for k, (h, t) in sorted(counts.items())}


def retention(points: Sequence[RevenuePoint]) -> tuple[float | None, float | None]:
    """(NRR, GRR) over accounts that were customers at the start of the period.

    NRR = end ARR of those accounts ÷ their start ARR (expansion counts, new logos do not).
    GRR = the same with each account capped at its start ARR (expansion does not count).
    """
    base = [p for p in points if p.start_arr]
    start = sum(p.start_arr or 0.0 for p in base)
    if not start:
        return None, None
    end = sum(p.end_arr or 0.0 for p in base)
    kept = sum(min(p.end_arr or 0.0, p.start_arr or 0.0) for p in base)
    return end / start, kept / start


def expansion_share(points: Sequence[RevenuePoint], total_end_arr: float) -> float | None:
    """Seed 001's "expansion revenue as % of total revenue": what accounts that were already
    customers added over the period (growth only, per account), over all ARR at its end."""
    if not total_end_arr:
        return None
    grown = sum(max((p.end_arr or 0.0) - (p.start_arr or 0.0), 0.0) for p in points if p.start_arr)
    return grown / total_end_arr


def _utc(moment: datetime) -> datetime:
    """Databases hand back naive UTC or aware datetimes; compare them as naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


# How long after a won expansion an account must have been watched before it counts.
RETENTION_AFTER_DAYS = 90


def retained_after_expansion(
    plans: Sequence[PlanRecord], end_arr: dict[str, float], now: datetime
) -> Rate:
    """Accounts that expanded (a won plan closed at least 90 days ago) and still pay today."""
    expanded = {
        p.account
        for p in plans
        if p.status == "won"
        and p.account is not None
        and p.closed_at is not None
        and (_utc(now) - _utc(p.closed_at)).days >= RETENTION_AFTER_DAYS
    }
    kept = sum(1 for a in expanded if end_arr.get(a, 0.0) > 0)
    return Rate(kept, len(expanded))


def outcome_metrics(
    alerts: Sequence[AlertRecord],
    plans: Sequence[PlanRecord],
    revenue: Sequence[RevenuePoint] = (),
) -> OutcomeMetrics:
    closed = [p for p in plans if p.status in CLOSED]
    won = [p for p in closed if p.status == "won"]
    out = OutcomeMetrics()
    out.pipeline_arr = sum(p.expected_arr for p in plans if p.status == "open") + sum(
        a.expansion_arr for a in alerts if a.posted and not a.has_plan and a.feedback != "noise"
    )
    out.won_arr = sum(p.outcome_arr or 0.0 for p in won)
    out.average_deal_arr = mean(p.outcome_arr or 0.0 for p in won) if won else None
    out.conversion_by_trigger = _rates((p.trigger or "none", p.status == "won") for p in closed)
    out.conversion_by_offer = _rates((p.offer or "none", p.status == "won") for p in closed)
    days = [
        (p.closed_at - p.alert_created_at).total_seconds() / 86_400
        for p in closed
        if p.closed_at and p.alert_created_at
    ]
    out.average_days_to_close = mean(days) if days else None
    posted = [a for a in alerts if a.posted]
    out.alert_to_plan = Rate(sum(a.has_plan for a in posted), len(posted))
    hours = [
        (a.acknowledged_at - a.created_at).total_seconds() / 3600
        for a in alerts
        if a.acknowledged_at
    ]
    out.median_hours_to_ack = median(hours) if hours else None
    out.precision_by_trigger = _rates(
        (a.trigger or "none", a.feedback == "useful") for a in alerts if a.feedback
    )
    out.nrr, out.grr = retention(revenue)
    return out
