"""The records every source yields; the cycle turns them into rows.

Numbers are ``None`` when unknown. Records are plain frozen dataclasses, checked once where
untrusted data comes in: :mod:`sources.mapping` reads every value through a
:class:`~sources.parse.Reader`, which turns what cannot be true (negative seats, an NPS of 14,
a 400-character name) into an unknown field or a rejected record, so a bad CRM field is
reported instead of firing a trigger. A second validation here would cost more than reading
the page it came from (and again to pass it to the writer's process).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from scoring.facts import EventKind, Snapshot

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    slug = _NOT_SLUG.sub("-", text.lower()).strip("-")
    return slug[:120] or "account"


@dataclass(frozen=True)
class AccountRecord:
    source: str
    external_id: str
    name: str
    key: str | None = None
    domain: str | None = None  # normalized: lower case, no www.
    owner_email: str | None = None
    owner_name: str | None = None
    segment: str | None = None
    plan: str | None = None
    purchased_on: date | None = None
    contact_name: str | None = None
    # Ids of this account in other sources (e.g. {"usage": "acct_42"}), so their records join.
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.key or slugify(self.name)


@dataclass(frozen=True, kw_only=True)
class SnapshotRecord(Snapshot):
    """One source's observation of one account: every fact of a scoring :class:`Snapshot`
    (inherited, so a fact declared there is a field here too) plus whose record it is."""

    source: str
    external_id: str


@dataclass(frozen=True)
class EventRecord:
    """Something that happened to an account, as a source states it (see sources/events.py).

    ``key`` identifies the event within its account (stored once per account and key); empty:
    its kind and day. ``count`` is set on a running count's record: ``key`` is then its series
    and the cycle logs one event per step above the highest already stored."""

    source: str
    external_id: str
    kind: EventKind
    on: date
    detail: str = ""
    key: str = ""
    count: int | None = None


@dataclass(frozen=True)
class TicketRecord:
    """One support ticket (HubSpot) or Case (Salesforce) of an account, as it stands now.

    The cycle keeps one row per ticket (``crm_tickets``) and recounts the account's open urgent
    ones, so a ticket that closes lowers the count on the poll that reads it."""

    source: str
    external_id: str  # the account's id in the source (company, Account)
    ticket_id: str
    taken_on: date  # the poll day: the day of the snapshot its count goes into
    is_open: bool
    urgent: bool


@dataclass(frozen=True)
class ChampionRecord:
    """A contact who is a champion of an account now (one per account and contact)."""

    source: str
    external_id: str  # the account's id in the source
    contact_id: str
    name: str


Record = AccountRecord | SnapshotRecord | EventRecord | TicketRecord | ChampionRecord


@dataclass(frozen=True)
class JoinKeys:
    """What a record that cannot create an account offers to find the one it belongs to."""

    domain: str | None = None
    crm_id: str | None = None


@dataclass
class Batch:
    """What one source produced in one pass, plus what it had to reject and why.

    ``cursor`` is the source's sync position *after* this batch: it is committed in the same
    transaction as the batch, so a crash resumes from the last batch that was written.
    """

    accounts: list[AccountRecord] = field(default_factory=list)
    snapshots: list[SnapshotRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    tickets: list[TicketRecord] = field(default_factory=list)
    # Source ``champions_of``'s complete set of champion links, read on ``champions_on``: set
    # only on the last batch of a pass that read them all. The cycle compares it with the
    # stored links (a link gone is a champion who left; a new one a champion added), and
    # with ``fill_contact_name`` a new champion names an account that has no contact.
    champions: list[ChampionRecord] = field(default_factory=list)
    champions_of: str | None = None
    champions_on: date | None = None
    fill_contact_name: bool = False
    rejects: list[str] = field(default_factory=list)
    cursor: str | None = None
    fetched: int = 0  # raw records read from the source for this batch
    issues: Counter[str] = field(default_factory=Counter)  # fields marked unknown, by reason
    join_keys: dict[str, JoinKeys] = field(default_factory=dict)  # by external id
    total_hint: int | None = None  # how many records the whole pass will read, if known
    carry_forward: bool = False  # snapshots are partial: unknown fields keep the last value

    def with_champions(
        self, source: str, champions: list[ChampionRecord] | None, day: date, *, fill: bool
    ) -> Batch:
        """This batch carrying ``source``'s complete champion set read on ``day`` (None: the
        set was not read, so nothing is compared)."""
        if champions is not None:
            self.champions, self.champions_of, self.champions_on = champions, source, day
            self.fill_contact_name = fill
        return self

    @property
    def records(self) -> int:
        return (
            len(self.accounts)
            + len(self.snapshots)
            + len(self.events)
            + len(self.tickets)
            + len(self.champions)
        )
