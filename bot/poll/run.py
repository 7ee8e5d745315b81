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
from functools import partial
from pathlib import Path
from typing import Protocol

from sqlmodel import Session

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
from bot.poll.cycle import CycleResult, ingest_batch
from bot.poll.fetcher import ProcessSource
from bot.poll.parallel import plan_helpers, score_chunk, score_in_parallel
from bot.slack.mrkdwn import code, escape
from db.engine import SessionFactory, transaction
from db.models import PollRun, utcnow
from sources.ahead import read_ahead
from sources.base import JoinPolicy, Source
from sources.demo import DemoSource
from sources.files import FileSource
from sources.http import SourceError, stats_of
from sources.hubspot import HubSpotSource
from sources.records import Batch
from sources.salesforce import SalesforceSource
from sources.usage_api import UsageAPISource

log = logging.getLogger(__name__)

SCORING = "scoring"  # the PollRun rows of the re-scoring step
POLL_LEASE = "poll"  # held by whoever polls or re-scores (see bot/infra/leases.py)
ABANDONED = "abandoned"  # how a run whose process died is shown and recorded
MAX_MESSAGES = 30  # reject and issue lines kept on a PollRun
CURSOR_LIMIT = 500  # source_state.cursor's column size
ANALYZE_FIRST = 2000  # records fetched before PostgreSQL first refreshes its planner statistics


class UnknownSource(ValueError):
    """``--source`` named something that is not configured."""


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
    status: str = "running"  # ok | failed
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
        return self.scoring_error is None and all(s.status == "ok" for s in self.sources)


# --- which sources ----------------------------------------------------------------------


DEFAULT_ORDER = ("hubspot", "salesforce", "demo", "usage")  # files go after the CRMs


def configured_names(settings: Settings, config: AppConfig) -> list[str]:
    """Names of the sources the environment and config file enable, in polling order: CRMs
    first (they create the accounts), files, the demo, then usage (which joins them)."""
    cfg = config.sources
    names: list[str] = []
    if settings.hubspot_access_token is not None and cfg.hubspot.enabled:
        names.append("hubspot")
    if (
        settings.salesforce_instance_url
        and settings.salesforce_access_token is not None
        and cfg.salesforce.enabled
    ):
        names.append("salesforce")
    names += [f.name for f in cfg.files]
    if cfg.demo.enabled:
        names.append("demo")
    if settings.usage_api_url and cfg.usage.enabled:
        names.append("usage")
    if cfg.order:
        rank = {n: i for i, n in enumerate(cfg.order)}
        names.sort(key=lambda n: rank.get(n, len(rank)))
    else:
        names.sort(key=_default_rank)
    return names


def configured_sources(
    settings: Settings,
    config: AppConfig,
    *,
    only: Sequence[str] | None = None,
    base_dir: Path | None = None,
) -> list[Source]:
    """The enabled sources, built (``only`` picks some by name)."""
    names = configured_names(settings, config)
    if only:
        missing = [n for n in only if n not in names]
        if missing:
            raise UnknownSource(
                f"no configured source named {', '.join(missing)}; configured:"
                f" {', '.join(names) or 'none'} (see docs/sources.md)"
            )
        names = [n for n in names if n in only]
    return [_sourced(name, settings, config, base_dir) for name in names]


HTTP_SOURCES = ("hubspot", "salesforce", "usage")


def _sourced(name: str, settings: Settings, config: AppConfig, base_dir: Path | None) -> Source:
    """The source, read in a helper process when it is an API and the config allows it."""
    if name not in HTTP_SOURCES or not config.sources.schedule.fetch_in_processes:
        return _build(name, settings, config, base_dir)
    policy = JoinPolicy.of(getattr(config.sources, name))
    return ProcessSource(name, policy, partial(_build, name, settings, config, base_dir))


def _default_rank(name: str) -> int:
    if name in DEFAULT_ORDER:
        position = DEFAULT_ORDER.index(name)
        return position if name != "usage" else 100
    return 50  # files: after the CRMs, before usage


def _build(name: str, settings: Settings, config: AppConfig, base_dir: Path | None) -> Source:
    cfg = config.sources
    if name == "hubspot":
        assert settings.hubspot_access_token is not None
        return HubSpotSource(
            url=settings.hubspot_api_url,
            token=settings.hubspot_access_token.get_secret_value(),
            config=cfg.hubspot,
            http=cfg.http,
        )
    if name == "salesforce":
        assert settings.salesforce_instance_url and settings.salesforce_access_token
        return SalesforceSource(
            instance_url=settings.salesforce_instance_url,
            token=settings.salesforce_access_token.get_secret_value(),
            config=cfg.salesforce,
            http=cfg.http,
        )
    if name == "usage":
        assert settings.usage_api_url
        token = settings.usage_api_token
        return UsageAPISource(
            url=settings.usage_api_url,
            token=token.get_secret_value() if token else None,
            config=cfg.usage,
            http=cfg.http,
        )
    if name == "demo":
        return DemoSource()
    file_cfg = next(f for f in cfg.files if f.name == name)
    return FileSource(file_cfg, base_dir=base_dir)


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
        outcome.status = "ok"
    except SourceError as exc:
        outcome.status, outcome.error = "failed", str(exc)
        log.warning("%s: poll failed: %s", source.name, exc)
    except Exception as exc:  # a bug or the database: recorded, and the next source runs
        outcome.status = "failed"
        outcome.error = f"unexpected {type(exc).__name__}: {exc}"
        log.exception("%s: poll failed", source.name)
    except BaseException:  # Ctrl-C or shutdown: record it, then let it stop the process
        outcome.status, outcome.error = "failed", "interrupted"
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
        if outcome.status == "ok":
            state.last_success_at = now
        else:
            state.last_error = (outcome.error or "failed")[:2000]
            state.last_error_at = now
        session.add(state)
        _tell_admins(session, outcome)


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
        stale = [r for r in db.runs.last_run_per_source(session).values() if r.status == "running"]
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
    if run.status == "running" and not polling:
        return ABANDONED
    if run.status == "failed" and _abandoned(run):
        return ABANDONED
    return run.status


def _abandoned(run: PollRun) -> bool:
    return bool(run.errors) and run.errors[0].startswith(f"error: {ABANDONED}")


def _unhealthy(status: str, fetched: int, rejected: int) -> bool:
    """A failed run, or one whose every record was rejected (the source sent garbage)."""
    return status == "failed" or (fetched > 0 and rejected >= fetched)


def _tell_admins(session: Session, outcome: SourceOutcome) -> None:
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
    db.outbox.enqueue(session, alert=None, kind="admin", payload={"text": text}, priority=1000)
    log.warning("%s: admin channel told: %s", outcome.name, "unhealthy" if bad else "recovered")


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
        row.status = "failed" if error else "ok"
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
