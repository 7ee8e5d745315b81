"""Expansion plans: start one from an alert or an account, close it with an outcome.

Starting is idempotent — an account has at most one open plan — so a double click or a
retried request never creates two calendars.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from db import repo
from db.models import Account, Alert, Plan, PlanStep, utcnow
from scoring.engine import Assessment
from scoring.offer import OfferType
from scoring.plans import PlanKind, StepSpec, ninety_day_plan, renewal_plan

OUTCOMES = ("won", "lost", "not_this_cycle")


class PlanError(ValueError):
    """A plan request that cannot be done; the message is meant for the person who asked."""


def plan_kind_for(assessment: Assessment, renewal_on: date | None) -> PlanKind:
    """A renewal-led play (multi-year offer with a known renewal date) follows seed 002."""
    if assessment.offer and assessment.offer.type is OfferType.MULTI_YEAR and renewal_on:
        return PlanKind.RENEWAL
    return PlanKind.NINETY_DAY


def start_plan(
    session: Session,
    *,
    account: Account,
    assessment: Assessment,
    start: date,
    owner: str | None,
    user_id: str | None,
    alert: Alert | None = None,
    renewal_on: date | None = None,
) -> tuple[Plan, bool]:
    """Create the account's plan (or return the open one). ``start`` is the owner's local date.

    Returns (plan, created).
    """
    assert account.id is not None
    existing = repo.open_plan(session, account.id)
    if existing is not None:
        return existing, False
    kind = plan_kind_for(assessment, renewal_on)
    specs: list[StepSpec] = (
        renewal_plan(start, renewal_on)
        if kind is PlanKind.RENEWAL and renewal_on
        else ninety_day_plan(start)
    )
    plan = Plan(
        account_id=account.id,
        alert_id=alert.id if alert else None,
        kind=kind.value,
        offer=assessment.offer.type.value if assessment.offer else None,
        script=assessment.script[:4000],
        owner=owner,
        started_on=start,
        trigger=assessment.trigger.kind.value if assessment.trigger else None,
        expected_arr=assessment.opportunity.expansion_arr if assessment.opportunity else 0.0,
    )
    session.add(plan)
    session.flush()
    assert plan.id is not None
    for spec in specs:
        session.add(
            PlanStep(
                plan_id=plan.id,
                position=spec.position,
                name=spec.name,
                owner=None if spec.role != "CSM" else owner,
                window_start=spec.window_start,
                window_end=spec.window_end,
                due_on=spec.due_on,
                conditional=spec.conditional,
                note=None if spec.role == "CSM" else f"Usually done by {spec.role}.",
            )
        )
    repo.audit(
        session,
        user_id=user_id,
        action="plan.start",
        target_type="plan",
        target_id=plan.id,
        account=account.key,
        kind=kind.value,
    )
    return plan, True


def close_plan(
    session: Session,
    *,
    plan: Plan,
    outcome: str,
    user_id: str | None,
    arr: float | None = None,
    reason: str | None = None,
    revisit_on: date | None = None,
) -> Plan:
    """Won needs the expansion ARR, lost a reason, not-this-cycle a revisit date."""
    if plan.status != "open":
        raise PlanError(f"This plan was already closed as {plan.status.replace('_', ' ')}.")
    if outcome not in OUTCOMES:
        raise PlanError("A plan closes as won, lost or not this cycle.")
    if outcome == "won" and (arr is None or arr < 0):
        raise PlanError("Tell me the expansion ARR you won, for example 12000.")
    if outcome == "lost" and not (reason and reason.strip()):
        raise PlanError("Say briefly why it was lost, so the team can learn from it.")
    if outcome == "not_this_cycle" and revisit_on is None:
        raise PlanError("Pick the date to revisit, so it does not drift open-ended.")
    plan.status = outcome
    plan.outcome_arr = arr if outcome == "won" else None
    plan.outcome_reason = reason
    plan.revisit_on = revisit_on
    plan.closed_at = utcnow()
    plan.closed_by = user_id
    session.add(plan)
    repo.audit(
        session,
        user_id=user_id,
        action=f"plan.{outcome}",
        target_type="plan",
        target_id=plan.id,
        arr=arr,
        reason=reason,
        revisit_on=revisit_on.isoformat() if revisit_on else None,
    )
    return plan
