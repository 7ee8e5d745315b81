"""Poll runs, per-source sync state, job leases, the re-scoring queue and health checks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, text, update
from sqlmodel import Session, col, select

from db.bulk import bulk_insert, chunks, core_table, dialect_insert, is_postgresql
from db.models import (
    FINISHED_RUN_STATUSES,
    Account,
    JobLease,
    PendingEvaluation,
    PollRun,
    PollRunStatus,
    SourceState,
    utcnow,
)


def start_poll_run(session: Session, source: str) -> PollRun:
    run = PollRun(source=source)
    session.add(run)
    session.flush()
    return run


def last_poll_runs(session: Session, limit: int = 20) -> Sequence[PollRun]:
    return session.exec(select(PollRun).order_by(col(PollRun.id).desc()).limit(limit)).all()


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
        dialect_insert(session)(JobLease)
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


# The tables a poll fills: their planner statistics go stale while a first sync loads them.
_ANALYZE_POLLED = (
    "ANALYZE accounts, external_ids, snapshots, trigger_episodes, alerts, pending_evaluations"
)


def refresh_planner_statistics(session: Session) -> None:
    """PostgreSQL plans a fresh table's lookups as if it were empty until autovacuum catches
    up, and a first sync of 100,000 accounts then scans whole tables per batch. ANALYZE (a
    sample, so cheap) fixes the plans. SQLite needs nothing."""
    if is_postgresql(session):
        session.execute(text(_ANALYZE_POLLED))


def mark_pending(session: Session, *, account_ids: Iterable[int]) -> None:
    """Queue accounts for re-scoring (once each, however often they change before it)."""
    now = utcnow()
    rows = [{"account_id": a, "queued_at": now} for a in sorted(set(account_ids))]
    bulk_insert(session, core_table(PendingEvaluation), rows, unique=("account_id",))


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
    for chunk in chunks(sorted(set(account_ids))):
        session.execute(
            delete(PendingEvaluation).where(col(PendingEvaluation.account_id).in_(chunk))
        )


def pending_count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(PendingEvaluation)).one())


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
    states, runs = core_table(SourceState), core_table(PollRun)
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
        if run is None or run.status != PollRunStatus.RUNNING:
            continue
        run.status = PollRunStatus.FAILED
        run.finished_at = now
        run.errors = [f"error: {reason}", *run.errors]
        session.add(run)


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
            col(PollRun.status).in_(FINISHED_RUN_STATUSES),
        )
        .order_by(col(PollRun.id).desc())
        .limit(limit)
    ).all()
