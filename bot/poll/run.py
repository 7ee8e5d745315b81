"""The poll: read every configured source, write what it returns, re-score what changed.

For each source, in order: one ``PollRun`` row; then each batch the source yields is written
in its own transaction together with the source's cursor and the accounts it changed queued
for re-scoring. A crash resumes from the last committed cursor; a failing source is recorded
(run failed, ``source_state.last_error``) and the next source still runs; nothing it wrote
before is touched, so the last good snapshot stays.

Then the queued accounts are re-scored in chunks, each chunk one transaction with its
episodes, alerts, outbox rows and the removal from the queue. Re-scoring once at the end
(instead of after every batch) scores an account once per poll even when several sources
changed it; the queue is durable, so a crash between the two halves loses nothing.

A poll runs under the ``poll`` lease (scheduler, Slack admin, CLI), so when one starts no other
is alive: a run still marked "running" then belongs to a process that was killed, and is
finished as failed ("abandoned") before anything else happens. Until then, ``status`` and
``/healthz`` show such a run as abandoned as soon as no process holds the lease.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Protocol

import db.outbox
import db.runs
from bot.infra.metrics import (
    ALERTS,
    POLL_SECONDS,
    RECORDS_FETCHED,
    RECORDS_REJECTED,
    SOURCE_RATE_LIMITED,
    SOURCE_RATE_WAIT,
)
from bot.infra.settings import AppConfig, Settings
from bot.poll.cycle import CycleResult
from bot.poll.ingest import ingest_batch
from bot.poll.parallel import plan_helpers, score_chunk, score_in_parallel
from bot.poll.registry import configured_sources
from bot.poll.runs import SCORING, settle_abandoned_runs, tell_admins
from db.engine import SessionFactory, transaction
from db.models import PollRun, PollRunStatus, utcnow
from sources.ahead import read_ahead
from sources.base import Source
from sources.http import SourceError, stats_of
from sources.records import Batch

log = logging.getLogger(__name__)

MAX_MESSAGES = 30  # reject and issue lines kept on a PollRun
CURSOR_LIMIT = 500  # source_state.cursor's column size
ANALYZE_FIRST = 2000  # records fetched before PostgreSQL first refreshes its planner statistics


class Progress(Protocol):
    """What a front end (the CLI's progress bar) hears while a poll runs."""

    def source_started(self, name: str) -> None: ...

    def batch_written(self, name: str, fetched: int, total: int | None) -> None: ...

    def source_finished(self, outcome: SourceOutcome) -> None: ...

    def scoring(self, done: int, total: int) -> None: ...


class QuietProgress:
    def source_started(self, name: str) -> None:
        pass

    def batch_written(self, name: str, fetched: int, total: int | None) -> None:
        pass

    def source_finished(self, outcome: SourceOutcome) -> None:
        pass

    def scoring(self, done: int, total: int) -> None:
        pass


@dataclass
class SourceOutcome:
    name: str
    run_id: int
    status: str = PollRunStatus.RUNNING
    fetched: int = 0
    rejected: int = 0
    unmatched: int = 0
    changed: int = 0
    created: int = 0
    batches: int = 0
    issues: Counter[str] = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    rate_limited: int = 0  # the API's 429 answers (each waited out and retried)


@dataclass
class PollSummary:
    sources: list[SourceOutcome]
    scoring: CycleResult
    evaluated: int = 0
    scoring_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.scoring_error is None and all(
            s.status == PollRunStatus.OK for s in self.sources
        )


# --- which sources ----------------------------------------------------------------------


# --- one source -------------------------------------------------------------------------


def poll_source(
    factory: SessionFactory,
    source: Source,
    *,
    today: date,
    progress: Progress | None = None,
    full: bool = False,
) -> SourceOutcome:
    """Run one source to the end (or its first error); never raises for the source's
    errors, which are recorded on its PollRun and source state."""
    progress = progress or QuietProgress()
    started = time.monotonic()
    with transaction(factory) as session:
        state = db.runs.source_state(session, source.name)
        cursor = None if full else state.cursor
        run = db.runs.start_poll_run(session, source.name)
        assert run.id is not None
        state.last_run_id = run.id
        session.add(state)
        outcome = SourceOutcome(source.name, run.id)
    progress.source_started(source.name)
    analyze_at = ANALYZE_FIRST
    try:
        batches = source.fetch(cursor, today)
        if not getattr(source, "prefetches", False):
            batches = read_ahead(batches, name=f"read-{source.name}")
        for batch in batches:
            _write(factory, source, batch, outcome)
            progress.batch_written(source.name, outcome.fetched, batch.total_hint)
            if outcome.fetched >= analyze_at:  # each time the load doubles: log2(n) times
                with transaction(factory) as session:
                    db.runs.refresh_planner_statistics(session)
                analyze_at *= 2
        outcome.status = PollRunStatus.OK
    except SourceError as exc:
        outcome.status, outcome.error = PollRunStatus.FAILED, str(exc)
        log.warning("%s: poll failed: %s", source.name, exc)
    except Exception as exc:  # a bug or the database: recorded, and the next source runs
        outcome.status = PollRunStatus.FAILED
        outcome.error = f"unexpected {type(exc).__name__}: {exc}"
        log.exception("%s: poll failed", source.name)
    except BaseException:  # Ctrl-C or shutdown: record it, then let it stop the process
        outcome.status, outcome.error = PollRunStatus.FAILED, "interrupted"
        _finish(factory, outcome)
        raise
    finally:
        source.close()
        _count_requests(source, outcome)
    outcome.seconds = time.monotonic() - started
    _finish(factory, outcome)
    POLL_SECONDS.labels(source.name).observe(outcome.seconds)
    RECORDS_FETCHED.labels(source.name).inc(outcome.fetched)
    RECORDS_REJECTED.labels(source.name).inc(outcome.rejected)
    progress.source_finished(outcome)
    return outcome


def _count_requests(source: Source, outcome: SourceOutcome) -> None:
    """The source's 429s and rate-window waits into the metrics (and the log when it was
    refused: with the client-side window that should not happen, so it is worth a line)."""
    stats = stats_of(source)
    if stats is None:
        return
    outcome.rate_limited = stats.rate_limited
    SOURCE_RATE_LIMITED.labels(source.name).inc(stats.rate_limited)
    SOURCE_RATE_WAIT.labels(source.name).inc(stats.waited_seconds)
    if stats.rate_limited:
        log.warning(
            "%s: the API answered 429 (rate limited) %d times in %d requests; each was waited"
            " out and retried",
            source.name,
            stats.rate_limited,
            stats.requests,
        )


def _write(factory: SessionFactory, source: Source, batch: Batch, outcome: SourceOutcome) -> None:
    """One batch, its cursor and its re-scoring queue entries: all or nothing."""
    with transaction(factory) as session:
        ingested = ingest_batch(session, batch, source.policy)
        db.runs.mark_pending(session, account_ids=ingested.changed)
        # The outcome is only counted on once the batch is written: a failed write leaves
        # the counts of the batches before it (the transaction rolls back, these don't run).
        fetched = outcome.fetched + batch.fetched
        rejected = outcome.rejected + len(batch.rejects)
        unmatched = outcome.unmatched + ingested.unmatched
        changed = outcome.changed + len(ingested.changed)
        issues = outcome.issues + batch.issues
        room = max(0, MAX_MESSAGES - len(outcome.messages))
        messages = outcome.messages + (batch.rejects + ingested.unmatched_samples)[:room]
        db.runs.save_batch_progress(
            session,
            source=source.name,
            run_id=outcome.run_id,
            cursor=batch.cursor if len(batch.cursor or "") <= CURSOR_LIMIT else None,
            fetched=fetched,
            rejected=rejected,
            unmatched=unmatched,
            changed=changed,
            errors=_messages(replace(outcome, issues=issues, messages=messages)),
        )
    outcome.batches += 1
    outcome.fetched, outcome.rejected = fetched, rejected
    outcome.unmatched, outcome.changed = unmatched, changed
    outcome.created += ingested.created
    outcome.issues, outcome.messages = issues, messages
    if batch.rejects:
        log.info("%s: %d records rejected in this batch", source.name, len(batch.rejects))
    if batch.issues:
        log.info(
            "%s: fields marked unknown: %s",
            source.name,
            ", ".join(f"{reason} ×{n}" for reason, n in batch.issues.most_common(5)),
        )


def _messages(outcome: SourceOutcome) -> list[str]:
    lines = [f"unknown field — {reason}: {n}" for reason, n in outcome.issues.most_common(10)]
    lines += outcome.messages
    if outcome.error:
        lines.insert(0, f"error: {outcome.error}")
    return lines[: MAX_MESSAGES + 11]


def _finish(factory: SessionFactory, outcome: SourceOutcome) -> None:
    now = utcnow()
    with transaction(factory) as session:
        run = session.get(PollRun, outcome.run_id)
        assert run is not None
        run.status = outcome.status
        run.finished_at = now
        run.errors = _messages(outcome)
        session.add(run)
        state = db.runs.source_state(session, outcome.name)
        if outcome.status == PollRunStatus.OK:
            state.last_success_at = now
        else:
            state.last_error = (outcome.error or "failed")[:2000]
            state.last_error_at = now
        session.add(state)
        tell_admins(session, outcome)


# --- re-scoring -------------------------------------------------------------------------


def rescore(
    factory: SessionFactory,
    *,
    today: date,
    config: AppConfig,
    progress: Progress | None = None,
    everything: bool = False,
    reoffer: bool = False,
    chunk: int = 1000,
) -> tuple[CycleResult, int, str | None]:
    """Score the queued accounts (every account with ``everything``), chunk by chunk.

    ``reoffer`` (``poll --rescore-all``, asked for by a person) also opens alerts for live
    episodes that never reached anyone (``evaluate_many``), so fixing a config that posted
    nothing and re-scoring brings them out once. The daily pass does not: it re-scores for the
    date alone and keeps what it opens to episodes recorded now.

    Returns the cycle result, how many accounts were scored, and the error if one stopped it.
    """
    progress = progress or QuietProgress()
    result = CycleResult()
    settle_abandoned_runs(factory)
    with transaction(factory) as session:
        if everything:
            db.runs.queue_all_accounts(session)
        total = db.runs.pending_count(session)
        if total >= ANALYZE_FIRST:  # the poll may have just filled the tables
            db.runs.refresh_planner_statistics(session)
        run = db.runs.start_poll_run(session, SCORING)
        run_id = run.id
    done, error = 0, None

    def landed(part: CycleResult, size: int) -> None:
        nonlocal done
        result.absorb(part)
        done += size
        progress.scoring(done, total)

    try:
        helpers, url = plan_helpers(factory, config.sources.schedule.rescore_processes, total)
        if url is not None:
            with transaction(factory) as session:
                ids = db.runs.pending_account_ids(session, limit=total + chunk)
            chunks = [ids[i : i + chunk] for i in range(0, len(ids), chunk)]
            score_in_parallel(
                factory,
                url,
                chunks,
                helpers=helpers,
                today=today,
                config=config,
                on_chunk=landed,
                reoffer=reoffer,
            )
        after = 0
        while True:  # in this process: a small queue, or what was queued meanwhile
            with transaction(factory) as session:
                ids = db.runs.pending_account_ids(session, after=after, limit=chunk)
            if not ids:
                break
            landed(score_chunk(factory, ids, today, config, reoffer=reoffer), len(ids))
            after = ids[-1]
    except Exception as exc:
        error = f"unexpected {type(exc).__name__}: {exc}"
        log.exception("re-scoring failed")
    with transaction(factory) as session:
        row = session.get(PollRun, run_id)
        assert row is not None
        row.status = PollRunStatus.FAILED if error else PollRunStatus.OK
        row.finished_at = utcnow()
        row.fetched = done
        row.changed = done
        row.episodes = result.new_episodes
        row.alerts = len(result.new_alerts) + len(result.digest_alerts)
        row.errors = [f"error: {error}"] if error else []
        session.add(row)
    for band, n in result.alert_bands.items():
        ALERTS.labels(band).inc(n)
    return result, done, error


# --- the whole poll ---------------------------------------------------------------------


_GC_LOCK = threading.Lock()
_GC_USERS = 0
_GC_SAVED: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while a poll runs.

    A poll allocates millions of short-lived objects (raw records, rows, parameters) and few
    reference cycles; with the default thresholds the collector re-scans the growing heap
    over and over (about a tenth of a full poll). Reference counting still frees everything
    at once; only cycles wait a little longer. The thresholds are restored afterwards."""
    global _GC_USERS, _GC_SAVED
    with _GC_LOCK:
        if _GC_USERS == 0:
            _GC_SAVED = gc.get_threshold()
            first, second, third = _GC_SAVED
            if first > 0:  # 0: the collector is off; leave it so
                gc.set_threshold(max(first, 50_000), max(second, 20), max(third, 100))
        _GC_USERS += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_USERS -= 1
            if _GC_USERS == 0:
                gc.set_threshold(*_GC_SAVED)


def poll(
    factory: SessionFactory,
    sources: Sequence[Source],
    *,
    today: date,
    config: AppConfig,
    progress: Progress | None = None,
    full: bool = False,
    rescore_all: bool = False,
) -> PollSummary:
    """Every source in turn (a failure does not stop the others), then the re-scoring. The
    caller holds the poll lease (or is the only process polling this database)."""
    settle_abandoned_runs(factory)
    with fewer_collections():
        outcomes = [
            poll_source(factory, s, today=today, progress=progress, full=full) for s in sources
        ]
        result, evaluated, error = rescore(
            factory,
            today=today,
            config=config,
            progress=progress,
            everything=rescore_all,
            reoffer=rescore_all,
        )
    summary = PollSummary(outcomes, result, evaluated, error)
    log.info(
        "poll done: %s; %d accounts re-scored, %d new episodes, %d new alerts",
        ", ".join(f"{o.name} {o.status} ({o.fetched} read)" for o in outcomes) or "no sources",
        evaluated,
        result.new_episodes,
        len(result.new_alerts),
    )
    return summary


def run_poll(
    settings: Settings,
    config: AppConfig,
    factory: SessionFactory,
    *,
    today: date | None = None,
    only: Sequence[str] | None = None,
    full: bool = False,
    rescore_all: bool = False,
    progress: Progress | None = None,
) -> PollSummary:
    """One poll of the configured sources (what the scheduler and ``poll`` command run)."""
    sources = configured_sources(settings, config, only=only)
    return poll(
        factory,
        sources,
        today=today or date.today(),
        config=config,
        progress=progress,
        full=full,
        rescore_all=rescore_all,
    )
