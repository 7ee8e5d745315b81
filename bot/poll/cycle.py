"""One cycle: records in → rows, snapshots → episodes → scores → alerts in the outbox.

Each batch of accounts is one transaction, so a crash leaves either the whole batch (episodes,
alerts and the outbox rows that announce them) or none of it.

Both halves work on whole batches: ``ingest_batch`` reads the accounts and snapshots a batch
touches in a few queries and writes them back in bulk; ``evaluate_many`` loads the facts of
many accounts at once, scores them, and writes episodes, alerts and outbox rows in bulk.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session

import db.accounts
import db.alerts
import db.facts
import db.outbox
from bot.alerts import delivery_for, state_hash, summarize
from bot.infra.settings import AppConfig
from db.engine import SessionFactory, transaction
from db.models import Alert, AlertStatus, OutboxStatus, utcnow
from scoring.engine import Assessment, assess
from scoring.facts import SNAPSHOT_FACTS, EventKind, FactKind
from scoring.triggers import live_episodes
from sources.base import JoinPolicy
from sources.events import count_steps, step_of
from sources.records import AccountRecord, Batch, ChampionRecord, Record, SnapshotRecord

_FIELDS = db.facts.SNAPSHOT_FIELDS


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
        self.assessments += other.assessments
        self.rejects += other.rejects
        self.alert_bands += other.alert_bands


@dataclass
class Ingested:
    """What writing one batch did."""

    touched: list[int] = field(default_factory=list)  # accounts the batch names, in order
    changed: set[int] = field(default_factory=set)  # accounts whose stored data changed
    created: int = 0
    created_ids: set[int] = field(default_factory=set)  # accounts this batch created
    unmatched: int = 0
    unmatched_samples: list[str] = field(default_factory=list)


# --- ingest -----------------------------------------------------------------------------


def ingest_batch(session: Session, batch: Batch, policy: JoinPolicy | None = None) -> Ingested:
    """Write a batch's accounts, snapshots and events, joining each record to its account."""
    policy = policy or JoinPolicy()
    out = Ingested()
    seen: dict[int, None] = {}
    every: tuple[Record, ...] = (
        *batch.accounts,
        *batch.snapshots,
        *batch.events,
        *batch.tickets,
        *batch.champions,
    )
    sources = dict.fromkeys(r.source for r in every)
    if batch.champions_of is not None:
        sources.setdefault(batch.champions_of)
    for source in sources:
        linked = _resolve(session, batch, source, policy, out)
        counts = _write_tickets(session, batch, source, linked) if batch.tickets else []
        _write_snapshots(session, batch, source, linked, out, counts)
        champions: list[dict[str, Any]] = []
        if source == batch.champions_of and batch.champions_on is not None:
            champions = _compare_champions(session, batch, source, linked, batch.champions_on)
        if batch.events or champions:
            _write_events(session, batch, source, linked, out, champions)
        for rec in every:
            if rec.source == source and rec.external_id in linked:
                seen.setdefault(linked[rec.external_id])
        for account_id, _ in counts:
            seen.setdefault(account_id)
        for row in champions:
            seen.setdefault(row["account_id"])
    out.touched = list(seen)
    session.flush()
    return out


def _resolve(
    session: Session, batch: Batch, source: str, policy: JoinPolicy, out: Ingested
) -> dict[str, int]:
    """External id -> account id for every record of ``source`` that has an account."""
    records: dict[str, AccountRecord] = {}
    for rec in batch.accounts:
        if rec.source != source:
            continue
        if rec.external_id in records:
            batch.rejects.append(f"{source}:{rec.external_id}: duplicate account record")
            continue
        records[rec.external_id] = rec
    ids = set(records)
    ids.update(s.external_id for s in batch.snapshots if s.source == source)
    ids.update(e.external_id for e in batch.events if e.source == source)
    ids.update(t.external_id for t in batch.tickets if t.source == source)
    ids.update(c.external_id for c in batch.champions if c.source == source)
    linked = db.accounts.external_id_map(session, source=source, external_ids=ids)
    new_links: list[dict[str, Any]] = []

    unlinked = sorted(ids - linked.keys())
    if unlinked and policy.join_on:
        for ext, account_id in _join(session, batch, source, unlinked, records, policy).items():
            linked[ext] = account_id
            new_links.append({"account_id": account_id, "source": source, "external_id": ext})

    created: set[int] = set()
    to_create = [records[e] for e in unlinked if e not in linked and e in records]
    if to_create and policy.creates_accounts:
        taken = db.accounts.existing_account_keys(session, keys=[r.slug for r in to_create])
        now = utcnow()
        rows = []
        for rec in to_create:
            key = rec.slug
            if key in taken:
                key = db.accounts.free_account_key(session, key=key, taken=taken)
            taken.add(key)
            row = {f: getattr(rec, f) for f in db.accounts.ACCOUNT_FIELDS}
            rows.append(row | {"key": key, "created_at": now, "updated_at": now})
        for rec, account_id in zip(
            to_create, db.accounts.insert_accounts(session, rows=rows), strict=True
        ):
            linked[rec.external_id] = account_id
            created.add(account_id)
            new_links.append(
                {"account_id": account_id, "source": source, "external_id": rec.external_id}
            )
        out.created += len(created)
        out.created_ids |= created
        out.changed |= created

    for ext in sorted(ids - linked.keys()):
        out.unmatched += 1
        if len(out.unmatched_samples) < 20:
            keys = batch.join_keys.get(ext)
            hint = ""
            if keys is not None:
                hint = ", ".join(f"{k} {v}" for k, v in vars(keys).items() if v)
                hint = f" ({hint})" if hint else ""
            out.unmatched_samples.append(f"{source}:{ext}{hint}: no account matches")
    db.accounts.link_external_ids(session, rows=new_links)

    _update_accounts(session, records, linked, created, out)
    _link_aliases(session, batch, records, linked)
    return linked


def _join(
    session: Session,
    batch: Batch,
    source: str,
    unlinked: Sequence[str],
    records: dict[str, AccountRecord],
    policy: JoinPolicy,
) -> dict[str, int]:
    """Match records to existing accounts by the configured keys; ambiguity is no match."""
    found: dict[str, int] = {}
    for method in policy.join_on:
        todo = [e for e in unlinked if e not in found]
        if not todo:
            break
        if method == "domain":
            wanted: dict[str, str] = {}
            for ext in todo:
                keys = batch.join_keys.get(ext)
                domain = keys.domain if keys else None
                if domain is None and ext in records:
                    domain = records[ext].domain
                if domain:
                    wanted[ext] = domain
            by_domain = db.accounts.account_ids_by_domain(session, domains=wanted.values())
            for ext, domain in wanted.items():
                matches = by_domain.get(domain, [])
                if len(matches) == 1:
                    found[ext] = matches[0]
                elif len(matches) > 1:
                    batch.issues[f"join: domain matches {len(matches)} accounts"] += 1
        elif method == "crm_id" and policy.crm_source:
            crm = {e: k.crm_id for e in todo if (k := batch.join_keys.get(e)) and k.crm_id}
            by_crm = db.accounts.external_id_map(
                session, source=policy.crm_source, external_ids=crm.values()
            )
            for ext, crm_id in crm.items():
                if crm_id in by_crm:
                    found[ext] = by_crm[crm_id]
    return found


def _update_accounts(
    session: Session,
    records: dict[str, AccountRecord],
    linked: dict[str, int],
    created: set[int],
    out: Ingested,
) -> None:
    """Refresh the stored fields of known accounts; a None from a source changes nothing."""
    known = {linked[e]: rec for e, rec in records.items() if e in linked}
    known = {a: r for a, r in known.items() if a not in created}
    if not known:
        return
    stored = db.accounts.account_rows(session, account_ids=known)
    now = utcnow()
    rows = []
    for account_id, rec in known.items():
        row = stored.get(account_id)
        if row is None:
            continue
        fresh = {f: row[f] for f in db.accounts.ACCOUNT_FIELDS}
        for name in db.accounts.ACCOUNT_FIELDS:
            value = getattr(rec, name)
            if value is not None:
                fresh[name] = value
        if any(fresh[f] != row[f] for f in db.accounts.ACCOUNT_FIELDS):
            rows.append({"id": account_id, **fresh, "updated_at": now})
            out.changed.add(account_id)
    db.accounts.update_accounts(session, rows=rows)


def _link_aliases(
    session: Session, batch: Batch, records: dict[str, AccountRecord], linked: dict[str, int]
) -> None:
    """A CRM record naming its id in another source links that id to its account."""
    wanted: dict[str, dict[str, int]] = {}
    for ext, rec in records.items():
        if ext in linked:
            for other, other_id in rec.aliases.items():
                wanted.setdefault(other, {})[other_id] = linked[ext]
    for other, ids in wanted.items():
        current = db.accounts.external_id_map(session, source=other, external_ids=ids)
        rows = []
        for other_id, account_id in ids.items():
            if other_id not in current:
                rows.append({"account_id": account_id, "source": other, "external_id": other_id})
            elif current[other_id] != account_id:
                batch.issues[f"alias: {other} id already linked to another account"] += 1
        db.accounts.link_external_ids(session, rows=rows)


_EMPTY_UNKNOWN = tuple(f.name for f in SNAPSHOT_FACTS if f.kind is FactKind.METRICS)
_UNKNOWN_ROW: dict[str, Any] = dict.fromkeys(_FIELDS)  # a first snapshot starts from this
_ENUMS = tuple(f.name for f in SNAPSHOT_FACTS if f.kind is FactKind.HEALTH)


def _values(rec: SnapshotRecord) -> dict[str, Any]:
    """The facts a snapshot record states (unknown ones left out), as stored."""
    out = {k: v for k, v in rec.__dict__.items() if v is not None}
    del out["source"], out["external_id"], out["taken_on"]  # the record's, not facts
    for name in _EMPTY_UNKNOWN:  # usage, limits: {} is unknown
        if not out[name]:
            del out[name]
    for name in _ENUMS:  # health: stored as its text
        if name in out:
            out[name] = out[name].value
    return out


def _write_tickets(
    session: Session, batch: Batch, source: str, linked: dict[str, int]
) -> list[tuple[int, SnapshotRecord]]:
    """Store the source's tickets; returns a snapshot record of the recounted open urgent
    tickets for each account whose count may have changed (closing one lowers it)."""
    rows: dict[str, dict[str, Any]] = {}
    day = None
    for ticket in batch.tickets:
        if ticket.source != source or ticket.external_id not in linked:
            continue
        day = ticket.taken_on if day is None else max(day, ticket.taken_on)
        rows[ticket.ticket_id] = {
            "account_id": linked[ticket.external_id],
            "is_open": ticket.is_open,
            "urgent": ticket.urgent,
        }
    affected = db.accounts.save_tickets(session, source=source, rows=rows)
    if day is None or not affected:
        return []
    counts = db.accounts.open_urgent_counts(session, account_ids=affected)
    return [
        (
            account_id,
            SnapshotRecord(source=source, external_id="", taken_on=day, open_urgent_tickets=count),
        )
        for account_id, count in sorted(counts.items())
    ]


def _compare_champions(
    session: Session, batch: Batch, source: str, linked: dict[str, int], day: date
) -> list[dict[str, Any]]:
    """Compare the source's complete set of champion links with the stored one: a new link
    is a CHAMPION_ADDED event, a link gone (contact deleted, unlinked from the account, or no
    longer in the role) a CHAMPION_LEFT one. Returns the event rows."""
    current: dict[tuple[int, str], ChampionRecord] = {}
    for rec in batch.champions:
        if rec.source == source and rec.external_id in linked:
            current.setdefault((linked[rec.external_id], rec.contact_id), rec)
    stored = db.accounts.champion_links(session, source=source)
    added = [link for link in current if link not in stored]
    left = [link for link in stored if link not in current]
    db.accounts.add_champion_links(
        session,
        rows=[
            {
                "source": source,
                "account_id": account_id,
                "contact_id": contact_id,
                "name": current[(account_id, contact_id)].name,
                "since": day,
            }
            for account_id, contact_id in added
        ],
    )
    db.accounts.drop_champion_links(session, source=source, links=left)
    _fill_contact_names(session, batch, source, current, added)
    now = utcnow()

    def row(account_id: int, contact: str, kind: EventKind, name: str) -> dict[str, Any]:
        key = f"{source}:champion:{contact}:{kind.value}:{day.isoformat()}"[:255]
        return {
            "account_id": account_id,
            "kind": kind.value,
            "on": day,
            "detail": name,
            "key": key,
            "recorded_at": now,
            "source": source,
        }

    rows = [row(a, c, EventKind.CHAMPION_ADDED, current[(a, c)].name) for a, c in added]
    rows += [row(a, c, EventKind.CHAMPION_LEFT, stored[(a, c)]) for a, c in left]
    return rows


def _fill_contact_names(
    session: Session,
    batch: Batch,
    source: str,
    current: dict[tuple[int, str], ChampionRecord],
    added: list[tuple[int, str]],
) -> None:
    """A new champion's name becomes the account's contact when it has none (and the source
    says to: ``champions.fill_contact_name``)."""
    if not batch.fill_contact_name or not added:
        return
    empty = db.accounts.accounts_without_contact(session, account_ids={a for a, _ in added})
    rows: dict[int, dict[str, Any]] = {}
    for account_id, contact_id in added:
        name = current[(account_id, contact_id)].name
        if account_id in empty and name and account_id not in rows:
            rows[account_id] = {"id": account_id, "contact_name": name, "updated_at": utcnow()}
    db.accounts.update_accounts(session, rows=list(rows.values()))


def _write_snapshots(
    session: Session,
    batch: Batch,
    source: str,
    linked: dict[str, int],
    out: Ingested,
    extra: Sequence[tuple[int, SnapshotRecord]] = (),
) -> None:
    """One snapshot per account per day. A source whose records are partial (API sources
    send only what changed) carries the account's last known values forward. ``extra``:
    records already joined to their accounts (recounted open urgent tickets)."""
    records = [
        (linked[s.external_id], s)
        for s in batch.snapshots
        if s.source == source and s.external_id in linked
    ]
    records += extra
    if not records:
        return
    records.sort(key=lambda item: item[1].taken_on)
    # Accounts this batch created have no snapshots yet: nothing to look up for them.
    account_ids = {a for a, _ in records} - out.created_ids
    days = {s.taken_on for _, s in records}
    newest: dict[int, dict[str, Any]] = {}
    if batch.carry_forward and account_ids:
        newest = db.facts.latest_snapshot_rows(
            session, account_ids=account_ids, on_or_before=records[-1][1].taken_on
        )
    if batch.carry_forward and len(days) == 1:  # the usual poll: one query finds both
        stored = {(a, row["taken_on"]): row for a, row in newest.items() if row["taken_on"] in days}
    elif account_ids:
        stored = db.facts.snapshot_rows_on(session, account_ids=account_ids, days=days)
    else:
        stored = {}
    now = utcnow()
    inserts: dict[tuple[int, date], dict[str, Any]] = {}
    updates: dict[tuple[int, date], dict[str, Any]] = {}
    updated: dict[tuple[int, date], set[str]] = {}  # the facts each update changes
    for account_id, rec in records:
        day = (account_id, rec.taken_on)
        values = _values(rec)
        current = inserts.get(day) or updates.get(day) or stored.get(day)
        if current is not None:
            changed = [f for f, v in values.items() if v != current[f]]
            if changed:
                merged = current | values | {"source": rec.source, "recorded_at": now}
                if merged.get("id") is not None:
                    updates[day] = merged
                    updated.setdefault(day, set()).update(changed)
                else:
                    inserts[day] = merged
                out.changed.add(account_id)
            continue
        base = newest.get(account_id)
        if base is not None and base["taken_on"] < rec.taken_on:
            if all(base[f] == v for f, v in values.items()):
                continue  # nothing new: no row for today, nothing to re-score
            carried = {f: base[f] for f in _FIELDS} | values
        else:
            carried = _UNKNOWN_ROW | values
            for name in _EMPTY_UNKNOWN:
                if carried[name] is None:
                    carried[name] = {}
        row = carried | {
            "account_id": account_id,
            "taken_on": rec.taken_on,
            "source": rec.source,
            "recorded_at": now,
        }
        inserts[day] = row
        if batch.carry_forward and (base is None or base["taken_on"] <= rec.taken_on):
            newest[account_id] = row
        out.changed.add(account_id)
    db.facts.insert_snapshots(
        session, rows=[{k: v for k, v in r.items() if k != "id"} for r in inserts.values()]
    )
    # An update sets only the facts it changes: rows that change the same ones go together.
    by_facts: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for day, row in updates.items():
        facts = tuple(f for f in _FIELDS if f in updated[day])
        by_facts.setdefault(facts, []).append(
            {k: row[k] for k in ("id", "source", "recorded_at", *facts)}
        )
    for rows in by_facts.values():
        db.facts.update_snapshots(session, rows=rows)


def _write_events(
    session: Session,
    batch: Batch,
    source: str,
    linked: dict[str, int],
    out: Ingested,
    extra: Sequence[dict[str, Any]] = (),
) -> None:
    """Insert the source's events that are new (one row per account and key: an event read
    again is already there). A running count's record becomes one event per step above the
    highest step already stored for its series (``sources.events.count_steps``)."""
    records = [
        (linked[e.external_id], e)
        for e in batch.events
        if e.source == source and e.external_id in linked
    ]
    series = {(a, e.key) for a, e in records if e.count is not None}
    stored: dict[tuple[int, str], int] = {}
    if series:
        for (account_id, name), keys in db.facts.event_keys_of_series(
            session, series=series
        ).items():
            stored[(account_id, name)] = max((step_of(k, name) or 0 for k in keys), default=0)
    now = utcnow()
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for account_id, record in records:
        expanded = (
            [record]
            if record.count is None
            else count_steps(record, stored.get((account_id, record.key), 0))
        )
        for event in expanded:
            key = event.key or f"{event.kind.value}:{event.on.isoformat()}"
            rows.setdefault(
                (account_id, key),
                {
                    "account_id": account_id,
                    "kind": event.kind.value,
                    "on": event.on,
                    "detail": event.detail,
                    "key": key,
                    "recorded_at": now,
                    "source": event.source,
                },
            )
    for row in extra:
        rows.setdefault((row["account_id"], row["key"]), row)
    out.changed.update(account_id for account_id, _ in db.facts.insert_events(session, rows=rows))


# --- evaluate ---------------------------------------------------------------------------


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
    del facts

    created_at = utcnow()
    rows = [
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
    posts: list[tuple[dict[str, Any], bool, int, str]] = []
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
        live_keys: set[str] = set()
        if fresh or unalerted:
            live = live_episodes(list(assessment.episodes), today, config.scoring)
            live_keys = {e.dedupe_key for e in live}
        fresh_live = [(e, row_id) for e, row_id in fresh if e.dedupe_key in live_keys]
        if not fresh_live and unalerted:
            fresh_live = [
                (e, unalerted[e.dedupe_key])
                for e in assessment.episodes
                if e.dedupe_key in live_keys and e.dedupe_key in unalerted
            ]
        band = assessment.band.value
        delivery = delivery_for(assessment, config.alerts)
        digest = delivery == "digest"
        wanted = delivery is not None
        current = open_alerts.get(account_id)
        if current is not None:
            new_hash = state_hash(assessment)
            if not assessment.pitchable:
                _clear(session, current, assessment, new_hash, result)
            elif current.state_hash != new_hash:
                _update(session, current, assessment, new_hash, bool(fresh_live), result)
        elif wanted and fresh_live:
            now = created_at
            row = {
                "account_id": account_id,
                "episode_id": fresh_live[-1][1],
                "status": AlertStatus.OPEN.value,
                "band": band,
                "score": assessment.score,
                "offer": assessment.offer.type.value if assessment.offer else None,
                "state_hash": state_hash(assessment),
                "summary": summarize(assessment),
                "delivery": "digest" if digest else "channel",
                "created_at": now,
                "updated_at": now,
            }
            posts.append((row, digest, assessment.score, band))
        if keep_assessments:
            result.assessments.append(assessment)
    _open_alerts(session, posts, result)
    return assessed if keep_assessments else {}


def _open_alerts(
    session: Session, posts: list[tuple[dict[str, Any], bool, int, str]], result: CycleResult
) -> None:
    ids = db.alerts.insert_alerts(session, rows=[row for row, _, _, _ in posts])
    outbox = []
    now = utcnow()
    for alert_id, (_, digest, score, band) in zip(ids, posts, strict=True):
        result.alert_bands[band] += 1
        if digest:
            result.digest_alerts.append(alert_id)
            continue
        outbox.append(
            {
                "alert_id": alert_id,
                "kind": "post",
                "payload": {},
                "status": OutboxStatus.PENDING.value,
                "priority": score,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
        result.new_alerts.append(alert_id)
    db.outbox.insert_outbox(session, rows=outbox)


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
        db.outbox.enqueue(session, alert=alert, kind="update", payload={})
        if new_trigger:
            db.outbox.enqueue(
                session, alert=alert, kind="thread", payload={"reason": "new_trigger"}
            )
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
        db.outbox.enqueue(session, alert=alert, kind="update", payload={"reason": "cleared"})
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
