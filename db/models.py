"""SQLModel tables. Times are timezone-aware UTC; dates are calendar dates.

The shape is chosen for what comes later: snapshots keep history (triggers need it), trigger
episodes carry a unique dedupe key (edges fire once), and alerts reach Slack only through the
outbox, written in the same transaction as the episode that caused them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Account(SQLModel, table=True):
    __tablename__ = "accounts"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True, max_length=120)  # slug: "acme-corp"
    name: str = Field(index=True, max_length=300)
    domain: str | None = Field(default=None, index=True, max_length=255)
    owner_email: str | None = Field(default=None, max_length=320)
    owner_name: str | None = Field(default=None, max_length=200)
    segment: str | None = Field(default=None, max_length=100)
    plan: str | None = Field(default=None, max_length=100)
    purchased_on: date | None = None
    contact_name: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ExternalId(SQLModel, table=True):
    """Which record in which source is this account (a CRM id, a usage-API id, …)."""

    __tablename__ = "external_ids"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    source: str = Field(max_length=50)
    external_id: str = Field(max_length=255)


class Snapshot(SQLModel, table=True):
    """One observation per account per day; a later poll the same day replaces it.

    After ``source``, one typed column per fact of ``scoring.facts.Snapshot`` (the declaration),
    in its order; tests/db/test_fact_declaration.py fails until the two agree.
    """

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("account_id", "taken_on"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", ondelete="CASCADE")
    taken_on: date
    recorded_at: datetime = Field(default_factory=utcnow)
    source: str = Field(default="", max_length=50)
    seats_used: int | None = None
    seats_purchased: int | None = None
    active_users: int | None = None
    departments: int | None = None
    headcount: int | None = None
    annual_revenue: float | None = None
    usage: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    limits: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    health: str | None = Field(default=None, max_length=10)
    nps: int | None = None
    nps_on: date | None = None
    open_urgent_tickets: int | None = None
    open_tickets: int | None = None
    last_contact_on: date | None = None
    renewal_on: date | None = None
    arr: float | None = None
    features_used: int | None = None
    features_available: int | None = None
    headcount_at_purchase: int | None = None
    departments_at_purchase: int | None = None
    seats_at_purchase: int | None = None
    active_users_at_purchase: int | None = None


class AccountEvent(SQLModel, table=True):
    """Logged facts that are not numbers: outcomes, requests, initiatives, champion changes."""

    __tablename__ = "account_events"
    __table_args__ = (UniqueConstraint("account_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=40)
    on: date
    detail: str = Field(default="", max_length=2000)
    key: str = Field(max_length=255)
    recorded_at: datetime = Field(default_factory=utcnow)
    # Provenance, when known: "slack" for a signal a person logged from Slack, with their Slack
    # user id and the message's permalink (None for events polled before these existed).
    source: str | None = Field(default=None, max_length=50)
    logged_by: str | None = Field(default=None, max_length=40)
    permalink: str | None = Field(default=None, max_length=1000)


class CrmTicket(SQLModel, table=True):
    """A CRM ticket (HubSpot) or Case (Salesforce) as last read: the account's count of open
    urgent ones is recounted from these, so a ticket closing lowers it."""

    __tablename__ = "crm_tickets"
    __table_args__ = (UniqueConstraint("source", "ticket_id"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=50)
    ticket_id: str = Field(max_length=255)
    account_id: int = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    is_open: bool
    urgent: bool
    updated_at: datetime = Field(default_factory=utcnow)


class ChampionLink(SQLModel, table=True):
    """A contact who was a champion of an account at the last complete read of its source: a
    link missing from the next read is a champion who left."""

    __tablename__ = "champion_links"
    __table_args__ = (UniqueConstraint("source", "account_id", "contact_id"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=50)
    account_id: int = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    contact_id: str = Field(max_length=255)
    name: str = Field(default="", max_length=200)
    since: date


class TriggerEpisode(SQLModel, table=True):
    __tablename__ = "trigger_episodes"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=40)
    on: date
    evidence: str = Field(default="", max_length=2000)
    dedupe_key: str = Field(unique=True, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    DISMISSED = "dismissed"
    CLEARED = "cleared"  # every signal behind it went away
    CLOSED = "closed"


OPEN_ALERT_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.SNOOZED)


class Alert(SQLModel, table=True):
    """One expansion episode as the CSM sees it: one Slack thread, updated in place."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_account_status", "account_id", "status"),
        Index("ix_alerts_owner_status", "owner_slack_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", ondelete="CASCADE")
    episode_id: int | None = Field(default=None, foreign_key="trigger_episodes.id")
    status: str = Field(default=AlertStatus.OPEN, max_length=20)
    band: str = Field(max_length=20)
    score: int
    offer: str | None = Field(default=None, max_length=40)
    state_hash: str = Field(max_length=64)
    delivery: str = Field(default="channel", max_length=20)  # channel | digest
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    channel: str | None = Field(default=None, max_length=40)
    ts: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    acknowledged_by: str | None = Field(default=None, max_length=40)
    acknowledged_at: datetime | None = None
    snoozed_until: datetime | None = None
    owner_slack_id: str | None = Field(default=None, max_length=40)
    escalated_at: datetime | None = None
    dismissed_reason: str | None = Field(default=None, max_length=500)
    posted_at: datetime | None = None  # when the first Slack message went out
    feedback: str | None = Field(default=None, max_length=10)  # useful | noise
    feedback_by: str | None = Field(default=None, max_length=40)
    feedback_at: datetime | None = None


class ShadowEpisode(SQLModel, table=True):
    """A trigger episode as a shadow rule set saw it, apart from the live episodes: had the
    shadow recorded its episodes there, the live rules would take them for known and stay
    silent. ``rules`` names the rule set (``ShadowRules.key``); a new one starts afresh."""

    __tablename__ = "shadow_episodes"
    __table_args__ = (UniqueConstraint("rules", "dedupe_key", name="uq_shadow_episodes_key"),)

    id: int | None = Field(default=None, primary_key=True)
    rules: str = Field(max_length=16)
    account_id: int = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=40)
    on: date
    dedupe_key: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class ShadowAlert(SQLModel, table=True):
    """An alert the shadow rules raised: posted to the shadow channel only, never acknowledged,
    escalated or reminded (nothing that does those reads this table); compared with the live
    alerts in the stats. ``status``: open or cleared."""

    __tablename__ = "shadow_alerts"
    __table_args__ = (Index("ix_shadow_alerts_rules_account", "rules", "account_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    rules: str = Field(max_length=16)
    account_id: int = Field(foreign_key="accounts.id", ondelete="CASCADE")
    episode_id: int = Field(foreign_key="shadow_episodes.id")
    status: str = Field(default=AlertStatus.OPEN, max_length=20)
    band: str = Field(max_length=20)
    score: int
    offer: str | None = Field(default=None, max_length=40)
    state_hash: str = Field(max_length=64)
    delivery: str = Field(default="channel", max_length=20)  # channel | digest | summary | mirror
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender until ``claimed_until`` (committed before Slack)
    SENT = "sent"
    FAILED = "failed"  # permanent error: recorded and reported, not retried


class OutboxMessage(SQLModel, table=True):
    """A Slack delivery owed, written with the change that caused it.

    Life of a row: ``pending`` → ``sending`` (claimed, and committed, before Slack is called;
    ``claimed_by`` / ``claimed_until``) → ``sent`` / ``failed`` / back to ``pending`` with a
    later ``next_attempt_at``. A claim that expires (its sender died) can be taken again.
    Every message posted for a row carries the row's id as Slack message metadata, and
    ``unconfirmed_since`` says a post may have reached Slack without our seeing the answer: the
    next attempt looks for it in ``channel`` (``thread_ts``: in that thread) before posting."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_due", "status", "next_attempt_at"),
        Index("ix_outbox_channel_sent", "channel", "sent_at"),
        Index("ix_outbox_alert_status", "alert_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = Field(default=None, foreign_key="alerts.id", ondelete="CASCADE")
    kind: str = Field(max_length=20)  # an OutboxKind: post | update | thread | dm | escalate | …
    # the variant's JSON (db/outbox_payloads.py: written by enqueue, read back by parse)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=OutboxStatus.PENDING, max_length=20)
    priority: int = 0
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    # the target: routed name or id (the hourly cap counts by it), and the thread for a reply
    channel: str | None = Field(default=None, max_length=80)
    thread_ts: str | None = Field(default=None, max_length=40)
    claimed_by: str | None = Field(default=None, max_length=200)
    claimed_until: datetime | None = None
    unconfirmed_since: datetime | None = None


class SlackChannel(SQLModel, table=True):
    """A channel name's id as Slack answered it (conversations.history wants ids; routing
    rules and EXPANSION_CHANNEL may name a channel "#expansion")."""

    __tablename__ = "slack_channels"

    name: str = Field(primary_key=True, max_length=80)  # without the "#", lower case
    channel_id: str = Field(max_length=40)
    fetched_at: datetime = Field(default_factory=utcnow)


class Plan(SQLModel, table=True):
    __tablename__ = "plans"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    alert_id: int | None = Field(default=None, foreign_key="alerts.id")
    kind: str = Field(max_length=20)  # ninety_day | renewal
    offer: str | None = Field(default=None, max_length=40)
    script: str = Field(default="", max_length=4000)
    owner: str | None = Field(default=None, max_length=320)
    status: str = Field(default="open", max_length=20)  # open | won | lost | not_this_cycle
    started_on: date
    outcome_arr: float | None = None
    outcome_reason: str | None = Field(default=None, max_length=2000)
    revisit_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=40)
    trigger: str | None = Field(default=None, max_length=40)  # the trigger behind the alert
    expected_arr: float = 0.0


class PlanStep(SQLModel, table=True):
    __tablename__ = "plan_steps"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plans.id", index=True, ondelete="CASCADE")
    position: int
    name: str = Field(max_length=300)
    owner: str | None = Field(default=None, max_length=320)
    role: str = Field(default="CSM", max_length=20)  # who usually does it: CSM, AE, Legal
    window_start: date
    window_end: date
    due_on: date
    status: str = Field(default="pending", max_length=20)  # pending|done|skipped|overdue
    closed_by: str | None = Field(default=None, max_length=40)
    closed_at: datetime | None = None
    note: str | None = Field(default=None, max_length=2000)
    conditional: bool = False  # only needed if something did not happen (no reply)
    reminded_open_at: datetime | None = None  # each reminder is sent once
    reminded_overdue_at: datetime | None = None


class Snooze(SQLModel, table=True):
    __tablename__ = "snoozes"
    __table_args__ = (Index("ix_snoozes_until", "ended_at", "until"),)

    id: int | None = Field(default=None, primary_key=True)
    target_type: str = Field(max_length=20)  # alert | plan | step
    target_id: int
    until: datetime
    by_user: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    user_id: str | None = Field(default=None, max_length=40)
    action: str = Field(max_length=60)
    target_type: str = Field(max_length=20)
    target_id: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class PollRunStatus(StrEnum):
    RUNNING = "running"  # until the run finishes (or, its process gone, the next poll settles it)
    OK = "ok"
    FAILED = "failed"


FINISHED_RUN_STATUSES = (PollRunStatus.OK, PollRunStatus.FAILED)


class PollRun(SQLModel, table=True):
    __tablename__ = "poll_runs"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=50, index=True)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    status: str = Field(default=PollRunStatus.RUNNING, max_length=20)
    fetched: int = 0
    rejected: int = 0
    unmatched: int = 0
    changed: int = 0  # accounts whose data this run changed (queued for re-scoring)
    episodes: int = 0
    alerts: int = 0
    errors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    cursor: str | None = Field(default=None, max_length=500)


class SourceState(SQLModel, table=True):
    """Per-source sync cursor and health: where the next poll resumes, and how the last went."""

    __tablename__ = "source_state"

    source: str = Field(primary_key=True, max_length=50)
    cursor: str | None = Field(default=None, max_length=500)
    last_success_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=2000)
    last_error_at: datetime | None = None
    last_run_id: int | None = None


class SlackUser(SQLModel, table=True):
    """Cache of users.lookupByEmail / users.info so owners resolve without a call per alert."""

    __tablename__ = "slack_users"

    email: str = Field(primary_key=True, max_length=320)
    user_id: str | None = Field(default=None, max_length=40, index=True)  # None: not found
    tz: str | None = Field(default=None, max_length=64)
    fetched_at: datetime = Field(default_factory=utcnow)


class JobLease(SQLModel, table=True):
    """Who runs a scheduled job right now. A holder renews before ``expires_at``; a replica that
    dies simply stops renewing and another takes the job over once the lease has expired."""

    __tablename__ = "job_leases"

    name: str = Field(primary_key=True, max_length=100)
    holder: str = Field(max_length=200)
    expires_at: datetime
    acquired_at: datetime = Field(default_factory=utcnow)


class DigestLog(SQLModel, table=True):
    """One row per digest sent, so each goes out once per person (or channel) per period."""

    __tablename__ = "digest_log"
    __table_args__ = (UniqueConstraint("recipient", "kind", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(max_length=320)
    kind: str = Field(max_length=20)  # daily | weekly
    period: str = Field(max_length=20)  # the local date (daily) or ISO week (weekly)
    sent_at: datetime = Field(default_factory=utcnow)


class PendingEvaluation(SQLModel, table=True):
    """An account whose data changed and that has not been re-scored since. Written in the
    same transaction as the data, cleared in the same transaction as the episodes and alerts
    the re-scoring produced, so a crash between the two loses nothing."""

    __tablename__ = "pending_evaluations"

    account_id: int = Field(
        sa_column=Column(Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    )
    queued_at: datetime = Field(default_factory=utcnow)
