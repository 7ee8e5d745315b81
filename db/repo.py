"""Repository functions: the only SQL in the project. They never commit; callers own the
transaction so a poll batch or a button click is all-or-nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from db.models import (
    OPEN_ALERT_STATUSES,
    Account,
    AccountEvent,
    Alert,
    AuditLog,
    DigestLog,
    ExternalId,
    JobLease,
    OutboxMessage,
    OutboxStatus,
    Plan,
    PlanStep,
    PollRun,
    SlackUser,
    Snapshot,
    Snooze,
    TriggerEpisode,
    utcnow,
)
from scoring.facts import AccountFacts, Event, EventKind, Health
from scoring.facts import Snapshot as FactSnapshot
from scoring.triggers import Episode

SNAPSHOT_FIELDS = (
    "seats_used",
    "seats_purchased",
    "active_users",
    "departments",
    "headcount",
    "annual_revenue",
    "usage",
    "limits",
    "health",
    "nps",
    "open_urgent_tickets",
    "last_contact_on",
    "renewal_on",
    "arr",
    "features_used",
    "features_available",
)


def _insert(session: Session) -> Any:
    """The dialect's INSERT that understands ON CONFLICT DO NOTHING (and RETURNING, which tells
    on both backends whether a row was really inserted)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# --- accounts ---------------------------------------------------------------------------


def account_by_external_id(session: Session, source: str, external_id: str) -> Account | None:
    stmt = (
        select(Account)
        .join(ExternalId, col(ExternalId.account_id) == col(Account.id))
        .where(ExternalId.source == source, ExternalId.external_id == external_id)
    )
    return session.exec(stmt).first()


def account_by_key(session: Session, key: str) -> Account | None:
    return session.exec(select(Account).where(Account.key == key)).first()


def upsert_account(
    session: Session, *, source: str, external_id: str, key: str, **fields: Any
) -> Account:
    """Find the account this source record belongs to, or create it; refresh its fields.

    Matching is by (source, external id) only: two companies that share a name stay two
    accounts (the second gets ``key-2``); joining across sources is the caller's decision.
    """
    account = account_by_external_id(session, source, external_id)
    if account is None:
        account = Account(key=_free_key(session, key), **fields)
        session.add(account)
        session.flush()
    else:
        for name, value in fields.items():
            if value is not None:
                setattr(account, name, value)
        account.updated_at = utcnow()
    if account_by_external_id(session, source, external_id) is None:
        assert account.id is not None
        session.add(ExternalId(account_id=account.id, source=source, external_id=external_id))
    return account


def _free_key(session: Session, key: str) -> str:
    candidate, n = key, 1
    while account_by_key(session, candidate) is not None:
        n += 1
        candidate = f"{key}-{n}"
    return candidate


def all_accounts(session: Session) -> Sequence[Account]:
    return session.exec(select(Account).order_by(Account.name)).all()


def account_names(session: Session) -> list[tuple[int, str, str, str | None]]:
    """(id, key, name, domain) for every account: the search index for fuzzy lookup."""
    rows = session.exec(select(Account.id, Account.key, Account.name, Account.domain)).all()
    return [(int(i or 0), k, n, d) for i, k, n, d in rows]


# --- snapshots and events ---------------------------------------------------------------


def upsert_snapshot(
    session: Session, *, account_id: int, taken_on: date, source: str, **values: Any
) -> Snapshot:
    """One row per account per day: a later observation the same day replaces the earlier."""
    existing = session.exec(
        select(Snapshot).where(Snapshot.account_id == account_id, Snapshot.taken_on == taken_on)
    ).first()
    if existing is None:
        existing = Snapshot(account_id=account_id, taken_on=taken_on, source=source, **values)
        session.add(existing)
        return existing
    for name, value in values.items():
        if value is not None and value != {}:
            setattr(existing, name, value)
    existing.source = source
    existing.recorded_at = utcnow()
    return existing


def latest_snapshot_date(session: Session, *, source: str) -> date | None:
    stmt = select(func.max(Snapshot.taken_on)).where(Snapshot.source == source)
    value = session.exec(stmt).one()
    return value if isinstance(value, date) else None


def add_event(
    session: Session, *, account_id: int, kind: str, on: date, detail: str, key: str
) -> bool:
    """Record an event once; returns False when it was already known."""
    stmt = (
        _insert(session)(AccountEvent)
        .values(
            account_id=account_id, kind=kind, on=on, detail=detail, key=key, recorded_at=utcnow()
        )
        .on_conflict_do_nothing(index_elements=["account_id", "key"])
        .returning(AccountEvent.id)
    )
    return session.execute(stmt).first() is not None


def load_facts(session: Session, account: Account) -> AccountFacts:
    """The scoring input for one account: its whole snapshot history and events."""
    snaps = session.exec(
        select(Snapshot).where(Snapshot.account_id == account.id).order_by(col(Snapshot.taken_on))
    ).all()
    events = session.exec(
        select(AccountEvent)
        .where(AccountEvent.account_id == account.id)
        .order_by(col(AccountEvent.on), col(AccountEvent.id))
    ).all()
    return AccountFacts(
        account_id=account.key,
        name=account.name,
        history=[to_fact_snapshot(s) for s in snaps],
        events=[Event(EventKind(e.kind), e.on, e.detail, e.key) for e in events],
        purchased_on=account.purchased_on,
        plan=account.plan,
        contact_name=account.contact_name,
        segment=account.segment,
    )


def to_fact_snapshot(row: Snapshot) -> FactSnapshot:
    values = {name: getattr(row, name) for name in SNAPSHOT_FIELDS}
    values["health"] = Health(row.health) if row.health else None
    return FactSnapshot(taken_on=row.taken_on, **values)


def usage_series(session: Session, account_id: int, limit: int = 12) -> list[tuple[date, float]]:
    """Recent (date, capacity ratio) points, oldest first, for a sparkline."""
    rows = session.exec(
        select(Snapshot)
        .where(Snapshot.account_id == account_id)
        .order_by(col(Snapshot.taken_on).desc())
        .limit(limit)
    ).all()
    points = []
    for row in reversed(rows):
        top = to_fact_snapshot(row).capacity()
        if top is not None:
            points.append((row.taken_on, top[1]))
    return points


# --- episodes, alerts, outbox -----------------------------------------------------------


def record_episode(session: Session, account_id: int, episode: Episode) -> TriggerEpisode | None:
    """Insert an episode unless its dedupe key is known; returns the new row or None."""
    stmt = (
        _insert(session)(TriggerEpisode)
        .values(
            account_id=account_id,
            kind=episode.kind.value,
            on=episode.on,
            evidence=episode.evidence[:2000],
            dedupe_key=episode.dedupe_key,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(TriggerEpisode.id)
    )
    new_id = session.execute(stmt).scalar()
    return None if new_id is None else session.get(TriggerEpisode, new_id)


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


def enqueue(
    session: Session,
    *,
    alert: Alert | None,
    kind: str,
    payload: dict[str, Any],
    priority: int = 0,
) -> OutboxMessage:
    message = OutboxMessage(
        alert_id=alert.id if alert else None, kind=kind, payload=payload, priority=priority
    )
    session.add(message)
    return message


def due_outbox(session: Session, now: datetime, limit: int = 50) -> Sequence[OutboxMessage]:
    """Pending messages whose time has come, highest priority first, oldest first."""
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            col(OutboxMessage.next_attempt_at) <= now,
        )
        .order_by(col(OutboxMessage.priority).desc(), col(OutboxMessage.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.exec(stmt).all()


def outbox_backlog(session: Session) -> int:
    stmt = select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)
    return int(session.exec(stmt).one())


def alerts_with_accounts(
    session: Session, alert_ids: Iterable[int] | None = None
) -> list[tuple[Alert, Account]]:
    stmt = select(Alert, Account).join(Account, col(Alert.account_id) == col(Account.id))
    if alert_ids is not None:
        stmt = stmt.where(col(Alert.id).in_(list(alert_ids)))
    return [(a, acc) for a, acc in session.exec(stmt).all()]


def set_alert_status(session: Session, alert_id: int, status: str) -> None:
    session.execute(
        update(Alert).where(col(Alert.id) == alert_id).values(status=status, updated_at=utcnow())
    )


# --- audit and poll runs ----------------------------------------------------------------


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


def start_poll_run(session: Session, source: str) -> PollRun:
    run = PollRun(source=source)
    session.add(run)
    session.flush()
    return run


def last_poll_runs(session: Session, limit: int = 20) -> Sequence[PollRun]:
    return session.exec(select(PollRun).order_by(col(PollRun.id).desc()).limit(limit)).all()


# --- job leases -------------------------------------------------------------------------


def acquire_lease(
    session: Session, *, name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew the lease on ``name``; False while another live holder has it.

    Portable on SQLite and PostgreSQL: one conditional UPDATE (ours, or expired) and, for a job
    never run before, an INSERT that loses quietly to a concurrent one.
    """
    expires = now + ttl
    taken = session.execute(
        update(JobLease)
        .where(
            col(JobLease.name) == name,
            (col(JobLease.holder) == holder) | (col(JobLease.expires_at) < now),
        )
        .values(holder=holder, expires_at=expires, acquired_at=now)
        .returning(col(JobLease.name))
    ).first()
    if taken is not None:
        return True
    inserted = session.execute(
        _insert(session)(JobLease)
        .values(name=name, holder=holder, expires_at=expires, acquired_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(col(JobLease.name))
    ).first()
    return inserted is not None


def release_lease(session: Session, *, name: str, holder: str, now: datetime) -> None:
    session.execute(
        update(JobLease)
        .where(col(JobLease.name) == name, col(JobLease.holder) == holder)
        .values(expires_at=now - timedelta(seconds=1))
    )


def lease_holder(session: Session, name: str) -> JobLease | None:
    return session.get(JobLease, name)


# --- plans ------------------------------------------------------------------------------


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


# --- snoozes and digests ----------------------------------------------------------------


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


def claim_digest(session: Session, *, recipient: str, kind: str, period: str) -> bool:
    """Record that this digest is being sent; False when it already was (exactly once)."""
    stmt = (
        _insert(session)(DigestLog)
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
    session: Session, *, owner: str, since: datetime | None
) -> list[tuple[Alert, Account]]:
    """Candidate (digest-only) alerts on this owner's accounts raised since ``since``."""
    stmt = (
        select(Alert, Account)
        .join(Account, col(Alert.account_id) == col(Account.id))
        .where(Alert.delivery == "digest", Account.owner_email == owner)
    )
    if since is not None:
        stmt = stmt.where(col(Alert.created_at) > since)
    return [(a, acc) for a, acc in session.exec(stmt.order_by(col(Alert.score).desc())).all()]


def account_owners(session: Session) -> list[str]:
    rows = session.exec(
        select(Account.owner_email).where(col(Account.owner_email).is_not(None)).distinct()
    ).all()
    return sorted(r for r in rows if r)


def slack_user(session: Session, email: str) -> SlackUser | None:
    return session.get(SlackUser, email.lower())


# --- outcome metrics --------------------------------------------------------------------


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


def arr_at(session: Session, day: date) -> dict[int, float]:
    """Each account's ARR in its latest snapshot on or before ``day`` (known values only)."""
    latest = (
        select(Snapshot.account_id, func.max(Snapshot.taken_on).label("taken_on"))
        .where(col(Snapshot.taken_on) <= day, col(Snapshot.arr).is_not(None))
        .group_by(col(Snapshot.account_id))
        .subquery()
    )
    stmt = select(Snapshot.account_id, Snapshot.arr).join(
        latest,
        (col(Snapshot.account_id) == latest.c.account_id)
        & (col(Snapshot.taken_on) == latest.c.taken_on),
    )
    return {int(a): float(v) for a, v in session.exec(stmt).all() if v is not None}
