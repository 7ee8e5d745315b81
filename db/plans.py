"""Plans and their steps, and the outcome rows that measure what alerts led to."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, func, select

from db.models import Account, Alert, Plan, PlanStep, TriggerEpisode


def open_plan(session: Session, account_id: int) -> Plan | None:
    return session.exec(
        select(Plan)
        .where(Plan.account_id == account_id, Plan.status == "open")
        .order_by(col(Plan.id).desc())
    ).first()


def plan_steps(session: Session, plan_id: int) -> Sequence[PlanStep]:
    return session.exec(
        select(PlanStep).where(PlanStep.plan_id == plan_id).order_by(col(PlanStep.position))
    ).all()


def open_steps(
    session: Session, *, owner: str | None = None
) -> list[tuple[PlanStep, Plan, Account]]:
    """Pending or overdue steps of open plans, soonest first; one owner's if given."""
    stmt = (
        select(PlanStep, Plan, Account)
        .join(Plan, col(PlanStep.plan_id) == col(Plan.id))
        .join(Account, col(Plan.account_id) == col(Account.id))
        .where(Plan.status == "open", col(PlanStep.status).in_(("pending", "overdue")))
        .order_by(col(PlanStep.due_on), col(PlanStep.id))
    )
    if owner is not None:
        stmt = stmt.where(
            (col(PlanStep.owner) == owner)
            | (col(PlanStep.owner).is_(None) & (col(Plan.owner) == owner))
        )
    return [(step, plan, account) for step, plan, account in session.exec(stmt).all()]


def outcome_rows(
    session: Session, *, owner: str | None = None
) -> tuple[
    list[tuple[Alert, Account, TriggerEpisode | None, bool]], list[tuple[Plan, Alert | None]]
]:
    """Alerts (with their trigger episode and whether a plan came of them) and plans (with the
    alert that started them), optionally for one owner's accounts."""
    alert_stmt = (
        select(Alert, Account, TriggerEpisode)
        .join(Account, col(Alert.account_id) == col(Account.id))
        .join(TriggerEpisode, col(Alert.episode_id) == col(TriggerEpisode.id), isouter=True)
    )
    plan_stmt = (
        select(Plan, Alert)
        .join(Account, col(Plan.account_id) == col(Account.id))
        .join(Alert, col(Plan.alert_id) == col(Alert.id), isouter=True)
    )
    if owner is not None:
        alert_stmt = alert_stmt.where(Account.owner_email == owner)
        plan_stmt = plan_stmt.where(Account.owner_email == owner)
    plans: list[tuple[Plan, Alert | None]] = list(session.exec(plan_stmt).all())
    planned = {p.alert_id for p, _ in plans if p.alert_id is not None}
    alerts: list[tuple[Alert, Account, TriggerEpisode | None, bool]] = [
        (a, acc, ep, a.id in planned) for a, acc, ep in session.exec(alert_stmt).all()
    ]
    return alerts, plans


def conversations_done(session: Session, *, owner: str | None = None) -> int:
    """Plans whose opening step (the first conversation, or the executive business review of
    a pre-renewal plan) is done: seed 001's "expansion conversations completed"."""
    stmt = (
        select(func.count())
        .select_from(PlanStep)
        .join(Plan, col(PlanStep.plan_id) == col(Plan.id))
        .join(Account, col(Plan.account_id) == col(Account.id))
        .where(PlanStep.position == 1, PlanStep.status == "done")
    )
    if owner is not None:
        stmt = stmt.where(Account.owner_email == owner)
    return int(session.exec(stmt).one())


def latest_won_like(
    session: Session, *, offer: str, other_than: int
) -> tuple[Plan, Account] | None:
    """The most recently won plan of this offer on another account: a comparable customer."""
    stmt = (
        select(Plan, Account)
        .join(Account, col(Plan.account_id) == col(Account.id))
        .where(Plan.offer == offer, Plan.status == "won", col(Plan.account_id) != other_than)
        .order_by(col(Plan.closed_at).desc(), col(Plan.id).desc())
        .limit(1)
    )
    found = session.exec(stmt).first()
    return (found[0], found[1]) if found else None


def step_with_plan(session: Session, step_id: int) -> tuple[PlanStep, Plan, Account] | None:
    """A step with its plan and account, for a reminder's buttons."""
    row = session.exec(
        select(PlanStep, Plan, Account)
        .join(Plan, col(PlanStep.plan_id) == col(Plan.id))
        .join(Account, col(Plan.account_id) == col(Account.id))
        .where(PlanStep.id == step_id)
    ).first()
    return (row[0], row[1], row[2]) if row else None


def plan_with_account(session: Session, plan_id: int) -> tuple[Plan, Account] | None:
    row = session.exec(
        select(Plan, Account)
        .join(Account, col(Plan.account_id) == col(Account.id))
        .where(Plan.id == plan_id)
    ).first()
    return (row[0], row[1]) if row else None


def plans_owned_by(session: Session, *, emails: Iterable[str]) -> Sequence[Plan]:
    """Plans (any status) whose owner is one of these CRM emails."""
    wanted = list(emails)
    if not wanted:
        return []
    return session.exec(select(Plan).where(col(Plan.owner).in_(wanted))).all()


def steps_owned_by(session: Session, *, emails: Iterable[str]) -> Sequence[PlanStep]:
    """Open plan steps owned (directly or through their plan) by one of these emails."""
    wanted = list(emails)
    if not wanted:
        return []
    return session.exec(
        select(PlanStep)
        .join(Plan, col(PlanStep.plan_id) == col(Plan.id))
        .where(
            col(PlanStep.status).in_(("pending", "overdue")),
            col(PlanStep.owner).in_(wanted)
            | (col(PlanStep.owner).is_(None) & col(Plan.owner).in_(wanted)),
        )
    ).all()
