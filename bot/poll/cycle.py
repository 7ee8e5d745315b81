"""One cycle: records in → rows, snapshots → episodes → scores → alerts in the outbox.

Each batch of accounts is one transaction, so a crash leaves either the whole batch (episodes,
alerts and the outbox rows that announce them) or none of it.

Both halves work on whole batches: ``bot.poll.ingest.ingest_batch`` reads the accounts and
snapshots a batch touches in a few queries and writes them back in bulk; ``evaluate_many``
(here) loads the facts of many accounts at once, scores them, and writes episodes, alerts and
outbox rows in bulk.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import Session

import db.alerts
import db.facts
import db.outbox
from bot.alerts import delivery_for, state_hash, summarize
from bot.infra.settings import AppConfig, ShadowRules
from bot.poll.ingest import ingest_batch
from bot.poll.opening import alert_row, fresh_live_episodes, priority_of, rescore
from bot.poll.shadow import evaluate_shadow
from db.engine import SessionFactory, transaction
from db.models import Alert, AlertStatus, utcnow
from db.outbox import QueuedMessage
from db.outbox_payloads import FollowUp, FollowUpReason, PostAlert, UpdateAlert
from db.rows import AlertRow, EpisodeRow
from scoring.engine import Assessment, assess
from scoring.facts import AccountFacts
from sources.records import Batch

log = logging.getLogger(__name__)


@dataclass
class CycleResult:
    accounts: int = 0
    new_episodes: int = 0
    known_episodes: int = 0
    new_alerts: list[int] = field(default_factory=list)
    updated_alerts: list[int] = field(default_factory=list)
    cleared_alerts: list[int] = field(default_factory=list)
    digest_alerts: list[int] = field(default_factory=list)
    shadow_alerts: list[int] = field(default_factory=list)  # opened by the shadow rules
    assessments: list[Assessment] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)
    alert_bands: Counter[str] = field(default_factory=Counter)  # new alerts by band

    def absorb(self, other: CycleResult) -> None:
        """Add another part of the same cycle (a chunk scored elsewhere) to this one."""
        self.accounts += other.accounts
        self.new_episodes += other.new_episodes
        self.known_episodes += other.known_episodes
        self.new_alerts += other.new_alerts
        self.updated_alerts += other.updated_alerts
        self.cleared_alerts += other.cleared_alerts
        self.digest_alerts += other.digest_alerts
        self.shadow_alerts += other.shadow_alerts
        self.assessments += other.assessments
        self.rejects += other.rejects
        self.alert_bands += other.alert_bands


def evaluate_many(
    session: Session,
    account_ids: Sequence[int],
    today: date,
    config: AppConfig,
    result: CycleResult,
    *,
    keep_assessments: bool = True,
    reoffer: bool = False,
) -> dict[int, Assessment]:
    """Score accounts, record new episodes, and open, update or clear their alerts.

    An alert opens on a live episode recorded now. With ``reoffer`` (an explicit re-score) a
    live episode recorded earlier that never reached anyone counts too: one a config posting
    no band left behind (``db.alerts.unalerted_episodes``)."""
    facts = db.facts.load_facts_many(session, account_ids=account_ids)
    order = [a for a in dict.fromkeys(account_ids) if a in facts]
    assessed = {a: assess(facts[a], today, config.scoring) for a in order}
    shadow = config.alerts.shadow
    if shadow is not None:
        _shadow(session, {a: facts[a] for a in order}, today, shadow, result)
    del facts

    created_at = utcnow()
    rows: list[EpisodeRow] = [
        {
            "account_id": account_id,
            "kind": e.kind.value,
            "on": e.on,
            "evidence": e.evidence[:2000],
            "dedupe_key": e.dedupe_key,
            "created_at": created_at,
        }
        for account_id, assessment in assessed.items()
        for e in assessment.episodes
    ]
    new_ids = db.alerts.insert_episodes(session, rows=rows)
    claimed: set[str] = set()
    open_alerts = db.alerts.open_alerts_for(session, account_ids=order)
    unalerted: dict[str, int] = {}
    if reoffer:
        since = today - timedelta(days=config.scoring.triggers.event_lookback_days)
        quiet = [a for a in order if a not in open_alerts]
        unalerted = db.alerts.unalerted_episodes(session, account_ids=quiet, on_or_after=since)
    posts: list[tuple[AlertRow, bool, int, str]] = []
    for account_id in order:
        assessment = assessed[account_id]
        fresh = []
        for episode in assessment.episodes:
            key = episode.dedupe_key
            if key in new_ids and key not in claimed:
                claimed.add(key)
                result.new_episodes += 1
                fresh.append((episode, new_ids[key]))
            else:
                result.known_episodes += 1
        fresh_live = fresh_live_episodes(assessment, fresh, today, config.scoring)
        if not fresh_live and unalerted:
            fresh_live = fresh_live_episodes(
                assessment,
                [
                    (e, unalerted[e.dedupe_key])
                    for e in assessment.episodes
                    if e.dedupe_key in unalerted
                ],
                today,
                config.scoring,
            )
        band = assessment.band.value
        delivery = delivery_for(assessment, config.alerts)
        digest = delivery == "digest"
        current = open_alerts.get(account_id)
        if current is not None:
            new_hash = state_hash(assessment)
            if not assessment.pitchable:
                _clear(session, current, assessment, new_hash, result)
            elif current.state_hash != new_hash:
                _update(session, current, assessment, new_hash, bool(fresh_live), result)
        elif delivery is not None and fresh_live:
            row = alert_row(account_id, fresh_live[-1][1], assessment, delivery, created_at)
            posts.append((row, digest, priority_of(assessment), band))
        if keep_assessments:
            result.assessments.append(assessment)
    _open_alerts(session, posts, result)
    return assessed if keep_assessments else {}


def _shadow(
    session: Session,
    facts: dict[int, AccountFacts],
    today: date,
    shadow: ShadowRules,
    result: CycleResult,
) -> None:
    """The candidate rules on the same facts, kept apart from the live ones. A candidate that
    cannot score an account costs the shadow this batch, never the live alerts; its writes are
    the live rules' kind of writes, in the batch's transaction (a database failure there is
    the batch's, as it would be for the live rules)."""
    rules = shadow.rules_config.scoring
    try:
        assessed = {a: assess(f, today, rules) for a, f in facts.items()}
    except Exception:
        log.exception("the shadow rules failed on %d accounts; the live rules go on", len(facts))
        return
    result.shadow_alerts += evaluate_shadow(session, assessed, today, shadow)


def _open_alerts(
    session: Session, posts: list[tuple[AlertRow, bool, int, str]], result: CycleResult
) -> None:
    ids = db.alerts.insert_alerts(session, rows=[row for row, _, _, _ in posts])
    outbox = []
    now = utcnow()
    for alert_id, (_, digest, priority, band) in zip(ids, posts, strict=True):
        result.alert_bands[band] += 1
        if digest:
            result.digest_alerts.append(alert_id)
            continue
        outbox.append(QueuedMessage(PostAlert(), alert_id=alert_id, priority=priority))
        result.new_alerts.append(alert_id)
    db.outbox.insert_outbox(session, rows=outbox, now=now)


def _update(
    session: Session,
    alert: Alert,
    assessment: Assessment,
    new_hash: str,
    new_trigger: bool,
    result: CycleResult,
) -> None:
    rescore(alert, assessment, new_hash)
    session.add(alert)
    if alert.delivery == "channel":
        db.outbox.enqueue(session, UpdateAlert(), alert=alert)
        if new_trigger:
            db.outbox.enqueue(session, FollowUp(FollowUpReason.NEW_TRIGGER), alert=alert)
    assert alert.id is not None
    result.updated_alerts.append(alert.id)


def _clear(
    session: Session, alert: Alert, assessment: Assessment, new_hash: str, result: CycleResult
) -> None:
    alert.status = AlertStatus.CLEARED
    alert.state_hash = new_hash
    alert.summary = summarize(assessment)
    alert.updated_at = utcnow()
    session.add(alert)
    if alert.delivery == "channel":
        db.outbox.enqueue(session, UpdateAlert(reason="cleared"), alert=alert)
    assert alert.id is not None
    result.cleared_alerts.append(alert.id)


def run_cycle(
    factory: SessionFactory, batches: Iterable[Batch], today: date, config: AppConfig
) -> CycleResult:
    """Each batch is ingested and its accounts evaluated in one transaction."""
    result = CycleResult()
    for batch in batches:
        with transaction(factory) as session:
            ingested = ingest_batch(session, batch)
            evaluate_many(session, ingested.touched, today, config, result)
            result.accounts += len(ingested.touched)
        result.rejects.extend(batch.rejects)
    return result
