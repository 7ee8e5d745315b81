"""Events from source data, end to end over real HTTP: CRM properties mapped under
``events:`` (the fake HubSpot's companies, the fake Salesforce's Accounts), the usage API's
``events`` lists, and an events file -> poll -> database -> scoring and alerts (issue 12,
parts 3 and 6).

Each kind of mapping (a date; a date with a detail; a running count; a yes/no flag) makes
events of its kind and day; reading unchanged data again makes none, and no alert; a changed
date makes exactly one; a count that climbs by two makes two. The outcome, feature-request,
praise and initiative signals and the success, onboarding, initiative and feature-request
triggers then come from the source data alone.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from db.engine import SessionFactory
from db.models import AccountEvent, Alert, OutboxMessage
from scoring.bands import Band
from scoring.engine import assess
from scoring.evidence import SignalKey
from scoring.facts import EventKind
from scoring.gate import GateCode
from scoring.triggers import TriggerKind
from sources.config import FileSourceConfig, UsageConfig
from sources.crm_config import HubSpotConfig, SalesforceConfig
from sources.files import FileSource
from sources.hubspot import HubSpotSource
from sources.salesforce import SalesforceSource
from sources.usage_api import UsageAPISource
from tests.bot.crm_e2e import (
    CONFIG,
    D0,
    MODIFIED,
    acme,
    company,
    count,
    episode_kinds,
    epoch_ms,
    facts_of,
    run,
    signals,
)
from tests.fakes import FakeHubSpot, FakeSalesforce, FakeUsageAPI
from tests.sources.conftest import FAST, HS_TOKEN, SF_TOKEN, USAGE_TOKEN

EVENTS: dict[str, Any] = {
    "last_win": {"kind": "Win", "date": "last_win_date", "detail": "last_win_story"},
    "praise": {"kind": "praise", "date": "praise_date"},
    "initiative": {"kind": "new initiative", "date": "initiative_date", "detail": "initiative"},
    "requests": {
        "kind": "feature request",
        "count": "feature_requests",
        "date": "last_feature_request_date",
        "detail": "last_feature_request",
    },
    "onboarded": {"kind": "onboarding complete", "flag": "onboarding_complete"},
    "champion_left": {"kind": "champion_left", "date": "champion_left_date"},
}


def hs_source(fake: FakeHubSpot, events: dict[str, Any] = EVENTS) -> HubSpotSource:
    config = HubSpotConfig.model_validate(
        {"events": events, "search_requests_per_second": 1000, "overlap_seconds": 0}
    )
    return HubSpotSource(url=fake.url, token=HS_TOKEN, config=config, http=FAST)


def events_of(factory: SessionFactory, source: str, external_id: str) -> list[tuple[Any, ...]]:
    """(kind, day, detail, key) of the account's events, oldest first."""
    facts = facts_of(factory, source, external_id)
    return [(e.kind, e.on, e.detail, e.key) for e in facts.events]


def outbox_kinds(factory: SessionFactory) -> Counter[str]:
    with factory() as session:
        return Counter(session.exec(select(OutboxMessage.kind)).all())


# --- HubSpot ------------------------------------------------------------------------------


def test_each_kind_of_mapped_property_makes_events_of_its_kind_and_day(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    company(
        hubspot,
        1,
        last_win_date="2026-11-10",  # a date ('YYYY-MM-DD') with a detail
        last_win_story="Month-end close cut from 9 days to 2",
        praise_date=epoch_ms(date(2026, 11, 15)),  # a date alone (epoch ms)
        initiative_date="2026-11-01T09:30:00.000Z",  # a datetime: its UTC day
        initiative="EMEA rollout",
        feature_requests=2,  # a running count, dated by its date property
        last_feature_request_date="2026-11-18",
        last_feature_request="SSO",
        onboarding_complete="true",  # a flag without a date: the poll day
    )
    company(hubspot, 2, onboarding_complete="false", feature_requests=0, praise_date="")
    run(factory, D0, hs_source(hubspot))

    assert events_of(factory, "hubspot", "1") == [
        (EventKind.INITIATIVE, date(2026, 11, 1), "EMEA rollout", "hubspot:initiative:2026-11-01"),
        (
            EventKind.OUTCOME,
            date(2026, 11, 10),
            "Month-end close cut from 9 days to 2",
            "hubspot:last_win:2026-11-10",
        ),
        (EventKind.PRAISE, date(2026, 11, 15), "", "hubspot:praise:2026-11-15"),
        (EventKind.FEATURE_REQUEST, date(2026, 11, 18), "SSO", "hubspot:requests:1"),
        (EventKind.FEATURE_REQUEST, date(2026, 11, 18), "SSO", "hubspot:requests:2"),
        (EventKind.ONBOARDING_COMPLETED, D0, "", "hubspot:onboarded:yes"),
    ]
    assert events_of(factory, "hubspot", "2") == []  # no, zero and empty: nothing happened


def test_signals_and_triggers_come_from_crm_data_alone(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    company(
        hubspot,
        1,
        last_win_date="2026-11-10",
        last_win_story="Month-end close cut from 9 days to 2",
        praise_date="2026-11-15",
        initiative_date="2026-11-01",
        initiative="EMEA rollout",
        feature_requests=1,
        last_feature_request_date="2026-11-18",
        last_feature_request="SSO",
        onboarding_complete="true",
    )
    hubspot.add_deal(  # the renewal, 90 days out: with the events, Priority
        501,
        {
            "dealtype": "existingbusiness",
            "dealstage": "contractsent",
            "closedate": "2027-02-20",
            "amount": 48000,
        },
        company_id=1,
    )
    run(factory, D0, hs_source(hubspot))
    facts = facts_of(factory, "hubspot", "1")
    found = signals(facts, D0)
    assert {
        k: (s.points, s.evidence) for k, s in found.items() if k != SignalKey.RENEWAL_WINDOW
    } == {
        SignalKey.POSITIVE_OUTCOME: (10, "Month-end close cut from 9 days to 2 (10 Nov 2026)"),
        SignalKey.FEATURE_REQUEST: (8, "asked about SSO (18 Nov 2026)"),
        SignalKey.ADVOCACY: (7, "praise (15 Nov 2026)"),
        SignalKey.NEW_INITIATIVE: (5, "EMEA rollout (1 Nov 2026)"),
    }
    assessment = assess(facts, D0, CONFIG.scoring)
    assert assessment.score == 35 and assessment.band is Band.PRIORITY
    assert episode_kinds(factory) == Counter(
        {
            TriggerKind.SUCCESS.value: 1,
            TriggerKind.ONBOARDING.value: 1,
            TriggerKind.INITIATIVE.value: 1,
            TriggerKind.FEATURE_REQUEST.value: 1,
            TriggerKind.RENEWAL.value: 1,
        }
    )
    with factory() as session:
        alert = session.exec(select(Alert)).one()
    assert alert.band == Band.PRIORITY.value and outbox_kinds(factory) == Counter(post=1)


def test_repolling_unchanged_events_creates_no_events_and_no_alerts(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    company(
        hubspot,
        1,
        last_win_date="2026-11-10",
        praise_date="2026-11-15",
        feature_requests=3,
        last_feature_request_date="2026-11-18",
        onboarding_complete="true",
    )
    run(factory, D0, hs_source(hubspot))
    before = (count(factory, AccountEvent), count(factory, Alert), outbox_kinds(factory))
    assert before[0] == 6 and before[1] == 1

    hubspot.touch([1])  # modified, nothing changed: the search reads it again
    again = run(factory, D0 + timedelta(days=1), hs_source(hubspot))
    assert again.sources[0].fetched == 1  # the search did read it
    assert again.evaluated == 0  # nothing changed: nothing to re-score
    after = (count(factory, AccountEvent), count(factory, Alert), outbox_kinds(factory))
    assert after == before


def test_a_changed_win_date_makes_exactly_one_event_and_updates_the_alert(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    company(
        hubspot,
        1,
        last_win_date="2026-11-10",
        last_win_story="First win",
        praise_date="2026-11-15",
        feature_requests=1,
        last_feature_request_date="2026-11-18",
    )
    run(factory, D0, hs_source(hubspot))
    assert count(factory, Alert) == 1 and outbox_kinds(factory) == Counter(post=1)

    day = D0 + timedelta(days=2)
    hubspot.set_properties("companies", 1, last_win_date="2026-11-24", last_win_story="Second win")
    summary = run(factory, day, hs_source(hubspot))  # incremental: search on the change
    assert summary.sources[0].fetched == 1
    wins = [e for e in events_of(factory, "hubspot", "1") if e[0] is EventKind.OUTCOME]
    assert wins == [
        (EventKind.OUTCOME, date(2026, 11, 10), "First win", "hubspot:last_win:2026-11-10"),
        (EventKind.OUTCOME, date(2026, 11, 24), "Second win", "hubspot:last_win:2026-11-24"),
    ]
    assert count(factory, AccountEvent) == 4  # the earlier three and this one
    assert count(factory, Alert) == 1  # the open alert is updated, with a thread reply
    assert outbox_kinds(factory) == Counter(post=1, update=1, thread=1)
    assert episode_kinds(factory)[TriggerKind.SUCCESS.value] == 2


def test_a_count_makes_one_event_per_step_up_and_none_going_down(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    undated = {"requests": {"kind": "feature_request", "count": "feature_requests"}}
    company(hubspot, 1, feature_requests=1)
    run(factory, D0, hs_source(hubspot, undated))

    def steps() -> list[tuple[str, date]]:
        return [(e[3], e[1]) for e in events_of(factory, "hubspot", "1")]

    assert steps() == [("hubspot:requests:1", D0)]  # no date property: the poll day
    polls = [(3, D0 + timedelta(days=3)), (2, D0 + timedelta(days=5)), (4, D0 + timedelta(days=8))]
    for value, day in polls:
        hubspot.set_properties("companies", 1, feature_requests=value)
        run(factory, day, hs_source(hubspot, undated))
    assert steps() == [
        ("hubspot:requests:1", D0),
        ("hubspot:requests:2", D0 + timedelta(days=3)),  # 1 -> 3: two events
        ("hubspot:requests:3", D0 + timedelta(days=3)),
        ("hubspot:requests:4", D0 + timedelta(days=8)),  # 3 -> 2: none; 2 -> 4: one new step
    ]


def test_a_flag_counts_once_and_a_dated_flag_once_per_date(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    events = {
        "onboarded": {"kind": "onboarding complete", "flag": "onboarding_complete"},
        "left": {"kind": "champion left", "flag": "champion_left", "date": "champion_left_date"},
    }
    company(hubspot, 1, onboarding_complete="true", champion_left="false")
    run(factory, D0, hs_source(hubspot, events))
    flips = [
        ("false", "true", "2026-11-25"),
        ("true", "false", "2026-11-25"),
        ("true", "true", "2026-11-25"),  # yes again, the same day: the same event
        ("true", "true", "2026-12-03"),  # yes with a new date: a new event
    ]
    for n, (onboarded, left, left_on) in enumerate(flips, start=1):
        day = D0 + timedelta(days=3 * n)
        hubspot.set_properties(
            "companies",
            1,
            onboarding_complete=onboarded,
            champion_left=left,
            champion_left_date=left_on,
        )
        run(factory, day, hs_source(hubspot, events))
    assert [(e[0], e[1], e[3]) for e in events_of(factory, "hubspot", "1")] == [
        (EventKind.ONBOARDING_COMPLETED, D0, "hubspot:onboarded:yes"),  # true, false, true: once
        (EventKind.CHAMPION_LEFT, date(2026, 11, 25), "hubspot:left:2026-11-25"),
        (EventKind.CHAMPION_LEFT, date(2026, 12, 3), "hubspot:left:2026-12-03"),
    ]
    gate = assess(facts_of(factory, "hubspot", "1"), D0 + timedelta(days=12), CONFIG.scoring)
    # no outcome was mapped for this company, so seed 004's outcome check holds it too
    assert [r.code for r in gate.gate.reasons] == [GateCode.CHAMPION_GONE, GateCode.NO_OUTCOME]


def test_bad_event_values_are_counted_never_an_event(
    factory: SessionFactory, hubspot: FakeHubSpot
) -> None:
    company(
        hubspot,
        1,
        last_win_date="31/01/2027",
        feature_requests="-2",
        onboarding_complete="maybe",
        praise_date="2026-11-15",
    )
    summary = run(factory, D0, hs_source(hubspot))
    assert summary.sources[0].issues == Counter(
        {
            "events.last_win.date: not a date": 1,
            "events.requests.count: negative": 1,
            "events.onboarded.flag: not a yes/no value": 1,
        }
    )
    assert [e[0] for e in events_of(factory, "hubspot", "1")] == [EventKind.PRAISE]


# --- Salesforce ---------------------------------------------------------------------------


def test_salesforce_account_fields_make_events_and_changes_are_picked_up(
    factory: SessionFactory, salesforce: FakeSalesforce
) -> None:
    account = acme(
        salesforce,
        Last_Win_Date__c=date(2026, 11, 10),
        Last_Win__c="Went live in 3 regions",
        Feature_Requests__c=1,
        Last_Feature_Request__c="Audit log",
        Onboarding_Complete__c=True,
        Initiative_Date__c=date(2026, 11, 1),
    )
    events = {
        "win": {"kind": "win", "date": "Last_Win_Date__c", "detail": "Last_Win__c"},
        "requests": {
            "kind": "feature request",
            "count": "Feature_Requests__c",
            "detail": "Last_Feature_Request__c",
        },
        "onboarded": {"kind": "onboarding_completed", "flag": "Onboarding_Complete__c"},
        "initiative": {"kind": "initiative", "date": "Initiative_Date__c"},
    }

    def source() -> SalesforceSource:
        config = SalesforceConfig.model_validate({"events": events, "overlap_seconds": 0})
        return SalesforceSource(
            instance_url=salesforce.url, token=SF_TOKEN, config=config, http=FAST
        )

    run(factory, D0, source())
    assert events_of(factory, "salesforce", account) == [
        (EventKind.INITIATIVE, date(2026, 11, 1), "", "salesforce:initiative:2026-11-01"),
        (
            EventKind.OUTCOME,
            date(2026, 11, 10),
            "Went live in 3 regions",
            "salesforce:win:2026-11-10",
        ),
        (EventKind.FEATURE_REQUEST, D0, "Audit log", "salesforce:requests:1"),
        (EventKind.ONBOARDING_COMPLETED, D0, "", "salesforce:onboarded:yes"),
    ]
    run(factory, D0 + timedelta(days=1), source())  # nothing changed
    assert count(factory, AccountEvent) == 4

    later = D0 + timedelta(days=2)
    salesforce.update(account, Last_Win_Date__c=date(2026, 11, 23), Feature_Requests__c=3)
    summary = run(factory, later, source())  # SystemModstamp moved: read again
    assert summary.sources[0].fetched == 1
    new = events_of(factory, "salesforce", account)[4:]
    assert [(e[0], e[1], e[3]) for e in new] == [
        (EventKind.OUTCOME, date(2026, 11, 23), "salesforce:win:2026-11-23"),
        (EventKind.FEATURE_REQUEST, later, "salesforce:requests:2"),
        (EventKind.FEATURE_REQUEST, later, "salesforce:requests:3"),
    ]
    found = signals(facts_of(factory, "salesforce", account), later)
    assert found[SignalKey.POSITIVE_OUTCOME].evidence == "Went live in 3 regions (23 Nov 2026)"


# --- the usage API ------------------------------------------------------------------------


def test_usage_records_carry_events_of_their_account(
    factory: SessionFactory, hubspot: FakeHubSpot, usage: FakeUsageAPI
) -> None:
    company(hubspot, 1)  # the CRM makes the account; usage joins it by domain
    usage.add_record(
        {
            "account_id": "u1",
            "domain": "c1.example",
            "seats_used": 40,
            "events": [
                {"kind": "milestone", "date": "2026-11-20", "detail": "10,000th invoice"},
                {"kind": "Onboarding Complete", "date": "2026-11-12", "id": "ob-1"},
                {"kind": "birthday", "date": "2026-11-12"},  # not a kind: counted, skipped
                {"kind": "milestone", "date": "soon"},
                "go-live",
            ],
        },
        updated_at=MODIFIED,
    )
    usage.add_record(  # events only, no numbers: still a record of its account
        {"account_id": "u2", "domain": "c1.example", "events": []}, updated_at=MODIFIED
    )

    def usage_source() -> UsageAPISource:
        config = UsageConfig(overlap_seconds=0)
        return UsageAPISource(url=usage.url, token=USAGE_TOKEN, config=config, http=FAST)

    summary = run(factory, D0, hs_source(hubspot, {}), usage_source())
    issues = summary.sources[1].issues
    assert issues == Counter(
        {
            "events.kind: is not an event kind (use outcome (or win), milestone (or go-live),"
            " feature_request, praise, initiative, onboarding_completed (or onboarding"
            " complete), champion_left, champion_added)": 1,
            "events.date: is not a date (YYYY-MM-DD, 1970-2200)": 1,
            "events: item is not an object (str)": 1,
        }
    )
    assert summary.sources[1].rejected == 1  # u2: neither numbers nor events
    assert [(e[0], e[1], e[2]) for e in events_of(factory, "hubspot", "1")] == [
        (EventKind.ONBOARDING_COMPLETED, date(2026, 11, 12), ""),
        (EventKind.MILESTONE, date(2026, 11, 20), "10,000th invoice"),
    ]
    facts = facts_of(factory, "hubspot", "1")
    assert signals(facts, D0)[SignalKey.POSITIVE_OUTCOME].evidence == (
        "10,000th invoice (20 Nov 2026)"
    )
    assert {TriggerKind.SUCCESS.value, TriggerKind.ONBOARDING.value} <= set(episode_kinds(factory))

    usage.set_record("u1", seats_used=41)
    run(factory, D0 + timedelta(days=1), usage_source())  # the same events, read again
    assert count(factory, AccountEvent) == 2


# --- an events file -----------------------------------------------------------------------


def test_an_events_file_joins_its_accounts_and_rejects_bad_rows_by_line(
    factory: SessionFactory, hubspot: FakeHubSpot, tmp_path: Path
) -> None:
    company(hubspot, 1)
    company(hubspot, 2)
    path = tmp_path / "events.csv"
    rows = [
        "account,kind,date,detail",
        "c1.example,win,2026-11-10,Cut close from 9 days to 2",
        "https://www.C2.example/,Feature Request,2026-11-18,SSO",
        "c2.example,feature request,2026-11-18,Audit log",  # another request that day
        "c1.example,winn,2026-11-10,",
        "c1.example,praise,31/11/2026,",
        ",praise,2026-11-10,",
        "c1.example,initiative,,EMEA",
        "c1.example,win,2026-11-10,cut close from 9 days to 2 ",  # line 2 again
        "nobody.example,praise,2026-11-10,",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = FileSourceConfig.model_validate(
        {"name": "csm-log", "path": path, "contents": "events"}
    )
    summary = run(factory, D0, hs_source(hubspot, {}), FileSource(config))
    outcome = summary.sources[1]
    assert outcome.messages[:6] == [
        "csm-log:c1.example: line 5: kind 'winn' is not an event kind (use outcome (or win),"
        " milestone (or go-live), feature_request, praise, initiative, onboarding_completed"
        " (or onboarding complete), champion_left, champion_added)",
        "csm-log:c1.example: line 6: date '31/11/2026' is not a date (YYYY-MM-DD, 1970-2200)",
        "csm-log: line 7: 'account' is empty",
        "csm-log:c1.example: line 8: date is missing",
        "csm-log:c1.example: line 9: the same event as line 2 (kept once)",
        "csm-log:nobody.example (domain nobody.example, crm_id nobody.example): no account matches",
    ]
    assert (outcome.rejected, outcome.unmatched) == (5, 1)
    assert [(e[0], e[1], e[2]) for e in events_of(factory, "hubspot", "1")] == [
        (EventKind.OUTCOME, date(2026, 11, 10), "Cut close from 9 days to 2")
    ]
    assert [(e[0], e[2]) for e in events_of(factory, "hubspot", "2")] == [
        (EventKind.FEATURE_REQUEST, "SSO"),
        (EventKind.FEATURE_REQUEST, "Audit log"),
    ]

    alerts = count(factory, Alert)
    path.write_text("\n".join([*rows, "c1.example,praise,2026-11-21,Loved the QBR"]) + "\n")
    changed = run(factory, D0 + timedelta(days=1), FileSource(config))
    assert count(factory, AccountEvent) == 4  # the file read again: only the new row is new
    assert changed.evaluated == 1 and count(factory, Alert) <= alerts + 1
    again = run(factory, D0 + timedelta(days=2), FileSource(config))
    assert again.sources[0].fetched == 0 and count(factory, AccountEvent) == 4
    with factory() as session:
        keys = session.exec(select(AccountEvent.key).order_by(col(AccountEvent.id))).all()
    assert keys[0] == "csm-log:outcome:2026-11-10:" + keys[0].rsplit(":", 1)[1]
