"""Every readiness signal, trigger and offer is reachable from real sources (issue 12).

A HubSpot portal and, separately, a Salesforce org — each with the usage API for seats, active
users and feature adoption, and an events file — carry a small book whose custom properties
hold every signal. The config is docs/examples/every-signal.yml, read by the real loader, and
the poll is the one ``expansion-radar poll`` runs (``run_poll``: the configured sources, over
real HTTP to the fakes, into this test's database). Nothing is written to the database by hand.

The checks enumerate ``SignalKey``, ``TriggerKind``, ``OfferType`` and ``GateCode``, so a new
member that no source can reach fails here. Re-polling is checked on the whole book; the finer
cases (a changed win date per source, an old NPS across unrelated changes) are in
tests/bot/test_events_from_sources.py and tests/bot/test_dated_facts.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

import db.accounts
from bot.domain.portfolio import Scored, assess_account
from bot.infra.settings import AppConfig, Settings, load_app_config
from bot.poll.run import PollSummary, run_poll
from db.engine import SessionFactory
from db.models import AccountEvent, Alert, OutboxMessage, Snapshot, TriggerEpisode
from scoring.bands import Band
from scoring.evidence import SignalKey
from scoring.gate import GateCode
from scoring.offer import OfferType
from scoring.triggers import TriggerKind
from tests.fakes import FakeHubSpot, FakeSalesforce, FakeUsageAPI
from tests.sources.conftest import HS_TOKEN, SF_TOKEN, USAGE_TOKEN

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "every-signal.yml"
SOURCES_DOC = Path(__file__).parents[2] / "docs" / "sources.md"

INSTALL = date(2026, 11, 8)  # the first poll
TODAY = date(2026, 11, 22)  # the second: what the book looks like now
MODIFIED = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Customer:
    """One account as its CRM and usage API hold it, in neither's words."""

    name: str
    domain: str
    seats_purchased: int = 100
    seats_used: int | None = None  # the usage API
    active_users: int | None = None  # the usage API
    features: tuple[int, int] | None = None  # the usage API: used, available
    usage_events: tuple[dict[str, str], ...] = ()  # the usage API's events list
    health: str | None = None
    nps: tuple[int, date] | None = None  # the score and its survey date
    last_contact: date | None = None
    headcount: tuple[int, int] | None = None  # now, at purchase
    departments: tuple[int, int] | None = None  # now, at purchase
    purchased_on: date | None = None
    urgent_tickets: int = 0  # open urgent tickets (HubSpot) / High Cases (Salesforce)
    feature_ticket: tuple[date, str] | None = None  # a feature-request ticket / Case
    win: tuple[date, str] | None = None
    praise: date | None = None
    initiative: tuple[date, str] | None = None
    feature_requests: tuple[int, date, str] | None = None  # count, last one's date, what
    onboarded: bool = False
    champion: str | None = None  # a contact in the champion role at install
    champion_leaves: bool = False  # ... who loses the role before today's poll
    renewal: tuple[date, float] | None = None  # an open renewal deal / opportunity


BOOK = (
    Customer(  # every signal but the shared seat: Priority
        "Kestrel Media",
        "kestrel.example",
        seats_used=92,
        active_users=60,
        health="green",
        nps=(9, date(2026, 11, 2)),
        headcount=(930, 700),
        departments=(3, 2),
        purchased_on=date(2025, 10, 16),
        win=(date(2026, 11, 3), "Month-end close cut from 9 days to 2"),
        initiative=(date(2026, 11, 1), "EMEA rollout"),
        feature_requests=(1, date(2026, 11, 4), "SSO"),
        renewal=(TODAY + timedelta(days=75), 48_000.0),
        champion="Ana Ruiz",
    ),
    Customer(  # three people on one seat; its win is in the events file
        "Solo Studio", "solo.example", seats_purchased=1, seats_used=1, active_users=3
    ),
    Customer(  # asked for what their plan lacks: tier upgrade
        "Tern Analytics",
        "tern.example",
        seats_used=40,
        win=(date(2026, 11, 2), "Board pack automated"),
        feature_ticket=(date(2026, 11, 6), "Audit log for every export"),
        onboarded=True,
    ),
    Customer(  # a new project that fits another offering: cross-sell
        "Heron Freight",
        "heron.example",
        seats_used=30,
        win=(date(2026, 11, 3), "First 1,000 shipments tracked"),
        initiative=(date(2026, 11, 4), "Warehouse automation"),
    ),
    Customer(  # low adoption with a push coming: professional services
        "Plover Health",
        "plover.example",
        seats_used=20,
        features=(3, 20),
        initiative=(date(2026, 11, 5), "Patient portal launch"),
        usage_events=(
            {"kind": "milestone", "date": "2026-11-04", "detail": "First 500 patients on"},
            {"kind": "onboarding complete", "date": "2026-11-06", "id": "ob-plover"},
        ),
    ),
    Customer(  # happy and renewing in range: multi-year
        "Wren Legal",
        "wren.example",
        seats_used=50,
        health="green",
        win=(date(2026, 11, 2), "Contract review time halved"),
        praise=date(2026, 11, 6),
        renewal=(TODAY + timedelta(days=90), 30_000.0),
    ),
    Customer(  # every reason to hold the pitch (and an NPS from 61 days before today)
        "Grebe Logistics",
        "grebe.example",
        seats_used=50,
        health="red",
        nps=(10, TODAY - timedelta(days=61)),
        last_contact=date(2026, 8, 1),
        urgent_tickets=2,
        champion="Dana Reyes",
        champion_leaves=True,
    ),
    Customer(  # yellow at both polls, never red: not "trending to green" (seed 004)
        "Stint Retail",
        "stint.example",
        seats_used=30,
        health="yellow",
        win=(date(2026, 11, 2), "Stock counts reconciled daily"),
    ),
)
# What happens between the two polls: Kestrel adds a department and 20 active users.
GROWN = {"kestrel.example": {"departments": 4, "active_users": 80}}
# The events file (one row a signal the CRM does not keep).
EVENTS_CSV = "account,kind,date,detail\nsolo.example,win,2026-11-05,Launched in a day\n"


# --- how each source holds the book ----------------------------------------------------------


# Each of a Customer's CRM facts: its HubSpot property and its Salesforce field (None: the org
# keeps no such field; this one's feature requests are dated by the poll that sees them).
CRM_NAMES: dict[str, tuple[str, str | None]] = {
    "name": ("name", "Name"),
    "seats_purchased": ("seats_purchased", "Seats_Purchased__c"),
    "health": ("health", "Health__c"),
    "nps": ("nps", "NPS__c"),
    "nps_on": ("nps_survey_date", "NPS_Survey_Date__c"),
    "last_contact": ("last_contact_date", "Last_Contact__c"),
    "headcount": ("numberofemployees", "NumberOfEmployees"),
    "headcount_at_purchase": ("employees_at_purchase", "Employees_At_Purchase__c"),
    "departments": ("departments_using", "Departments__c"),
    "departments_at_purchase": ("departments_at_purchase", "Departments_At_Purchase__c"),
    "purchased_on": ("contract_start_date", "Contract_Start__c"),
    "last_win": ("last_win_date", "Last_Win_Date__c"),
    "last_win_story": ("last_win_story", "Last_Win__c"),
    "praise": ("last_praise_date", "Praise_Date__c"),
    "initiative_on": ("initiative_date", "Initiative_Date__c"),
    "initiative": ("initiative", "Initiative__c"),
    "feature_requests": ("feature_request_count", "Feature_Requests__c"),
    "feature_request_on": ("last_feature_request_date", None),
    "feature_request": ("last_feature_request", "Last_Feature_Request__c"),
    "onboarded": ("onboarding_complete", "Onboarding_Complete__c"),
}


def crm_facts(c: Customer) -> dict[str, Any]:
    """The customer's CRM facts by their ``CRM_NAMES`` key; unknown ones left out."""
    out: dict[str, Any] = {"name": c.name, "seats_purchased": c.seats_purchased}
    out |= {"health": c.health, "last_contact": c.last_contact, "purchased_on": c.purchased_on}
    out |= {"praise": c.praise, "onboarded": c.onboarded}
    pairs = {
        ("nps", "nps_on"): c.nps,
        ("headcount", "headcount_at_purchase"): c.headcount,
        ("departments", "departments_at_purchase"): c.departments,
        ("last_win", "last_win_story"): c.win,
        ("initiative_on", "initiative"): c.initiative,
        ("feature_requests", "feature_request_on", "feature_request"): c.feature_requests,
    }
    for keys, values in pairs.items():
        out |= dict(zip(keys, values or (None,) * len(keys), strict=True))
    return {k: v for k, v in out.items() if v is not None}


def in_crm(crm: str, facts: dict[str, Any]) -> dict[str, Any]:
    """Facts as that CRM's API holds them: its names, and HubSpot's strings for dates and
    checkboxes (Salesforce's health values are capitalised, as orgs' picklists are)."""
    out: dict[str, Any] = {}
    for key, value in facts.items():
        name = CRM_NAMES[key][0 if crm == "hubspot" else 1]
        if name is None:
            continue
        if crm == "hubspot" and isinstance(value, bool):
            value = "true" if value else "false"
        elif crm == "hubspot" and isinstance(value, date):
            value = value.isoformat()
        elif crm == "salesforce" and key == "health":
            value = str(value).capitalize()
        out[name] = value
    return out


def usage_record(n: int, c: Customer) -> dict[str, Any]:
    record: dict[str, Any] = {"account_id": f"u{n}", "domain": c.domain}
    record["seats_used"] = c.seats_used
    record["active_users"] = c.active_users
    if c.features:
        record["features"] = {"used": c.features[0], "available": c.features[1]}
    if c.usage_events:
        record["events"] = list(c.usage_events)
    return {k: v for k, v in record.items() if v is not None}


@dataclass
class Org:
    """A CRM holding the book, the usage API beside it, and how to change either."""

    crm: str
    settings: Settings
    change: Callable[[str, dict[str, Any]], None]  # domain, CRM_NAMES keys -> the CRM
    unchampion: Callable[[str], None]  # domain: its champion loses the role
    ids: dict[str, str] = field(default_factory=dict)  # domain -> CRM id


@pytest.fixture
def usage() -> Iterator[FakeUsageAPI]:
    with FakeUsageAPI(auth_token=USAGE_TOKEN) as fake:
        for n, c in enumerate(BOOK):
            fake.add_record(usage_record(n, c), updated_at=MODIFIED)
        yield fake


def hubspot_org(usage: FakeUsageAPI) -> Iterator[Org]:
    with FakeHubSpot(auth_token=HS_TOKEN, burst_limit=100_000) as fake:
        ids = {}
        for n, c in enumerate(BOOK, start=1):
            company = in_crm("hubspot", crm_facts(c)) | {"domain": c.domain}
            fake.add_company(n, company, updated_at=MODIFIED)
            ids[c.domain] = str(n)
            if c.renewal:
                on, amount = c.renewal
                deal = {"dealtype": "existingbusiness", "dealstage": "contractsent"}
                deal |= {"closedate": on.isoformat(), "amount": str(amount)}
                fake.add_deal(500 + n, deal, company_id=n, updated_at=MODIFIED)
            tickets: list[tuple[str, dict[str, str], date | datetime]] = [
                (f"{n}0{k}", {"hs_ticket_priority": "URGENT", "hs_pipeline_stage": "1"}, MODIFIED)
                for k in range(c.urgent_tickets)
            ]
            if c.feature_ticket:
                opened, subject = c.feature_ticket
                asked = {"hs_ticket_priority": "MEDIUM", "hs_pipeline_stage": "4"}
                asked |= {"hs_ticket_category": "FEATURE_REQUEST", "subject": subject}
                tickets.append((f"{n}09", asked, opened))
            for tid, ticket, created in tickets:
                ticket = {"subject": "Exports fail"} | ticket
                fake.add_ticket(tid, ticket, updated_at=MODIFIED, created_at=created, company_id=n)
            if c.champion:
                first, last = c.champion.split()
                contact = {"firstname": first, "lastname": last, "email": f"{first}@{c.domain}"}
                contact["hs_buying_role"] = "END_USER;CHAMPION"
                fake.add_contact(700 + n, contact, updated_at=MODIFIED, company_ids=[n])

        def change(domain: str, values: dict[str, Any]) -> None:
            fake.set_properties("companies", ids[domain], **in_crm("hubspot", values))

        def unchampion(domain: str) -> None:
            fake.set_properties("contacts", 700 + int(ids[domain]), hs_buying_role="END_USER")

        yield Org(
            "hubspot",
            Settings(
                hubspot_access_token=HS_TOKEN,
                hubspot_api_url=fake.url,
                usage_api_url=usage.url,
                usage_api_token=USAGE_TOKEN,
            ),
            change,
            unchampion,
            ids,
        )


def salesforce_org(usage: FakeUsageAPI) -> Iterator[Org]:
    with FakeSalesforce(auth_token=SF_TOKEN) as fake:
        ids = {}
        for n, c in enumerate(BOOK, start=1):
            account = f"001{n:015d}"
            fields = in_crm("salesforce", crm_facts(c)) | {"Website": f"https://www.{c.domain}/"}
            fake.add_account(account, fields, modstamp=MODIFIED)
            ids[c.domain] = account
            if c.renewal:
                on, amount = c.renewal
                opportunity = {"Name": f"{c.name} renewal", "AccountId": account, "Amount": amount}
                opportunity |= {"CloseDate": on, "Type": "Renewal", "IsClosed": False}
                fake.add_opportunity(f"006{n:015d}", opportunity | {"StageName": "Proposal"})
            cases = [(f"500{n:012d}{k:03d}", "High", "Problem") for k in range(c.urgent_tickets)]
            if c.feature_ticket:
                cases.append((f"500{n:012d}009", "Medium", "Feature Request"))
            for case_id, priority, kind in cases:
                feature = kind == "Feature Request"
                case: dict[str, Any] = {"AccountId": account, "Priority": priority, "Type": kind}
                case["Subject"] = (
                    c.feature_ticket[1] if c.feature_ticket and feature else "Exports fail"
                )
                case |= {"IsClosed": feature, "Status": "Closed" if feature else "New"}
                opened = c.feature_ticket[0] if c.feature_ticket and feature else MODIFIED
                fake.add_case(case_id, case | {"CreatedDate": opened}, modstamp=MODIFIED)
            if c.champion:
                first, last = c.champion.split()
                contact = {"FirstName": first, "LastName": last, "AccountId": account}
                fake.add_contact(f"003{n:015d}", contact, modstamp=MODIFIED)
                role = {"AccountId": account, "ContactId": f"003{n:015d}", "Role": "Champion"}
                fake.add_contact_role(f"02Z{n:015d}", role, modstamp=MODIFIED)

        def change(domain: str, values: dict[str, Any]) -> None:
            fake.update(ids[domain], **in_crm("salesforce", values))

        def unchampion(domain: str) -> None:
            fake.update(f"02Z{int(ids[domain][3:]):015d}", Role="Evaluator")

        yield Org(
            "salesforce",
            Settings(
                salesforce_instance_url=fake.url,
                salesforce_access_token=SF_TOKEN,
                usage_api_url=usage.url,
                usage_api_token=USAGE_TOKEN,
            ),
            change,
            unchampion,
            ids,
        )


@pytest.fixture(params=["hubspot", "salesforce"])
def org(request: pytest.FixtureRequest, usage: FakeUsageAPI, tmp_path: Path) -> Iterator[Org]:
    (tmp_path / "exports").mkdir()  # the example's events file, relative to the working dir
    (tmp_path / "exports" / "csm_events.csv").write_text(EVENTS_CSV, encoding="utf-8")
    yield from (hubspot_org if request.param == "hubspot" else salesforce_org)(usage)


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return load_app_config(EXAMPLE)


def poll_on(day: date, org: Org, config: AppConfig, factory: SessionFactory) -> PollSummary:
    summary = run_poll(org.settings, config, factory, today=day)
    assert summary.ok, summary
    assert [s.name for s in summary.sources] == [org.crm, "csm-log", "usage"]
    assert all(s.unmatched == 0 and s.rejected == 0 for s in summary.sources), summary
    return summary


def install_and_grow(
    org: Org, config: AppConfig, factory: SessionFactory, usage: FakeUsageAPI
) -> None:
    """The first poll, then the book's changes, then today's poll."""
    poll_on(INSTALL, org, config, factory)
    for n, c in enumerate(BOOK):
        grown = GROWN.get(c.domain)
        if grown:
            org.change(c.domain, {"departments": grown["departments"]})
            usage.set_record(f"u{n}", active_users=grown["active_users"])
        if c.champion_leaves:
            org.unchampion(c.domain)
    poll_on(TODAY, org, config, factory)


def assess_book(factory: SessionFactory, config: AppConfig, day: date) -> dict[str, Scored]:
    """Each account as ``expansion-radar explain`` sees it, by domain."""
    with factory() as session:
        return {
            str(a.domain): assess_account(session, a, day, config)
            for a in db.accounts.all_accounts(session)
        }


def count(factory: SessionFactory, model: Any) -> int:
    with factory() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


# --- the example config is the documented one, and valid -----------------------------------


def test_the_documented_example_is_this_file_and_loads(config: AppConfig) -> None:
    doc = SOURCES_DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- every-signal.yml -->\n```yaml\n(.*?)```", doc, re.DOTALL)
    assert block is not None, "docs/sources.md shows docs/examples/every-signal.yml"
    assert block.group(1) == EXAMPLE.read_text(encoding="utf-8")
    hubspot, salesforce = config.sources.hubspot, config.sources.salesforce
    assert set(hubspot.events) == set(salesforce.events)  # both CRMs wire the same events
    assert {f.contents for f in config.sources.files} == {"events"}


# --- every signal, trigger and offer --------------------------------------------------------


def test_every_signal_trigger_and_offer_comes_from_source_data(
    org: Org, config: AppConfig, factory: SessionFactory, usage: FakeUsageAPI
) -> None:
    install_and_grow(org, config, factory, usage)
    book = assess_book(factory, config, TODAY)
    assert set(book) == {c.domain for c in BOOK}

    awarded = {s.key: (domain, s) for domain, x in book.items() for s in x.assessment.signals}
    missing = [key.value for key in SignalKey if key not in awarded]
    assert not missing, f"no account earns {missing}"
    for key in SignalKey:
        assert awarded[key][1].points == getattr(config.scoring.points, key.value) > 0

    kestrel = {s.key: s.evidence for s in book["kestrel.example"].assessment.signals}
    assert kestrel == {
        SignalKey.CAPACITY: "92 of 100 seats in use (92%) on 22 Nov 2026",
        SignalKey.POSITIVE_OUTCOME: "Month-end close cut from 9 days to 2 (3 Nov 2026)",
        SignalKey.TEAM_EXPANDED: "4 departments use it, up from 2 since purchase (16 Oct 2025)",
        SignalKey.FEATURE_REQUEST: kestrel[SignalKey.FEATURE_REQUEST],  # dated per CRM below
        SignalKey.ADVOCACY: "NPS 9 on 2 Nov 2026",  # the survey's day, not a poll's
        SignalKey.RENEWAL_WINDOW: "renews 5 Feb 2027, 75 days away, $48,000 ARR",
        SignalKey.NEW_INITIATIVE: "EMEA rollout (1 Nov 2026)",
        SignalKey.COMPANY_GROWTH: "930 employees, up from 700 since purchase (16 Oct 2025)",
    }
    asked_on = "4 Nov 2026" if org.crm == "hubspot" else "8 Nov 2026"  # Salesforce: poll day
    assert kestrel[SignalKey.FEATURE_REQUEST] == f"asked about SSO ({asked_on})"
    assert awarded[SignalKey.SHARED_SEAT][1].evidence == (
        "3 people active on 1 paid seat (8 Nov 2026)"
    )
    tern = {s.key: s.evidence for s in book["tern.example"].assessment.signals}
    assert tern[SignalKey.FEATURE_REQUEST] == "asked about Audit log for every export (6 Nov 2026)"
    grebe = {r.code: r.evidence for r in book["grebe.example"].assessment.gate.reasons}
    assert grebe[GateCode.URGENT_TICKET] == "2 urgent support issues open"  # from tickets / Cases

    with factory() as session:
        fired = set(session.exec(select(TriggerEpisode.kind)).all())
        alerted = {a.offer for a in session.exec(select(Alert)).all()}
    unfired = [kind.value for kind in TriggerKind if kind.value not in fired]
    assert not unfired, f"no source fires {unfired}"

    chosen = {x.assessment.offer.type for x in book.values() if x.assessment.offer}
    unchosen = [offer.value for offer in OfferType if offer not in chosen]
    assert not unchosen, f"no account is offered {unchosen}"
    assert {offer.value for offer in OfferType} <= alerted  # and each reached an alert

    assert book["kestrel.example"].assessment.band is Band.PRIORITY
    assert book["kestrel.example"].assessment.score == 59
    with factory() as session:
        (kestrel_alert,) = session.exec(
            select(Alert).where(Alert.account_id == book["kestrel.example"].account.id)
        ).all()
    assert kestrel_alert.band == Band.PRIORITY.value

    held = book["grebe.example"].assessment.gate
    yellow = book["stint.example"].assessment.gate
    assert [r.code for r in yellow.reasons] == [GateCode.YELLOW_NOT_IMPROVING]
    holds = {reason.code for reason in held.reasons + yellow.reasons}
    date_only = {GateCode.QUARTER_END}  # depends on today alone, no source states it
    unheld = [code.value for code in GateCode if code not in holds | date_only]
    assert not unheld, f"no source data holds a pitch for {unheld}"
    assert SignalKey.ADVOCACY not in {s.key for s in book["grebe.example"].assessment.signals}

    with factory() as session:  # every kind of source stated some event
        stated = set(session.exec(select(AccountEvent.source)).all())
    assert stated == {org.crm, "usage", "csm-log"}


def test_repolling_the_book_changes_nothing_and_a_new_win_date_one_event(
    org: Org, config: AppConfig, factory: SessionFactory, usage: FakeUsageAPI
) -> None:
    install_and_grow(org, config, factory, usage)
    models = (AccountEvent, Snapshot, TriggerEpisode, Alert, OutboxMessage)
    before = {m.__name__: count(factory, m) for m in models}
    again = poll_on(TODAY + timedelta(days=1), org, config, factory)
    assert again.evaluated == 0 and not again.scoring.new_alerts
    assert {m.__name__: count(factory, m) for m in models} == before

    def event_keys() -> set[str]:
        with factory() as session:
            return set(session.exec(select(AccountEvent.key)).all())

    known = event_keys()
    org.change("heron.example", {"last_win": date(2026, 11, 22)})
    changed = poll_on(TODAY + timedelta(days=2), org, config, factory)
    assert changed.evaluated == 1
    assert count(factory, AccountEvent) == before["AccountEvent"] + 1
    assert count(factory, Alert) <= before["Alert"] + 1
    assert event_keys() - known == {f"{org.crm}:last_win:2026-11-22"}


def test_a_renewal_entering_its_window_on_a_quiet_day_fires_at_the_daily_rescore(
    org: Org, config: AppConfig, factory: SessionFactory
) -> None:
    poll_on(INSTALL, org, config, factory)  # Wren Legal renews in 104 days; nothing changes

    def renewals() -> list[tuple[date, str]]:
        with factory() as session:
            wren = db.accounts.external_id_map(
                session, source=org.crm, external_ids=[org.ids["wren.example"]]
            )[org.ids["wren.example"]]
            found = session.exec(
                select(TriggerEpisode).where(
                    TriggerEpisode.account_id == wren, TriggerEpisode.kind == "renewal"
                )
            ).all()
        return [(e.on, e.evidence) for e in found]

    daily = run_poll(
        org.settings, config, factory, today=TODAY - timedelta(days=1), rescore_all=True
    )
    assert daily.ok and renewals() == []  # 91 days away
    daily = run_poll(org.settings, config, factory, today=TODAY, rescore_all=True)
    assert daily.ok and renewals() == [(TODAY, "renewal on 20 Feb 2027 is 90 days away")]
