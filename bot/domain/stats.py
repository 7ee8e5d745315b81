"""Outcome metrics from the database, and their short text form for Slack and the CLI."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

import db.facts
import db.plans
from bot.alerts import AlertSummary
from scoring.evidence import fmt_money
from scoring.offer import offer_label
from scoring.outcomes import (
    AlertRecord,
    OutcomeMetrics,
    PlanRecord,
    RevenuePoint,
    expansion_share,
    outcome_metrics,
    retained_after_expansion,
)
from scoring.triggers import trigger_label


def load_metrics(
    session: Session, *, today: date, owner: str | None = None, period_days: int = 365
) -> OutcomeMetrics:
    alerts, plans = db.plans.outcome_rows(session, owner=owner)
    alert_records = [
        AlertRecord(
            trigger=episode.kind if episode else None,
            created_at=alert.created_at,
            acknowledged_at=alert.acknowledged_at,
            feedback=alert.feedback,
            has_plan=has_plan,
            posted=alert.delivery == "channel",
            expansion_arr=AlertSummary.expansion_arr_of(alert.summary),
        )
        for alert, _account, episode, has_plan in alerts
    ]
    plan_records = [
        PlanRecord(
            trigger=plan.trigger,
            offer=plan.offer,
            status=plan.status,
            alert_created_at=alert.created_at if alert else plan.created_at,
            closed_at=plan.closed_at,
            outcome_arr=plan.outcome_arr,
            expected_arr=plan.expected_arr,
            account=str(plan.account_id),
        )
        for plan, alert in plans
    ]
    start = db.facts.arr_at(session, today - timedelta(days=period_days))
    end = db.facts.arr_at(session, today)
    owned = None
    if owner is not None:
        owned = {acc.id for _, acc, _, _ in alerts} | {p.account_id for p, _ in plans}
    revenue = [
        RevenuePoint(str(account_id), arr, end.get(account_id))
        for account_id, arr in start.items()
        if owned is None or account_id in owned
    ]
    metrics = outcome_metrics(alert_records, plan_records, revenue)
    total_end = sum(arr for a, arr in end.items() if owned is None or a in owned)
    metrics.expansion_share = expansion_share(revenue, total_end)
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    metrics.retained_after_expansion = retained_after_expansion(
        plan_records, {str(a): arr for a, arr in end.items()}, now
    )
    metrics.conversations = db.plans.conversations_done(session, owner=owner)
    return metrics


def _ratio(value: float | None) -> str:
    return "not enough revenue data" if value is None else f"{value * 100:.0f}%"


def metrics_lines(m: OutcomeMetrics) -> list[str]:
    """Plain lines; callers escape or format them for their surface."""
    lines = [
        f"Expansion pipeline: {fmt_money(m.pipeline_arr)}",
        f"Won so far: {fmt_money(m.won_arr)}"
        + (f" (average deal {fmt_money(m.average_deal_arr)})" if m.average_deal_arr else ""),
        f"Alerts that became plans: {m.alert_to_plan.text}",
        "Median time to acknowledge: "
        + ("—" if m.median_hours_to_ack is None else f"{m.median_hours_to_ack:.1f} h"),
        "Average days from alert to close: "
        + ("—" if m.average_days_to_close is None else f"{m.average_days_to_close:.0f}"),
        f"NRR {_ratio(m.nrr)} · GRR {_ratio(m.grr)} (last 12 months)",
        f"Expansion share of revenue: {_ratio(m.expansion_share)} (last 12 months)",
        "Still customers 90+ days after expanding: " + m.retained_after_expansion.text,
        f"Expansion conversations completed: {m.conversations}",
    ]
    if m.conversion_by_trigger:
        lines.append(
            "Won by trigger: "
            + ", ".join(f"{trigger_label(k)} {r.text}" for k, r in m.conversion_by_trigger.items())
        )
    if m.conversion_by_offer:
        lines.append(
            "Won by offer: "
            + ", ".join(f"{offer_label(k)} {r.text}" for k, r in m.conversion_by_offer.items())
        )
    if m.precision_by_trigger:
        lines.append(
            "Useful alerts by trigger: "
            + ", ".join(f"{trigger_label(k)} {r.text}" for k, r in m.precision_by_trigger.items())
        )
    lines.append(
        "Not measurable from our data: customer lifetime value, satisfaction during"
        " expansion, and deals lost to competitors."
    )
    return lines
