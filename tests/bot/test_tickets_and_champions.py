"""Tickets, Cases and champion contacts, end to end over real HTTP (issue 12, parts 4 and 5):
the fake HubSpot's tickets (pipelines, v4 associations) and contacts (buying roles, archived,
unlinked), the fake Salesforce's Cases and AccountContactRoles -> poll -> database -> the
health gate, the feature-request signal and trigger, and champion events.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

import db.accounts
import db.facts
from db.engine import SessionFactory
from db.models import AccountEvent
from scoring.engine import assess
from scoring.facts import EventKind
from scoring.gate import GateCode
from scoring.triggers import TriggerKind
from sources.crm_config import HubSpotConfig, SalesforceConfig
from sources.hubspot import HubSpotSource
from sources.salesforce import SalesforceSource
from tests.bot.crm_e2e import CONFIG, D0, MODIFIED, company, count, episode_kinds, facts_of, run
from tests.fakes import FakeHubSpot, FakeSalesforce
from tests.fakes.salesforce import sf_id
from tests.sources.conftest import FAST, HS_TOKEN, SF_TOKEN


def hs_source(fake: FakeHubSpot, **extra: Any) -> HubSpotSource:
    config = HubSpotConfig.model_validate(
        {"search_requests_per_second": 1000, "overlap_seconds": 0, **extra}
    )
    return HubSpotSource(url=fake.url, token=HS_TOKEN, config=config, http=FAST)


def sf_source(fake: FakeSalesforce, **extra: Any) -> SalesforceSource:
    config = SalesforceConfig.model_validate({"overlap_seconds": 0, **extra})
    return SalesforceSource(instance_url=fake.url, token=SF_TOKEN, config=config, http=FAST)


def events(factory: SessionFactory, source: str, external_id: str) -> list[tuple[Any, ...]]:
    return [(e.kind, e.on, e.detail) for e in facts_of(factory, source, external_id).events]


def urgent(factory: SessionFactory, source: str, external_id: str) -> int | None:
    latest = facts_of(factory, source, external_id).latest
    return latest.open_urgent_tickets if latest is not None else None


def gate_codes(factory: SessionFactory, source: str, external_id: str, day: date) -> set[Any]:
    facts = facts_of(factory, source, external_id)
    return {r.code for r in assess(facts, day, CONFIG.scoring).gate.reasons}


# --- HubSpot tickets ------------------------------------------------------------------------


def test_an_open_urgent_ticket_holds_the_pitch_until_a_later_poll_reads_it_closed(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    company(hubspot, 1)
    hubspot.add_ticket(
        901,
        {"subject": "Exports fail", "hs_pipeline_stage": "1", "hs_ticket_priority": "URGENT"},
        updated_at=MODIFIED,
        company_id=1,
    )
    hubspot.add_ticket(  # urgent but closed: not counted
        902,
        {"subject": "Login", "hs_pipeline_stage": "4", "hs_ticket_priority": "URGENT"},
        updated_at=MODIFIED,
        company_id=1,
    )
    hubspot.add_ticket(  # open, not urgent
        903,
        {"subject": "Colours", "hs_pipeline_stage": "2", "hs_ticket_priority": "LOW"},
        updated_at=MODIFIED,
        company_id=1,
    )
    run(factory, D0, hs_source(hubspot))
    assert urgent(factory, "hubspot", "1") == 1
    assert GateCode.URGENT_TICKET in gate_codes(factory, "hubspot", "1", D0)

    hubspot.set_properties("tickets", 901, hs_pipeline_stage="4")  # closed
    again = run(factory, D0 + timedelta(days=1), hs_source(hubspot))
    assert again.sources[0].fetched >= 1
    assert urgent(factory, "hubspot", "1") == 0
    assert GateCode.URGENT_TICKET not in gate_codes(factory, "hubspot", "1", D0 + timedelta(1))


def test_a_stage_without_ticket_state_falls_back_to_hs_is_closed(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    hubspot.ticket_stages["9"] = ("Custom", None)
    company(hubspot, 1)
    for tid, closed in ((911, "true"), (912, "false"), (913, None)):
        props = {"hs_pipeline_stage": "9", "hs_ticket_priority": "URGENT", "hs_is_closed": closed}
        hubspot.add_ticket(tid, props, updated_at=MODIFIED, company_id=1)
    run(factory, D0, hs_source(hubspot))
    assert urgent(factory, "hubspot", "1") == 2  # open, and "unknown: open"


def test_urgent_priorities_are_configurable(factory: SessionFactory, hubspot: FakeHubSpot) -> None:
    company(hubspot, 1)
    for tid, priority in ((921, "HIGH"), (922, "URGENT"), (923, "MEDIUM")):
        props = {"hs_pipeline_stage": "1", "hs_ticket_priority": priority}
        hubspot.add_ticket(tid, props, updated_at=MODIFIED, company_id=1)
    run(factory, D0, hs_source(hubspot, tickets={"urgent_priorities": ["URGENT", "HIGH"]}))
    assert urgent(factory, "hubspot", "1") == 2


def test_a_feature_request_ticket_is_one_event_with_its_subject_and_fires_the_trigger(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    company(hubspot, 1)
    created = datetime(2026, 11, 18, 9, 12, tzinfo=UTC)
    hubspot.add_ticket(
        931,
        {
            "subject": "Need SSO for 200 more seats",
            "hs_pipeline_stage": "4",
            "hs_ticket_priority": "HIGH",
            "hs_ticket_category": "FEATURE_REQUEST",
        },
        updated_at=created,
        created_at=created,
        company_id=1,
    )
    run(factory, D0, hs_source(hubspot))
    assert events(factory, "hubspot", "1") == [
        (EventKind.FEATURE_REQUEST, date(2026, 11, 18), "Need SSO for 200 more seats")
    ]
    assert episode_kinds(factory)[TriggerKind.FEATURE_REQUEST.value] == 1

    hubspot.set_properties("tickets", 931, content="more detail")  # modified: read again
    run(factory, D0 + timedelta(days=1), hs_source(hubspot))
    assert count(factory, AccountEvent) == 1
    assert episode_kinds(factory)[TriggerKind.FEATURE_REQUEST.value] == 1


def test_repolling_unchanged_tickets_and_contacts_creates_no_events(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    ids = [str(20_000_000_001 + i) for i in range(15)]
    for cid in ids:
        company(hubspot, int(cid))
    made = hubspot.populate_signals(ids)
    run(factory, D0, hs_source(hubspot))
    first = count(factory, AccountEvent)
    assert first == len(made["feature"]) + len(made["champions"])
    run(factory, D0 + timedelta(days=1), hs_source(hubspot))
    run(factory, D0 + timedelta(days=2), hs_source(hubspot))
    assert count(factory, AccountEvent) == first
    assert urgent(factory, "hubspot", ids[0]) == 1


def test_tickets_can_be_turned_off(factory: SessionFactory, hubspot: FakeHubSpot) -> None:
    company(hubspot, 1)
    hubspot.add_ticket(
        941,
        {"hs_pipeline_stage": "1", "hs_ticket_priority": "URGENT"},
        updated_at=MODIFIED,
        company_id=1,
    )
    run(factory, D0, hs_source(hubspot, tickets={"enabled": False}))
    assert urgent(factory, "hubspot", "1") is None
    assert not any("tickets" in r.path for r in hubspot.requests)


# --- HubSpot champions ----------------------------------------------------------------------


def champion(fake: FakeHubSpot, pid: int, company_id: int, role: str = "CHAMPION") -> None:
    fake.add_contact(
        pid,
        {"firstname": "Dana", "lastname": f"Lee{pid}", "hs_buying_role": role},
        updated_at=MODIFIED,
        company_ids=[company_id],
    )


def kinds(factory: SessionFactory, source: str, ext: str) -> list[tuple[EventKind, str]]:
    return [(k, detail) for k, _, detail in events(factory, source, ext)]


@pytest.mark.parametrize("how", ["role", "archived", "unlinked"])
def test_a_champion_leaving_is_one_champion_left_event(
    factory: SessionFactory, hubspot: FakeHubSpot, how: str
) -> None:
    company(hubspot, 1)
    champion(hubspot, 301, 1, role="END_USER;CHAMPION")
    champion(hubspot, 302, 1, role="EVALUATOR")  # not a champion
    run(factory, D0, hs_source(hubspot))
    assert kinds(factory, "hubspot", "1") == [(EventKind.CHAMPION_ADDED, "Dana Lee301")]

    if how == "role":
        hubspot.set_properties("contacts", 301, hs_buying_role="END_USER")
    elif how == "archived":
        hubspot.archive("contacts", 301)
    else:
        hubspot.unlink("contacts", 301, "companies", 1)
    run(factory, D0 + timedelta(days=1), hs_source(hubspot))
    run(factory, D0 + timedelta(days=2), hs_source(hubspot))
    assert kinds(factory, "hubspot", "1") == [
        (EventKind.CHAMPION_ADDED, "Dana Lee301"),
        (EventKind.CHAMPION_LEFT, "Dana Lee301"),
    ]
    assert GateCode.CHAMPION_GONE in gate_codes(factory, "hubspot", "1", D0 + timedelta(days=2))


def test_a_new_champion_is_champion_added_and_names_the_contact(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    company(hubspot, 1)
    run(factory, D0, hs_source(hubspot))
    assert events(factory, "hubspot", "1") == []
    champion(hubspot, 303, 1)
    run(factory, D0 + timedelta(days=1), hs_source(hubspot))
    assert events(factory, "hubspot", "1") == [
        (EventKind.CHAMPION_ADDED, D0 + timedelta(days=1), "Dana Lee303")
    ]
    with factory() as session:
        account = db.accounts.account_by_external_id(session, "hubspot", "1")
        assert account is not None and account.contact_name == "Dana Lee303"


def test_the_archived_listing_serves_only_archived_contacts(hubspot: FakeHubSpot) -> None:
    import httpx

    company(hubspot, 1)
    champion(hubspot, 304, 1)
    champion(hubspot, 305, 1)
    hubspot.archive("contacts", 305, when=MODIFIED)
    headers = {"Authorization": f"Bearer {HS_TOKEN}"}
    url = f"{hubspot.url}/crm/v3/objects/contacts"
    body = httpx.get(url, params={"archived": "true"}, headers=headers).json()
    assert [(r["id"], r["archived"]) for r in body["results"]] == [("305", True)]
    assert body["results"][0]["archivedAt"].startswith("2026-11-01")
    live = httpx.get(url, headers=headers).json()
    assert [r["id"] for r in live["results"]] == ["304"]


# --- Salesforce Cases and contact roles -----------------------------------------------------


def sf_account(fake: FakeSalesforce, n: int) -> str:
    aid = sf_id("Account", n)
    fake.add_account(aid, {"Name": f"Account {n}", "Seats_Purchased__c": 100}, modstamp=MODIFIED)
    return aid


def test_salesforce_cases_feed_the_gate_and_the_feature_request_signal(
    factory: SessionFactory, salesforce: FakeSalesforce
) -> None:
    aid = sf_account(salesforce, 1)
    urgent_case, request = sf_id("Case", 1), sf_id("Case", 2)
    salesforce.add_case(
        urgent_case,
        {"AccountId": aid, "Subject": "Down", "Priority": "High", "IsClosed": False},
        modstamp=MODIFIED,
    )
    salesforce.add_case(
        request,
        {
            "AccountId": aid,
            "Subject": "Audit log export",
            "Priority": "Low",
            "Type": "Feature Request",
            "IsClosed": True,
            "CreatedDate": datetime(2026, 11, 19, 8, tzinfo=UTC),
        },
        modstamp=MODIFIED,
    )
    run(factory, D0, sf_source(salesforce))
    assert urgent(factory, "salesforce", aid) == 1
    assert GateCode.URGENT_TICKET in gate_codes(factory, "salesforce", aid, D0)
    assert events(factory, "salesforce", aid) == [
        (EventKind.FEATURE_REQUEST, date(2026, 11, 19), "Audit log export")
    ]

    salesforce.update(urgent_case, IsClosed=True, Status="Closed")
    run(factory, D0 + timedelta(days=1), sf_source(salesforce))
    run(factory, D0 + timedelta(days=2), sf_source(salesforce))
    assert urgent(factory, "salesforce", aid) == 0
    assert count(factory, AccountEvent) == 1


@pytest.mark.parametrize("how", ["role", "deleted"])
def test_salesforce_champion_roles_added_and_left(
    factory: SessionFactory, salesforce: FakeSalesforce, how: str
) -> None:
    aid = sf_account(salesforce, 1)
    contact, role = sf_id("Contact", 1), sf_id("AccountContactRole", 1)
    salesforce.add_contact(contact, {"AccountId": aid, "FirstName": "Sam", "LastName": "Ode"})
    salesforce.add_contact_role(role, {"AccountId": aid, "ContactId": contact, "Role": "Champion"})
    run(factory, D0, sf_source(salesforce))
    run(factory, D0 + timedelta(days=1), sf_source(salesforce))
    assert kinds(factory, "salesforce", aid) == [(EventKind.CHAMPION_ADDED, "Sam Ode")]

    if how == "role":
        salesforce.update(role, Role="Evaluator")
    else:
        salesforce.delete(contact)
    run(factory, D0 + timedelta(days=2), sf_source(salesforce))
    run(factory, D0 + timedelta(days=3), sf_source(salesforce))
    assert kinds(factory, "salesforce", aid) == [
        (EventKind.CHAMPION_ADDED, "Sam Ode"),
        (EventKind.CHAMPION_LEFT, "Sam Ode"),
    ]


def test_salesforce_account_contact_relation_roles_are_a_multi_select(
    factory: SessionFactory, salesforce: FakeSalesforce
) -> None:
    aid = sf_account(salesforce, 1)
    for n, roles, active in ((1, "Evaluator;Champion", True), (2, "Champion", False)):
        contact = sf_id("Contact", n)
        salesforce.add_contact(contact, {"AccountId": aid, "LastName": f"Person{n}"})
        salesforce.add_contact_role(
            sf_id("AccountContactRelation", n),
            {"AccountId": aid, "ContactId": contact, "Roles": roles, "IsActive": active},
        )
    run(factory, D0, sf_source(salesforce, champions={"object": "AccountContactRelation"}))
    assert kinds(factory, "salesforce", aid) == [(EventKind.CHAMPION_ADDED, "Person1")]


def test_populated_salesforce_signals_repoll_without_new_events(
    factory: SessionFactory, salesforce: FakeSalesforce
) -> None:
    ids = salesforce.populate(15, seed=3)
    made = salesforce.populate_signals(ids)
    run(factory, D0, sf_source(salesforce))
    first = count(factory, AccountEvent)
    assert first == len(made["feature"]) + len(made["champions"])
    run(factory, D0 + timedelta(days=1), sf_source(salesforce))
    assert count(factory, AccountEvent) == first
    assert urgent(factory, "salesforce", ids[0]) == 1
