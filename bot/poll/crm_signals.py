"""Tickets and champions read from a CRM, turned into what scoring reads: a recounted number
of open urgent tickets per account (a snapshot fact) and champion-added / champion-left events.

Called by ``bot.poll.ingest.ingest_batch`` for each source of a batch, once its records are
joined to their accounts (``linked``: external id -> account id).
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

import db.accounts
from db.models import utcnow
from db.rows import AccountUpdate, ChampionLinkRow, EventRow, TicketState
from scoring.facts import EventKind
from sources.records import Batch, ChampionRecord, SnapshotRecord


def write_tickets(
    session: Session, batch: Batch, source: str, linked: dict[str, int]
) -> list[tuple[int, SnapshotRecord]]:
    """Store the source's tickets; returns a snapshot record of the recounted open urgent
    tickets for each account whose count may have changed (closing one lowers it)."""
    rows: dict[str, TicketState] = {}
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


def compare_champions(
    session: Session, batch: Batch, source: str, linked: dict[str, int], day: date
) -> list[EventRow]:
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
    links: list[ChampionLinkRow] = [
        {
            "source": source,
            "account_id": account_id,
            "contact_id": contact_id,
            "name": current[(account_id, contact_id)].name,
            "since": day,
        }
        for account_id, contact_id in added
    ]
    db.accounts.add_champion_links(session, rows=links)
    db.accounts.drop_champion_links(session, source=source, links=left)
    _fill_contact_names(session, batch, source, current, added)
    now = utcnow()

    def row(account_id: int, contact: str, kind: EventKind, name: str) -> EventRow:
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
    rows: dict[int, AccountUpdate] = {}
    for account_id, contact_id in added:
        name = current[(account_id, contact_id)].name
        if account_id in empty and name and account_id not in rows:
            rows[account_id] = {"id": account_id, "contact_name": name, "updated_at": utcnow()}
    db.accounts.update_accounts(session, rows=list(rows.values()))
