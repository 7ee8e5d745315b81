"""What every source's config shares: strict models, field maps, join keys, events mappings,
the schedule and HTTP settings (see sources/config.py for the whole ``sources:`` section)."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from scoring.facts import SNAPSHOT_FACTS, EventKind, FactKind
from sources.events import KIND_CHOICES, event_kind

JoinKey = Literal["domain", "crm_id"]
HealthValue = Literal["green", "yellow", "red"]

SF_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")
HS_PROPERTY = re.compile(r"^[a-z0-9_]{1,100}$")
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
RESERVED_NAMES = {"hubspot", "salesforce", "usage", "demo", "scoring"}

DEFAULT_HEALTH_VALUES: dict[str, HealthValue] = {
    "green": "green",
    "healthy": "green",
    "good": "green",
    "yellow": "yellow",
    "amber": "yellow",
    "at risk": "yellow",
    "at_risk": "yellow",
    "red": "red",
    "critical": "red",
    "unhealthy": "red",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# What a source's field mapping may fill: every snapshot fact (declared once, in
# scoring.facts.Snapshot; metrics have their own keys) and these account fields.
ACCOUNT_TARGETS = ("plan", "segment", "purchased_on", "contact_name")
FACT_TARGETS = frozenset(f.name for f in SNAPSHOT_FACTS if f.kind is not FactKind.METRICS)
MAPPABLE = FACT_TARGETS | frozenset(ACCOUNT_TARGETS)


class FieldMap(Strict):
    """Where each fact is in a source's records. The keys declared on a subclass have defaults;
    any other snapshot fact (for a CRM, also an account field in ``ACCOUNT_TARGETS``) may be
    named too, so a fact added to the declaration can be mapped without a change here."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, str | None] = Field(init=False)

    _allowed: ClassVar[frozenset[str]] = MAPPABLE  # what the extra keys may name
    _not_facts: ClassVar[frozenset[str]] = frozenset({"usage_id"})  # where, not what
    _renamed: ClassVar[dict[str, str]] = {"last_contact": "last_contact_on"}  # older key names
    _pattern: ClassVar[re.Pattern[str] | None] = None  # what a field name looks like
    _what: ClassVar[str] = "field name"

    @field_validator("*")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        """A declared key names a field of this source (``_pattern``), or nothing."""
        if value is not None and cls._pattern is not None and not cls._pattern.match(value):
            raise ValueError(f"{value!r} is not a {cls._what}")
        return value

    @model_validator(mode="after")
    def _extra_facts(self) -> FieldMap:
        extra = self.model_extra or {}
        unknown = sorted(set(extra) - self._allowed)
        if unknown:
            raise ValueError(
                f"unknown fact(s) {', '.join(unknown)}; any of"
                f" {', '.join(sorted(self._allowed))} may be mapped"
            )
        for key, value in extra.items():
            if value is not None and self._pattern and not self._pattern.match(value):
                raise ValueError(f"{key}: {value!r} is not a {self._what}")
        for old, new in self._renamed.items():
            if old in self.model_fields_set and getattr(self, old) and extra.get(new):
                raise ValueError(f"{old} and {new} name the same fact: keep one")
        return self

    def targets(self) -> dict[str, str]:
        """Fact (or account field) -> where the source keeps it, for each one mapped. A fact
        named by its own key wins over the default of an older key for it."""
        out: dict[str, str] = {}
        for key in type(self).model_fields:
            value = getattr(self, key)
            if value and key not in self._not_facts:
                out[self._renamed.get(key, key)] = value
        for key, value in (self.model_extra or {}).items():
            if value:
                out[key] = value
            else:
                out.pop(key, None)  # null: not kept in this source
        return out


def _check_cron(value: str | None) -> str | None:
    if value is None:
        return None
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as exc:
        raise ValueError(
            f"{value!r} is not a cron expression (minute hour day month dow): {exc}"
        ) from None
    return value


class ScheduleConfig(Strict):
    """When the poll runs. ``cron`` wins over ``interval_minutes``, which wins over
    POLL_INTERVAL_MINUTES."""

    interval_minutes: int | None = Field(None, ge=1, le=10_080)
    cron: str | None = None
    timezone: str = "UTC"
    run_at_start: bool = True
    rescore_cron: str | None = "30 5 * * *"  # daily re-evaluation for date-driven triggers
    # Helper processes that re-score a large queue (5,000+ accounts) beside the poller;
    # null: one per spare CPU (up to 4); 0: score in the poller's process only.
    rescore_processes: int | None = Field(None, ge=0, le=16)
    # Read each API source in a helper process, so its pages are parsed and validated on
    # another core while the poller writes; false: a thread of the poller's process.
    fetch_in_processes: bool = True

    @field_validator("cron", "rescore_cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return _check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class HttpConfig(Strict):
    """Timeouts and retries shared by every HTTP source."""

    timeout_seconds: float = Field(30.0, gt=0, le=600)
    connect_timeout_seconds: float = Field(10.0, gt=0, le=120)
    max_attempts: int = Field(5, ge=1, le=20)
    backoff_initial_seconds: float = Field(0.5, ge=0, le=60)
    backoff_max_seconds: float = Field(30.0, ge=0, le=600)
    max_retry_after_seconds: float = Field(120.0, ge=0, le=3600)
    # After a rate-window 429 that names no Retry-After (HubSpot's TEN_SECONDLY_ROLLING):
    # how long nothing is sent. None: one whole window, as the API's headers describe it.
    rate_limit_wait_seconds: float | None = Field(None, ge=0, le=600)
    # A walk through an API's pages fails after this many empty pages in a row that each
    # point to yet another page (a cursor that never arrives anywhere).
    max_empty_pages: int = Field(20, ge=1, le=100_000)

    @model_validator(mode="after")
    def _order(self) -> HttpConfig:
        if self.backoff_max_seconds < self.backoff_initial_seconds:
            raise ValueError("backoff_max_seconds must be at least backoff_initial_seconds")
        return self


class JoinConfig(Strict):
    """How a record finds its account when its own id is not linked yet."""

    creates_accounts: bool = True
    join_on: tuple[JoinKey, ...] = ()
    crm_source: str | None = None  # whose ids a ``crm_id`` field holds
    batch_size: int = Field(5000, ge=1, le=20_000)  # records per committed batch (see docs)

    @model_validator(mode="after")
    def _crm(self) -> JoinConfig:
        if "crm_id" in self.join_on and not self.crm_source:
            raise ValueError("join_on crm_id needs crm_source (hubspot, salesforce or a file)")
        return self


# --- events from CRM properties (sources/events.py; docs/sources.md, "Events") -----------

_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class EventMapping(Strict):
    """One entry of a CRM's ``events:``: which properties make events of which kind.

    ``date`` alone: each new date is an event. ``count``: one event per step up of a running
    count. ``flag``: an event when a yes/no property says yes. A count or a flag is dated by
    ``date`` when it is mapped and set, else by the poll day. ``detail`` is the event's text.
    """

    _pattern: ClassVar[re.Pattern[str]] = HS_PROPERTY
    _what: ClassVar[str] = "property name"

    kind: EventKind
    date: str | None = None
    detail: str | None = None
    count: str | None = None
    flag: str | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> EventKind:
        found = event_kind(value)
        if found is None:
            raise ValueError(f"{value!r} is not an event kind; use one of {KIND_CHOICES}")
        return found

    @model_validator(mode="after")
    def _shape(self) -> EventMapping:
        if self.count and self.flag:
            raise ValueError("count and flag are two ways to make events: keep one")
        if not (self.date or self.count or self.flag):
            raise ValueError("name a date property (or a count or a flag) that makes the events")
        for key in ("date", "detail", "count", "flag"):
            value = getattr(self, key)
            if value is not None and not self._pattern.match(value):
                raise ValueError(f"{key}: {value!r} is not a {self._what}")
        return self


class HubSpotEventMapping(EventMapping):
    _pattern = HS_PROPERTY
    _what = "HubSpot property name (lowercase, digits, _)"


class SalesforceEventMapping(EventMapping):
    _pattern = SF_FIELD
    _what = "Salesforce field API name"


M = TypeVar("M", bound=EventMapping)


def _event_names(value: dict[str, M]) -> dict[str, M]:
    bad = [name for name in value if not _EVENT_NAME.match(name)]
    if bad:
        raise ValueError(
            f"event mapping name(s) {', '.join(map(repr, bad))}: use lowercase letters, digits"
            " and _ (up to 40), starting with a letter; the name is part of each event's key"
        )
    return value


# A CRM's ``events:``, name -> mapping (each name is part of its events' keys).
HubSpotEvents = Annotated[dict[str, HubSpotEventMapping], AfterValidator(_event_names)]
SalesforceEvents = Annotated[dict[str, SalesforceEventMapping], AfterValidator(_event_names)]


def _hubspot_property(value: str) -> str:
    if not HS_PROPERTY.match(value):
        raise ValueError(f"{value!r} is not a HubSpot property name (lowercase, digits, _)")
    return value


HubSpotProperty = Annotated[str, AfterValidator(_hubspot_property)]


def picklist_values(value: tuple[str, ...], what: str) -> tuple[str, ...]:
    """A list of picklist values: stripped, none empty or absurdly long."""
    out = tuple(v.strip() for v in value)
    if any(not v or len(v) > 255 or ";" in v for v in out):
        raise ValueError(f"{what}: each value is one picklist value (1-255 characters, no ';')")
    return out


def soql_safe(value: tuple[str, ...], what: str) -> tuple[str, ...]:
    """Values that go into a SOQL literal as they are: no quotes or backslashes."""
    if any("'" in v or "\\" in v for v in value):
        raise ValueError(f"{what} cannot contain quotes or backslashes")
    return value


def role_values(value: tuple[str, ...]) -> tuple[str, ...]:
    """A champions section's role values: at least one, each a picklist value."""
    if not value:
        raise ValueError("name at least one role value (or set enabled: false)")
    return picklist_values(value, "roles")
