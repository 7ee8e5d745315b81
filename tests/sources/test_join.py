"""Joining records of several sources to one account, and writing partial snapshots."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlmodel import col, select

import db.accounts
import db.facts
from bot.poll.ingest import Ingested, ingest_batch
from db.engine import SessionFactory, transaction
from db.models import Account, ExternalId, Snapshot
from scoring.facts import Health
from sources.base import JoinPolicy
from sources.records import AccountRecord, Batch, JoinKeys, SnapshotRecord

DAY = date(2026, 11, 22)
CRM = JoinPolicy()
USAGE = JoinPolicy(creates_accounts=False, join_on=("crm_id", "domain"), crm_source="hubspot")


def crm_batch(*rows: tuple[str, str, str | None], aliases: dict[str, str] | None = None) -> Batch:
    batch = Batch(carry_forward=True)
    for ext, name, domain in rows:
        batch.accounts.append(
            AccountRecord(
                source="hubspot", external_id=ext, name=name, domain=domain, aliases=aliases or {}
            )
        )
        batch.snapshots.append(
            SnapshotRecord(
                source="hubspot",
                external_id=ext,
                taken_on=DAY,
                seats_purchased=100,
                renewal_on=DAY + timedelta(days=60),
                arr=50_000,
            )
        )
    return batch


def usage_batch(ext: str, keys: JoinKeys | None, used: int, day: date = DAY) -> Batch:
    batch = Batch(carry_forward=True)
    batch.snapshots.append(
        SnapshotRecord(source="usage", external_id=ext, taken_on=day, seats_used=used)
    )
    if keys:
        batch.join_keys[ext] = keys
    return batch


def write(factory: SessionFactory, batch: Batch, policy: JoinPolicy = CRM) -> Ingested:
    with transaction(factory) as session:
        return ingest_batch(session, batch, policy)


def linked(factory: SessionFactory, source: str, ext: str) -> int | None:
    with factory() as session:
        return db.accounts.external_id_map(session, source=source, external_ids=[ext]).get(ext)


def test_usage_joins_by_domain_then_by_its_own_id(factory: SessionFactory) -> None:
    write(factory, crm_batch(("1", "Acme", "acme.com")))
    account_id = linked(factory, "hubspot", "1")
    done = write(factory, usage_batch("u-9", JoinKeys(domain="acme.com"), 95), USAGE)
    assert done.unmatched == 0 and done.changed == {account_id}
    assert linked(factory, "usage", "u-9") == account_id
    again = write(factory, usage_batch("u-9", None, 96), USAGE)  # no keys needed any more
    assert again.changed == {account_id}
    with factory() as session:
        snaps = session.exec(select(Snapshot)).all()
    assert len(snaps) == 1  # one row per account per day, merged from both sources
    assert (snaps[0].seats_used, snaps[0].seats_purchased, snaps[0].arr) == (96, 100, 50_000)


def test_an_update_changes_only_what_its_records_state(factory: SessionFactory) -> None:
    write(factory, crm_batch(("1", "Acme", None), ("2", "Beta", None)))
    write(factory, crm_batch(("3", "Gamma", None)))
    batch = Batch(carry_forward=True)
    batch.snapshots += [  # three accounts, three different sets of changed facts
        SnapshotRecord(source="hubspot", external_id="1", taken_on=DAY, seats_used=80),
        SnapshotRecord(source="hubspot", external_id="2", taken_on=DAY, usage={"api_calls": 9.0}),
        SnapshotRecord(source="hubspot", external_id="3", taken_on=DAY, seats_purchased=100),
        SnapshotRecord(source="hubspot", external_id="1", taken_on=DAY, nps=9),  # same row
    ]
    done = write(factory, batch)
    assert len(done.changed) == 2  # Gamma already had 100 seats
    with factory() as session:
        rows = session.exec(select(Snapshot).order_by(col(Snapshot.account_id))).all()
    assert [(r.seats_used, r.seats_purchased, r.usage, r.nps, r.arr) for r in rows] == [
        (80, 100, {}, 9, 50_000),
        (None, 100, {"api_calls": 9.0}, None, 50_000),
        (None, 100, {}, None, 50_000),
    ]


def test_usage_joins_by_crm_id_and_by_alias(factory: SessionFactory) -> None:
    write(factory, crm_batch(("1", "Acme", None), ("2", "Beta", None)))
    write(factory, crm_batch(("3", "Gamma", None), aliases={"usage": "g-3"}))
    by_crm = write(factory, usage_batch("u-1", JoinKeys(crm_id="2"), 10), USAGE)
    by_alias = write(factory, usage_batch("g-3", None, 11), USAGE)
    assert by_crm.unmatched == 0 and by_alias.unmatched == 0
    assert linked(factory, "usage", "u-1") == linked(factory, "hubspot", "2")
    assert linked(factory, "usage", "g-3") == linked(factory, "hubspot", "3")


def test_unmatched_is_counted_never_guessed(factory: SessionFactory) -> None:
    write(factory, crm_batch(("1", "Acme", "acme.com"), ("2", "Acme EU", "acme.com")))
    batch = usage_batch("u-1", JoinKeys(domain="acme.com"), 5)  # two accounts: ambiguous
    batch.snapshots.append(
        SnapshotRecord(source="usage", external_id="u-2", taken_on=DAY, seats_used=3)
    )
    batch.join_keys["u-2"] = JoinKeys(domain="nobody.com", crm_id="404")
    done = write(factory, batch, USAGE)
    assert done.unmatched == 2 and done.changed == set()
    assert batch.issues["join: domain matches 2 accounts"] == 1
    assert any("usage:u-2 (domain nobody.com, crm_id 404)" in s for s in done.unmatched_samples)
    with factory() as session:
        assert len(session.exec(select(Account)).all()) == 2  # nothing was created
        assert session.exec(select(ExternalId).where(ExternalId.source == "usage")).all() == []


def test_partial_snapshots_carry_the_last_known_values(factory: SessionFactory) -> None:
    write(factory, crm_batch(("1", "Acme", "acme.com")))
    write(factory, usage_batch("u-1", JoinKeys(domain="acme.com"), 40), USAGE)
    next_day = DAY + timedelta(days=1)
    done = write(factory, usage_batch("u-1", None, 90, next_day), USAGE)
    assert len(done.changed) == 1
    unchanged = write(factory, usage_batch("u-1", None, 90, next_day + timedelta(days=1)), USAGE)
    assert unchanged.changed == set()  # same values: no new row, nothing to re-score
    with factory() as session:
        rows = session.exec(select(Snapshot).order_by(col(Snapshot.taken_on))).all()
    assert [(r.taken_on, r.seats_used, r.seats_purchased) for r in rows] == [
        (DAY, 40, 100),
        (next_day, 90, 100),  # seats purchased carried from the CRM's snapshot
    ]


def test_every_fact_a_snapshot_record_states_is_stored(factory: SessionFactory) -> None:
    """Each field of a record but its source, id and day is a fact of the snapshot row."""
    facts = {
        "seats_used": 41,
        "seats_purchased": 50,
        "active_users": 38,
        "departments": 3,
        "headcount": 220,
        "annual_revenue": 9_500_000.0,
        "usage": {"api_calls": 91_000.0},
        "limits": {"api_calls": 100_000.0},
        "health": Health.YELLOW,
        "nps": 9,
        "open_urgent_tickets": 2,
        "last_contact_on": DAY - timedelta(days=9),
        "renewal_on": DAY + timedelta(days=75),
        "arr": 48_000.0,
        "features_used": 7,
        "features_available": 12,
        "nps_on": DAY - timedelta(days=70),
        "headcount_at_purchase": 180,
        "departments_at_purchase": 1,
        "seats_at_purchase": 30,
        "active_users_at_purchase": 25,
    }
    assert set(facts) == set(db.facts.SNAPSHOT_FIELDS)
    batch = crm_batch()
    batch.accounts.append(AccountRecord(source="hubspot", external_id="9", name="Acme"))
    batch.snapshots.append(
        SnapshotRecord(source="hubspot", external_id="9", taken_on=DAY, **facts)  # type: ignore[arg-type]
    )
    write(factory, batch)
    with factory() as session:
        row = session.exec(select(Snapshot)).one()
    assert {name: getattr(row, name) for name in facts} == facts | {"health": "yellow"}
    assert (row.taken_on, row.source) == (DAY, "hubspot")


def test_account_fields_refresh_and_duplicates_are_rejected(factory: SessionFactory) -> None:
    write(factory, crm_batch(("1", "Acme", "acme.com")))
    batch = crm_batch(("1", "Acme Corp", None), ("1", "Acme Twice", None))
    done = write(factory, batch)
    assert batch.rejects == ["hubspot:1: duplicate account record"]
    assert len(done.changed) == 1
    with factory() as session:
        account = session.exec(select(Account)).one()
    assert (account.name, account.domain) == ("Acme Corp", "acme.com")  # None keeps the old


def test_every_account_field_a_record_states_is_stored_and_refreshed(
    factory: SessionFactory,
) -> None:
    """Each of ``db.accounts.ACCOUNT_FIELDS`` goes from a record to its account when the
    account is created and when a later record restates it; one left unknown is kept."""

    def stated(n: int) -> dict[str, Any]:
        return {
            name: DAY - timedelta(days=n) if name == "purchased_on" else f"{name} {n}"
            for name in db.accounts.ACCOUNT_FIELDS
        }

    def stored() -> dict[str, Any]:
        with factory() as session:
            account = session.exec(select(Account)).one()
        return {name: getattr(account, name) for name in db.accounts.ACCOUNT_FIELDS}

    for n in (1, 2):
        record = AccountRecord(source="hubspot", external_id="1", **stated(n))
        assert write(factory, Batch(accounts=[record])).changed
        assert stored() == stated(n)
    renamed = AccountRecord(source="hubspot", external_id="1", name="Renamed")
    write(factory, Batch(accounts=[renamed]))
    assert stored() == stated(2) | {"name": "Renamed"}


def test_new_accounts_get_free_keys(factory: SessionFactory) -> None:
    write(factory, crm_batch(("1", "Acme", None), ("2", "Acme", None)))
    write(factory, crm_batch(("3", "Acme", None)))
    with factory() as session:
        keys = sorted(a.key for a in session.exec(select(Account)).all())
    assert keys == ["acme", "acme-2", "acme-3"]
