"""The shadow rule set's episodes and alerts, kept apart from the live ones (``ShadowEpisode``,
``ShadowAlert``), and the reads that compare the two."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from db.bulk import chunks, complete_rows, core_table, insert_returning
from db.models import (
    Account,
    Alert,
    AlertStatus,
    OutboxMessage,
    OutboxStatus,
    Plan,
    ShadowAlert,
    ShadowEpisode,
    TriggerEpisode,
)
from db.outbox_payloads import OutboxKind, ShadowPost, parse
from db.rows import ShadowAlertRow, ShadowEpisodeRow

MIRROR = "mirror"  # ShadowAlert.delivery of a live alert taken over at a rules' first look


def insert_episodes(session: Session, *, rows: list[ShadowEpisodeRow]) -> dict[str, int]:
    """Insert the episodes this rule set has not seen; returns the new ones' ids by dedupe key
    (all ``rows`` are of one rule set)."""
    if not rows:
        return {}
    rules = rows[0]["rules"]
    known: set[str] = set()
    for chunk in chunks([r["dedupe_key"] for r in rows]):
        stmt = select(ShadowEpisode.dedupe_key).where(
            ShadowEpisode.rules == rules, col(ShadowEpisode.dedupe_key).in_(chunk)
        )
        known.update(session.exec(stmt).all())
    fresh = {r["dedupe_key"]: r for r in rows if r["dedupe_key"] not in known}
    out: dict[str, int] = {}
    table = core_table(ShadowEpisode)
    for part in chunks(complete_rows(ShadowEpisode, list(fresh.values()))):
        inserted = insert_returning(
            session, table, part, ("id", "dedupe_key"), skip_conflicts_on=("rules", "dedupe_key")
        )
        out.update((key, int(episode_id)) for episode_id, key in inserted)
    return out


def open_alerts_for(
    session: Session, *, rules: str, account_ids: Iterable[int]
) -> dict[int, ShadowAlert]:
    """Each account's open shadow alert of this rule set."""
    out: dict[int, ShadowAlert] = {}
    for chunk in chunks(sorted(set(account_ids))):
        stmt = (
            select(ShadowAlert)
            .where(
                ShadowAlert.rules == rules,
                col(ShadowAlert.account_id).in_(chunk),
                ShadowAlert.status == AlertStatus.OPEN,
            )
            .order_by(col(ShadowAlert.id))
        )
        for alert in session.exec(stmt).all():
            out[alert.account_id] = alert
    return out


def insert_alerts(session: Session, *, rows: list[ShadowAlertRow]) -> list[int]:
    """Insert shadow alerts; returns their ids in the order of ``rows``."""
    if not rows:
        return []
    table = core_table(ShadowAlert)
    inserted = insert_returning(
        session, table, complete_rows(ShadowAlert, rows), ("id", "account_id")
    )
    ids = {int(a): int(i) for i, a in inserted}
    return [ids[row["account_id"]] for row in rows]


def shadow_alert(session: Session, alert_id: int) -> tuple[ShadowAlert, Account] | None:
    row = session.exec(
        select(ShadowAlert, Account)
        .join(Account, col(ShadowAlert.account_id) == col(Account.id))
        .where(ShadowAlert.id == alert_id)
    ).first()
    return (row[0], row[1]) if row else None


def started_at(session: Session, *, rules: str) -> datetime | None:
    """When this rule set first saw an episode: where its comparison with the live rules
    begins."""
    return session.exec(
        select(func.min(ShadowEpisode.created_at)).where(ShadowEpisode.rules == rules)
    ).one()


def shadow_alerts_since(
    session: Session, *, rules: str, since: datetime, before: datetime
) -> list[tuple[ShadowAlert, ShadowEpisode]]:
    """This rule set's alerts raised in [since, before), with their episodes."""
    stmt = (
        select(ShadowAlert, ShadowEpisode)
        .join(ShadowEpisode, col(ShadowAlert.episode_id) == col(ShadowEpisode.id))
        .where(
            ShadowAlert.rules == rules,
            col(ShadowAlert.created_at) >= since,
            col(ShadowAlert.created_at) < before,
        )
        .order_by(col(ShadowAlert.id))
    )
    return [(a, e) for a, e in session.exec(stmt).all()]


def live_alerts_since(
    session: Session, *, since: datetime, before: datetime
) -> list[tuple[Alert, TriggerEpisode | None]]:
    """The live alerts raised in [since, before), with their episodes."""
    stmt = (
        select(Alert, TriggerEpisode)
        .join(TriggerEpisode, col(Alert.episode_id) == col(TriggerEpisode.id), isouter=True)
        .where(col(Alert.created_at) >= since, col(Alert.created_at) < before)
        .order_by(col(Alert.id))
    )
    return [(a, e) for a, e in session.exec(stmt).all()]


def plans_since(session: Session, *, since: datetime) -> list[tuple[int, datetime, str]]:
    """Plans started since ``since``: (account id, started, status), oldest first."""
    stmt = (
        select(Plan.account_id, Plan.created_at, Plan.status)
        .where(col(Plan.created_at) >= since)
        .order_by(col(Plan.created_at))
    )
    return [(int(a), c, str(s)) for a, c, s in session.exec(stmt).all()]


def pending_shadow_posts(
    session: Session, *, rules: str
) -> list[tuple[OutboxMessage, ShadowAlert, Account]]:
    """This rule set's shadow posts not claimed yet, with their alert and account, highest
    priority first: what a flood check weighs."""
    rows = session.exec(
        select(OutboxMessage)
        .where(
            OutboxMessage.kind == OutboxKind.SHADOW,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .order_by(col(OutboxMessage.priority).desc(), col(OutboxMessage.id))
    ).all()
    wanted: list[tuple[OutboxMessage, int]] = []
    for row in rows:
        payload = parse(row.kind, row.payload)
        if isinstance(payload, ShadowPost) and payload.shadow_alert:
            wanted.append((row, payload.shadow_alert))
    found: dict[int, tuple[ShadowAlert, Account]] = {}
    for chunk in chunks(sorted({i for _, i in wanted})):
        stmt = (
            select(ShadowAlert, Account)
            .join(Account, col(ShadowAlert.account_id) == col(Account.id))
            .where(col(ShadowAlert.id).in_(chunk), ShadowAlert.rules == rules)
        )
        found.update((a.id or 0, (a, acc)) for a, acc in session.exec(stmt).all())
    return [(m, *found[i]) for m, i in wanted if i in found]


def accounts_seen(session: Session, *, rules: str, account_ids: Iterable[int]) -> set[int]:
    """The accounts this rule set has recorded any episode of."""
    seen: set[int] = set()
    for chunk in chunks(sorted(set(account_ids))):
        stmt = (
            select(ShadowEpisode.account_id)
            .where(ShadowEpisode.rules == rules, col(ShadowEpisode.account_id).in_(chunk))
            .distinct()
        )
        seen.update(int(a) for a in session.exec(stmt).all())
    return seen


def live_episodes_of(session: Session, *, account_ids: Iterable[int]) -> list[TriggerEpisode]:
    """The live rules' recorded episodes of these accounts."""
    out: list[TriggerEpisode] = []
    for chunk in chunks(sorted(set(account_ids))):
        stmt = select(TriggerEpisode).where(col(TriggerEpisode.account_id).in_(chunk))
        out.extend(session.exec(stmt).all())
    return out


def retire_other_rules(session: Session, *, rules: str, account_ids: Iterable[int]) -> None:
    """Clear these accounts' shadow alerts still open under other rule sets (rules that were
    replaced), so they never stand in the way if those rules come back."""
    for chunk in chunks(sorted(set(account_ids))):
        session.execute(
            update(ShadowAlert)
            .where(
                col(ShadowAlert.rules) != rules,
                col(ShadowAlert.account_id).in_(chunk),
                col(ShadowAlert.status) == AlertStatus.OPEN,
            )
            .values(status=AlertStatus.CLEARED)
        )
