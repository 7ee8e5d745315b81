"""Digests: sent exactly once per recipient and period, and what goes into them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from db.bulk import dialect_insert
from db.models import Account, Alert, DigestLog, utcnow


def claim_digest(session: Session, *, recipient: str, kind: str, period: str) -> bool:
    """Record that this digest is being sent; False when it already was (exactly once)."""
    stmt = (
        dialect_insert(session)(DigestLog)
        .values(recipient=recipient, kind=kind, period=period, sent_at=utcnow())
        .on_conflict_do_nothing(index_elements=["recipient", "kind", "period"])
        .returning(col(DigestLog.id))
    )
    return session.execute(stmt).first() is not None


def last_digest_at(session: Session, *, recipient: str, kind: str) -> datetime | None:
    return session.exec(
        select(func.max(DigestLog.sent_at)).where(
            DigestLog.recipient == recipient, DigestLog.kind == kind
        )
    ).one()


def digest_alerts_since(
    session: Session, *, owner: str, since: datetime | None, delivery: str = "digest"
) -> list[tuple[Alert, Account]]:
    """Alerts on this owner's accounts raised since ``since`` that were not posted one by one:
    Candidates (``digest``), or those a flood summary spoke for (``summary``)."""
    stmt = (
        select(Alert, Account)
        .join(Account, col(Alert.account_id) == col(Account.id))
        .where(Alert.delivery == delivery, Account.owner_email == owner)
    )
    if since is not None:
        stmt = stmt.where(col(Alert.created_at) > since)
    return [(a, acc) for a, acc in session.exec(stmt.order_by(col(Alert.score).desc())).all()]
