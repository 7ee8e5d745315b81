"""Walk two plans through all 90 days on a frozen clock, hour by hour.

Owners in New York and Berlin, across both daylight-saving changes of autumn 2026 (Europe on
25 Oct, the US on 1 Nov): every step reminds once when its window opens and once when overdue,
at 09:00 local time; a snoozed step reminds when the snooze ends; done steps never go overdue;
each owner gets at most one digest a day, at 09:00 local, never an empty one.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

import db.plans
import db.snoozes
from bot.domain.digests import collect_daily_digests
from bot.domain.plans import start_plan
from bot.domain.reminders import collect_snooze_returns, collect_step_reminders
from bot.infra.settings import AppConfig
from bot.slack.jobs import owner_zones
from bot.slack.routing import Router
from db.engine import SessionFactory, transaction
from db.models import Account, SlackUser, utcnow
from scoring.engine import assess
from tests.scoring.helpers import account as facts_for
from tests.scoring.helpers import snap

OWNERS = {"ny@example.com": "America/New_York", "berlin@example.com": "Europe/Berlin"}
START = date(2026, 10, 19)  # a Monday
PLAN_CREATED = datetime(2026, 10, 19, 15, 0, tzinfo=UTC)


def walk(factory: SessionFactory):
    with time_machine.travel(PLAN_CREATED, tick=False), transaction(factory) as s:
        plans = {}
        for n, (email, tz) in enumerate(OWNERS.items()):
            s.add(SlackUser(email=email, user_id=f"U{n}", tz=tz))
            acct = Account(key=f"acct-{n}", name=f"Account {n}", owner_email=email)
            s.add(acct)
            s.flush()
            assessment = assess(facts_for(snap(0, seats_used=95)), START)
            plan, _ = start_plan(
                s, account=acct, assessment=assessment, start=START, owner=email, user_id=None
            )
            assert plan.id is not None
            plans[email] = plan.id
        s.flush()
        berlin_steps = db.plans.plan_steps(s, plans["berlin@example.com"])
        snoozed = berlin_steps[3]  # the proposal step, window opens on day 22 (9 Nov)
        assert snoozed.id is not None
        snooze_until = datetime(2026, 11, 12, 10, 30, tzinfo=ZoneInfo("Europe/Berlin"))
        db.snoozes.add_snooze(
            s, target_type="step", target_id=snoozed.id, until=snooze_until, by_user="U1"
        )
        ny_steps = db.plans.plan_steps(s, plans["ny@example.com"])
        done_step = ny_steps[1]  # the supporting-material step: done on its due date

    reminders: list[tuple[datetime, object]] = []
    digests: list[tuple[datetime, object]] = []
    returns = []
    now = PLAN_CREATED
    end = PLAN_CREATED + timedelta(days=95)
    # the jobs' own lookup; with no Slack client it reads the cached timezones only
    with time_machine.travel(now, tick=False):
        tz_of = owner_zones(factory, Router(AppConfig(), "#expansion", None, factory), utcnow())
    while now <= end:
        with time_machine.travel(now, tick=False), transaction(factory) as s:
            returns += collect_snooze_returns(s, now=utcnow())
            reminders += [(now, r) for r in collect_step_reminders(s, now=utcnow(), tz_of=tz_of)]
            digests += [(now, d) for d in collect_daily_digests(s, now=utcnow(), tz_of=tz_of)]
            if now.date() == done_step.due_on and now.hour == 20:
                step = s.get(type(done_step), done_step.id)
                assert step is not None
                step.status = "done"
                s.add(step)
        now += timedelta(hours=1)
    with factory() as s:
        steps = {email: list(db.plans.plan_steps(s, pid)) for email, pid in plans.items()}
    return steps, reminders, digests, returns, snoozed.id, snooze_until, done_step.id


def check_every_reminder_once_at_nine_local(walked) -> None:
    steps, reminders, _, _, snoozed_id, snooze_until, done_id = walked
    seen: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for when, r in reminders:
        seen[(r.step_id, r.event)].append(when)
    assert all(len(times) == 1 for times in seen.values()), seen
    for email, tz_name in OWNERS.items():
        tz = ZoneInfo(tz_name)
        for step in steps[email]:
            opens = seen.get((step.id, "open"))
            if step.position == 1:
                assert opens is None  # open the day the plan was started: no reminder
            elif step.id == snoozed_id:
                assert opens == [
                    snooze_until.astimezone(UTC).replace(minute=0) + timedelta(hours=1)
                ]
            else:
                assert opens is not None
                local = opens[0].astimezone(tz)
                assert (local.date(), local.hour) == (step.window_start, 9), (email, step.name)
            overdue = seen.get((step.id, "overdue"))
            if step.id == done_id:
                assert overdue is None
            else:
                assert overdue is not None
                local = overdue[0].astimezone(tz)
                assert (local.date(), local.hour) == (step.due_on + timedelta(days=1), 9)


def check_reminders_follow_daylight_saving(walked) -> None:
    _, reminders, _, _, _, _, _ = walked
    ny_utc_hours = {when.hour for when, r in reminders if r.owner == "ny@example.com"}
    berlin_utc_hours = {
        when.hour
        for when, r in reminders
        if r.owner == "berlin@example.com" and r.event == "overdue"
    }
    assert ny_utc_hours == {13, 14}  # 09:00 EDT, then 09:00 EST after 1 Nov
    assert berlin_utc_hours == {7, 8}  # 09:00 CEST on 24 Oct, 09:00 CET after 25 Oct


def check_overdue_steps_are_marked(walked) -> None:
    steps, _, _, _, _, _, done_id = walked
    for owner_steps in steps.values():
        for step in owner_steps:
            assert step.status == ("done" if step.id == done_id else "overdue")


def check_snooze_returns_once(walked) -> None:
    _, _, _, returns, snoozed_id, _, _ = walked
    assert [(r.target_type, r.target_id) for r in returns] == [("step", snoozed_id)]


def check_daily_digest_once_a_day_at_nine_and_never_empty(walked) -> None:
    steps, _, digests, _, _, _, _ = walked
    per_day: dict[tuple[str, date], int] = defaultdict(int)
    for when, d in digests:
        local = when.astimezone(ZoneInfo(OWNERS[d.owner]))
        first_day = local.date() == PLAN_CREATED.astimezone(local.tzinfo).date()
        assert (local.hour == 9 or first_day) and local.date() == d.local_date  # bot started late
        assert not d.empty
        per_day[(d.owner, d.local_date)] += 1
    assert set(per_day.values()) == {1}
    # A day late in the plan lists the overdue steps by name.
    late = [
        d for _, d in digests if d.owner == "ny@example.com" and d.local_date == date(2027, 1, 4)
    ]
    assert late and {name for _, name, _, _ in late[0].overdue} >= {steps["ny@example.com"][0].name}


def test_ninety_day_walk(factory: SessionFactory) -> None:
    walked = walk(factory)
    check_every_reminder_once_at_nine_local(walked)
    check_reminders_follow_daylight_saving(walked)
    check_overdue_steps_are_marked(walked)
    check_snooze_returns_once(walked)
    check_daily_digest_once_a_day_at_nine_and_never_empty(walked)
