"""Validated records every source yields; the cycle turns them into rows.

Numbers are ``None`` when unknown. Validation rejects what cannot be true (negative seats, an
NPS of 14) so a bad CRM field is reported instead of firing a trigger.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scoring.facts import EventKind, Health


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    source: str = Field(min_length=1, max_length=50)
    external_id: str = Field(min_length=1, max_length=255)


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    slug = _NOT_SLUG.sub("-", text.lower()).strip("-")
    return slug[:120] or "account"


class AccountRecord(_Record):
    name: str = Field(min_length=1, max_length=300)
    key: str | None = Field(default=None, max_length=120)
    domain: str | None = Field(default=None, max_length=255)
    owner_email: str | None = Field(default=None, max_length=320)
    owner_name: str | None = Field(default=None, max_length=200)
    segment: str | None = Field(default=None, max_length=100)
    plan: str | None = Field(default=None, max_length=100)
    purchased_on: date | None = None
    contact_name: str | None = Field(default=None, max_length=200)
    # Ids of this account in other sources (e.g. {"usage": "acct_42"}), so their records join.
    aliases: dict[str, str] = Field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.key or slugify(self.name)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return value.lower().removeprefix("www.") if value else None


class SnapshotRecord(_Record):
    taken_on: date
    seats_used: int | None = Field(default=None, ge=0)
    seats_purchased: int | None = Field(default=None, ge=0)
    active_users: int | None = Field(default=None, ge=0)
    departments: int | None = Field(default=None, ge=0)
    headcount: int | None = Field(default=None, ge=0)
    annual_revenue: float | None = Field(default=None, ge=0)
    usage: dict[str, float] = Field(default_factory=dict)
    limits: dict[str, float] = Field(default_factory=dict)
    health: Health | None = None
    nps: int | None = Field(default=None, ge=0, le=10)
    open_urgent_tickets: int | None = Field(default=None, ge=0)
    last_contact_on: date | None = None
    renewal_on: date | None = None
    arr: float | None = Field(default=None, ge=0)
    features_used: int | None = Field(default=None, ge=0)
    features_available: int | None = Field(default=None, ge=0)

    @field_validator("usage", "limits")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if v < 0]
        if bad:
            raise ValueError(f"negative values for {', '.join(sorted(bad))}")
        return value

    @model_validator(mode="after")
    def _plausible(self) -> SnapshotRecord:
        if (
            self.features_used is not None
            and self.features_available is not None
            and self.features_used > self.features_available
        ):
            raise ValueError("features_used exceeds features_available")
        return self


class EventRecord(_Record):
    kind: EventKind
    on: date
    detail: str = Field(default="", max_length=2000)
    key: str = Field(default="", max_length=255)


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
    rejects: list[str] = field(default_factory=list)
    cursor: str | None = None
    fetched: int = 0  # raw records read from the source for this batch
    issues: Counter[str] = field(default_factory=Counter)  # fields marked unknown, by reason
    join_keys: dict[str, JoinKeys] = field(default_factory=dict)  # by external id
    total_hint: int | None = None  # how many records the whole pass will read, if known
    carry_forward: bool = False  # snapshots are partial: unknown fields keep the last value

    @property
    def records(self) -> int:
        return len(self.accounts) + len(self.snapshots) + len(self.events)
