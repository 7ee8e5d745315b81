"""Records in → rows: a batch's accounts, snapshots, events, tickets and champion links
joined to their accounts and written in bulk.

``ingest_batch`` reads the accounts and snapshots a batch touches in a few queries and writes
them back in bulk, as the typed rows of ``db/rows.py``; a CRM's tickets and champions become a
fact and events in ``bot.poll.crm_signals``. The accounts it names are then scored by
``bot.poll.cycle.evaluate_many`` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import cast

from sqlmodel import Session

import db.accounts
import db.facts
from bot.poll.crm_signals import compare_champions, write_tickets
from db.models import utcnow
from db.rows import (
    AccountFields,
    AccountUpdate,
    EventRow,
    ExternalIdRow,
    NewAccount,
    SnapshotFacts,
    SnapshotRow,
    SnapshotUpdate,
    StoredAccount,
    StoredSnapshot,
)
from scoring.facts import SNAPSHOT_FACTS, FactKind
from sources.base import JoinPolicy
from sources.events import count_steps, step_of
from sources.records import AccountRecord, Batch, Record, SnapshotRecord

_FIELDS = db.facts.SNAPSHOT_FIELDS


@dataclass
class Ingested:
    """What writing one batch did."""

    touched: list[int] = field(default_factory=list)  # accounts the batch names, in order
    changed: set[int] = field(default_factory=set)  # accounts whose stored data changed
    created: int = 0
    created_ids: set[int] = field(default_factory=set)  # accounts this batch created
    unmatched: int = 0
    unmatched_samples: list[str] = field(default_factory=list)


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
        counts = write_tickets(session, batch, source, linked) if batch.tickets else []
        _write_snapshots(session, batch, source, linked, out, counts)
        champions: list[EventRow] = []
        if source == batch.champions_of and batch.champions_on is not None:
            champions = compare_champions(session, batch, source, linked, batch.champions_on)
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
    new_links: list[ExternalIdRow] = []

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
        rows: list[NewAccount] = []
        for rec in to_create:
            key = rec.slug
            if key in taken:
                key = db.accounts.free_account_key(session, key=key, taken=taken)
            taken.add(key)
            rows.append({**_account_fields(rec), "key": key, "created_at": now, "updated_at": now})
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


def _account_fields(rec: AccountRecord) -> AccountFields:
    """What the record says of each of ``db.accounts.ACCOUNT_FIELDS`` (None: unknown)."""
    return {
        "name": rec.name,
        "domain": rec.domain,
        "owner_email": rec.owner_email,
        "owner_name": rec.owner_name,
        "segment": rec.segment,
        "plan": rec.plan,
        "purchased_on": rec.purchased_on,
        "contact_name": rec.contact_name,
    }


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
    rows: list[AccountUpdate] = []
    for account_id, rec in known.items():
        row = stored.get(account_id)
        if row is None:
            continue
        if (fresh := _restated(row, rec)) is not None:
            rows.append({"id": account_id, **fresh, "updated_at": now})
            out.changed.add(account_id)
    db.accounts.update_accounts(session, rows=rows)


def _restated(stored: StoredAccount, rec: AccountRecord) -> AccountFields | None:
    """The account's fields with what the record knows in place of the stored values, or None
    when that changes nothing."""
    was: Mapping[str, object] = stored
    fresh = {f: was[f] if v is None else v for f, v in _account_fields(rec).items()}
    if all(v == was[f] for f, v in fresh.items()):
        return None
    return cast(AccountFields, fresh)


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
        rows: list[ExternalIdRow] = []
        for other_id, account_id in ids.items():
            if other_id not in current:
                rows.append({"account_id": account_id, "source": other, "external_id": other_id})
            elif current[other_id] != account_id:
                batch.issues[f"alias: {other} id already linked to another account"] += 1
        db.accounts.link_external_ids(session, rows=rows)


_EMPTY_UNKNOWN = tuple(f.name for f in SNAPSHOT_FACTS if f.kind is FactKind.METRICS)
_UNKNOWN_ROW: dict[str, object] = dict.fromkeys(_FIELDS)  # a first snapshot starts from this
_ENUMS = tuple(f.name for f in SNAPSHOT_FACTS if f.kind is FactKind.HEALTH)


def _values(rec: SnapshotRecord) -> SnapshotFacts:
    """The facts a snapshot record states (unknown ones left out), as stored.

    Read from the record's ``__dict__``, not fact by fact: every field of a record is a fact
    of the declaration (``scoring.facts.Snapshot``) but the three removed here, and this runs
    once per record of every poll."""
    out = {k: v for k, v in rec.__dict__.items() if v is not None}
    del out["source"], out["external_id"], out["taken_on"]  # the record's, not facts
    for name in _EMPTY_UNKNOWN:  # usage, limits: {} is unknown
        if not out[name]:
            del out[name]
    for name in _ENUMS:  # health: stored as its text
        if name in out:
            out[name] = out[name].value
    return cast(SnapshotFacts, out)


def _carried(base: SnapshotRow, values: SnapshotFacts) -> SnapshotFacts:
    """The facts of an account's last snapshot, with what a new record states in their place."""
    last: Mapping[str, object] = base
    return cast(SnapshotFacts, {f: last[f] for f in _FIELDS} | values)


def _first(values: SnapshotFacts) -> SnapshotFacts:
    """The facts of an account's first snapshot: what the record states, the rest unknown."""
    carried = {**_UNKNOWN_ROW, **values}
    for name in _EMPTY_UNKNOWN:
        if carried[name] is None:
            carried[name] = {}
    return cast(SnapshotFacts, carried)


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
    stored_newest: dict[int, StoredSnapshot] = {}
    if batch.carry_forward and account_ids:
        stored_newest = db.facts.latest_snapshot_rows(
            session, account_ids=account_ids, on_or_before=records[-1][1].taken_on
        )
    stored: dict[tuple[int, date], StoredSnapshot] = {}
    if batch.carry_forward and len(days) == 1:  # the usual poll: one query finds both
        stored = {
            (a, row["taken_on"]): row for a, row in stored_newest.items() if row["taken_on"] in days
        }
    elif account_ids:
        stored = db.facts.snapshot_rows_on(session, account_ids=account_ids, days=days)
    # Each account's latest snapshot so far: stored, or one this batch inserts.
    newest: dict[int, SnapshotRow] = dict(stored_newest)
    now = utcnow()
    inserts: dict[tuple[int, date], SnapshotRow] = {}
    updates: dict[tuple[int, date], StoredSnapshot] = {}
    updated: dict[tuple[int, date], set[str]] = {}  # the facts each update changes
    for account_id, rec in records:
        day = (account_id, rec.taken_on)
        values = _values(rec)
        pending = inserts.get(day)
        if pending is not None:  # a second record of the day, before its row is written
            was: Mapping[str, object] = pending
            if any(v != was[f] for f, v in values.items()):
                inserts[day] = {**pending, **values, "source": rec.source, "recorded_at": now}
                out.changed.add(account_id)
            continue
        kept = updates.get(day) or stored.get(day)
        if kept is not None:
            known: Mapping[str, object] = kept
            changed = [f for f, v in values.items() if v != known[f]]
            if changed:
                updates[day] = {**kept, **values, "source": rec.source, "recorded_at": now}
                updated.setdefault(day, set()).update(changed)
                out.changed.add(account_id)
            continue
        base = newest.get(account_id)
        if base is not None and base["taken_on"] < rec.taken_on:
            last: Mapping[str, object] = base
            if all(last[f] == v for f, v in values.items()):
                continue  # nothing new: no row for today, nothing to re-score
            carried = _carried(base, values)
        else:
            carried = _first(values)
        row: SnapshotRow = {
            **carried,
            "account_id": account_id,
            "taken_on": rec.taken_on,
            "source": rec.source,
            "recorded_at": now,
        }
        inserts[day] = row
        if batch.carry_forward and (base is None or base["taken_on"] <= rec.taken_on):
            newest[account_id] = row
        out.changed.add(account_id)
    db.facts.insert_snapshots(session, rows=list(inserts.values()))
    # An update sets only the facts it changes: rows that change the same ones go together.
    by_facts: dict[tuple[str, ...], list[SnapshotUpdate]] = {}
    for day, changes in updates.items():
        facts = tuple(f for f in _FIELDS if f in updated[day])
        new: Mapping[str, object] = changes
        by_facts.setdefault(facts, []).append(
            cast(SnapshotUpdate, {k: new[k] for k in ("id", "source", "recorded_at", *facts)})
        )
    for rows in by_facts.values():
        db.facts.update_snapshots(session, rows=rows)


def _write_events(
    session: Session,
    batch: Batch,
    source: str,
    linked: dict[str, int],
    out: Ingested,
    extra: Sequence[EventRow] = (),
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
    rows: dict[tuple[int, str], EventRow] = {}
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
