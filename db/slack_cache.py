"""Slack users and channel ids as Slack last answered (a cache, refreshed on use)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from db.bulk import dialect_insert
from db.models import SlackChannel, SlackUser


def slack_user(session: Session, email: str) -> SlackUser | None:
    return session.get(SlackUser, email.lower())


def save_slack_user(
    session: Session, *, email: str, user_id: str | None, tz: str | None, now: datetime
) -> SlackUser:
    """Cache a users.lookupByEmail / users.info answer (``user_id`` None: no such user)."""
    row = session.get(SlackUser, email.lower())
    if row is None:
        row = SlackUser(email=email.lower(), user_id=user_id, tz=tz, fetched_at=now)
    else:
        row.user_id, row.tz, row.fetched_at = user_id, tz or row.tz, now
    session.add(row)
    return row


def slack_user_by_id(session: Session, user_id: str) -> SlackUser | None:
    return session.exec(
        select(SlackUser)
        .where(SlackUser.user_id == user_id)
        .order_by(col(SlackUser.fetched_at).desc())
    ).first()


def emails_of_slack_user(session: Session, user_id: str) -> list[str]:
    rows = session.exec(select(SlackUser.email).where(SlackUser.user_id == user_id)).all()
    return sorted(rows)


def channel_id(session: Session, name: str) -> str | None:
    """The id Slack gave for a channel name (``#expansion`` or ``expansion``), if known."""
    row = session.get(SlackChannel, channel_key(name))
    return row.channel_id if row else None


def save_channel_ids(session: Session, ids: dict[str, str], *, now: datetime) -> None:
    """Remember channel name → id answers (insert or refresh; concurrent writers agree)."""
    insert_ = dialect_insert(session)
    for name, cid in ids.items():
        stmt = insert_(SlackChannel).values(name=channel_key(name), channel_id=cid, fetched_at=now)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "channel_id": stmt.excluded.channel_id,
                    "fetched_at": stmt.excluded.fetched_at,
                },
            )
        )


def channel_key(name: str) -> str:
    return name.strip().lstrip("#").lower()
