"""Snapshots and events, and the scoring input (``AccountFacts``) loaded from them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any, cast

from sqlalchemy import Text, func, type_coerce
from sqlmodel import Session, col, select

from db.bulk import (
    bulk_insert,
    chunks,
    complete_rows,
    core_table,
    dialect_insert,
    insert_returning,
    row_dicts,
    select_rows,
    update_by_id,
)
from db.models import Account, AccountEvent, Snapshot, utcnow
from db.rows import EventRow, SnapshotRow, SnapshotUpdate, StoredSnapshot
from scoring.facts import SNAPSHOT_FACTS, AccountFacts, Event, EventKind, FactKind, Health
from scoring.facts import Snapshot as FactSnapshot

# The snapshot facts, in declaration order (scoring.facts.Snapshot): the columns after
# ``source``; usage and limits are JSON, health is text.
SNAPSHOT_FIELDS = tuple(f.name for f in SNAPSHOT_FACTS)


_JSON_SNAPSHOT_FIELDS = tuple(f.name for f in SNAPSHOT_FACTS if f.kind is FactKind.METRICS)


_HEALTH_FIELDS = tuple(f.name for f in SNAPSHOT_FACTS if f.kind is FactKind.HEALTH)


def latest_snapshot_date(session: Session, *, source: str) -> date | None:
    stmt = select(func.max(Snapshot.taken_on)).where(Snapshot.source == source)
    value = session.exec(stmt).one()
    return value if isinstance(value, date) else None


def add_event(
    session: Session,
    *,
    account_id: int,
    kind: str,
    on: date,
    detail: str,
    key: str,
    source: str | None = None,
    logged_by: str | None = None,
    permalink: str | None = None,
) -> bool:
    """Record an event once; returns False when it was already known (the first one stays
    as it was, whoever logged it)."""
    stmt = (
        dialect_insert(session)(AccountEvent)
        .values(
            account_id=account_id,
            kind=kind,
            on=on,
            detail=detail,
            key=key,
            recorded_at=utcnow(),
            source=source,
            logged_by=logged_by,
            permalink=permalink,
        )
        .on_conflict_do_nothing(index_elements=["account_id", "key"])
        .returning(AccountEvent.id)
    )
    return session.execute(stmt).first() is not None


def event_by_key(session: Session, *, account_id: int, key: str) -> AccountEvent | None:
    return session.exec(
        select(AccountEvent).where(AccountEvent.account_id == account_id, AccountEvent.key == key)
    ).first()


def insert_events(
    session: Session, *, rows: dict[tuple[int, str], EventRow]
) -> list[tuple[int, str]]:
    """Insert the events (by account id and key) whose key is new for their account; returns
    (account id, key) of each one really inserted."""
    if not rows:
        return []
    table = core_table(AccountEvent)
    inserted: list[tuple[int, str]] = []
    for chunk in chunks(rows.values()):
        found = insert_returning(
            session, table, chunk, ("account_id", "key"), skip_conflicts_on=("account_id", "key")
        )
        inserted += [(int(account_id), str(key)) for account_id, key in found]
    return inserted


def event_keys_of_series(
    session: Session, *, series: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], list[str]]:
    """The stored keys of each (account id, series): the keys that start ``<series>:`` (a
    running count's steps, ``sources.events.count_steps``)."""
    wanted: dict[str, set[int]] = {}
    for account_id, name in series:
        wanted.setdefault(name, set()).add(account_id)
    out: dict[tuple[int, str], list[str]] = {}
    for name, accounts in wanted.items():
        for chunk in chunks(sorted(accounts)):
            stmt = select(AccountEvent.account_id, AccountEvent.key).where(
                col(AccountEvent.account_id).in_(chunk),
                col(AccountEvent.key).startswith(f"{name}:", autoescape=True),
            )
            for account_id, key in select_rows(session, stmt):
                out.setdefault((int(account_id), name), []).append(str(key))
    return out


def load_facts(session: Session, account: Account) -> AccountFacts:
    """The scoring input for one account: its whole snapshot history and events."""
    snaps = session.exec(
        select(Snapshot).where(Snapshot.account_id == account.id).order_by(col(Snapshot.taken_on))
    ).all()
    events = session.exec(
        select(AccountEvent)
        .where(AccountEvent.account_id == account.id)
        .order_by(col(AccountEvent.on), col(AccountEvent.id))
    ).all()
    return AccountFacts(
        account_id=account.key,
        name=account.name,
        history=[to_fact_snapshot(s) for s in snaps],
        events=[Event(EventKind(e.kind), e.on, e.detail, e.key) for e in events],
        purchased_on=account.purchased_on,
        plan=account.plan,
        contact_name=account.contact_name,
        segment=account.segment,
    )


def to_fact_snapshot(row: Snapshot) -> FactSnapshot:
    values = {name: getattr(row, name) for name in SNAPSHOT_FIELDS}
    for name in _HEALTH_FIELDS:
        values[name] = Health(values[name]) if values[name] else None
    return FactSnapshot(taken_on=row.taken_on, **values)


def usage_series(session: Session, account_id: int, limit: int = 12) -> list[tuple[date, float]]:
    """Recent (date, capacity ratio) points, oldest first, for a sparkline."""
    rows = session.exec(
        select(Snapshot)
        .where(Snapshot.account_id == account_id)
        .order_by(col(Snapshot.taken_on).desc())
        .limit(limit)
    ).all()
    points = []
    for row in reversed(rows):
        top = to_fact_snapshot(row).capacity()
        if top is not None:
            points.append((row.taken_on, top[1]))
    return points


def arr_at(session: Session, day: date) -> dict[int, float]:
    """Each account's ARR in its latest snapshot on or before ``day`` (known values only)."""
    latest = (
        select(Snapshot.account_id, func.max(Snapshot.taken_on).label("taken_on"))
        .where(col(Snapshot.taken_on) <= day, col(Snapshot.arr).is_not(None))
        .group_by(col(Snapshot.account_id))
        .subquery()
    )
    stmt = select(Snapshot.account_id, Snapshot.arr).join(
        latest,
        (col(Snapshot.account_id) == latest.c.account_id)
        & (col(Snapshot.taken_on) == latest.c.taken_on),
    )
    return {int(a): float(v) for a, v in session.exec(stmt).all() if v is not None}


def latest_snapshot(session: Session, account_id: int) -> Snapshot | None:
    return session.exec(
        select(Snapshot)
        .where(Snapshot.account_id == account_id)
        .order_by(col(Snapshot.taken_on).desc())
        .limit(1)
    ).first()


def _snapshot_field(name: str) -> Any:
    """A snapshot column to select; usage and limits come as text, for ``_json_value``."""
    column = getattr(Snapshot, name)
    return type_coerce(column, Text).label(name) if name in _JSON_SNAPSHOT_FIELDS else column


def _json_value(raw: Any) -> Any:
    """A JSON column selected as text: most usage and limits are ``{}``, which needs no
    parser (a driver that decodes JSON itself hands over the object)."""
    if type(raw) is not str:
        return {} if raw is None else raw
    return {} if raw == "{}" else json.loads(raw)


def _snapshot_dicts(result: Any) -> list[StoredSnapshot]:
    """A result of ``_snapshot_columns`` as stored snapshot rows (usage and limits parsed)."""
    rows = row_dicts(result)
    for row in rows:
        for name in _JSON_SNAPSHOT_FIELDS:
            row[name] = _json_value(row[name])
    return cast(list[StoredSnapshot], rows)


def _snapshot_columns() -> list[Any]:
    return [
        Snapshot.id,
        Snapshot.account_id,
        Snapshot.taken_on,
        Snapshot.source,
        *[_snapshot_field(f) for f in SNAPSHOT_FIELDS],
    ]


def latest_snapshot_rows(
    session: Session, *, account_ids: Iterable[int], on_or_before: date
) -> dict[int, StoredSnapshot]:
    """Each account's most recent snapshot up to a day, as plain values."""
    out: dict[int, StoredSnapshot] = {}
    for chunk in chunks(sorted(set(account_ids))):
        newest = (
            select(Snapshot.account_id, func.max(Snapshot.taken_on).label("day"))
            .where(col(Snapshot.account_id).in_(chunk), col(Snapshot.taken_on) <= on_or_before)
            .group_by(col(Snapshot.account_id))
            .subquery()
        )
        stmt = select(*_snapshot_columns()).join(
            newest,
            (col(Snapshot.account_id) == newest.c.account_id)
            & (col(Snapshot.taken_on) == newest.c.day),
        )
        for values in _snapshot_dicts(select_rows(session, stmt)):
            out[int(values["account_id"])] = values
    return out


def snapshot_rows_on(
    session: Session, *, account_ids: Iterable[int], days: Iterable[date]
) -> dict[tuple[int, date], StoredSnapshot]:
    """Stored snapshots for the given accounts on the given days, as plain values."""
    wanted = sorted(set(days))
    out: dict[tuple[int, date], StoredSnapshot] = {}
    if not wanted:
        return out
    for chunk in chunks(sorted(set(account_ids))):
        stmt = select(*_snapshot_columns()).where(
            col(Snapshot.account_id).in_(chunk), col(Snapshot.taken_on).in_(wanted)
        )
        for values in _snapshot_dicts(select_rows(session, stmt)):
            out[(int(values["account_id"]), values["taken_on"])] = values
    return out


def insert_snapshots(session: Session, *, rows: list[SnapshotRow]) -> None:
    """Insert new snapshots (rows without an ``id``; a fact left out takes its default)."""
    bulk_insert(session, core_table(Snapshot), complete_rows(Snapshot, rows))


def update_snapshots(session: Session, *, rows: list[SnapshotUpdate]) -> None:
    """Bulk update by primary key; every row carries ``id`` and the same set of fields."""
    update_by_id(session, Snapshot, rows)


def load_facts_many(
    session: Session, *, account_ids: Iterable[int], on_or_before: date | None = None
) -> dict[int, AccountFacts]:
    """The scoring input of many accounts in three queries per chunk (see ``load_facts``);
    ``on_or_before``: only the snapshots and events dated up to that day (a backtest's end)."""
    out: dict[int, AccountFacts] = {}
    fields = [col(Snapshot.account_id), col(Snapshot.taken_on)]
    fields += [_snapshot_field(f) for f in SNAPSHOT_FIELDS]
    for chunk in chunks(sorted(set(account_ids))):
        history: dict[int, list[FactSnapshot]] = {}
        snaps = (
            select(*fields)
            .where(col(Snapshot.account_id).in_(chunk))
            .order_by(col(Snapshot.account_id), col(Snapshot.taken_on))
        )
        if on_or_before is not None:
            snaps = snaps.where(col(Snapshot.taken_on) <= on_or_before)
        for row in select_rows(session, snaps).fetchall():
            account_id, taken_on, *values = row
            named = dict(zip(SNAPSHOT_FIELDS, values, strict=True))
            for name in _HEALTH_FIELDS:
                named[name] = Health(named[name]) if named[name] else None
            for name in _JSON_SNAPSHOT_FIELDS:
                named[name] = _json_value(named[name])
            history.setdefault(int(account_id), []).append(FactSnapshot(taken_on=taken_on, **named))
        events: dict[int, list[Event]] = {}
        evs = (
            select(AccountEvent)
            .where(col(AccountEvent.account_id).in_(chunk))
            .order_by(col(AccountEvent.account_id), col(AccountEvent.on), col(AccountEvent.id))
        )
        if on_or_before is not None:
            evs = evs.where(col(AccountEvent.on) <= on_or_before)
        for e in session.exec(evs).all():
            events.setdefault(e.account_id, []).append(
                Event(EventKind(e.kind), e.on, e.detail, e.key)
            )
        columns = [
            col(Account.id),
            col(Account.key),
            col(Account.name),
            col(Account.purchased_on),
            col(Account.plan),
            col(Account.contact_name),
            col(Account.segment),
        ]
        accounts = select(*columns).where(col(Account.id).in_(chunk))
        for account_id, key, name, purchased_on, plan, contact, segment in select_rows(
            session, accounts
        ):
            out[int(account_id)] = AccountFacts(
                account_id=key,
                name=name,
                history=history.get(int(account_id), []),
                events=events.get(int(account_id), []),
                purchased_on=purchased_on,
                plan=plan,
                contact_name=contact,
                segment=segment,
            )
    return out


def first_fact_date(session: Session) -> date | None:
    """The earliest snapshot or event day stored: where a replay of the history starts."""
    snap = session.exec(select(func.min(Snapshot.taken_on))).one()
    event = session.exec(select(func.min(AccountEvent.on))).one()
    days = [d for d in (snap, event) if isinstance(d, date)]
    return min(days) if days else None
