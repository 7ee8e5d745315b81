"""The ``sources:`` section of the config file: field mappings, join keys, schedule, HTTP.

Every key has a default that matches the documented wire shapes (and the local fakes), so a
config file only names what differs in a customer's CRM. Validation is strict: an unknown key
or an impossible value stops the program at start-up with the key named.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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


class HubSpotProperties(_Strict):
    """Which company property holds each fact (None: not kept in HubSpot)."""

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


class HubSpotConfig(JoinConfig):
    enabled: bool = True
    properties: HubSpotProperties = HubSpotProperties()
    health_values: dict[str, HealthValue] = Field(default_factory=lambda: DEFAULT_HEALTH_VALUES)
    renewals: HubSpotRenewals = HubSpotRenewals()
    page_size: int = Field(100, ge=1, le=100)
    search_page_size: int = Field(200, ge=1, le=200)
    search_result_cap: int = Field(10_000, ge=200, le=10_000)
    search_requests_per_second: float = Field(4.0, gt=0, le=1000)
    # The app's rolling request window before HubSpot's X-HubSpot-RateLimit-* headers say
    # otherwise (the first answer does): the lowest tier's 100 requests per 10 s.
    burst_limit: int = Field(100, ge=1, le=100_000)
    burst_window_seconds: float = Field(10.0, gt=0, le=3600)
    overlap_seconds: int = Field(300, ge=0, le=86_400)


class SalesforceFields(_Strict):
    """Which Account field holds each fact (API names; ``Owner.Email`` style allowed)."""

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


class SalesforceConfig(JoinConfig):
    enabled: bool = True
    api_version: str = "v62.0"
    fields: SalesforceFields = SalesforceFields()
    health_values: dict[str, HealthValue] = Field(default_factory=lambda: DEFAULT_HEALTH_VALUES)
    renewal_filter: str | None = "Type = 'Renewal' AND IsClosed = false"
    amount_is_arr: bool = True
    query_batch_size: int = Field(2000, ge=200, le=2000)
    overlap_seconds: int = Field(300, ge=0, le=86_400)

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


class UsageFields(_Strict):
    """Dotted paths into a usage record (``stats.seats.used``); None: not present."""

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


FILE_TARGETS = frozenset(
    {
        "id",
        "name",
        "key",
        "domain",
        "owner_email",
        "owner_name",
        "segment",
        "plan",
        "purchased_on",
        "contact_name",
        "crm_id",
        "usage_id",
        "taken_on",
        "seats_used",
        "seats_purchased",
        "active_users",
        "departments",
        "headcount",
        "annual_revenue",
        "health",
        "nps",
        "open_urgent_tickets",
        "last_contact_on",
        "renewal_on",
        "arr",
        "features_used",
        "features_available",
    }
)


class FileSourceConfig(JoinConfig):
    """A CSV or JSON export (a list of objects, or JSON lines) read whenever it changes."""

    name: str
    path: Path
    format: Literal["auto", "csv", "json", "jsonl"] = "auto"
    columns: dict[str, str] = Field(default_factory=lambda: {"id": "id", "name": "name"})
    health_values: dict[str, HealthValue] = Field(default_factory=lambda: DEFAULT_HEALTH_VALUES)
    delimiter: str = Field(",", min_length=1, max_length=1)
    encoding: str = "utf-8"

    @field_validator("name")
    @classmethod
    def _source_name(cls, value: str) -> str:
        if not _SOURCE_NAME.match(value) or value in _RESERVED_NAMES:
            raise ValueError(
                f"{value!r}: use lowercase letters, digits, - or _ and not one of"
                f" {', '.join(sorted(_RESERVED_NAMES))}"
            )
        return value

    @field_validator("columns")
    @classmethod
    def _targets(cls, value: dict[str, str]) -> dict[str, str]:
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
        return value


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
