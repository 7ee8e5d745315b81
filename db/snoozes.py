"""Snoozes of alerts, plans and steps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from db.models import Snooze, utcnow


def add_snooze(
    session: Session, *, target_type: str, target_id: int, until: datetime, by_user: str | None
) -> Snooze:
    """Snooze a target; an earlier live snooze of the same target is replaced."""
    for old in active_snoozes(session, target_type=target_type, target_ids=[target_id]):
        old.ended_at = utcnow()
        session.add(old)
    snooze = Snooze(target_type=target_type, target_id=target_id, until=until, by_user=by_user)
    session.add(snooze)
    return snooze


def active_snoozes(
    session: Session, *, target_type: str | None = None, target_ids: Iterable[int] | None = None
) -> Sequence[Snooze]:
    stmt = select(Snooze).where(col(Snooze.ended_at).is_(None))
    if target_type is not None:
        stmt = stmt.where(Snooze.target_type == target_type)
    if target_ids is not None:
        stmt = stmt.where(col(Snooze.target_id).in_(list(target_ids)))
    return session.exec(stmt.order_by(col(Snooze.until))).all()


def expired_snoozes(session: Session, now: datetime) -> Sequence[Snooze]:
    return session.exec(
        select(Snooze).where(col(Snooze.ended_at).is_(None), col(Snooze.until) <= now)
    ).all()


def snoozes_by_or_for(
    session: Session,
    *,
    user_id: str,
    alert_ids: Iterable[int],
    plan_ids: Iterable[int],
    step_ids: Iterable[int],
) -> Sequence[Snooze]:
    """Live snoozes someone set, or on alerts, plans and steps they own; soonest first."""
    mine = col(Snooze.by_user) == user_id
    for kind, ids in (("alert", alert_ids), ("plan", plan_ids), ("step", step_ids)):
        wanted = list(ids)
        if wanted:
            mine = mine | ((col(Snooze.target_type) == kind) & col(Snooze.target_id).in_(wanted))
    return session.exec(
        select(Snooze).where(col(Snooze.ended_at).is_(None), mine).order_by(col(Snooze.until))
    ).all()
