"""Repository functions: the only SQL in the project. They never commit; callers own the
transaction so a poll batch or a button click is all-or-nothing."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    or_,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from db.models import (
    OPEN_ALERT_STATUSES,
    Account,
    AccountEvent,
    Alert,
    AuditLog,
    ChampionLink,
    CrmTicket,
    DigestLog,
    ExternalId,
    JobLease,
    OutboxMessage,
    OutboxStatus,
    PendingEvaluation,
    Plan,
    PlanStep,
    PollRun,
    SlackChannel,
    SlackUser,
    Snapshot,
    Snooze,
    SourceState,
    TriggerEpisode,
    utcnow,
)
from scoring.facts import SNAPSHOT_FACTS, AccountFacts, Event, EventKind, FactKind, Health
from scoring.facts import Snapshot as FactSnapshot

# The snapshot facts, in declaration order (scoring.facts.Snapshot): the columns after
# ``source``; usage and limits are JSON, health is text.
SNAPSHOT_FIELDS = tuple(f.name for f in SNAPSHOT_FACTS)
_JSON_SNAPSHOT_FIELDS = tuple(f.name for f in SNAPSHOT_FACTS if f.kind is FactKind.METRICS)
_HEALTH_FIELDS = tuple(f.name for f in SNAPSHOT_FACTS if f.kind is FactKind.HEALTH)


def _is_postgresql(session: Session) -> bool:
    """PostgreSQL, or else SQLite: the two databases the app runs on."""
    return bool(session.get_bind().dialect.name == "postgresql")


def _insert(session: Session) -> Any:
    """The dialect's INSERT that understands ON CONFLICT DO NOTHING (and RETURNING, which tells
    on both backends whether a row was really inserted)."""
    return pg_insert if _is_postgresql(session) else sqlite_insert


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


def all_accounts(session: Session) -> Sequence[Account]:
    return session.exec(select(Account).order_by(Account.name)).all()


def account_names(session: Session) -> list[tuple[int, str, str, str | None]]:
    """(id, key, name, domain) for every account: the search index for fuzzy lookup."""
    rows = session.exec(select(Account.id, Account.key, Account.name, Account.domain)).all()
    return [(int(i or 0), k, n, d) for i, k, n, d in rows]


# --- snapshots and events ---------------------------------------------------------------


def latest_snapshot_date(session: Session, *, source: str) -> date | None:
    stmt = select(func.max(Snapshot.taken_on)).where(Snapshot.source == source)
    value = session.exec(stmt).one()
    return value if isinstance(value, date) else None


def add_event(
    session: Session,
    *,
    account_id: int,
    kind: str,
    on: date,
    detail: str,
    key: str,
    source: str | None = None,
    logged_by: str | None = None,
    permalink: str | None = None,
) -> bool:
    """Record an event once; returns False when it was already known (the first one stays
    as it was, whoever logged it)."""
    stmt = (
        _insert(session)(AccountEvent)
        .values(
            account_id=account_id,
            kind=kind,
            on=on,
            detail=detail,
            key=key,
            recorded_at=utcnow(),
            source=source,
            logged_by=logged_by,
            permalink=permalink,
        )
        .on_conflict_do_nothing(index_elements=["account_id", "key"])
        .returning(AccountEvent.id)
    )
    return session.execute(stmt).first() is not None


def event_by_key(session: Session, *, account_id: int, key: str) -> AccountEvent | None:
    return session.exec(
        select(AccountEvent).where(AccountEvent.account_id == account_id, AccountEvent.key == key)
    ).first()


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


def insert_events(
    session: Session, *, rows: dict[tuple[int, str], dict[str, Any]]
) -> list[tuple[int, str]]:
    """Insert the events (by account id and key) whose key is new for their account; returns
    (account id, key) of each one really inserted."""
    if not rows:
        return []
    table = _table(AccountEvent)
    inserted: list[tuple[int, str]] = []
    for chunk in _chunks(rows.values()):
        found = _insert_returning(
            session, table, chunk, ("account_id", "key"), skip_conflicts_on=("account_id", "key")
        )
        inserted += [(int(account_id), str(key)) for account_id, key in found]
    return inserted


def event_keys_of_series(
    session: Session, *, series: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], list[str]]:
    """The stored keys of each (account id, series): the keys that start ``<series>:`` (a
    running count's steps, ``sources.events.count_steps``)."""
    wanted: dict[str, set[int]] = {}
    for account_id, name in series:
        wanted.setdefault(name, set()).add(account_id)
    out: dict[tuple[int, str], list[str]] = {}
    for name, accounts in wanted.items():
        for chunk in _chunks(sorted(accounts)):
            stmt = select(AccountEvent.account_id, AccountEvent.key).where(
                col(AccountEvent.account_id).in_(chunk),
                col(AccountEvent.key).startswith(f"{name}:", autoescape=True),
            )
            for account_id, key in _select(session, stmt):
                out.setdefault((int(account_id), name), []).append(str(key))
    return out


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
    for name in _HEALTH_FIELDS:
        values[name] = Health(values[name]) if values[name] else None
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


def outbox_backlog(session: Session) -> int:
    """Messages not delivered yet: waiting, or being sent right now."""
    stmt = select(func.count()).where(
        col(OutboxMessage.status).in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
    )
    return int(session.exec(stmt).one())


def alerts_with_accounts(
    session: Session, alert_ids: Iterable[int] | None = None
) -> list[tuple[Alert, Account]]:
    stmt = select(Alert, Account).join(Account, col(Alert.account_id) == col(Account.id))
    if alert_ids is not None:
        stmt = stmt.where(col(Alert.id).in_(list(alert_ids)))
    return [(a, acc) for a, acc in session.exec(stmt).all()]


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


def lease_live(session: Session, name: str, now: datetime) -> bool:
    """Whether some process holds the lease ``name`` right now (renewed, not expired)."""
    lease = session.get(JobLease, name)
    if lease is None:
        return False
    expires = lease.expires_at
    if expires.tzinfo is None and now.tzinfo is not None:
        expires = expires.replace(tzinfo=now.tzinfo)
    return expires > now


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


# --- slack: delivery, owners, the viewer's book -----------------------------------------


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


def latest_snapshot(session: Session, account_id: int) -> Snapshot | None:
    return session.exec(
        select(Snapshot)
        .where(Snapshot.account_id == account_id)
        .order_by(col(Snapshot.taken_on).desc())
        .limit(1)
    ).first()


def alert_and_account(session: Session, alert_id: int) -> tuple[Alert, Account] | None:
    row = session.exec(
        select(Alert, Account)
        .join(Account, col(Alert.account_id) == col(Account.id))
        .where(Alert.id == alert_id)
    ).first()
    return (row[0], row[1]) if row else None


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
    if _is_postgresql(session):
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
    kinds: Iterable[str],
    statuses: Iterable[str] = (OutboxStatus.PENDING,),
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


def channel_post_times(
    session: Session, *, channel: str, since: datetime, other_than: int | None = None
) -> list[datetime]:
    """When alerts were posted (or are being posted) to ``channel`` since ``since`` (the hourly
    cap's window), leaving out message ``other_than`` (the one asking)."""
    when = func.coalesce(col(OutboxMessage.sent_at), col(OutboxMessage.unconfirmed_since))
    stmt = select(when).where(
        OutboxMessage.channel == channel,
        OutboxMessage.kind == "post",
        col(OutboxMessage.status).in_([OutboxStatus.SENT, OutboxStatus.SENDING]),
        when >= since,
    )
    if other_than is not None:
        stmt = stmt.where(col(OutboxMessage.id) != other_than)
    rows = session.exec(stmt).all()
    return sorted(_utc(r) for r in rows if r is not None)


def channel_id(session: Session, name: str) -> str | None:
    """The id Slack gave for a channel name (``#expansion`` or ``expansion``), if known."""
    row = session.get(SlackChannel, channel_key(name))
    return row.channel_id if row else None


def save_channel_ids(session: Session, ids: dict[str, str], *, now: datetime) -> None:
    """Remember channel name → id answers (insert or refresh; concurrent writers agree)."""
    insert_ = _insert(session)
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


def _utc(moment: Any) -> datetime:
    if isinstance(moment, str):  # SQLite hands back text for an expression over datetimes
        moment = datetime.fromisoformat(moment)
    assert isinstance(moment, datetime)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def alerts_to_escalate(
    session: Session, *, posted_before: datetime, bands: Iterable[str]
) -> Sequence[Alert]:
    """Posted, still unacknowledged and never escalated."""
    return session.exec(
        select(Alert)
        .where(
            Alert.status == "open",
            col(Alert.escalated_at).is_(None),
            col(Alert.ts).is_not(None),
            col(Alert.posted_at) <= posted_before,
            col(Alert.band).in_(list(bands)),
        )
        .order_by(col(Alert.id))
    ).all()


def alert_audit(session: Session, alert_id: int, limit: int = 20) -> Sequence[AuditLog]:
    """What people (and jobs) did to one alert, oldest first."""
    rows = session.exec(
        select(AuditLog)
        .where(AuditLog.target_type == "alert", AuditLog.target_id == alert_id)
        .order_by(col(AuditLog.id).desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


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


def accounts_stamp(session: Session) -> tuple[int, int, str]:
    """Changes whenever an account is added or renamed: when a cached name index is stale."""
    count, top, changed = session.exec(
        select(func.count(col(Account.id)), func.max(Account.id), func.max(Account.updated_at))
    ).one()
    return int(count or 0), int(top or 0), str(changed)


# --- sources: bulk ingest, re-scoring queue, sync state ---------------------------------
# A poll writes thousands of records per transaction: these read and write whole batches
# with one statement per chunk of ids instead of one per record.

_CHUNK = 500

ACCOUNT_FIELDS = (
    "name",
    "domain",
    "owner_email",
    "owner_name",
    "segment",
    "plan",
    "purchased_on",
    "contact_name",
)


def _chunks(items: Iterable[Any], size: int = _CHUNK) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _select(session: Session, stmt: Any, params: dict[str, Any] | None = None) -> Any:
    """Rows of a SELECT of plain columns, run on the session's connection: the same rows as
    ``session.execute`` without the ORM's per-row work (the session is flushed first, as
    its autoflush would)."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(stmt, params)


def _dicts(result: Any) -> list[dict[str, Any]]:
    """A result's rows as dicts by column name, fetched at once (cheaper than row by row)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.fetchall()]


_PG_EXTERNAL_IDS = text(
    "SELECT e.external_id, e.account_id FROM unnest(CAST(:ids AS varchar[])) AS wanted(id)"
    " JOIN external_ids AS e ON e.source = :source AND e.external_id = wanted.id"
)


def external_id_map(
    session: Session, *, source: str, external_ids: Iterable[str]
) -> dict[str, int]:
    """Account id per external id of ``source``, for the ids that are linked."""
    out: dict[str, int] = {}
    if _is_postgresql(session):
        # A join on the ids: while a first sync fills the table its statistics are stale,
        # and PostgreSQL then reads every row of the source for an IN list (a first sync
        # grew quadratically); joined, each batch costs about the same however big it is.
        for chunk in _chunks(sorted(set(external_ids)), 5000):
            rows = _select(session, _PG_EXTERNAL_IDS, {"ids": chunk, "source": source})
            out.update({ext: int(acc) for ext, acc in rows})
        return out
    for chunk in _chunks(sorted(set(external_ids))):
        stmt = select(ExternalId.external_id, ExternalId.account_id).where(
            ExternalId.source == source, col(ExternalId.external_id).in_(chunk)
        )
        out.update({ext: int(acc) for ext, acc in _select(session, stmt)})
    return out


def account_ids_by_domain(session: Session, *, domains: Iterable[str]) -> dict[str, list[int]]:
    """Every account per domain (more than one means the domain cannot decide a match)."""
    out: dict[str, list[int]] = {}
    for chunk in _chunks(sorted(set(domains))):
        stmt = select(Account.domain, Account.id).where(col(Account.domain).in_(chunk))
        for domain, account_id in _select(session, stmt):
            if domain is not None and account_id is not None:
                out.setdefault(domain, []).append(int(account_id))
    return out


# The tables a poll fills: their planner statistics go stale while a first sync loads them.
_ANALYZE_POLLED = (
    "ANALYZE accounts, external_ids, snapshots, trigger_episodes, alerts, pending_evaluations"
)


def refresh_planner_statistics(session: Session) -> None:
    """PostgreSQL plans a fresh table's lookups as if it were empty until autovacuum catches
    up, and a first sync of 100,000 accounts then scans whole tables per batch. ANALYZE (a
    sample, so cheap) fixes the plans. SQLite needs nothing."""
    if _is_postgresql(session):
        session.execute(text(_ANALYZE_POLLED))


def existing_account_keys(session: Session, *, keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(set(keys))):
        stmt = select(Account.key).where(col(Account.key).in_(chunk))
        found.update(key for (key,) in _select(session, stmt))
    return found


def free_account_key(session: Session, *, key: str, taken: set[str]) -> str:
    """``key``, or ``key-2``, ``key-3``… that is neither stored nor in ``taken``."""
    candidate, n = key, 1
    while candidate in taken or account_by_key(session, candidate) is not None:
        n += 1
        candidate = f"{key}-{n}"
    return candidate


def insert_accounts(session: Session, *, rows: list[dict[str, Any]]) -> list[int]:
    """Insert accounts (keys unique); returns their ids in the order of ``rows``."""
    if not rows:
        return []
    table = _table(Account)
    inserted = _insert_returning(session, table, _complete_rows(Account, rows), ("key", "id"))
    ids = {key: int(i) for key, i in inserted}
    return [ids[row["key"]] for row in rows]


def account_rows(session: Session, *, account_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The stored fields of accounts by id (plain values, for comparing and bulk updates)."""
    out: dict[int, dict[str, Any]] = {}
    columns = [getattr(Account, f) for f in ACCOUNT_FIELDS]
    for chunk in _chunks(sorted(set(account_ids))):
        stmt = select(Account.id, Account.key, *columns).where(col(Account.id).in_(chunk))
        for values in _dicts(_select(session, stmt)):
            out[int(values["id"])] = values
    return out


def _executemany(
    session: Session,
    stmt: Any,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    bind_prefix: str = "",
) -> None:
    """On SQLite, run ``stmt`` once per row: the rows go straight to the driver's executemany
    with each column's bind processor applied once per value, skipping SQLAlchemy's per-row
    parameter handling (the bulk of a poll's write time). Bind names are the rows' keys, each
    with ``bind_prefix`` in front."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    compiled = stmt.compile(dialect=dialect, column_keys=[bind_prefix + k for k in rows[0]])
    keys = [name.removeprefix(bind_prefix) for name in compiled.positiontup or ()]
    params = [tuple(values) for values in _sqlite_params(table, dialect, keys, rows)]
    session.connection().exec_driver_sql(str(compiled), params)


def _pg_columns(
    session: Session, table: Table, keys: Sequence[str], rows: list[dict[str, Any]]
) -> tuple[str, str, dict[str, list[Any]]]:
    """For PostgreSQL: the quoted column list, an ``unnest(…) AS v(…)`` of one array per column
    (cast to the column's type), and those arrays as parameters. One statement then writes a
    whole batch: the server plans and runs it once instead of once per row."""
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    arrays, params = [], {}
    for i, key in enumerate(keys):
        column = table.c[key]
        processor = column.type.dialect_impl(dialect).bind_processor(dialect)
        values = [row[key] for row in rows]
        params[f"c{i}"] = [processor(v) for v in values] if processor else values
        arrays.append(f"CAST(:c{i} AS {column.type.compile(dialect=dialect)}[])")
    names = ", ".join(quote(k) for k in keys)
    return names, f"unnest({', '.join(arrays)}) AS v({names})", params


def _insert_clauses(session: Session, unique: Sequence[str], returning: Sequence[str]) -> str:
    """The ``ON CONFLICT (…) DO NOTHING`` and ``RETURNING …`` that follow an INSERT (either
    may be left out)."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    tail = f" ON CONFLICT ({', '.join(quote(c) for c in unique)}) DO NOTHING" if unique else ""
    if returning:
        tail += f" RETURNING {', '.join(quote(name) for name in returning)}"
    return tail


def _pg_insert_rows(session: Session, table: Table, rows: list[dict[str, Any]], tail: str) -> Any:
    """PostgreSQL: the rows in one ``INSERT … SELECT … FROM unnest(…)`` followed by ``tail``."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    names, source, params = _pg_columns(session, table, list(rows[0]), rows)
    sql = f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} FROM {source}{tail}"
    return session.connection().execute(text(sql), params)


def _bulk_insert(
    session: Session, table: Table, rows: list[dict[str, Any]], *, unique: Sequence[str] = ()
) -> None:
    """INSERT the rows (all with the same keys); with ``unique``, a row whose values of those
    columns exist already is skipped."""
    if not rows:
        return
    if _is_postgresql(session):
        _pg_insert_rows(session, table, rows, _insert_clauses(session, unique, ()))
        return
    stmt = _insert(session)(table)
    if unique:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(unique))
    _executemany(session, stmt, table, rows)


def _sqlite_params(table: Table, dialect: Any, keys: list[str], rows: list[dict[str, Any]]) -> Any:
    """The rows' values in ``keys`` order, each through its column's SQLite bind processor."""
    convert = [
        (i, p) for i, key in enumerate(keys) if (p := _sqlite_processor(table.c[key], dialect))
    ]
    for row in rows:
        values = [row[key] for key in keys]
        for i, p in convert:
            values[i] = p(values[i])
        yield values


def _insert_returning(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    returning: tuple[str, ...],
    *,
    skip_conflicts_on: str | tuple[str, ...] | None = None,
) -> list[tuple[Any, ...]]:
    """INSERT the rows (all with the same keys) and return ``returning`` of each row really
    inserted (a row whose ``skip_conflicts_on`` value exists already is skipped, not returned).

    On SQLite: multi-row ``INSERT … VALUES (…), (…) RETURNING`` statements built here, the
    values through the columns' bind processors, instead of SQLAlchemy's per-row parameter
    handling; on PostgreSQL one ``INSERT … SELECT … FROM unnest(…) RETURNING`` (the rows come
    back in no promised order: callers match them by a unique column)."""
    if not rows:
        return []
    unique = (skip_conflicts_on,) if isinstance(skip_conflicts_on, str) else skip_conflicts_on
    tail = _insert_clauses(session, unique or (), returning)
    if _is_postgresql(session):
        return [tuple(row) for row in _pg_insert_rows(session, table, rows, tail)]
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    keys = list(rows[0])
    one = "(" + ", ".join("?" for _ in keys) + ")"
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in keys)}) VALUES "
    per_statement = max(1, 30_000 // len(keys))  # SQLite allows 32,766 parameters
    out: list[tuple[Any, ...]] = []
    connection = session.connection()
    params = list(_sqlite_params(table, dialect, keys, rows))
    for start in range(0, len(params), per_statement):
        part = params[start : start + per_statement]
        flat = tuple(value for values in part for value in values)
        sql = head + ", ".join(one for _ in part) + tail
        out.extend(tuple(row) for row in connection.exec_driver_sql(sql, flat))
    return out


_LAST_DATETIME: tuple[Any, Any] = (None, None)


def _sqlite_utc_datetime(value: Any) -> Any:
    """What SQLAlchemy stores for an aware datetime on SQLite (UTC, ``2026-11-22
    08:00:00.000000``), without its per-value dictionary formatting. A batch's rows share
    one ``now``: the last value's text is kept."""
    global _LAST_DATETIME
    last = _LAST_DATETIME
    if value is last[0]:
        return last[1]
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("Datetime values must have timezone information")
        stored = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        _LAST_DATETIME = (value, stored)
        return stored
    return value


def _sqlite_date(value: Any) -> Any:
    """What SQLAlchemy stores for a date on SQLite (``2026-11-22``)."""
    return value.isoformat() if type(value) is date else value


def _sqlite_json(processor: Any) -> Any:
    """SQLAlchemy's JSON processor with a short cut for objects (its serializer's text)."""

    def process(value: Any) -> Any:
        if type(value) is dict:
            return json.dumps(value) if value else "{}"  # most usage and limits are empty
        return processor(value)

    return process


_FAST_SQLITE: tuple[tuple[Any, Any], ...] = (
    (lambda _: _sqlite_utc_datetime, datetime(2026, 11, 22, 8, 0, 0, 5, tzinfo=UTC)),
    (lambda _: _sqlite_date, date(2026, 11, 22)),
    (_sqlite_json, {"api_calls": 1.5, "seats": [1, None], "é": "x"}),
)


def _sqlite_processor(column: Any, dialect: Any) -> Any:
    """The bind processor SQLAlchemy itself applies to ``column`` on SQLite (the dialect's type:
    a generic DateTime has none), or a faster one that stores the same text for dates and
    aware datetimes (checked against SQLAlchemy's on a sample)."""
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return None
    for make, sample in _FAST_SQLITE:
        fast = make(processor)
        try:
            if processor(sample) == fast(sample) and processor(None) == fast(None):
                return fast
        except (TypeError, ValueError, AttributeError):
            continue
    return processor


def _update_by_id(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """One bulk UPDATE by primary key; every row carries ``id`` and the same fields."""
    if not rows:
        return
    table = _table(model)
    fields = [k for k in rows[0] if k != "id"]
    if _is_postgresql(session):
        quote = session.get_bind().dialect.identifier_preparer.quote
        _, source, params = _pg_columns(session, table, ["id", *fields], rows)
        changes = ", ".join(f"{quote(f)} = v.{quote(f)}" for f in fields)
        sql = f"UPDATE {quote(table.name)} AS t SET {changes} FROM {source} WHERE t.id = v.id"
        session.connection().execute(text(sql), params)
        return
    stmt = (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values({f: bindparam(f"_{f}") for f in fields})
    )
    _executemany(session, stmt, table, rows, bind_prefix="_")


def update_accounts(session: Session, *, rows: list[dict[str, Any]]) -> None:
    """Bulk update by primary key; every row carries ``id`` and the same set of fields."""
    _update_by_id(session, Account, rows)


def link_external_ids(session: Session, *, rows: list[dict[str, Any]]) -> None:
    """Link (source, external_id) -> account_id; a link that exists already is kept."""
    _bulk_insert(session, _table(ExternalId), rows, unique=("source", "external_id"))


def _snapshot_field(name: str) -> Any:
    """A snapshot column to select; usage and limits come as text, for ``_json_value``."""
    column = getattr(Snapshot, name)
    return type_coerce(column, Text).label(name) if name in _JSON_SNAPSHOT_FIELDS else column


def _json_value(raw: Any) -> Any:
    """A JSON column selected as text: most usage and limits are ``{}``, which needs no
    parser (a driver that decodes JSON itself hands over the object)."""
    if type(raw) is not str:
        return {} if raw is None else raw
    return {} if raw == "{}" else json.loads(raw)


def _snapshot_dicts(result: Any) -> list[dict[str, Any]]:
    rows = _dicts(result)
    for row in rows:
        for name in _JSON_SNAPSHOT_FIELDS:
            row[name] = _json_value(row[name])
    return rows


def _snapshot_columns() -> list[Any]:
    return [
        Snapshot.id,
        Snapshot.account_id,
        Snapshot.taken_on,
        Snapshot.source,
        *[_snapshot_field(f) for f in SNAPSHOT_FIELDS],
    ]


def latest_snapshot_rows(
    session: Session, *, account_ids: Iterable[int], on_or_before: date
) -> dict[int, dict[str, Any]]:
    """Each account's most recent snapshot up to a day, as plain values."""
    out: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(account_ids))):
        newest = (
            select(Snapshot.account_id, func.max(Snapshot.taken_on).label("day"))
            .where(col(Snapshot.account_id).in_(chunk), col(Snapshot.taken_on) <= on_or_before)
            .group_by(col(Snapshot.account_id))
            .subquery()
        )
        stmt = select(*_snapshot_columns()).join(
            newest,
            (col(Snapshot.account_id) == newest.c.account_id)
            & (col(Snapshot.taken_on) == newest.c.day),
        )
        for values in _snapshot_dicts(_select(session, stmt)):
            out[int(values["account_id"])] = values
    return out


def snapshot_rows_on(
    session: Session, *, account_ids: Iterable[int], days: Iterable[date]
) -> dict[tuple[int, date], dict[str, Any]]:
    """Stored snapshots for the given accounts on the given days, as plain values."""
    wanted = sorted(set(days))
    out: dict[tuple[int, date], dict[str, Any]] = {}
    if not wanted:
        return out
    for chunk in _chunks(sorted(set(account_ids))):
        stmt = select(*_snapshot_columns()).where(
            col(Snapshot.account_id).in_(chunk), col(Snapshot.taken_on).in_(wanted)
        )
        for values in _snapshot_dicts(_select(session, stmt)):
            out[(int(values["account_id"]), values["taken_on"])] = values
    return out


def insert_snapshots(session: Session, *, rows: list[dict[str, Any]]) -> None:
    _bulk_insert(session, _table(Snapshot), _complete_rows(Snapshot, rows))


def update_snapshots(session: Session, *, rows: list[dict[str, Any]]) -> None:
    """Bulk update by primary key; every row carries ``id`` and the same set of fields."""
    _update_by_id(session, Snapshot, rows)


def mark_pending(session: Session, *, account_ids: Iterable[int]) -> None:
    """Queue accounts for re-scoring (once each, however often they change before it)."""
    now = utcnow()
    rows = [{"account_id": a, "queued_at": now} for a in sorted(set(account_ids))]
    _bulk_insert(session, _table(PendingEvaluation), rows, unique=("account_id",))


def queue_all_accounts(session: Session) -> int:
    """Queue every account for re-scoring (the daily pass for date-driven triggers)."""
    ids = [int(i) for i in session.exec(select(Account.id)).all() if i is not None]
    mark_pending(session, account_ids=ids)
    return len(ids)


def pending_account_ids(session: Session, *, after: int = 0, limit: int = 1000) -> list[int]:
    stmt = (
        select(PendingEvaluation.account_id)
        .where(col(PendingEvaluation.account_id) > after)
        .order_by(col(PendingEvaluation.account_id))
        .limit(limit)
    )
    return [int(i) for i in session.exec(stmt).all()]


def clear_pending(session: Session, *, account_ids: Iterable[int]) -> None:
    for chunk in _chunks(sorted(set(account_ids))):
        session.execute(
            delete(PendingEvaluation).where(col(PendingEvaluation.account_id).in_(chunk))
        )


def pending_count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(PendingEvaluation)).one())


def load_facts_many(session: Session, *, account_ids: Iterable[int]) -> dict[int, AccountFacts]:
    """The scoring input of many accounts in three queries per chunk (see ``load_facts``)."""
    out: dict[int, AccountFacts] = {}
    fields = [col(Snapshot.account_id), col(Snapshot.taken_on)]
    fields += [_snapshot_field(f) for f in SNAPSHOT_FIELDS]
    for chunk in _chunks(sorted(set(account_ids))):
        history: dict[int, list[FactSnapshot]] = {}
        snaps = (
            select(*fields)
            .where(col(Snapshot.account_id).in_(chunk))
            .order_by(col(Snapshot.account_id), col(Snapshot.taken_on))
        )
        for row in _select(session, snaps).fetchall():
            account_id, taken_on, *values = row
            named = dict(zip(SNAPSHOT_FIELDS, values, strict=True))
            for name in _HEALTH_FIELDS:
                named[name] = Health(named[name]) if named[name] else None
            for name in _JSON_SNAPSHOT_FIELDS:
                named[name] = _json_value(named[name])
            history.setdefault(int(account_id), []).append(FactSnapshot(taken_on=taken_on, **named))
        events: dict[int, list[Event]] = {}
        evs = (
            select(AccountEvent)
            .where(col(AccountEvent.account_id).in_(chunk))
            .order_by(col(AccountEvent.account_id), col(AccountEvent.on), col(AccountEvent.id))
        )
        for e in session.exec(evs).all():
            events.setdefault(e.account_id, []).append(
                Event(EventKind(e.kind), e.on, e.detail, e.key)
            )
        columns = [
            col(Account.id),
            col(Account.key),
            col(Account.name),
            col(Account.purchased_on),
            col(Account.plan),
            col(Account.contact_name),
            col(Account.segment),
        ]
        accounts = select(*columns).where(col(Account.id).in_(chunk))
        for account_id, key, name, purchased_on, plan, contact, segment in _select(
            session, accounts
        ):
            out[int(account_id)] = AccountFacts(
                account_id=key,
                name=name,
                history=history.get(int(account_id), []),
                events=events.get(int(account_id), []),
                purchased_on=purchased_on,
                plan=plan,
                contact_name=contact,
                segment=segment,
            )
    return out


def insert_episodes(session: Session, *, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert episodes whose dedupe key is new; returns the new rows' ids by dedupe key."""
    out: dict[str, int] = {}
    keys = [r["dedupe_key"] for r in rows]
    known: set[str] = set()
    for chunk in _chunks(keys):
        stmt = select(TriggerEpisode.dedupe_key).where(col(TriggerEpisode.dedupe_key).in_(chunk))
        known.update(session.exec(stmt).all())
    fresh = {r["dedupe_key"]: r for r in rows if r["dedupe_key"] not in known}
    if not fresh:
        return out
    table = _table(TriggerEpisode)
    rows = _complete_rows(TriggerEpisode, list(fresh.values()))
    for chunk in _chunks(rows):
        inserted = _insert_returning(
            session, table, chunk, ("id", "dedupe_key"), skip_conflicts_on="dedupe_key"
        )
        out.update((key, int(episode_id)) for episode_id, key in inserted)
    return out


def open_alerts_for(session: Session, *, account_ids: Iterable[int]) -> dict[int, Alert]:
    """Each account's newest open alert (see ``open_alert``)."""
    out: dict[int, Alert] = {}
    for chunk in _chunks(sorted(set(account_ids))):
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
    for chunk in _chunks(sorted(set(account_ids))):
        stmt = select(TriggerEpisode.dedupe_key, TriggerEpisode.id).where(
            col(TriggerEpisode.account_id).in_(chunk),
            col(TriggerEpisode.on) >= on_or_after,
            ~covered,
        )
        out.update((key, episode_id) for key, episode_id in session.exec(stmt).all() if episode_id)
    return out


def insert_alerts(session: Session, *, rows: list[dict[str, Any]]) -> list[int]:
    """Insert alerts, at most one per account; returns their ids in the order of ``rows``."""
    if not rows:
        return []
    table = _table(Alert)
    inserted = _insert_returning(session, table, _complete_rows(Alert, rows), ("id", "account_id"))
    ids = {int(a): int(i) for i, a in inserted}
    return [ids[row["account_id"]] for row in rows]


def insert_outbox(session: Session, *, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(_table(OutboxMessage)), _complete_rows(OutboxMessage, rows))


def source_state(session: Session, source: str) -> SourceState:
    """A source's sync state, created on first use."""
    state = session.get(SourceState, source)
    if state is None:
        state = SourceState(source=source)
        session.add(state)
        session.flush()
    return state


def save_batch_progress(
    session: Session,
    *,
    source: str,
    run_id: int,
    cursor: str | None,
    fetched: int,
    rejected: int,
    unmatched: int,
    changed: int,
    errors: list[str],
) -> None:
    """A written batch's bookkeeping, in the batch's transaction: the source's cursor (None:
    keep the stored one) and the run's counts, errors and resulting cursor. The source's
    state row exists (the run created it)."""
    states, runs = _table(SourceState), _table(PollRun)
    if cursor is not None:
        session.execute(update(states).where(states.c.source == source).values(cursor=cursor))
    stored = select(states.c.cursor).where(states.c.source == source).scalar_subquery()
    session.execute(
        update(runs)
        .where(runs.c.id == run_id)
        .values(
            fetched=fetched,
            rejected=rejected,
            unmatched=unmatched,
            changed=changed,
            errors=errors,
            cursor=stored,
        )
    )


def source_states(session: Session) -> Sequence[SourceState]:
    return session.exec(select(SourceState).order_by(col(SourceState.source))).all()


def last_run_per_source(session: Session) -> dict[str, PollRun]:
    newest = (
        select(PollRun.source, func.max(PollRun.id).label("id"))
        .group_by(col(PollRun.source))
        .subquery()
    )
    stmt = select(PollRun).join(newest, col(PollRun.id) == newest.c.id)
    return {run.source: run for run in session.exec(stmt).all()}


def abandon_runs(session: Session, *, run_ids: Sequence[int], now: datetime, reason: str) -> None:
    """Finish runs whose process is gone as failed, ``reason`` first among their errors. The
    caller holds the poll lease: no live poll can own a run still marked running."""
    for run_id in run_ids:
        run = session.get(PollRun, run_id)
        if run is None or run.status != "running":
            continue
        run.status = "failed"
        run.finished_at = now
        run.errors = [f"error: {reason}", *run.errors]
        session.add(run)


# --- tickets and champions (sources/tickets.py) ------------------------------------------


def save_tickets(session: Session, *, source: str, rows: dict[str, dict[str, Any]]) -> set[int]:
    """Store each ticket's account and open/urgent state (by ticket id); returns the accounts
    whose count of open urgent tickets may have changed (a ticket's old and new account)."""
    if not rows:
        return set()
    stored: dict[str, dict[str, Any]] = {}
    table = _table(CrmTicket)
    for chunk in _chunks(sorted(rows)):
        stmt = table.select().where(table.c.source == source, table.c.ticket_id.in_(chunk))
        stored.update({row["ticket_id"]: row for row in _dicts(_select(session, stmt))})
    now = utcnow()
    inserts, updates, affected = [], [], set()
    for ticket_id, row in rows.items():
        old = stored.get(ticket_id)
        fresh = {"account_id": row["account_id"], "is_open": row["is_open"]}
        fresh["urgent"] = row["urgent"]
        if old is None:
            inserts.append({"source": source, "ticket_id": ticket_id, **fresh, "updated_at": now})
            if fresh["is_open"] and fresh["urgent"]:
                affected.add(fresh["account_id"])
            continue
        if all(old[k] == v for k, v in fresh.items()):
            continue
        updates.append({"id": old["id"], **fresh, "updated_at": now})
        affected |= {int(old["account_id"]), fresh["account_id"]}
    _bulk_insert(session, _table(CrmTicket), inserts, unique=("source", "ticket_id"))
    _update_by_id(session, CrmTicket, updates)
    return affected


def open_urgent_counts(session: Session, *, account_ids: Iterable[int]) -> dict[int, int]:
    """Each account's number of open urgent tickets, over every source (0 when none)."""
    wanted = sorted(set(account_ids))
    out = dict.fromkeys(wanted, 0)
    for chunk in _chunks(wanted):
        stmt = (
            select(CrmTicket.account_id, func.count())
            .where(
                col(CrmTicket.account_id).in_(chunk),
                col(CrmTicket.is_open).is_(True),
                col(CrmTicket.urgent).is_(True),
            )
            .group_by(col(CrmTicket.account_id))
        )
        out.update({int(a): int(n) for a, n in _select(session, stmt)})
    return out


def champion_links(session: Session, *, source: str) -> dict[tuple[int, str], str]:
    """(account id, contact id) -> the champion's name, for every stored link of ``source``."""
    stmt = select(ChampionLink.account_id, ChampionLink.contact_id, ChampionLink.name).where(
        ChampionLink.source == source
    )
    return {(int(a), str(c)): str(n) for a, c, n in _select(session, stmt)}


def add_champion_links(session: Session, *, rows: list[dict[str, Any]]) -> None:
    """Store new champion links (source, account_id, contact_id, name, since)."""
    _bulk_insert(session, _table(ChampionLink), rows, unique=("source", "account_id", "contact_id"))


def drop_champion_links(session: Session, *, source: str, links: Iterable[tuple[int, str]]) -> None:
    """Forget the links of champions who left."""
    for account_id, contact_id in links:
        session.connection().execute(
            delete(ChampionLink).where(
                col(ChampionLink.source) == source,
                col(ChampionLink.account_id) == account_id,
                col(ChampionLink.contact_id) == contact_id,
            )
        )


def accounts_without_contact(session: Session, *, account_ids: Iterable[int]) -> set[int]:
    """The accounts among ``account_ids`` that have no contact name yet."""
    out: set[int] = set()
    for chunk in _chunks(sorted(set(account_ids))):
        stmt = select(Account.id).where(
            col(Account.id).in_(chunk), col(Account.contact_name).is_(None)
        )
        out.update(int(i) for (i,) in _select(session, stmt))
    return out


def _table(model: Any) -> Table:
    """The Core table of a model: bulk statements on it skip the ORM's per-row work."""
    table: Table = model.__table__
    return table


def _complete_rows(model: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill each row's missing columns from the model's defaults (bulk inserts skip them)."""
    defaults: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name == "id":
            continue
        if info.default_factory is not None:
            defaults[name] = info.default_factory()
        elif not info.is_required():
            defaults[name] = info.default
    wanted = defaults.keys()
    for row in rows:
        if wanted <= row.keys():
            continue  # complete already, as the cycle builds its rows: one set comparison
        for name, value in defaults.items():
            if name not in row:
                row[name] = dict(value) if isinstance(value, dict) else value
    return rows


# --- health and source warnings (faults / observability) --------------------------------


def ping(session: Session) -> None:
    """One round trip to the database (raises when it is unreachable)."""
    session.execute(select(1))


def last_success_per_source(session: Session) -> dict[str, datetime | None]:
    """Each known source's last successful poll (None: never succeeded)."""
    rows = session.exec(select(SourceState.source, SourceState.last_success_at)).all()
    return {row[0]: row[1] for row in rows}


def recent_finished_runs(
    session: Session, *, source: str, before_id: int, limit: int = 10
) -> Sequence[PollRun]:
    """The source's finished runs (ok or failed) before run ``before_id``, newest first."""
    return session.exec(
        select(PollRun)
        .where(
            PollRun.source == source,
            col(PollRun.id) < before_id,
            col(PollRun.status).in_(["ok", "failed"]),
        )
        .order_by(col(PollRun.id).desc())
        .limit(limit)
    ).all()


# --- plans in Slack: steps, feedback votes, movers (issue 5) -----------------------------


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
