"""Trigger episodes and the alerts they open, and the views of alerts people look at."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from db.audit import target_audit
from db.bulk import chunks, complete_rows, core_table, insert_returning
from db.models import OPEN_ALERT_STATUSES, Account, Alert, AlertStatus, Plan, TriggerEpisode
from db.rows import AlertRow, EpisodeRow


def account_of_alert_message(
    session: Session, *, channel: str, ts: Iterable[str | None]
) -> int | None:
    """The account whose alert is the message ``channel``/``ts`` (or heads its thread)."""
    stamps = [t for t in ts if t]
    if not stamps:
        return None
    found = session.exec(
        select(Alert.account_id)
        .where(Alert.channel == channel, col(Alert.ts).in_(stamps))
        .order_by(col(Alert.id).desc())
    ).first()
    return int(found) if found is not None else None


def accounts_alerted_in(session: Session, *, channel: str, limit: int = 2) -> list[int]:
    """Accounts whose alerts were posted in ``channel`` (at most ``limit`` of them)."""
    stmt = select(Alert.account_id).where(Alert.channel == channel).distinct().limit(limit)
    return [int(i) for i in session.exec(stmt).all()]


def episode_count(session: Session, account_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(TriggerEpisode)
    if account_id is not None:
        stmt = stmt.where(TriggerEpisode.account_id == account_id)
    return int(session.exec(stmt).one())


def open_alert(session: Session, account_id: int) -> Alert | None:
    return session.exec(
        select(Alert)
        .where(Alert.account_id == account_id, col(Alert.status).in_(OPEN_ALERT_STATUSES))
        .order_by(col(Alert.id).desc())
    ).first()


def latest_alert(session: Session, account_id: int) -> Alert | None:
    return session.exec(
        select(Alert).where(Alert.account_id == account_id).order_by(col(Alert.id).desc())
    ).first()


def alerts_with_accounts(
    session: Session, alert_ids: Iterable[int] | None = None
) -> list[tuple[Alert, Account]]:
    stmt = select(Alert, Account).join(Account, col(Alert.account_id) == col(Account.id))
    if alert_ids is not None:
        stmt = stmt.where(col(Alert.id).in_(list(alert_ids)))
    return [(a, acc) for a, acc in session.exec(stmt).all()]


def alert_and_account(session: Session, alert_id: int) -> tuple[Alert, Account] | None:
    row = session.exec(
        select(Alert, Account)
        .join(Account, col(Alert.account_id) == col(Account.id))
        .where(Alert.id == alert_id)
    ).first()
    return (row[0], row[1]) if row else None


def alerts_to_escalate(
    session: Session, *, posted_before: datetime, bands: Iterable[str]
) -> Sequence[Alert]:
    """Posted, still unacknowledged and never escalated."""
    return session.exec(
        select(Alert)
        .where(
            Alert.status == AlertStatus.OPEN,
            col(Alert.escalated_at).is_(None),
            col(Alert.ts).is_not(None),
            col(Alert.posted_at) <= posted_before,
            col(Alert.band).in_(list(bands)),
        )
        .order_by(col(Alert.id))
    ).all()


def book_alerts(
    session: Session,
    *,
    user_id: str,
    emails: Iterable[str],
    statuses: Iterable[str] = OPEN_ALERT_STATUSES,
    limit: int = 200,
) -> list[tuple[Alert, Account]]:
    """Alerts in someone's book: assigned to their Slack id, or unassigned on an account whose
    CRM owner is one of their emails. Highest score first."""
    mine = list(emails)
    owned = col(Alert.owner_slack_id) == user_id
    if mine:
        owned = owned | (col(Alert.owner_slack_id).is_(None) & col(Account.owner_email).in_(mine))
    stmt = (
        select(Alert, Account)
        .join(Account, col(Alert.account_id) == col(Account.id))
        .where(owned, col(Alert.status).in_(list(statuses)))
        .order_by(col(Alert.score).desc(), col(Alert.id).desc())
        .limit(limit)
    )
    return [(a, acc) for a, acc in session.exec(stmt).all()]


def top_open_alerts(session: Session, *, limit: int) -> list[tuple[Alert, Account]]:
    stmt = (
        select(Alert, Account)
        .join(Account, col(Alert.account_id) == col(Account.id))
        .where(col(Alert.status).in_(list(OPEN_ALERT_STATUSES)))
        .order_by(col(Alert.score).desc(), col(Alert.id).desc())
        .limit(limit)
    )
    return [(a, acc) for a, acc in session.exec(stmt).all()]


def insert_episodes(session: Session, *, rows: list[EpisodeRow]) -> dict[str, int]:
    """Insert episodes whose dedupe key is new; returns the new rows' ids by dedupe key."""
    out: dict[str, int] = {}
    keys = [r["dedupe_key"] for r in rows]
    known: set[str] = set()
    for chunk in chunks(keys):
        stmt = select(TriggerEpisode.dedupe_key).where(col(TriggerEpisode.dedupe_key).in_(chunk))
        known.update(session.exec(stmt).all())
    fresh = {r["dedupe_key"]: r for r in rows if r["dedupe_key"] not in known}
    if not fresh:
        return out
    table = core_table(TriggerEpisode)
    for part in chunks(complete_rows(TriggerEpisode, list(fresh.values()))):
        inserted = insert_returning(
            session, table, part, ("id", "dedupe_key"), skip_conflicts_on="dedupe_key"
        )
        out.update((key, int(episode_id)) for episode_id, key in inserted)
    return out


def open_alerts_for(session: Session, *, account_ids: Iterable[int]) -> dict[int, Alert]:
    """Each account's newest open alert (see ``open_alert``)."""
    out: dict[int, Alert] = {}
    for chunk in chunks(sorted(set(account_ids))):
        stmt = (
            select(Alert)
            .where(col(Alert.account_id).in_(chunk), col(Alert.status).in_(OPEN_ALERT_STATUSES))
            .order_by(col(Alert.id))
        )
        for alert in session.exec(stmt).all():
            out[alert.account_id] = alert
    return out


def unalerted_episodes(
    session: Session, *, account_ids: Iterable[int], on_or_after: date
) -> dict[str, int]:
    """Episodes (dedupe key -> id) since ``on_or_after`` that never reached anyone: no alert
    of their account names them or was opened or updated since they were recorded (an alert
    still open then carried them in its thread). A config that posted nothing leaves such
    episodes behind; an explicit re-score offers them again."""
    covered = (
        select(Alert.id)
        .where(
            col(Alert.account_id) == col(TriggerEpisode.account_id),
            or_(
                col(Alert.episode_id) == col(TriggerEpisode.id),
                col(Alert.updated_at) >= col(TriggerEpisode.created_at),
            ),
        )
        .exists()
    )
    out: dict[str, int] = {}
    for chunk in chunks(sorted(set(account_ids))):
        stmt = select(TriggerEpisode.dedupe_key, TriggerEpisode.id).where(
            col(TriggerEpisode.account_id).in_(chunk),
            col(TriggerEpisode.on) >= on_or_after,
            ~covered,
        )
        out.update((key, episode_id) for key, episode_id in session.exec(stmt).all() if episode_id)
    return out


def insert_alerts(session: Session, *, rows: list[AlertRow]) -> list[int]:
    """Insert alerts, at most one per account; returns their ids in the order of ``rows``."""
    if not rows:
        return []
    table = core_table(Alert)
    inserted = insert_returning(session, table, complete_rows(Alert, rows), ("id", "account_id"))
    ids = {int(a): int(i) for i, a in inserted}
    return [ids[row["account_id"]] for row in rows]


def feedback_votes(session: Session, alert_id: int) -> list[tuple[str, str]]:
    """Each person's latest Useful/Noise vote on an alert: (user id, useful | noise)."""
    votes: dict[str, str] = {}
    for row in target_audit(
        session, target_type="alert", target_id=alert_id, actions=["alert.feedback"]
    ):
        if row.user_id and row.detail.get("value") in ("useful", "noise"):
            votes[row.user_id] = str(row.detail["value"])
    return sorted(votes.items())


def alerts_changed_since(session: Session, *, since: datetime) -> list[tuple[Alert, Account]]:
    """Alerts created or re-scored since ``since``: where this week's score movers are."""
    stmt = (
        select(Alert, Account)
        .join(Account, col(Alert.account_id) == col(Account.id))
        .where(col(Alert.updated_at) >= since)
        .order_by(col(Alert.id))
    )
    return [(a, acc) for a, acc in session.exec(stmt).all()]


def alerts_with_fates(
    session: Session,
) -> list[tuple[Alert, TriggerEpisode | None, str | None]]:
    """Every stored alert with the episode that opened it and the status of the plan started
    from it (open, won, lost, not_this_cycle; None: no plan): how each alert fared, for a
    backtest to set beside a replay."""
    stmt = (
        select(Alert, TriggerEpisode)
        .join(TriggerEpisode, col(Alert.episode_id) == col(TriggerEpisode.id), isouter=True)
        .order_by(col(Alert.id))
    )
    plans: dict[int, str] = {}
    for alert_id, status in session.exec(
        select(Plan.alert_id, Plan.status)
        .where(col(Plan.alert_id).is_not(None))
        .order_by(col(Plan.id))
    ).all():
        if alert_id is not None:
            plans[int(alert_id)] = status
    return [(a, ep, plans.get(a.id or 0)) for a, ep in session.exec(stmt).all()]
