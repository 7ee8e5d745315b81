"""Accounts and how sources name them: external ids, domains, keys, CRM tickets and
champion links. Repositories never commit: callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import delete, func, text
from sqlmodel import Session, col, select

from db.bulk import (
    bulk_insert,
    chunks,
    complete_rows,
    core_table,
    insert_returning,
    is_postgresql,
    row_dicts,
    select_rows,
    update_by_id,
)
from db.models import Account, ChampionLink, CrmTicket, ExternalId, utcnow
from db.rows import (
    AccountFields,
    AccountUpdate,
    ChampionLinkRow,
    ExternalIdRow,
    NewAccount,
    StoredAccount,
    TicketState,
)


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


def routing_fields(session: Session) -> dict[int, tuple[str | None, str | None]]:
    """(owner email, segment) of every account: what routing rules match on."""
    rows = session.exec(select(Account.id, Account.owner_email, Account.segment)).all()
    return {int(i or 0): (owner, segment) for i, owner, segment in rows}


def account_owners(session: Session) -> list[str]:
    rows = session.exec(
        select(Account.owner_email).where(col(Account.owner_email).is_not(None)).distinct()
    ).all()
    return sorted(r for r in rows if r)


def accounts_stamp(session: Session) -> tuple[int, int, str]:
    """Changes whenever an account is added or renamed: when a cached name index is stale."""
    count, top, changed = session.exec(
        select(func.count(col(Account.id)), func.max(Account.id), func.max(Account.updated_at))
    ).one()
    return int(count or 0), int(top or 0), str(changed)


# What a source says about an account: the keys of ``db.rows.AccountFields``, in order.
ACCOUNT_FIELDS: tuple[str, ...] = tuple(AccountFields.__annotations__)


_PG_EXTERNAL_IDS = text(
    "SELECT e.external_id, e.account_id FROM unnest(CAST(:ids AS varchar[])) AS wanted(id)"
    " JOIN external_ids AS e ON e.source = :source AND e.external_id = wanted.id"
)


def external_id_map(
    session: Session, *, source: str, external_ids: Iterable[str]
) -> dict[str, int]:
    """Account id per external id of ``source``, for the ids that are linked."""
    out: dict[str, int] = {}
    if is_postgresql(session):
        # A join on the ids: while a first sync fills the table its statistics are stale,
        # and PostgreSQL then reads every row of the source for an IN list (a first sync
        # grew quadratically); joined, each batch costs about the same however big it is.
        for chunk in chunks(sorted(set(external_ids)), 5000):
            rows = select_rows(session, _PG_EXTERNAL_IDS, {"ids": chunk, "source": source})
            out.update({ext: int(acc) for ext, acc in rows})
        return out
    for chunk in chunks(sorted(set(external_ids))):
        stmt = select(ExternalId.external_id, ExternalId.account_id).where(
            ExternalId.source == source, col(ExternalId.external_id).in_(chunk)
        )
        out.update({ext: int(acc) for ext, acc in select_rows(session, stmt)})
    return out


def account_ids_by_domain(session: Session, *, domains: Iterable[str]) -> dict[str, list[int]]:
    """Every account per domain (more than one means the domain cannot decide a match)."""
    out: dict[str, list[int]] = {}
    for chunk in chunks(sorted(set(domains))):
        stmt = select(Account.domain, Account.id).where(col(Account.domain).in_(chunk))
        for domain, account_id in select_rows(session, stmt):
            if domain is not None and account_id is not None:
                out.setdefault(domain, []).append(int(account_id))
    return out


def existing_account_keys(session: Session, *, keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(sorted(set(keys))):
        stmt = select(Account.key).where(col(Account.key).in_(chunk))
        found.update(key for (key,) in select_rows(session, stmt))
    return found


def free_account_key(session: Session, *, key: str, taken: set[str]) -> str:
    """``key``, or ``key-2``, ``key-3``… that is neither stored nor in ``taken``."""
    candidate, n = key, 1
    while candidate in taken or account_by_key(session, candidate) is not None:
        n += 1
        candidate = f"{key}-{n}"
    return candidate


def insert_accounts(session: Session, *, rows: list[NewAccount]) -> list[int]:
    """Insert accounts (keys unique); returns their ids in the order of ``rows``."""
    if not rows:
        return []
    table = core_table(Account)
    inserted = insert_returning(session, table, complete_rows(Account, rows), ("key", "id"))
    ids = {key: int(i) for key, i in inserted}
    return [ids[row["key"]] for row in rows]


def account_rows(session: Session, *, account_ids: Iterable[int]) -> dict[int, StoredAccount]:
    """The stored fields of accounts by id (plain values, for comparing and bulk updates)."""
    out: dict[int, StoredAccount] = {}
    columns = [getattr(Account, f) for f in ACCOUNT_FIELDS]
    for chunk in chunks(sorted(set(account_ids))):
        stmt = select(Account.id, Account.key, *columns).where(col(Account.id).in_(chunk))
        for values in cast(list[StoredAccount], row_dicts(select_rows(session, stmt))):
            out[int(values["id"])] = values
    return out


def update_accounts(session: Session, *, rows: list[AccountUpdate]) -> None:
    """Bulk update by primary key; every row carries ``id`` and the same set of fields."""
    update_by_id(session, Account, rows)


def link_external_ids(session: Session, *, rows: list[ExternalIdRow]) -> None:
    """Link (source, external_id) -> account_id; a link that exists already is kept."""
    bulk_insert(session, core_table(ExternalId), rows, unique=("source", "external_id"))


def save_tickets(session: Session, *, source: str, rows: dict[str, TicketState]) -> set[int]:
    """Store each ticket's account and open/urgent state (by ticket id); returns the accounts
    whose count of open urgent tickets may have changed (a ticket's old and new account)."""
    if not rows:
        return set()
    stored: dict[str, dict[str, Any]] = {}
    table = core_table(CrmTicket)
    for chunk in chunks(sorted(rows)):
        stmt = table.select().where(table.c.source == source, table.c.ticket_id.in_(chunk))
        stored.update({row["ticket_id"]: row for row in row_dicts(select_rows(session, stmt))})
    now = utcnow()
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    affected: set[int] = set()
    for ticket_id, row in rows.items():
        old = stored.get(ticket_id)
        fresh: TicketState = {
            "account_id": row["account_id"],
            "is_open": row["is_open"],
            "urgent": row["urgent"],
        }
        if old is None:
            inserts.append({"source": source, "ticket_id": ticket_id, **fresh, "updated_at": now})
            if fresh["is_open"] and fresh["urgent"]:
                affected.add(fresh["account_id"])
            continue
        if all(old[k] == v for k, v in fresh.items()):
            continue
        updates.append({"id": old["id"], **fresh, "updated_at": now})
        affected |= {int(old["account_id"]), fresh["account_id"]}
    bulk_insert(session, core_table(CrmTicket), inserts, unique=("source", "ticket_id"))
    update_by_id(session, CrmTicket, updates)
    return affected


def open_urgent_counts(session: Session, *, account_ids: Iterable[int]) -> dict[int, int]:
    """Each account's number of open urgent tickets, over every source (0 when none)."""
    wanted = sorted(set(account_ids))
    out = dict.fromkeys(wanted, 0)
    for chunk in chunks(wanted):
        stmt = (
            select(CrmTicket.account_id, func.count())
            .where(
                col(CrmTicket.account_id).in_(chunk),
                col(CrmTicket.is_open).is_(True),
                col(CrmTicket.urgent).is_(True),
            )
            .group_by(col(CrmTicket.account_id))
        )
        out.update({int(a): int(n) for a, n in select_rows(session, stmt)})
    return out


def champion_links(session: Session, *, source: str) -> dict[tuple[int, str], str]:
    """(account id, contact id) -> the champion's name, for every stored link of ``source``."""
    stmt = select(ChampionLink.account_id, ChampionLink.contact_id, ChampionLink.name).where(
        ChampionLink.source == source
    )
    return {(int(a), str(c)): str(n) for a, c, n in select_rows(session, stmt)}


def add_champion_links(session: Session, *, rows: list[ChampionLinkRow]) -> None:
    """Store new champion links (source, account_id, contact_id, name, since)."""
    bulk_insert(
        session, core_table(ChampionLink), rows, unique=("source", "account_id", "contact_id")
    )


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
    for chunk in chunks(sorted(set(account_ids))):
        stmt = select(Account.id).where(
            col(Account.id).in_(chunk), col(Account.contact_name).is_(None)
        )
        out.update(int(i) for (i,) in select_rows(session, stmt))
    return out
