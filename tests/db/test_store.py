"""The store: migrations match the models, episodes dedupe, history loads in order, bulk writes."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlmodel import SQLModel

import db.accounts
import db.alerts
import db.facts
import db.runs
from db.engine import SessionFactory, transaction
from db.migrate import alembic_config, current_revision
from db.models import Account, Alert
from db.rows import EpisodeRow
from scoring.triggers import Episode, TriggerKind


def test_migrations_create_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    assert {
        "accounts",
        "snapshots",
        "trigger_episodes",
        "alerts",
        "outbox",
        "plans",
        "plan_steps",
        "snoozes",
        "audit_log",
        "poll_runs",
    } <= set(inspect(engine).get_table_names())


def test_migrations_have_one_head_and_the_database_is_at_it(engine: Engine) -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several migration heads {heads}: add a merge migration"
    assert current_revision(engine) == heads[0]


def test_sqlite_runs_with_wal_and_foreign_keys(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _account(session, ext: str = "1"):
    acct = Account(key=f"acme-{ext}", name="Acme")
    session.add(acct)
    session.flush()
    return acct


def _episode_row(account_id: int, ep: Episode) -> EpisodeRow:
    return {
        "account_id": account_id,
        "kind": ep.kind.value,
        "on": ep.on,
        "evidence": ep.evidence,
        "dedupe_key": ep.dedupe_key,
    }


def test_episode_dedupe_key_is_unique(factory: SessionFactory) -> None:
    ep = Episode(
        "acme",
        TriggerKind.CAPACITY,
        date(2026, 11, 1),
        "47 of 50 seats",
        "acme:capacity:2026-11-01",
    )
    with transaction(factory) as session:
        acct = _account(session)
        assert list(db.alerts.insert_episodes(session, rows=[_episode_row(acct.id, ep)])) == [
            ep.dedupe_key
        ]
        assert db.alerts.insert_episodes(session, rows=[_episode_row(acct.id, ep)]) == {}
    with transaction(factory) as session:
        assert db.alerts.insert_episodes(session, rows=[_episode_row(acct.id, ep)]) == {}
        assert db.alerts.episode_count(session) == 1


def test_snapshot_history_loads_in_order(factory: SessionFactory) -> None:
    with transaction(factory) as session:
        acct = _account(session)
        db.facts.insert_snapshots(
            session,
            rows=[
                {
                    "account_id": acct.id,
                    "taken_on": date(2026, 11, 2),
                    "source": "u",
                    "seats_used": 12,
                    "seats_purchased": 20,
                },
                {
                    "account_id": acct.id,
                    "taken_on": date(2026, 11, 1),
                    "source": "u",
                    "seats_used": 5,
                    "seats_purchased": 20,
                },
            ],
        )
    with factory() as session:
        acct = db.accounts.account_by_key(session, "acme-1")
        assert acct is not None
        facts = db.facts.load_facts(session, acct)
        assert [(s.taken_on.day, s.seats_used, s.seats_purchased) for s in facts.history] == [
            (1, 5, 20),
            (2, 12, 20),
        ]


def test_a_failed_transaction_leaves_nothing(factory: SessionFactory) -> None:
    try:
        with transaction(factory) as session:
            acct = _account(session)
            session.add(Alert(account_id=acct.id, band="ready", score=20, state_hash="x"))
            session.flush()
            raise RuntimeError("crash mid-batch")
    except RuntimeError:
        pass
    with factory() as session:
        assert db.accounts.all_accounts(session) == []
        assert db.alerts.episode_count(session) == 0


def test_planner_statistics_are_refreshed_on_postgresql(factory: SessionFactory) -> None:
    with transaction(factory) as session:
        for n in range(50):
            session.add(Account(key=f"a{n}", name=f"Account {n}"))
    with transaction(factory) as session:
        db.runs.refresh_planner_statistics(session)  # SQLite: nothing to do, and no error
        if session.get_bind().dialect.name != "postgresql":
            return
        tuples = session.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'accounts'")
        ).scalar_one()
    assert tuples == 50  # the planner now knows the table is not empty


def test_bulk_writes_round_trip_on_each_backend(factory: SessionFactory) -> None:
    """The batch writers (on PostgreSQL one statement over arrays per call): ids come back per
    row, a column that is NULL in every row, JSON objects, links and queue entries that exist
    already (or twice in one call) are skipped, and updates set only the named fields."""
    day = date(2026, 11, 2)
    with transaction(factory) as session:
        ids = db.accounts.insert_accounts(
            session,
            rows=[
                {"key": f"bulk-{n}", "name": f"Bulk {n}", "domain": None, "plan": None}
                for n in range(3)
            ],
        )
        assert len(set(ids)) == 3
        db.accounts.link_external_ids(
            session, rows=[{"account_id": ids[0], "source": "crm", "external_id": "a"}]
        )
        db.accounts.link_external_ids(
            session,
            rows=[
                {"account_id": ids[1], "source": "crm", "external_id": "a"},  # taken: kept
                {"account_id": ids[1], "source": "crm", "external_id": "b"},
                {"account_id": ids[1], "source": "crm", "external_id": "b"},  # twice
            ],
        )
        db.facts.insert_snapshots(
            session,
            rows=[
                {
                    "account_id": a,
                    "taken_on": day,
                    "source": "u",
                    "seats_used": None,
                    "usage": {"api_calls": 1.5 * n} if n else {},
                }
                for n, a in enumerate(ids)
            ],
        )
        db.runs.mark_pending(session, account_ids=[ids[2]])
        db.runs.mark_pending(session, account_ids=[ids[0], ids[2], ids[0]])
    with transaction(factory) as session:
        stored = db.facts.latest_snapshot_rows(session, account_ids=ids, on_or_before=day)
        db.facts.update_snapshots(
            session,
            rows=[{"id": stored[ids[1]]["id"], "seats_used": 7, "limits": {"api_calls": 9.0}}],
        )
    with factory() as session:
        assert db.accounts.account_rows(session, account_ids=ids)[ids[2]]["key"] == "bulk-2"
        assert db.accounts.external_id_map(session, source="crm", external_ids=["a", "b"]) == {
            "a": ids[0],
            "b": ids[1],
        }
        rows = db.facts.latest_snapshot_rows(session, account_ids=ids, on_or_before=day)
        assert [(rows[a]["seats_used"], rows[a]["usage"], rows[a]["limits"]) for a in ids] == [
            (None, {}, {}),
            (7, {"api_calls": 1.5}, {"api_calls": 9.0}),
            (None, {"api_calls": 3.0}, {}),
        ]
        assert db.runs.pending_account_ids(session) == sorted([ids[0], ids[2]])
