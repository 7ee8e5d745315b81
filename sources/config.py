"""The ``sources:`` section of the config file: field mappings, join keys, schedule, HTTP.

Every key has a default that matches the documented wire shapes (and the local fakes), so a
config file only names what differs in a customer's CRM. Validation is strict: an unknown key
or an impossible value stops the program at start-up with the key named.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from sources.config_base import (
    ACCOUNT_TARGETS,
    DEFAULT_HEALTH_VALUES,
    FACT_TARGETS,
    RESERVED_NAMES,
    SOURCE_NAME,
    FieldMap,
    HealthValue,
    HttpConfig,
    JoinConfig,
    JoinKey,
    ScheduleConfig,
    Strict,
)
from sources.crm_config import HubSpotConfig, SalesforceConfig


class UsageMetric(Strict):
    """One metered dimension: where its usage and its limit are in a record."""

    usage: str
    limit: str


class UsageFields(FieldMap):
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
        if not SOURCE_NAME.match(value) or value in RESERVED_NAMES:
            raise ValueError(
                f"{value!r}: use lowercase letters, digits, - or _ and not one of"
                f" {', '.join(sorted(RESERVED_NAMES))}"
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


class DemoSourceConfig(Strict):
    enabled: bool = False


class SourcesConfig(Strict):
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
        known = RESERVED_NAMES - {"scoring"} | set(names)
        unknown = [n for n in self.order or () if n not in known]
        if unknown:
            raise ValueError(
                f"order names unknown source(s) {', '.join(unknown)}; known:"
                f" {', '.join(sorted(known))}"
            )
        return self
