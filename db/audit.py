"""The audit log: who did what to an alert, a plan or a step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel import Session, col, select

from db.models import AuditLog


def audit(
    session: Session,
    *,
    user_id: str | None,
    action: str,
    target_type: str,
    target_id: int | None,
    **detail: Any,
) -> None:
    session.add(
        AuditLog(
            user_id=user_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail=detail,
        )
    )


def alert_audit(session: Session, alert_id: int, limit: int = 20) -> Sequence[AuditLog]:
    """What people (and jobs) did to one alert, oldest first."""
    rows = session.exec(
        select(AuditLog)
        .where(AuditLog.target_type == "alert", AuditLog.target_id == alert_id)
        .order_by(col(AuditLog.id).desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


def target_audit(
    session: Session, *, target_type: str, target_id: int, actions: Iterable[str]
) -> Sequence[AuditLog]:
    """Chosen actions on one target (a step, a plan, an alert), oldest first."""
    return session.exec(
        select(AuditLog)
        .where(
            AuditLog.target_type == target_type,
            AuditLog.target_id == target_id,
            col(AuditLog.action).in_(list(actions)),
        )
        .order_by(col(AuditLog.id))
    ).all()
