"""Dated facts and baselines at purchase from the CRM, end to end over real HTTP: the fake
HubSpot / Salesforce -> poll -> database -> scoring (issue 12, parts 1-2).

An NPS keeps the day it was given (the survey date the CRM keeps, else the first day its value
was seen), however many later snapshots repeat it; growth is measured from the values at
purchase the CRM keeps, and the evidence says which baseline it used.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import Snapshot
from scoring.evidence import SignalKey
from sources.crm_config import HubSpotConfig, HubSpotProperties, SalesforceConfig, SalesforceFields
from sources.hubspot import HubSpotSource
from sources.salesforce import SalesforceSource
from tests.bot.crm_e2e import D0, acme, company, count, epoch_ms, facts_of, run, signals
from tests.fakes import FakeHubSpot, FakeSalesforce
from tests.sources.conftest import FAST, HS_TOKEN, SF_TOKEN

PURCHASED = date(2025, 10, 16)
DATED = HubSpotProperties.model_validate(
    {
        "nps_on": "nps_survey_date",
        "purchased_on": "contract_start_date",
        "departments": "departments_count",
        "active_users": "active_users",
        "departments_at_purchase": "departments_at_purchase",
        "active_users_at_purchase": "active_users_at_purchase",
        "headcount_at_purchase": "employees_at_purchase",
        "seats_at_purchase": "seats_at_purchase",
    }
)


def hs_source(fake: FakeHubSpot, properties: HubSpotProperties = DATED) -> HubSpotSource:
    config = HubSpotConfig(
        properties=properties, search_requests_per_second=1000, overlap_seconds=0
    )
    return HubSpotSource(url=fake.url, token=HS_TOKEN, config=config, http=FAST)


def test_an_old_nps_stays_old_across_unrelated_changes(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    surveyed = D0 - timedelta(days=61)
    company(hubspot, 1, nps=10, nps_survey_date=surveyed.isoformat())  # 'YYYY-MM-DD'
    company(hubspot, 2, nps=9, nps_survey_date=epoch_ms(D0 - timedelta(days=20)))  # epoch ms
    run(factory, D0, hs_source(hubspot))
    for n, day in enumerate((D0 + timedelta(days=1), D0 + timedelta(days=30)), start=1):
        hubspot.set_properties("companies", 1, seats_purchased=100 + n)  # an unrelated change
        run(factory, day, hs_source(hubspot))
        old = facts_of(factory, "hubspot", "1")
        assert SignalKey.ADVOCACY not in signals(old, day)
        assert old.latest_nps() == (10, surveyed)  # its evidence date is the survey date
    assert [s.nps_on for s in old.history] == [surveyed] * 3  # one row per change, all dated
    recent = signals(facts_of(factory, "hubspot", "2"), D0)[SignalKey.ADVOCACY]
    assert (recent.evidence, recent.observed_on) == ("NPS 9 on 2 Nov 2026", date(2026, 11, 2))


def test_without_a_survey_date_an_nps_is_dated_the_day_its_value_first_changed(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    undated = HubSpotProperties()  # no survey-date property in this portal
    company(hubspot, 1, nps=10)
    run(factory, D0, hs_source(hubspot, undated))
    first = signals(facts_of(factory, "hubspot", "1"), D0)[SignalKey.ADVOCACY]
    assert first.evidence == "NPS 10 on 22 Nov 2026"  # first seen today

    later = D0 + timedelta(days=61)
    hubspot.set_properties("companies", 1, seats_purchased=120)  # not the NPS
    run(factory, later, hs_source(hubspot, undated))
    facts = facts_of(factory, "hubspot", "1")
    assert len(facts.history) == 2 and facts.latest_nps() == (10, D0)
    assert SignalKey.ADVOCACY not in signals(facts, later)  # 61 days old, not re-dated

    changed = later + timedelta(days=1)
    hubspot.set_properties("companies", 1, nps=9)
    run(factory, changed, hs_source(hubspot, undated))
    fresh = signals(facts_of(factory, "hubspot", "1"), changed)[SignalKey.ADVOCACY]
    assert (fresh.evidence, fresh.observed_on) == ("NPS 9 on 23 Jan 2027", changed)


def test_repolling_unchanged_dated_facts_creates_nothing(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    company(
        hubspot,
        1,
        nps=9,
        nps_survey_date="2026-11-01",
        contract_start_date=epoch_ms(PURCHASED),
        departments_count=4,
        departments_at_purchase=1,
        active_users=66,
        active_users_at_purchase=60,
        employees_at_purchase=700,
        seats_at_purchase=80,
    )
    run(factory, D0, hs_source(hubspot))
    rows = count(factory, Snapshot)
    hubspot.touch([1])  # modified, nothing changed: the search reads it again
    again = run(factory, D0 + timedelta(days=1), hs_source(hubspot))
    assert again.sources[0].fetched == 1
    assert again.evaluated == 0 and count(factory, Snapshot) == rows == 1
    with factory() as session:
        row = session.exec(select(Snapshot)).one()
    assert (row.nps_on, row.departments_at_purchase, row.seats_at_purchase) == (
        date(2026, 11, 1),
        1,
        80,
    )


def test_growth_since_purchase_only_when_the_baseline_is_from_purchase(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    company(  # the CRM keeps what they had at purchase, and when that was
        hubspot,
        1,
        contract_start_date=PURCHASED.isoformat(),
        departments_count=4,
        departments_at_purchase=1,
        numberofemployees=930,
        employees_at_purchase=700,
    )
    company(hubspot, 2, active_users=66, active_users_at_purchase=60)  # no purchase date
    company(hubspot, 3, departments_count=2, numberofemployees=100)  # no baselines at all
    run(factory, D0, hs_source(hubspot))
    one = signals(facts_of(factory, "hubspot", "1"), D0)
    assert one[SignalKey.TEAM_EXPANDED].evidence == (
        "4 departments use it, up from 1 since purchase (16 Oct 2025)"
    )
    assert one[SignalKey.COMPANY_GROWTH].evidence == (
        "930 employees, up from 700 since purchase (16 Oct 2025)"
    )
    two = signals(facts_of(factory, "hubspot", "2"), D0)[SignalKey.TEAM_EXPANDED]
    assert two.evidence == "66 active users, up 10% from 60 since purchase"
    assert signals(facts_of(factory, "hubspot", "3"), D0) == {}  # one snapshot: nothing yet

    later = D0 + timedelta(days=40)
    hubspot.set_properties("companies", 3, departments_count=3, numberofemployees=120)
    run(factory, later, hs_source(hubspot))
    three = signals(facts_of(factory, "hubspot", "3"), later)
    assert three[SignalKey.TEAM_EXPANDED].evidence == (
        "3 departments use it, up from 2 since first seen on 22 Nov 2026"
    )
    assert three[SignalKey.COMPANY_GROWTH].evidence == (
        "120 employees, up from 100 since first seen on 22 Nov 2026"
    )


def test_salesforce_maps_the_survey_date_and_the_baselines(
    factory: SessionFactory, salesforce: FakeSalesforce
) -> None:
    account = acme(
        salesforce,
        NPS__c=10,
        NPS_Survey_Date__c=D0 - timedelta(days=61),
        Contract_Start__c=PURCHASED,
        NumberOfEmployees=930,
        Employees_At_Purchase__c=700,
        Departments__c=3,
        Departments_At_Purchase__c=3,
    )
    fields = SalesforceFields.model_validate(
        {
            "nps_on": "NPS_Survey_Date__c",
            "purchased_on": "Contract_Start__c",
            "departments": "Departments__c",
            "headcount_at_purchase": "Employees_At_Purchase__c",
            "departments_at_purchase": "Departments_At_Purchase__c",
        }
    )

    def source() -> SalesforceSource:
        config = SalesforceConfig(fields=fields, overlap_seconds=0)
        return SalesforceSource(
            instance_url=salesforce.url, token=SF_TOKEN, config=config, http=FAST
        )

    run(factory, D0, source())
    salesforce.update(account, Seats_Purchased__c=120)  # an unrelated change
    later = D0 + timedelta(days=1)
    run(factory, later, source())
    facts = facts_of(factory, "salesforce", account)
    found = signals(facts, later)
    assert len(facts.history) == 2 and facts.purchased_on == PURCHASED
    assert SignalKey.ADVOCACY not in found and facts.latest_nps() == (10, D0 - timedelta(days=61))
    assert found[SignalKey.COMPANY_GROWTH].evidence == (
        "930 employees, up from 700 since purchase (16 Oct 2025)"
    )
    assert SignalKey.TEAM_EXPANDED not in found  # 3 departments, as at purchase
    with factory() as session:
        rows = session.exec(select(Snapshot).order_by(col(Snapshot.taken_on))).all()
    assert [r.nps_on for r in rows] == [D0 - timedelta(days=61)] * 2
