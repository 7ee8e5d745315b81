"""Poll-run bookkeeping: runs left running by a killed process, what people are shown of a
run, whether a poll holds the lease, and the admin channel's one note per bad streak."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlmodel import Session

import db.outbox
import db.runs
from bot.slack.mrkdwn import code, escape
from db.engine import SessionFactory, transaction
from db.models import PollRun, PollRunStatus, utcnow
from db.outbox_payloads import AdminNote

if TYPE_CHECKING:
    from bot.poll.run import SourceOutcome

log = logging.getLogger(__name__)

SCORING = "scoring"  # the PollRun rows of the re-scoring step
POLL_LEASE = "poll"  # held by whoever polls or re-scores (see bot/infra/leases.py)
ABANDONED = "abandoned"  # how a run whose process died is shown and recorded


def settle_abandoned_runs(factory: SessionFactory) -> list[PollRun]:
    """Finish, as failed, every run still marked running: called by a poll (or a re-scoring)
    that holds the poll lease, so the process of such a run is gone (killed, or its machine
    restarted). Only a source's newest run can still be running, since every poll settles
    before it starts runs of its own. Returns the runs it finished."""
    now = utcnow()
    reason = (
        f"{ABANDONED}: the process running this poll stopped before it finished (killed or"
        f" crashed); found on {now:%d %b %Y %H:%M} UTC when the next poll started. What it"
        " wrote is kept, and the next poll goes on from its last written batch"
    )
    with transaction(factory) as session:
        stale = [
            r
            for r in db.runs.last_run_per_source(session).values()
            if r.status == PollRunStatus.RUNNING
        ]
        if not stale:
            return []
        db.runs.abandon_runs(
            session, run_ids=[r.id for r in stale if r.id is not None], now=now, reason=reason
        )
        for run in stale:
            if run.source != SCORING:
                state = db.runs.source_state(session, run.source)
                state.last_error = reason[:2000]
                state.last_error_at = now
                session.add(state)
    for run in stale:
        log.warning(
            "%s: run %s was left running by a process that stopped; marked failed",
            run.source,
            run.id,
        )
    return stale


def poll_in_progress(session: Session) -> bool:
    """Whether some process is polling (or re-scoring) now: it holds the poll lease."""
    return db.runs.lease_live(session, POLL_LEASE, utcnow())


def lease_busy_message(session: Session) -> str:
    """Why a poll cannot start now: another process holds the poll lease."""
    lease = db.runs.lease_holder(session, POLL_LEASE)
    who, until = "another process", ""
    if lease is not None:
        who = ":".join(lease.holder.split(":")[:2])  # host:pid, without the random suffix
        until = f" until {lease.expires_at:%d %b %Y %H:%M:%S} UTC (renewed while it runs)"
    return (
        f"another poll is running ({who}{until}); try again when it has finished."
        " `expansion-radar status` shows each source's progress. If that process was killed,"
        " its turn lapses by then."
    )


def shown_status(run: PollRun, polling: bool) -> str:
    """A run's status for people: "running" only while a poll holds the lease; a run left
    running by a process that is gone is "abandoned" (and so is one already settled)."""
    if run.status == PollRunStatus.RUNNING and not polling:
        return ABANDONED
    if run.status == PollRunStatus.FAILED and _abandoned(run):
        return ABANDONED
    return run.status


def _abandoned(run: PollRun) -> bool:
    return bool(run.errors) and run.errors[0].startswith(f"error: {ABANDONED}")


def _unhealthy(status: str, fetched: int, rejected: int) -> bool:
    """A failed run, or one whose every record was rejected (the source sent garbage)."""
    return status == PollRunStatus.FAILED or (fetched > 0 and rejected >= fetched)


def tell_admins(session: Session, outcome: SourceOutcome) -> None:
    """Once per streak: a warning to the admin channel when a source turns bad (failed, or
    every record rejected), and a note when it is healthy again — never on every poll.

    The streak is read from the source's previous finished run, in the same transaction that
    finishes this one, so the warning is queued exactly once (the poll lease keeps polls of
    one source from overlapping). An interrupted run (Ctrl-C, shutdown) or an abandoned one
    (its process killed) is not a streak.
    """
    if outcome.error == "interrupted":
        return
    bad = _unhealthy(outcome.status, outcome.fetched, outcome.rejected)
    previous = next(
        (
            run
            for run in db.runs.recent_finished_runs(
                session, source=outcome.name, before_id=outcome.run_id
            )
            if not (run.errors and run.errors[0] == "error: interrupted") and not _abandoned(run)
        ),
        None,
    )
    was_bad = previous is not None and _unhealthy(
        previous.status, previous.fetched, previous.rejected
    )
    name = escape(outcome.name, single_line=True)
    if bad and not was_bad:
        why = outcome.error or f"all {outcome.fetched} records were rejected"
        text = (
            f":warning: Source *{name}* is not delivering usable data: {code(why[:300])}."
            " The last good data is kept and alerts continue from it; the poll keeps retrying"
            " on schedule. You will get one note here when it recovers."
        )
    elif was_bad and not bad:
        text = f":white_check_mark: Source *{name}* is healthy again: its last poll succeeded."
    else:
        return
    db.outbox.enqueue(session, AdminNote(text), alert=None, priority=1000)
    log.warning("%s: admin channel told: %s", outcome.name, "unhealthy" if bad else "recovered")
