"""The ``sources:`` section of the config file: field mappings, join keys, schedule, HTTP.

Every key has a default that matches the documented wire shapes (and the local fakes), so a
config file only names what differs in a customer's CRM. Validation is strict: an unknown key
or an impossible value stops the program at start-up with the key named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scoring.facts import SNAPSHOT_FACTS, EventKind, FactKind
from sources.events import KIND_CHOICES, event_kind

JoinKey = Literal["domain", "crm_id"]
HealthValue = Literal["green", "yellow", "red"]

_SF_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")
_HS_PROPERTY = re.compile(r"^[a-z0-9_]{1,100}$")
_SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_RESERVED_NAMES = {"hubspot", "salesforce", "usage", "demo", "scoring"}

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# What a source's field mapping may fill: every snapshot fact (declared once, in
# scoring.facts.Snapshot; metrics have their own keys) and these account fields.
ACCOUNT_TARGETS = ("plan", "segment", "purchased_on", "contact_name")
FACT_TARGETS = frozenset(f.name for f in SNAPSHOT_FACTS if f.kind is not FactKind.METRICS)
MAPPABLE = FACT_TARGETS | frozenset(ACCOUNT_TARGETS)


class _FieldMap(_Strict):
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

    @model_validator(mode="after")
    def _extra_facts(self) -> _FieldMap:
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


class ScheduleConfig(_Strict):
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


class HttpConfig(_Strict):
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


class JoinConfig(_Strict):
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


class EventMapping(_Strict):
    """One entry of a CRM's ``events:``: which properties make events of which kind.

    ``date`` alone: each new date is an event. ``count``: one event per step up of a running
    count. ``flag``: an event when a yes/no property says yes. A count or a flag is dated by
    ``date`` when it is mapped and set, else by the poll day. ``detail`` is the event's text.
    """

    _pattern: ClassVar[re.Pattern[str]] = _HS_PROPERTY
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
    _pattern = _HS_PROPERTY
    _what = "HubSpot property name (lowercase, digits, _)"


class SalesforceEventMapping(EventMapping):
    _pattern = _SF_FIELD
    _what = "Salesforce field API name"


def _event_names(value: Mapping[str, EventMapping]) -> None:
    bad = [name for name in value if not _EVENT_NAME.match(name)]
    if bad:
        raise ValueError(
            f"event mapping name(s) {', '.join(map(repr, bad))}: use lowercase letters, digits"
            " and _ (up to 40), starting with a letter; the name is part of each event's key"
        )


class HubSpotProperties(_FieldMap):
    """Which company property holds each fact (None: not kept in HubSpot). Any other fact of
    ``scoring.facts.Snapshot`` may be named too (``departments: departments_using``)."""

    _pattern = _HS_PROPERTY
    _what = "HubSpot property name (lowercase, digits, _)"

    seats_purchased: str | None = "seats_purchased"
    seats_used: str | None = None
    active_users: str | None = None
    plan: str | None = "plan"
    health: str | None = "health"
    nps: str | None = "nps"
    last_contact: str | None = "last_contact_date"
    headcount: str | None = "numberofemployees"
    annual_revenue: str | None = "annualrevenue"
    arr: str | None = None  # default: the renewal deal's amount
    segment: str | None = None
    contact_name: str | None = None
    open_urgent_tickets: str | None = None
    usage_id: str | None = None  # the usage API's id for this company

    @field_validator("*")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _HS_PROPERTY.match(value):
            raise ValueError(f"{value!r} is not a HubSpot property name (lowercase, digits, _)")
        return value


class HubSpotRenewals(_Strict):
    """Which deals are renewals: the earliest open one gives renewal date and amount."""

    enabled: bool = True
    type_property: str | None = "dealtype"
    type_values: tuple[str, ...] = ("existingbusiness",)
    closed_stages: tuple[str, ...] = ("closedwon", "closedlost")
    amount_is_arr: bool = True


def _values(value: tuple[str, ...], what: str) -> tuple[str, ...]:
    """A list of picklist values: stripped, none empty or absurdly long."""
    out = tuple(v.strip() for v in value)
    if any(not v or len(v) > 255 or ";" in v for v in out):
        raise ValueError(f"{what}: each value is one picklist value (1-255 characters, no ';')")
    return out


class HubSpotTickets(_Strict):
    """Tickets associated with companies (scope ``tickets``): the open ones whose priority is
    urgent feed the health gate; feature-request ones are FEATURE_REQUEST events."""

    enabled: bool = True
    urgent_priorities: tuple[str, ...] = ("URGENT",)  # hs_ticket_priority values
    feature_request_categories: tuple[str, ...] = ("FEATURE_REQUEST",)  # hs_ticket_category
    priority_property: str = "hs_ticket_priority"
    category_property: str = "hs_ticket_category"
    subject_property: str = "subject"

    @field_validator("priority_property", "category_property", "subject_property")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _HS_PROPERTY.match(value):
            raise ValueError(f"{value!r} is not a HubSpot property name (lowercase, digits, _)")
        return value

    @field_validator("urgent_priorities", "feature_request_categories")
    @classmethod
    def _listed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _values(value, "ticket values")


class HubSpotChampions(_Strict):
    """Contacts whose buying role (a multi-select: ``;``-joined) includes one of ``roles``,
    associated with a company, are its champions (scope ``crm.objects.contacts.read``)."""

    enabled: bool = True
    role_property: str = "hs_buying_role"
    roles: tuple[str, ...] = ("CHAMPION",)
    fill_contact_name: bool = True  # the account's contact, when no property maps one

    @field_validator("role_property")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _HS_PROPERTY.match(value):
            raise ValueError(f"{value!r} is not a HubSpot property name (lowercase, digits, _)")
        return value

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one role value (or set enabled: false)")
        return _values(value, "roles")


class HubSpotConfig(JoinConfig):
    enabled: bool = True
    properties: HubSpotProperties = HubSpotProperties()
    health_values: dict[str, HealthValue] = Field(default_factory=lambda: DEFAULT_HEALTH_VALUES)
    renewals: HubSpotRenewals = HubSpotRenewals()
    tickets: HubSpotTickets = HubSpotTickets()
    champions: HubSpotChampions = HubSpotChampions()
    page_size: int = Field(100, ge=1, le=100)
    search_page_size: int = Field(200, ge=1, le=200)
    search_result_cap: int = Field(10_000, ge=200, le=10_000)
    search_requests_per_second: float = Field(4.0, gt=0, le=1000)
    # The app's rolling request window before HubSpot's X-HubSpot-RateLimit-* headers say
    # otherwise (the first answer does): the lowest tier's 100 requests per 10 s.
    burst_limit: int = Field(100, ge=1, le=100_000)
    burst_window_seconds: float = Field(10.0, gt=0, le=3600)
    overlap_seconds: int = Field(300, ge=0, le=86_400)
    events: dict[str, HubSpotEventMapping] = Field(default_factory=dict)  # name -> mapping

    @field_validator("events")
    @classmethod
    def _events(cls, value: dict[str, HubSpotEventMapping]) -> dict[str, HubSpotEventMapping]:
        _event_names(value)
        return value

    @model_validator(mode="after")
    def _one_ticket_count(self) -> HubSpotConfig:
        if self.tickets.enabled and self.properties.targets().get("open_urgent_tickets"):
            raise ValueError(
                "open_urgent_tickets comes from tickets (tickets.enabled) and from the company"
                " property properties.open_urgent_tickets: keep one (tickets: {enabled: false},"
                " or remove the property)"
            )
        return self


class SalesforceFields(_FieldMap):
    """Which Account field holds each fact (API names; ``Owner.Email`` style allowed). Any
    other fact of ``scoring.facts.Snapshot`` may be named too (``departments: Departments__c``)."""

    _pattern = _SF_FIELD
    _what = "Salesforce field API name"

    domain: str | None = "Website"
    seats_purchased: str | None = "Seats_Purchased__c"
    seats_used: str | None = None
    active_users: str | None = None
    plan: str | None = "Plan__c"
    health: str | None = "Health__c"
    nps: str | None = "NPS__c"
    last_contact: str | None = "Last_Contact__c"
    headcount: str | None = "NumberOfEmployees"
    annual_revenue: str | None = "AnnualRevenue"
    arr: str | None = None
    segment: str | None = None
    contact_name: str | None = None
    open_urgent_tickets: str | None = None
    usage_id: str | None = None

    @field_validator("*")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _SF_FIELD.match(value):
            raise ValueError(f"{value!r} is not a Salesforce field API name")
        return value


class SalesforceCases(_Strict):
    """Cases of an Account: open ones (``IsClosed`` false) of an urgent ``Priority`` feed the
    health gate; those of a feature-request ``Type`` are FEATURE_REQUEST events."""

    enabled: bool = True
    urgent_priorities: tuple[str, ...] = ("High",)
    feature_request_types: tuple[str, ...] = ("Feature Request",)

    @field_validator("urgent_priorities", "feature_request_types")
    @classmethod
    def _listed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        value = _values(value, "case values")
        if any("'" in v or "\\" in v for v in value):
            raise ValueError("case values cannot contain quotes or backslashes")
        return value


class SalesforceChampions(_Strict):
    """Contacts in a champion role on an Account. ``AccountContactRole`` (Role, one value:
    every org has it) or ``AccountContactRelation`` (Roles, a multi-select: orgs with Contacts
    to Multiple Accounts). Salesforce ships no "Champion" role value: orgs add it (Setup >
    Contact Roles on Accounts), or name the value they use for it here."""

    enabled: bool = True
    object: Literal["AccountContactRole", "AccountContactRelation"] = "AccountContactRole"
    roles: tuple[str, ...] = ("Champion",)
    fill_contact_name: bool = True

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one role value (or set enabled: false)")
        value = _values(value, "roles")
        if any("'" in v or "\\" in v for v in value):
            raise ValueError("role values cannot contain quotes or backslashes")
        return value


class SalesforceConfig(JoinConfig):
    enabled: bool = True
    api_version: str = "v62.0"
    fields: SalesforceFields = SalesforceFields()
    cases: SalesforceCases = SalesforceCases()
    champions: SalesforceChampions = SalesforceChampions()
    health_values: dict[str, HealthValue] = Field(default_factory=lambda: DEFAULT_HEALTH_VALUES)
    renewal_filter: str | None = "Type = 'Renewal' AND IsClosed = false"
    amount_is_arr: bool = True
    query_batch_size: int = Field(2000, ge=200, le=2000)
    overlap_seconds: int = Field(300, ge=0, le=86_400)
    events: dict[str, SalesforceEventMapping] = Field(default_factory=dict)  # name -> mapping

    @field_validator("events")
    @classmethod
    def _events(cls, value: dict[str, SalesforceEventMapping]) -> dict[str, SalesforceEventMapping]:
        _event_names(value)
        return value

    @model_validator(mode="after")
    def _one_ticket_count(self) -> SalesforceConfig:
        if self.cases.enabled and self.fields.targets().get("open_urgent_tickets"):
            raise ValueError(
                "open_urgent_tickets comes from Cases (cases.enabled) and from the Account field"
                " fields.open_urgent_tickets: keep one (cases: {enabled: false}, or remove the"
                " field)"
            )
        return self

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value if value.startswith("v") else f"v{value}"
        if not re.fullmatch(r"v\d{2,3}\.\d", value):
            raise ValueError(f"{value!r} is not an API version like v62.0")
        return value

    @field_validator("renewal_filter")
    @classmethod
    def _filter(cls, value: str | None) -> str | None:
        if value is not None and (";" in value or "\n" in value):
            raise ValueError("renewal_filter is one SOQL condition (no ';' or newlines)")
        return value


class UsageMetric(_Strict):
    """One metered dimension: where its usage and its limit are in a record."""

    usage: str
    limit: str


class UsageFields(_FieldMap):
    """Dotted paths into a usage record (``stats.seats.used``); None: not present. Any other
    fact may be named too (``open_urgent_tickets: support.urgent_open``)."""

    _allowed = FACT_TARGETS  # usage records never create accounts
    _not_facts = frozenset({"account_id", "crm_id", "domain", "updated_at", "events"})

    account_id: str = "account_id"
    domain: str | None = "domain"
    crm_id: str | None = None
    seats_used: str | None = "seats_used"
    seats_purchased: str | None = "seats_purchased"
    active_users: str | None = "active_users"
    departments: str | None = None
    features_used: str | None = None
    features_available: str | None = None
    usage: str | None = "usage"  # an object of metric -> number
    limits: str | None = "limits"  # an object of metric -> number
    updated_at: str | None = "updated_at"
    events: str | None = "events"  # a list of {kind, date, detail, id}; None: not read


class UsageConfig(JoinConfig):
    creates_accounts: bool = False
    join_on: tuple[JoinKey, ...] = ("crm_id", "domain")
    enabled: bool = True
    path: str = "/accounts"
    fields: UsageFields = UsageFields()
    metrics: dict[str, UsageMetric] | None = None  # None: usage and limits as they come
    records_key: str = "data"
    next_cursor_key: str = "next_cursor"
    cursor_param: str = "cursor"
    limit_param: str = "limit"
    since_param: str | None = "updated_since"  # None: always read everything
    page_size: int = Field(1000, ge=1, le=10_000)
    overlap_seconds: int = Field(300, ge=0, le=86_400)

    @model_validator(mode="after")
    def _crm(self) -> UsageConfig:
        if "crm_id" in self.join_on and self.fields.crm_id is None:
            return self  # nothing to join on; the key is simply skipped
        if "crm_id" in self.join_on and not self.crm_source:
            raise ValueError("fields.crm_id is mapped: set crm_source (hubspot or salesforce)")
        return self


# A file's columns: the record's ids and keys, the account's fields, and every snapshot fact
# but the metrics (``usage.<metric>`` / ``limits.<metric>`` name those one by one).
FILE_TARGETS = frozenset(
    {
        "id",
        "name",
        "key",
        "domain",
        "owner_email",
        "owner_name",
        *ACCOUNT_TARGETS,
        "crm_id",
        "usage_id",
        "taken_on",
        *FACT_TARGETS,
    }
)


# An events file's columns (``contents: events``): the account each row is about (and the
# keys that find it), then the event. Only ``account``, ``kind`` and ``date`` are required.
EVENT_FILE_TARGETS = frozenset(
    {"account", "kind", "date", "detail", "event_id", "domain", "crm_id"}
)
EVENT_FILE_COLUMNS = {"account": "account", "kind": "kind", "date": "date", "detail": "detail"}


class FileSourceConfig(JoinConfig):
    """A CSV or JSON export (a list of objects, or JSON lines) read whenever it changes: of
    accounts and their facts, or (``contents: events``) of events, one a row."""

    name: str
    path: Path
    format: Literal["auto", "csv", "json", "jsonl"] = "auto"
    contents: Literal["accounts", "events"] = "accounts"
    columns: dict[str, str] = Field(default_factory=lambda: {"id": "id", "name": "name"})
    health_values: dict[str, HealthValue] = Field(default_factory=lambda: DEFAULT_HEALTH_VALUES)
    delimiter: str = Field(",", min_length=1, max_length=1)
    encoding: str = "utf-8"

    @model_validator(mode="before")
    @classmethod
    def _event_defaults(cls, data: Any) -> Any:
        """An events file's own defaults: its columns, no accounts created, joined by domain
        (and first by CRM id when ``crm_source`` names the CRM)."""
        if not isinstance(data, Mapping) or data.get("contents") != "events":
            return data
        out = dict(data)
        out.setdefault("columns", dict(EVENT_FILE_COLUMNS))
        out.setdefault("creates_accounts", False)
        if "join_on" not in out:
            out["join_on"] = ("crm_id", "domain") if out.get("crm_source") else ("domain",)
        return out

    @field_validator("name")
    @classmethod
    def _source_name(cls, value: str) -> str:
        if not _SOURCE_NAME.match(value) or value in _RESERVED_NAMES:
            raise ValueError(
                f"{value!r}: use lowercase letters, digits, - or _ and not one of"
                f" {', '.join(sorted(_RESERVED_NAMES))}"
            )
        return value

    @model_validator(mode="after")
    def _targets(self) -> FileSourceConfig:
        if self.contents == "events":
            return self._event_targets()
        value = self.columns
        bad = [
            k for k in value if k not in FILE_TARGETS and not k.startswith(("usage.", "limits."))
        ]
        if bad:
            raise ValueError(
                f"unknown target field(s) {', '.join(sorted(bad))}; use"
                f" {', '.join(sorted(FILE_TARGETS))}, usage.<metric> or limits.<metric>"
            )
        if "id" not in value:
            raise ValueError("columns must name the id column (id: <column>)")
        return self

    def _event_targets(self) -> FileSourceConfig:
        bad = sorted(k for k in self.columns if k not in EVENT_FILE_TARGETS)
        if bad:
            raise ValueError(
                f"unknown target field(s) {', '.join(bad)} for an events file; use"
                f" {', '.join(sorted(EVENT_FILE_TARGETS))}"
            )
        missing = [k for k in ("account", "kind", "date") if k not in self.columns]
        if missing:
            raise ValueError(
                f"an events file's columns must name the {', '.join(missing)} column(s)"
            )
        if self.creates_accounts:
            raise ValueError(
                "an events file cannot create accounts (its rows have no names): it joins the"
                " accounts a CRM or an accounts file made; remove creates_accounts"
            )
        if not self.join_on:
            raise ValueError(
                "an events file finds each row's account by join_on (domain, crm_id): name one"
            )
        return self


class DemoSourceConfig(_Strict):
    enabled: bool = False


class SourcesConfig(_Strict):
    order: tuple[str, ...] | None = None  # default: CRMs, files, demo, then usage
    schedule: ScheduleConfig = ScheduleConfig()
    http: HttpConfig = HttpConfig()
    hubspot: HubSpotConfig = HubSpotConfig()
    salesforce: SalesforceConfig = SalesforceConfig()
    usage: UsageConfig = UsageConfig()
    files: tuple[FileSourceConfig, ...] = ()
    demo: DemoSourceConfig = DemoSourceConfig()

    @model_validator(mode="after")
    def _names(self) -> SourcesConfig:
        names = [f.name for f in self.files]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"file source names must be unique: {', '.join(dupes)}")
        known = _RESERVED_NAMES - {"scoring"} | set(names)
        unknown = [n for n in self.order or () if n not in known]
        if unknown:
            raise ValueError(
                f"order names unknown source(s) {', '.join(unknown)}; known:"
                f" {', '.join(sorted(known))}"
            )
        return self
