"""Seed 004's brief for one account, with what only the plans know: when the discovery call is
(the open plan's first step) and a comparable customer (another account that won the same
kind of expansion). The brief itself is pure (``scoring.brief``)."""

from __future__ import annotations

from sqlmodel import Session

import db.plans
from bot.domain.portfolio import Scored
from scoring.brief import Brief, build_brief
from scoring.evidence import fmt_date, fmt_money
from scoring.offer import offer_label


def expansion_brief(session: Session, scored: Scored) -> Brief:
    """The brief and ROI for a scored account, as ``explain`` and the plan document show it."""
    account, a = scored.account, scored.assessment
    discovery = reference = None
    if account.id is not None:
        plan = db.plans.open_plan(session, account.id)
        steps = db.plans.plan_steps(session, plan.id) if plan and plan.id is not None else []
        if steps:
            first = steps[0]
            if first.status == "done" and first.closed_at is not None:
                discovery = f"held on {fmt_date(first.closed_at.date())}"
            else:
                discovery = f"planned by {fmt_date(first.due_on)} ({first.name.split(':')[0]})"
        if a.offer is not None:
            found = db.plans.latest_won_like(
                session, offer=a.offer.type.value, other_than=account.id
            )
            if found is not None:
                won, other = found
                worth = f" worth {fmt_money(won.outcome_arr)}" if won.outcome_arr else ""
                when = f" on {fmt_date(won.closed_at.date())}" if won.closed_at else ""
                reference = (
                    f"{other.name} won a {offer_label(won.offer or '').lower()}{worth}{when}"
                )
    return build_brief(a, scored.facts, discovery=discovery, reference=reference)
