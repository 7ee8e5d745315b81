"""The outbox: messages written with their alert, claimed and delivered by the sender.

A message is written as one of the typed variants of ``db/outbox_payloads.py`` (its kind comes
from the variant). A claim is one conditional UPDATE, so two senders (threads or replicas)
never both win."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from db.bulk import complete_rows, core_table, is_postgresql
from db.models import Account, Alert, OutboxMessage, OutboxStatus
from db.outbox_payloads import OutboxKind, OutboxPayload

# Admin notes go before any alert (alert priorities are below this; see bot.poll.cycle).
ADMIN_PRIORITY = 2_000_000_000
# Shadow cards go after everything live (alert priorities are from 0 up): add their own
# priority to this; their flood summary is -1, after every live message, before its cards.
SHADOW_PRIORITY = -1_000_000_000


def enqueue(
    session: Session, message: OutboxPayload, *, alert: Alert | None, priority: int = 0
) -> OutboxMessage:
    """Queue ``message`` (about ``alert``, if any) in the caller's transaction."""
    row = OutboxMessage(
        alert_id=alert.id if alert else None,
        kind=message.kind.value,
        payload=message.to_json(),
        priority=priority,
    )
    session.add(row)
    return row


@dataclass(frozen=True)
class QueuedMessage:
    """One row for ``insert_outbox``: a message about ``alert_id``, written in bulk with it."""

    message: OutboxPayload
    alert_id: int | None = None
    priority: int = 0


def outbox_backlog(session: Session) -> int:
    """Messages not delivered yet: waiting, or being sent right now."""
    stmt = select(func.count()).where(
        col(OutboxMessage.status).in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
    )
    return int(session.exec(stmt).one())


def _claimable(now: datetime) -> Any:
    """Pending and due, or being sent under a claim that has expired (its sender died)."""
    return (
        (col(OutboxMessage.status) == OutboxStatus.PENDING)
        & (col(OutboxMessage.next_attempt_at) <= now)
    ) | (
        (col(OutboxMessage.status) == OutboxStatus.SENDING)
        & (col(OutboxMessage.claimed_until) < now)
    )


def claim_outbox(
    session: Session, message_id: int, *, holder: str, now: datetime, until: datetime
) -> OutboxMessage | None:
    """Claim one message for a delivery: ``sending``, held by ``holder`` until ``until``.

    One conditional UPDATE, so two senders (threads or replicas) never both win. A message
    whose alert already has another message in flight is not claimed: one alert has one Slack
    call at a time, so an edit never overtakes the post it edits. On PostgreSQL the alert's
    row is locked first, which makes that check hold across replicas too. The caller commits
    before it calls Slack. Returns the claimed row, or None."""
    if is_postgresql(session):
        alert_of = (
            select(OutboxMessage.alert_id).where(OutboxMessage.id == message_id).scalar_subquery()
        )
        session.exec(select(Alert.id).where(Alert.id == alert_of).with_for_update()).all()
    other = aliased(OutboxMessage)
    in_flight = (
        select(other.id)
        .where(
            col(other.alert_id) == col(OutboxMessage.alert_id),
            col(other.id) != col(OutboxMessage.id),
            col(other.status) == OutboxStatus.SENDING,
            col(other.claimed_until) >= now,
        )
        .exists()
    )
    claimed = session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id, _claimable(now), ~in_flight)
        .values(status=OutboxStatus.SENDING, claimed_by=holder, claimed_until=until)
        .returning(col(OutboxMessage.id))
    ).first()
    if claimed is None:
        return None
    return session.get(OutboxMessage, message_id, populate_existing=True)


def arm_outbox(
    session: Session,
    message_id: int,
    *,
    holder: str,
    channel: str,
    thread_ts: str | None,
    now: datetime,
    until: datetime,
) -> bool:
    """Just before a post: record where it goes and that its outcome is unknown from ``now``
    (the earliest such moment is kept), and extend the claim. False if the claim was lost."""
    armed = session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == message_id,
            col(OutboxMessage.claimed_by) == holder,
            col(OutboxMessage.status) == OutboxStatus.SENDING,
        )
        .values(
            channel=channel,
            thread_ts=thread_ts,
            claimed_until=until,
            unconfirmed_since=func.coalesce(col(OutboxMessage.unconfirmed_since), now),
        )
        .returning(col(OutboxMessage.id))
    ).first()
    return armed is not None


def renew_outbox(session: Session, message_id: int, *, holder: str, until: datetime) -> bool:
    """Extend a claim that is still ours; False if it was lost."""
    renewed = session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == message_id,
            col(OutboxMessage.claimed_by) == holder,
            col(OutboxMessage.status) == OutboxStatus.SENDING,
        )
        .values(claimed_until=until)
        .returning(col(OutboxMessage.id))
    ).first()
    return renewed is not None


def finish_outbox(session: Session, message_id: int, *, holder: str, **values: Any) -> bool:
    """End a claim with ``values`` (status, sent_at, attempts, …), if it is still ours.
    False: the claim expired and another sender took the message over."""
    done = session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == message_id,
            col(OutboxMessage.claimed_by) == holder,
            col(OutboxMessage.status) == OutboxStatus.SENDING,
        )
        .values(claimed_by=None, claimed_until=None, **values)
        .returning(col(OutboxMessage.id))
    ).first()
    return done is not None


def due_outbox_ids(
    session: Session, now: datetime, *, limit: int = 50, alert_id: int | None = None
) -> list[int]:
    """Messages to deliver now (due, or left claimed by a sender that died), highest priority
    (score) first, then oldest."""
    stmt = select(OutboxMessage.id).where(_claimable(now))
    if alert_id is not None:
        stmt = stmt.where(OutboxMessage.alert_id == alert_id)
    stmt = stmt.order_by(col(OutboxMessage.priority).desc(), col(OutboxMessage.id)).limit(limit)
    return [int(i) for i in session.exec(stmt).all() if i is not None]


def pending_outbox(
    session: Session,
    *,
    alert_id: int,
    kinds: Iterable[OutboxKind],
    statuses: Iterable[OutboxStatus] = (OutboxStatus.PENDING,),
) -> Sequence[OutboxMessage]:
    return session.exec(
        select(OutboxMessage)
        .where(
            OutboxMessage.alert_id == alert_id,
            col(OutboxMessage.status).in_(list(statuses)),
            col(OutboxMessage.kind).in_(list(kinds)),
        )
        .order_by(col(OutboxMessage.id))
    ).all()


def merge_outbox(session: Session, *, message_ids: Iterable[int], now: datetime, note: str) -> None:
    """Mark still-pending messages done without sending them (an edit already showed their
    state)."""
    ids = list(message_ids)
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id).in_(ids), col(OutboxMessage.status) == OutboxStatus.PENDING
            )
            .values(status=OutboxStatus.SENT, sent_at=now, last_error=note)
        )


def pending_post_count(session: Session, *, kind: OutboxKind = OutboxKind.POST) -> int:
    """Alert posts (or shadow posts) not claimed yet: the sender's cheap check before weighing
    a flood."""
    stmt = select(func.count()).where(
        col(OutboxMessage.kind) == kind,
        col(OutboxMessage.status) == OutboxStatus.PENDING,
    )
    return int(session.exec(stmt).one())


def pending_posts(session: Session) -> list[tuple[OutboxMessage, Alert, Account]]:
    """Alert posts not claimed yet, with their alert and account: what a flood check weighs.
    Highest priority first, as they would be sent."""
    stmt = (
        select(OutboxMessage, Alert, Account)
        .join(Alert, col(OutboxMessage.alert_id) == col(Alert.id))
        .join(Account, col(Alert.account_id) == col(Account.id))
        .where(
            col(OutboxMessage.kind) == OutboxKind.POST,
            col(OutboxMessage.status) == OutboxStatus.PENDING,
        )
        .order_by(col(OutboxMessage.priority).desc(), col(OutboxMessage.id))
    )
    return [(m, a, acc) for m, a, acc in session.exec(stmt).all()]


def hold_posts(session: Session, *, message_ids: Iterable[int], now: datetime) -> int:
    """Mark still-pending posts done without sending them (a summary speaks for them);
    returns how many this call held, so two senders never both summarize the same flood."""
    ids = list(message_ids)
    if not ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(ids), col(OutboxMessage.status) == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SENT, sent_at=now, last_error="held: in the flood summary")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def channel_post_times(
    session: Session,
    *,
    channel: str,
    since: datetime,
    other_than: int | None = None,
    kind: OutboxKind = OutboxKind.POST,
) -> list[datetime]:
    """When alert cards of ``kind`` (live posts, or shadow ones) were posted, or are being
    posted, to ``channel`` since ``since`` (the hourly cap's window), leaving out message
    ``other_than`` (the one asking)."""
    when = func.coalesce(col(OutboxMessage.sent_at), col(OutboxMessage.unconfirmed_since))
    stmt = select(when).where(
        OutboxMessage.channel == channel,
        OutboxMessage.kind == kind,
        col(OutboxMessage.status).in_([OutboxStatus.SENT, OutboxStatus.SENDING]),
        when >= since,
    )
    if other_than is not None:
        stmt = stmt.where(col(OutboxMessage.id) != other_than)
    rows = session.exec(stmt).all()
    return sorted(_utc(r) for r in rows if r is not None)


def _utc(moment: Any) -> datetime:
    if isinstance(moment, str):  # SQLite hands back text for an expression over datetimes
        moment = datetime.fromisoformat(moment)
    assert isinstance(moment, datetime)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def insert_outbox(session: Session, *, rows: Sequence[QueuedMessage], now: datetime) -> None:
    """Queue many messages in one statement, all due from ``now``."""
    if rows:
        values = [
            {
                "alert_id": row.alert_id,
                "kind": row.message.kind.value,
                "payload": row.message.to_json(),
                "status": OutboxStatus.PENDING.value,
                "priority": row.priority,
                "next_attempt_at": now,
                "created_at": now,
            }
            for row in rows
        ]
        session.execute(insert(core_table(OutboxMessage)), complete_rows(OutboxMessage, values))
