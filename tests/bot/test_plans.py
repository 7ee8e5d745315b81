"""Starting and closing plans, and the calendar export round trip."""

from __future__ import annotations

from datetime import date

import pytest
from icalendar import Calendar

import db.accounts
import db.plans
from bot.domain.errors import GateBlocked, PlanError
from bot.domain.plans import close_plan, refuse_plan, start_account_plan, start_plan
from bot.domain.portfolio import assess_account
from bot.infra.settings import AppConfig
from bot.output.calendar_export import steps_calendar
from bot.poll.cycle import run_cycle
from db.engine import SessionFactory, transaction
from db.models import PlanStep, utcnow
from sources.demo import demo_batch

DAY = date(2026, 11, 20)


@pytest.fixture
def book(factory: SessionFactory) -> SessionFactory:
    run_cycle(factory, [demo_batch(DAY)], DAY, AppConfig())
    return factory


def _start(session, key: str):
    account = db.accounts.account_by_key(session, key)
    assert account is not None
    scored = assess_account(session, account, DAY, AppConfig())
    latest = scored.facts.latest
    return start_plan(
        session,
        account=account,
        assessment=scored.assessment,
        start=DAY,
        owner=account.owner_email,
        user_id="U1",
        renewal_on=latest.renewal_on if latest else None,
    )


def test_start_plan_is_idempotent_and_follows_seed_000(book: SessionFactory) -> None:
    with transaction(book) as s:
        plan, created = _start(s, "brightops-agency")
        again, created_again = _start(s, "brightops-agency")
        assert created and not created_again and again.id == plan.id
        steps = db.plans.plan_steps(s, plan.id)
        assert plan.kind == "ninety_day" and plan.offer == "capacity" and len(steps) == 6
        assert plan.trigger == "capacity" and plan.expected_arr > 0 and "Sarah" in plan.script
        assert all(step.due_on.weekday() < 5 for step in steps)


def test_renewal_led_play_counts_back_from_renewal(book: SessionFactory) -> None:
    with transaction(book) as s:
        plan, _ = _start(s, "quillsoft")  # multi-year offer, renewal in 75 days
        steps = db.plans.plan_steps(s, plan.id)
        assert plan.kind == "renewal"
        assert [st.name for st in steps][-1] == "Contract execution"
        assert steps[-1].role == "Legal" and steps[-1].owner is None


def test_close_plan_needs_the_right_detail_for_each_outcome(book: SessionFactory) -> None:
    with transaction(book) as s:
        plan, _ = _start(s, "brightops-agency")
        with pytest.raises(PlanError, match="expansion ARR"):
            close_plan(s, plan=plan, outcome="won", user_id="U1")
        with pytest.raises(PlanError, match="why it was lost"):
            close_plan(s, plan=plan, outcome="lost", user_id="U1", reason="  ")
        with pytest.raises(PlanError, match="date to revisit"):
            close_plan(s, plan=plan, outcome="not_this_cycle", user_id="U1")
        close_plan(s, plan=plan, outcome="won", user_id="U1", arr=6000)
        assert plan.status == "won" and plan.outcome_arr == 6000 and plan.closed_by == "U1"
        with pytest.raises(PlanError, match="already closed"):
            close_plan(s, plan=plan, outcome="lost", user_id="U1", reason="x")


def _calendar(book: SessionFactory, key: str) -> tuple[Calendar, list[PlanStep]]:
    """The account's new plan, exported and read back."""
    with transaction(book) as s:
        plan, _ = _start(s, key)
        account = db.accounts.account_by_key(s, key)
        assert account is not None
        steps = list(db.plans.plan_steps(s, plan.id))
        data = steps_calendar([(st, plan, account) for st in steps], f"{account.name} plan")
    return Calendar.from_ical(data), steps


def test_ics_round_trips_step_names_and_dates(book: SessionFactory) -> None:
    cal, steps = _calendar(book, "brightops-agency")
    events = list(cal.walk("VEVENT"))
    assert [str(e["summary"]) for e in events] == [f"BrightOps Agency: {st.name}" for st in steps]
    assert [e.decoded("dtstart") for e in events] == [st.due_on for st in steps]
    assert len({str(e["uid"]) for e in events}) == len(steps)
    assert str(cal["prodid"]).startswith("-//Expansion Radar")


def test_owner_calendar_holds_only_their_open_steps(book: SessionFactory) -> None:
    with transaction(book) as s:
        _start(s, "brightops-agency")  # Maya Chen
        _start(s, "kestrel-media")  # Jonas Weber
    with book() as s:
        rows = db.plans.open_steps(s, owner="maya.chen@example.com")
    assert rows and {account.name for _, _, account in rows} == {"BrightOps Agency"}
    cal = Calendar.from_ical(steps_calendar(rows, "Maya"))
    assert len(list(cal.walk("VEVENT"))) == len(rows)


def test_a_renewal_within_six_months_leads_with_seed_002_whatever_the_offer(
    book: SessionFactory,
) -> None:
    with transaction(book) as s:
        plan, _ = _start(s, "northwind-logistics")  # renews 28 Feb 2027, not a multi-year offer
        assert plan.offer != "multi_year" and plan.kind == "renewal"
        steps = db.plans.plan_steps(s, plan.id)
        assert [st.role for st in steps] == ["CSM", "AE", "AE", "Legal"]
        far, _ = _start(s, "brightops-agency")  # renews 8 Jun 2027: more than six months away
        assert far.kind == "ninety_day"
        assert {st.role for st in db.plans.plan_steps(s, far.id)} == {"CSM"}


def test_ics_names_who_does_each_step(book: SessionFactory) -> None:
    cal, _ = _calendar(book, "quillsoft")
    events = list(cal.walk("VEVENT"))
    assert [str(e["description"]).split("\n")[1] for e in events] == [
        "Who: CSM.",
        "Who: AE.",
        "Who: AE.",
        "Who: Legal.",
    ]


def test_an_open_plan_is_shown_even_once_the_account_is_held(book: SessionFactory) -> None:
    """The refusals guard starting a plan, not seeing one: a plan opened before the account
    turned red stays reachable (to walk or close it) from Slack and the CLI."""
    with transaction(book) as s:
        plan, _ = _start(s, "meridian-bank")  # red health today: opened by the low-level call
        account = db.accounts.account_by_key(s, "meridian-bank")
        assert account is not None and account.id is not None
        with pytest.raises(GateBlocked):
            refuse_plan(account, assess_account(s, account, DAY, AppConfig()).assessment)
        shown = start_account_plan(
            s,
            account_id=account.id,
            alert_id=None,
            user_id=None,
            config=AppConfig(),
            today=DAY,
            now=utcnow(),
        )
        assert not shown.created and shown.plan.id == plan.id and shown.steps
