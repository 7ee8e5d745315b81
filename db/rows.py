"""The rows the batch writers take and the batch readers hand back, typed.

A poll writes hundreds of thousands of rows, so a row stays a plain dict: these TypedDicts
cost nothing at run time (no class is built per row) and let mypy check each key and value
where the rows are built (``bot/poll/ingest.py``, ``bot/poll/cycle.py``). Keys are column
names of ``db/models.py``; a column a row leaves out takes the model's default on insert
(``db.bulk.complete_rows``). Update rows are partial (``total=False``): ``id`` and the fields
they change, and every row of one call carries the same fields.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Required, TypedDict

# --- accounts (db/accounts.py) ----------------------------------------------------------


class AccountFields(TypedDict, total=False):
    """What a source says about an account (``db.accounts.ACCOUNT_FIELDS``, in its order)."""

    name: str
    domain: str | None
    owner_email: str | None
    owner_name: str | None
    segment: str | None
    plan: str | None
    purchased_on: date | None
    contact_name: str | None


class NewAccount(AccountFields, total=False):
    """An account to insert: its unique key and (in practice always) its name."""

    key: Required[str]
    created_at: datetime
    updated_at: datetime


class AccountUpdate(AccountFields, total=False):
    """An account's changed fields, by id."""

    id: Required[int]
    updated_at: datetime


class StoredAccount(AccountFields, total=False):
    """An account as read for comparing (``db.accounts.account_rows``): every field is there."""

    id: Required[int]
    key: Required[str]


class ExternalIdRow(TypedDict):
    """A source's id of an account."""

    account_id: int
    source: str
    external_id: str


class TicketState(TypedDict):
    """A CRM ticket as a poll reads it now (``db.accounts.save_tickets``, by ticket id)."""

    account_id: int
    is_open: bool
    urgent: bool


class ChampionLinkRow(TypedDict):
    """A contact who is a champion of an account, as of ``since``."""

    source: str
    account_id: int
    contact_id: str
    name: str
    since: date


# --- snapshots and events (db/facts.py) ------------------------------------------------


class SnapshotFacts(TypedDict, total=False):
    """A snapshot's facts as stored: a mirror of ``scoring.facts.Snapshot`` (health as its
    text, usage and limits as JSON objects, ``{}`` when unknown), checked against it by
    tests/db/test_fact_declaration.py like the table is. A fact left out is not stated."""

    seats_used: int | None
    seats_purchased: int | None
    active_users: int | None
    departments: int | None
    headcount: int | None
    annual_revenue: float | None
    usage: dict[str, float]
    limits: dict[str, float]
    health: str | None
    nps: int | None
    nps_on: date | None
    open_urgent_tickets: int | None
    open_tickets: int | None
    last_contact_on: date | None
    renewal_on: date | None
    arr: float | None
    features_used: int | None
    features_available: int | None
    headcount_at_purchase: int | None
    departments_at_purchase: int | None
    seats_at_purchase: int | None
    active_users_at_purchase: int | None


class SnapshotRow(SnapshotFacts, total=False):
    """One account's snapshot of one day, to insert (``db.facts.insert_snapshots``)."""

    account_id: Required[int]
    taken_on: Required[date]
    source: str
    recorded_at: datetime


class StoredSnapshot(SnapshotRow, total=False):
    """A snapshot as read back for comparing (``db.facts.latest_snapshot_rows``,
    ``snapshot_rows_on``): its id, account, day, source and every fact."""

    id: Required[int]


class SnapshotUpdate(SnapshotFacts, total=False):
    """A stored snapshot's changed facts, by id, with who stated them and when."""

    id: Required[int]
    source: str
    recorded_at: datetime


class EventRow(TypedDict, total=False):
    """An event of an account, unique by account and ``key``."""

    account_id: Required[int]
    kind: Required[str]
    on: Required[date]
    detail: str
    key: Required[str]
    recorded_at: datetime
    source: str | None
    logged_by: str | None
    permalink: str | None


# --- episodes and alerts (db/alerts.py) ------------------------------------------------


class EpisodeRow(TypedDict, total=False):
    """A trigger episode, unique by ``dedupe_key``."""

    account_id: Required[int]
    kind: Required[str]
    on: Required[date]
    evidence: str
    dedupe_key: Required[str]
    created_at: datetime


class ShadowEpisodeRow(TypedDict, total=False):
    """A shadow rule set's trigger episode, unique by (``rules``, ``dedupe_key``)."""

    rules: Required[str]
    account_id: Required[int]
    kind: Required[str]
    on: Required[date]
    dedupe_key: Required[str]
    created_at: datetime


class AlertRow(TypedDict, total=False):
    """A new alert (at most one open per account)."""

    account_id: Required[int]
    episode_id: int | None
    status: str
    band: Required[str]
    score: Required[int]
    offer: str | None
    state_hash: Required[str]
    summary: dict[str, Any]
    delivery: str
    created_at: datetime
    updated_at: datetime


class ShadowAlertRow(AlertRow, total=False):
    """A new alert of the shadow rules (at most one open per account and rule set)."""

    rules: Required[str]
