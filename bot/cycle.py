"""One cycle: records in → rows, snapshots → episodes → scores → alerts in the outbox.

Each batch of accounts is one transaction, so a crash leaves either the whole batch (episodes,
alerts and the outbox rows that announce them) or none of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session

from bot.alerts import state_hash, summarize
from bot.settings import AppConfig
from db import repo
from db.engine import SessionFactory, transaction
from db.models import Account, Alert, AlertStatus, utcnow
from scoring.engine import Assessment, assess
from scoring.triggers import live_episodes
from sources.records import Batch


@dataclass
class CycleResult:
    accounts: int = 0
    new_episodes: int = 0
    known_episodes: int = 0
    new_alerts: list[int] = field(default_factory=list)
    updated_alerts: list[int] = field(default_factory=list)
    cleared_alerts: list[int] = field(default_factory=list)
    digest_alerts: list[int] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)


def ingest(session: Session, batch: Batch) -> dict[tuple[str, str], Account]:
    """Write a batch's accounts, snapshots and events; returns accounts by (source, id)."""
    accounts: dict[tuple[str, str], Account] = {}
    for rec in batch.accounts:
        accounts[(rec.source, rec.external_id)] = repo.upsert_account(
            session,
            source=rec.source,
            external_id=rec.external_id,
            key=rec.slug,
            name=rec.name,
            domain=rec.domain,
            owner_email=rec.owner_email,
            owner_name=rec.owner_name,
            segment=rec.segment,
            plan=rec.plan,
            purchased_on=rec.purchased_on,
            contact_name=rec.contact_name,
        )
    session.flush()

    def find(source: str, external_id: str) -> Account | None:
        found = accounts.get((source, external_id))
        if found is None:
            found = repo.account_by_external_id(session, source, external_id)
        return found

    for snap in batch.snapshots:
        account = find(snap.source, snap.external_id)
        if account is None or account.id is None:
            batch.rejects.append(f"{snap.source}:{snap.external_id}: snapshot for unknown account")
            continue
        values = snap.model_dump(exclude={"source", "external_id", "taken_on"})
        values["health"] = snap.health.value if snap.health else None
        repo.upsert_snapshot(
            session, account_id=account.id, taken_on=snap.taken_on, source=snap.source, **values
        )
    for ev in batch.events:
        account = find(ev.source, ev.external_id)
        if account is None or account.id is None:
            batch.rejects.append(f"{ev.source}:{ev.external_id}: event for unknown account")
            continue
        repo.add_event(
            session,
            account_id=account.id,
            kind=ev.kind.value,
            on=ev.on,
            detail=ev.detail,
            key=ev.key or f"{ev.kind.value}:{ev.on.isoformat()}",
        )
    session.flush()
    return accounts


def evaluate(
    session: Session, account: Account, today: date, config: AppConfig, result: CycleResult
) -> Assessment:
    """Score one account, record new episodes, and open, update or clear its alert."""
    assert account.id is not None
    assessment = assess(repo.load_facts(session, account), today, config.scoring)
    fresh = []
    for episode in assessment.episodes:
        row = repo.record_episode(session, account.id, episode)
        if row is None:
            result.known_episodes += 1
        else:
            result.new_episodes += 1
            fresh.append((episode, row))
    live_keys = {
        e.dedupe_key for e in live_episodes(list(assessment.episodes), today, config.scoring)
    }
    fresh_live = [(e, row) for e, row in fresh if e.dedupe_key in live_keys]

    current = repo.open_alert(session, account.id)
    digest = assessment.band.value in config.alerts.digest_bands
    wanted = assessment.pitchable and (assessment.band.value in config.alerts.post_bands or digest)
    new_hash = state_hash(assessment)

    if current is not None:
        if not assessment.pitchable:
            _clear(session, current, assessment, new_hash, result)
        elif current.state_hash != new_hash:
            _update(session, current, assessment, new_hash, bool(fresh_live), result)
    elif wanted and fresh_live:
        episode_row = fresh_live[-1][1]
        alert = Alert(
            account_id=account.id,
            episode_id=episode_row.id,
            band=assessment.band.value,
            score=assessment.score,
            offer=assessment.offer.type.value if assessment.offer else None,
            state_hash=new_hash,
            summary=summarize(assessment),
            delivery="digest" if digest else "channel",
        )
        session.add(alert)
        session.flush()
        assert alert.id is not None
        if digest:
            result.digest_alerts.append(alert.id)
        else:
            repo.enqueue(session, alert=alert, kind="post", payload={}, priority=assessment.score)
            result.new_alerts.append(alert.id)
    result.assessments.append(assessment)
    return assessment


def _update(
    session: Session,
    alert: Alert,
    assessment: Assessment,
    new_hash: str,
    new_trigger: bool,
    result: CycleResult,
) -> None:
    alert.band = assessment.band.value
    alert.score = assessment.score
    alert.offer = assessment.offer.type.value if assessment.offer else None
    alert.state_hash = new_hash
    alert.summary = summarize(assessment)
    alert.updated_at = utcnow()
    session.add(alert)
    if alert.delivery == "channel":
        repo.enqueue(session, alert=alert, kind="update", payload={})
        if new_trigger:
            repo.enqueue(session, alert=alert, kind="thread", payload={"reason": "new_trigger"})
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
        repo.enqueue(session, alert=alert, kind="update", payload={"reason": "cleared"})
    assert alert.id is not None
    result.cleared_alerts.append(alert.id)


def run_cycle(
    factory: SessionFactory, batches: Iterable[Batch], today: date, config: AppConfig
) -> CycleResult:
    """Each batch is ingested and its accounts evaluated in one transaction."""
    result = CycleResult()
    for batch in batches:
        with transaction(factory) as session:
            accounts = ingest(session, batch)
            unique = {a.id: a for a in accounts.values()}
            for account in unique.values():
                evaluate(session, account, today, config, result)
                result.accounts += 1
        result.rejects.extend(batch.rejects)
    return result
