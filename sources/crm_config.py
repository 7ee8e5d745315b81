"""The HubSpot and Salesforce sections of ``sources:``: which properties and fields hold each
fact, events mappings, tickets and Cases, champions, renewals."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from sources.config_base import (
    DEFAULT_HEALTH_VALUES,
    HS_PROPERTY,
    SF_FIELD,
    FieldMap,
    HealthValue,
    HubSpotEvents,
    HubSpotProperty,
    JoinConfig,
    SalesforceEvents,
    Strict,
    picklist_values,
    role_values,
    soql_safe,
)


class HubSpotProperties(FieldMap):
    """Which company property holds each fact (None: not kept in HubSpot). Any other fact of
    ``scoring.facts.Snapshot`` may be named too (``departments: departments_using``)."""

    _pattern = HS_PROPERTY
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


class HubSpotRenewals(Strict):
    """Which deals are renewals: the earliest open one gives renewal date and amount."""

    enabled: bool = True
    type_property: str | None = "dealtype"
    type_values: tuple[str, ...] = ("existingbusiness",)
    closed_stages: tuple[str, ...] = ("closedwon", "closedlost")
    amount_is_arr: bool = True


class HubSpotTickets(Strict):
    """Tickets associated with companies (scope ``tickets``): the open ones whose priority is
    urgent feed the health gate; feature-request ones are FEATURE_REQUEST events."""

    enabled: bool = True
    urgent_priorities: tuple[str, ...] = ("URGENT",)  # hs_ticket_priority values
    feature_request_categories: tuple[str, ...] = ("FEATURE_REQUEST",)  # hs_ticket_category
    priority_property: HubSpotProperty = "hs_ticket_priority"
    category_property: HubSpotProperty = "hs_ticket_category"
    subject_property: HubSpotProperty = "subject"

    @field_validator("urgent_priorities", "feature_request_categories")
    @classmethod
    def _listed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return picklist_values(value, "ticket values")


class HubSpotChampions(Strict):
    """Contacts whose buying role (a multi-select: ``;``-joined) includes one of ``roles``,
    associated with a company, are its champions (scope ``crm.objects.contacts.read``)."""

    enabled: bool = True
    role_property: HubSpotProperty = "hs_buying_role"
    roles: Annotated[tuple[str, ...], AfterValidator(role_values)] = ("CHAMPION",)
    fill_contact_name: bool = True  # the account's contact, when no property maps one


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
    events: HubSpotEvents = Field(default_factory=dict)  # name -> mapping

    @model_validator(mode="after")
    def _one_ticket_count(self) -> HubSpotConfig:
        if self.tickets.enabled and self.properties.targets().get("open_urgent_tickets"):
            raise ValueError(
                "open_urgent_tickets comes from tickets (tickets.enabled) and from the company"
                " property properties.open_urgent_tickets: keep one (tickets: {enabled: false},"
                " or remove the property)"
            )
        return self


class SalesforceFields(FieldMap):
    """Which Account field holds each fact (API names; ``Owner.Email`` style allowed). Any
    other fact of ``scoring.facts.Snapshot`` may be named too (``departments: Departments__c``)."""

    _pattern = SF_FIELD
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


class SalesforceCases(Strict):
    """Cases of an Account: open ones (``IsClosed`` false) of an urgent ``Priority`` feed the
    health gate; those of a feature-request ``Type`` are FEATURE_REQUEST events."""

    enabled: bool = True
    urgent_priorities: tuple[str, ...] = ("High",)
    feature_request_types: tuple[str, ...] = ("Feature Request",)

    @field_validator("urgent_priorities", "feature_request_types")
    @classmethod
    def _listed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return soql_safe(picklist_values(value, "case values"), "case values")


def _soql_roles(value: tuple[str, ...]) -> tuple[str, ...]:
    return soql_safe(value, "role values")


class SalesforceChampions(Strict):
    """Contacts in a champion role on an Account. ``AccountContactRole`` (Role, one value:
    every org has it) or ``AccountContactRelation`` (Roles, a multi-select: orgs with Contacts
    to Multiple Accounts). Salesforce ships no "Champion" role value: orgs add it (Setup >
    Contact Roles on Accounts), or name the value they use for it here."""

    enabled: bool = True
    object: Literal["AccountContactRole", "AccountContactRelation"] = "AccountContactRole"
    roles: Annotated[tuple[str, ...], AfterValidator(role_values), AfterValidator(_soql_roles)] = (
        "Champion",
    )
    fill_contact_name: bool = True


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
    events: SalesforceEvents = Field(default_factory=dict)  # name -> mapping

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
