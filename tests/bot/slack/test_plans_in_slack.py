"""Plans in Slack (issue 5): step reminders in the thread and by DM, the step buttons over
signed HTTP, snooze returns, digests, the weekly summary, feedback, outcomes, and the
``/expansion snoozed`` and ``/expansion stats`` answers."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from slack_sdk.models.blocks import Block
from sqlmodel import col, select

import db.alerts
import db.digests
import db.facts
import db.plans
import db.snoozes
from bot.domain.reminders import collect_snooze_returns
from bot.domain.stats import load_metrics
from bot.infra import scheduled
from bot.infra.settings import AppConfig
from bot.slack import jobs, plan_cards, services
from bot.slack.blocks.digests import daily_digest_blocks, weekly_summary_blocks
from bot.slack.blocks.steps import step_blocks
from bot.slack.config import SlackConfig
from bot.slack.deps import Deps
from bot.slack.ids import Action
from bot.slack.model import ActionValue
from db.engine import SessionFactory, transaction
from db.models import Account, Alert, AuditLog, OutboxMessage, Plan, PlanStep, Snooze, utcnow
from scoring.engine import assess
from tests.bot.slack.conftest import (
    BOSS,
    JONAS,
    MAYA,
    action_body,
    alert_for,
    command_body,
    form,
    post,
    signed,
    slash,
    view_submission,
    wait_for,
)
from tests.fakes import FakeSlack, validate_blocks

BERLIN = ZoneInfo("Europe/Berlin")
MAYA_DM = "D" + MAYA[1:]
STEP_BUTTONS = (Action.STEP_DONE.value, Action.STEP_SNOOZE.value, Action.STEP_SKIP.value)


# --- helpers ------------------------------------------------------------------------------


def _start_plan(
    factory: SessionFactory, config: AppConfig, name: str
) -> tuple[Plan, list[PlanStep]]:
    alert = alert_for(factory, name)
    assert alert.id is not None
    with transaction(factory) as session:
        started = services.start_plan(
            session,
            account_id=alert.account_id,
            alert_id=alert.id,
            user_id=MAYA,
            config=config,
            today=date.today(),
            now=utcnow(),
        )
        plan, steps = started.plan, started.steps
        session.expunge_all()
    return plan, steps


def _at_nine_thirty(day: date) -> datetime:
    """09:30 in Berlin (Maya's timezone) on ``day``, as UTC."""
    return datetime.combine(day, time(9, 30), tzinfo=BERLIN).astimezone(UTC)


def _deliver(deps: Deps, at: datetime) -> None:
    """Send the outbox at midday after ``at`` (outside everyone's quiet hours)."""
    noon = at.replace(hour=12, minute=0, second=0, microsecond=0)
    deps.sender.clock = lambda: noon if noon >= at else noon + timedelta(days=1)
    deps.sender.run_once(limit=500)


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    """A slash-command answer whose blocks parse with slack_sdk's Block Kit models."""
    assert body["response_type"] == "ephemeral"
    assert not validate_blocks(body["blocks"])
    for block in body["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
    return body


_TRIGGERS = iter(range(1000, 10**6))


def _fresh_trigger(body: str) -> str:
    """The same action body with a new trigger_id: Slack lets each open one modal only."""
    payload = json.loads(urllib.parse.parse_qs(body)["payload"][0])
    payload["trigger_id"] = f"{next(_TRIGGERS)}.738474920.8088930838d88f008e0"
    return form(payload)


def _view(slack: FakeSlack) -> dict[str, Any]:
    raw = wait_for(lambda: slack.calls("views.open"))[-1]["view"]
    view: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else raw
    assert not validate_blocks(view["blocks"], 100)
    return view


def _submit(
    url: str, view: dict[str, Any], values: dict[str, Any], user: str = MAYA
) -> httpx.Response:
    body = form(view_submission(view["callback_id"], view["private_metadata"], values, user=user))
    return post(url, body, signed(body))


def _thread_replies(slack: FakeSlack, alert: Alert) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (ch, ts, msg)
        for (ch, ts), msg in list(slack.messages.items())
        if msg.get("thread_ts") == alert.ts and "step_done" in json.dumps(msg.get("blocks"))
    ]


def _dm_reminders(slack: FakeSlack) -> list[dict[str, Any]]:
    return [
        p
        for p in slack.posts()
        if p["channel"] == MAYA_DM and Action.STEP_DONE.value in json.dumps(p.get("blocks"))
    ]


def _step(factory: SessionFactory, step_id: int) -> PlanStep:
    with factory() as session:
        step = session.get(PlanStep, step_id)
        assert step is not None
        return step


def _actions(factory: SessionFactory) -> list[str]:
    with factory() as session:
        return [a.action for a in session.exec(select(AuditLog).order_by(col(AuditLog.id)))]


def _remind_second_step(
    factory: SessionFactory, deps: Deps, config: AppConfig
) -> tuple[Alert, list[PlanStep], datetime]:
    """BrightOps's plan, its alert posted, and the morning the second step opens (the first is
    then overdue): two reminders, each to the thread and by DM."""
    deps.sender.run_once(limit=500)
    _, steps = _start_plan(factory, config, "BrightOps Agency")
    now = _at_nine_thirty(steps[1].window_start)
    assert jobs.send_step_reminders(factory, deps.router, config, now) == 2
    assert jobs.send_step_reminders(factory, deps.router, config, now) == 0
    later = now + timedelta(minutes=5)
    assert jobs.send_step_reminders(factory, deps.router, config, later) == 0
    _deliver(deps, now)
    return alert_for(factory, "BrightOps Agency"), steps, now


# --- reminders and the step buttons ---------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_reminders_go_once_to_the_thread_and_by_dm_with_the_buttons(
    deps: Deps, slack: FakeSlack, factory: SessionFactory, config: AppConfig
) -> None:
    alert, steps, now = _remind_second_step(factory, deps, config)
    threads = _thread_replies(slack, alert)
    dms = _dm_reminders(slack)
    assert len(threads) == 2 and len(dms) == 2
    for _, _, msg in threads:
        text = json.dumps(msg["blocks"])
        assert all(button in text for button in STEP_BUTTONS)
        assert not validate_blocks(msg["blocks"])
    texts = sorted(m["text"] for _, _, m in threads)
    assert any("still open" in t and steps[0].name.split(":")[0] in t for t in texts)  # overdue
    assert any("Time for the next step" in t for t in texts)  # the second step opened
    assert _step(factory, steps[0].id or 0).status == "overdue"
    # a later tick, and a later delivery run, send nothing more
    assert jobs.send_step_reminders(factory, deps.router, config, now + timedelta(hours=2)) == 0
    _deliver(deps, now + timedelta(days=1))
    assert len(_thread_replies(slack, alert)) == 2 and len(_dm_reminders(slack)) == 2


@pytest.mark.usefixtures("seeded")
def test_done_snooze_and_skip_over_signed_requests_update_step_and_message(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory, config: AppConfig
) -> None:
    url, deps = server
    alert, steps, _ = _remind_second_step(factory, deps, config)
    by_step = {}
    for channel, ts, msg in _thread_replies(slack, alert):
        value = ActionValue.load(
            next(
                e["value"]
                for b in msg["blocks"]
                if b["type"] == "actions"
                for e in b["elements"]
                if e.get("action_id") == Action.STEP_DONE.value
            )
        )
        by_step[value.step] = (channel, ts, value)
    first, second = steps[0].id, steps[1].id
    assert set(by_step) == {first, second}

    # Done on the overdue step
    channel, ts, value = by_step[first]
    body = action_body(
        slack, action_id=Action.STEP_DONE.value, value=value.dump(), channel=channel, ts=ts
    )
    assert post(url, body, signed(body)).status_code == 200
    update = wait_for(lambda: [c for c in slack.calls("chat.update") if c["ts"] == ts])
    drawn = json.dumps(update[-1]["blocks"])
    assert "Done by <@U0MAYA0001>" in drawn and "<!date^" in drawn
    assert Action.STEP_DONE.value not in drawn  # the buttons are gone
    done = _step(factory, first or 0)
    assert done.status == "done" and done.closed_by == MAYA and done.closed_at is not None

    # Snooze the second step for a week: the message says so, and it comes back by DM
    channel, ts, value = by_step[second]
    choice = value.model_copy(update={"choice": "1w"}).dump()
    body = action_body(
        slack, action_id=Action.STEP_SNOOZE.value, selected=choice, channel=channel, ts=ts
    )
    assert post(url, body, signed(body)).status_code == 200
    update = wait_for(
        lambda: [
            c
            for c in slack.calls("chat.update")
            if c["ts"] == ts and "Snoozed by" in json.dumps(c["blocks"])
        ]
    )
    assert "Snoozed by <@U0MAYA0001> until <!date^" in json.dumps(update[-1]["blocks"])
    with factory() as session:
        snooze = db.snoozes.active_snoozes(session, target_type="step", target_ids=[second or 0])
        assert len(snooze) == 1
        until = snooze[0].until
    assert until.astimezone(BERLIN).hour == 9  # 09:00 Maya's time, a week on
    assert jobs.return_snoozed_plans(factory, until - timedelta(minutes=1)) == 0
    assert jobs.return_snoozed_plans(factory, until + timedelta(minutes=1)) == 1
    assert jobs.return_snoozed_plans(factory, until + timedelta(minutes=2)) == 0  # once
    _deliver(deps, until + timedelta(minutes=1))
    back = [p for p in _dm_reminders(slack) if "Back from snooze" in p["text"]]
    assert len(back) == 1 and steps[1].name.split(":")[0] in back[0]["text"]

    # Skip it with a note (a modal), which redraws the original message
    body = action_body(
        slack, action_id=Action.STEP_SKIP.value, value=value.dump(), channel=channel, ts=ts
    )
    assert post(url, body, signed(body)).status_code == 200
    view = _view(slack)
    assert view["callback_id"] == "step_skip_modal"
    note = {"skip_note_block": {"skip_note": {"value": "<!channel> covered on the call"}}}
    resp = _submit(url, view, note)
    assert resp.status_code == 200 and resp.text == ""
    wait_for(lambda: _step(factory, second or 0).status == "skipped")
    update = wait_for(
        lambda: [
            c
            for c in slack.calls("chat.update")
            if c["ts"] == ts and "Skipped by" in json.dumps(c["blocks"])
        ]
    )
    drawn = json.dumps(update[-1]["blocks"])
    assert "&lt;!channel&gt; covered on the call" in drawn and "<!channel>" not in drawn
    skipped = _step(factory, second or 0)
    assert skipped.closed_by == MAYA and skipped.note == "<!channel> covered on the call"
    actions = _actions(factory)
    assert {"step.done", "step.snooze", "step.snooze_end", "step.skip"} <= set(actions)


@pytest.mark.usefixtures("seeded")
def test_reassigning_a_step_needs_the_owner_or_an_admin(
    make_deps: Any, slack: FakeSlack, factory: SessionFactory
) -> None:
    config = AppConfig(slack=SlackConfig(admins=("U0ADMIN001",), hourly_cap_per_channel=50))
    deps = make_deps(config)
    _, steps = _start_plan(factory, config, "BrightOps Agency")
    step_id = steps[0].id or 0
    now = utcnow()
    with transaction(factory) as session, pytest.raises(Exception, match="Only its owner"):
        plan_cards.reassign_step(
            session,
            step_id=step_id,
            user_id=BOSS,
            caller_emails=["boss@example.com"],
            new_owner="boss@example.com",
            config=config,
            now=now,
        )
    with transaction(factory) as session:
        card = plan_cards.reassign_step(
            session,
            step_id=step_id,
            user_id=MAYA,
            caller_emails=deps.router.emails_for(MAYA, now=now),
            new_owner="jonas.weber@example.com",
            config=config,
            now=now,
        )
    assert _step(factory, step_id).owner == "jonas.weber@example.com"
    assert card.reassigned_by == MAYA
    assert "step.reassign" in _actions(factory)


# --- snoozes --------------------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_plan_snooze_returns_leave_alert_snoozes_to_the_alert_job(
    factory: SessionFactory, config: AppConfig
) -> None:
    alert = alert_for(factory, "Polar Data")
    now = utcnow()
    with transaction(factory) as session:
        services.snooze(
            session, alert_id=alert.id or 0, user_id=MAYA, until=now + timedelta(hours=1), now=now
        )
    later = now + timedelta(hours=2)
    with transaction(factory) as session:
        assert collect_snooze_returns(session, now=later) == []
    assert jobs.return_snoozed_alerts(factory, config, later) == [alert.id]


# --- digests --------------------------------------------------------------------------------


def test_an_empty_daily_digest_is_not_sent(
    deps: Deps, slack: FakeSlack, factory: SessionFactory, config: AppConfig
) -> None:
    with transaction(factory) as session:
        session.add(Account(key="quiet", name="Quiet Co", owner_email="maya.chen@example.com"))
    now = _at_nine_thirty(date.today())
    assert jobs.send_daily_digests(factory, deps.router, config, now) == 0
    with factory() as session:
        assert not session.exec(select(OutboxMessage)).all()
    _deliver(deps, now)
    assert not [p for p in slack.posts() if p["channel"] == MAYA_DM]


@pytest.mark.usefixtures("seeded")
def test_daily_digest_dm_at_nine_local_with_overdue_steps_and_candidates(
    deps: Deps, slack: FakeSlack, factory: SessionFactory, config: AppConfig
) -> None:
    deps.sender.run_once(limit=500)
    _, steps = _start_plan(factory, config, "BrightOps Agency")
    day = steps[0].due_on + timedelta(days=2)
    before_nine = datetime.combine(day, time(8, 50), tzinfo=BERLIN).astimezone(UTC)
    assert jobs.send_daily_digests(factory, deps.router, config, before_nine) == 0
    now = _at_nine_thirty(day)
    sent = jobs.send_daily_digests(factory, deps.router, config, now)
    assert sent >= 1
    assert jobs.send_daily_digests(factory, deps.router, config, now) == 0  # claimed once
    jobs.send_daily_digests(factory, deps.router, config, now + timedelta(hours=3))  # others' 09:00
    with factory() as session:
        candidates = [
            acc.name
            for _, acc in db.digests.digest_alerts_since(
                session, owner="maya.chen@example.com", since=None
            )
        ]
    _deliver(deps, now)
    dms = [p for p in slack.posts() if p["channel"] == MAYA_DM]
    assert len(dms) == 1
    drawn = json.dumps(dms[0]["blocks"], ensure_ascii=False)
    assert not validate_blocks(dms[0]["blocks"])
    assert "Your expansion digest" in drawn and "Overdue" in drawn
    assert steps[0].name.split(":")[0] in drawn and "BrightOps Agency" in drawn
    for name in candidates:
        assert name in drawn


@pytest.mark.usefixtures("seeded")
def test_weekly_summary_posts_once_a_week_with_top_movers(
    make_deps: Any, slack: FakeSlack, factory: SessionFactory
) -> None:
    now = utcnow()
    config = AppConfig(
        slack=SlackConfig(
            hourly_cap_per_channel=50,
            weekly_summary_channel="#cs-leads",
            weekly_summary_day=now.weekday(),
            weekly_summary_hour=0,
        )
    )
    deps = make_deps(config)
    alert = alert_for(factory, "Polar Data")
    with transaction(factory) as session:
        account = session.get(Account, alert.account_id)
        assert account is not None
        before = assess(
            db.facts.load_facts(session, account), now.date() - timedelta(days=7), config.scoring
        ).score
        stored = session.get(Alert, alert.id)
        assert stored is not None
        stored.score = before + 30  # the biggest rise in the book this week
        stored.updated_at = now
        session.add(stored)
    other_day = now + timedelta(days=1)
    assert not jobs.post_weekly_summary(factory, config, "#expansion", other_day)
    assert jobs.post_weekly_summary(factory, config, "#expansion", now)
    assert not jobs.post_weekly_summary(factory, config, "#expansion", now + timedelta(hours=1))
    _deliver(deps, now)
    posted = [p for p in slack.posts() if p["channel"] == "#cs-leads"]
    assert len(posted) == 1
    drawn = json.dumps(posted[0]["blocks"], ensure_ascii=False)
    assert not validate_blocks(posted[0]["blocks"])
    assert "Pipeline by band" in drawn and "Top movers this week" in drawn
    first_mover = drawn.split("Top movers this week")[1]
    assert f"Polar Data* {before} → {before + 30} (+30)" in first_mover.split("\\n")[1]


def test_weekly_summary_channel_defaults_to_the_expansion_channel() -> None:
    assert SlackConfig().weekly_summary_channel is None
    with pytest.raises(ValueError, match="not a channel"):
        SlackConfig(weekly_summary_channel="managers room")
    with pytest.raises(ValueError, match="not a timezone"):
        SlackConfig(weekly_summary_tz="Mars/Olympus")


# --- feedback, outcomes, commands ---------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_feedback_is_one_vote_per_person_and_feeds_precision(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory
) -> None:
    url, deps = server
    deps.sender.run_once(limit=500)
    alert = alert_for(factory, "BrightOps Agency")
    value = ActionValue(alert=alert.id, account=alert.account_id).dump()

    def click(action: Action, user: str) -> None:
        body = action_body(slack, action_id=action.value, value=value, user=user, ts=alert.ts or "")
        assert post(url, body, signed(body)).status_code == 200

    click(Action.FEEDBACK_USEFUL, MAYA)
    wait_for(lambda: alert_for(factory, "BrightOps Agency").feedback == "useful")
    click(Action.FEEDBACK_USEFUL, MAYA)  # the same vote again changes nothing
    click(Action.FEEDBACK_NOISE, BOSS)
    wait_for(lambda: alert_for(factory, "BrightOps Agency").feedback == "noise")
    click(Action.FEEDBACK_USEFUL, BOSS)  # a change of mind is allowed
    wait_for(lambda: _actions(factory).count("alert.feedback") == 3)
    stored = alert_for(factory, "BrightOps Agency")
    assert stored.feedback == "useful" and stored.feedback_by == BOSS
    with factory() as session:
        assert db.alerts.feedback_votes(session, alert.id or 0) == [
            (BOSS, "useful"),
            (MAYA, "useful"),
        ]
        metrics = load_metrics(session, today=date.today())
    assert sum(r.total for r in metrics.precision_by_trigger.values()) == 1
    both = "👍 Useful: <@U0BOSS0001>, <@U0MAYA0001>"
    wait_for(  # the message is edited in place to show each person's latest vote
        lambda: [
            c
            for c in slack.calls("chat.update")
            if c["ts"] == alert.ts and both in json.dumps(c["blocks"], ensure_ascii=False)
        ]
    )


@pytest.mark.usefixtures("seeded")
def test_plan_outcomes_through_the_buttons(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory
) -> None:
    url, deps = server
    answer = _answer(slash(url, slack, "plan brightops"))
    assert Action.PLAN_OUTCOME.value in json.dumps(answer["blocks"])
    alert = alert_for(factory, "BrightOps Agency")
    with factory() as session:
        plan = db.plans.open_plan(session, alert.account_id)
        assert plan is not None and plan.id is not None
        plan_id = plan.id

    def choose(outcome: str, rid: str, target: int) -> dict[str, Any]:
        choice = ActionValue(plan=target, choice=outcome).dump()
        before = len(slack.calls("views.open"))
        body = _fresh_trigger(
            action_body(
                slack,
                action_id=Action.PLAN_OUTCOME.value,
                selected=choice,
                ephemeral=True,
                rid=rid,
            )
        )
        assert post(url, body, signed(body)).status_code == 200
        wait_for(lambda: len(slack.calls("views.open")) > before)
        return _view(slack)

    view = choose("lost", "lost", plan_id)
    resp = _submit(url, view, {"outcome_reason_block": {"outcome_reason": {"value": "  "}}})
    assert resp.json()["response_action"] == "errors"  # a reason is needed
    view = choose("won", "won", plan_id)
    resp = _submit(url, view, {"outcome_arr_block": {"outcome_arr": {"value": "lots"}}})
    assert "12000" in resp.json()["errors"]["outcome_arr_block"]
    resp = _submit(url, view, {"outcome_arr_block": {"outcome_arr": {"value": "$12k"}}})
    assert resp.status_code == 200 and resp.text == ""
    said = wait_for(lambda: slack.responses("won"))
    assert "closed as won" in said[-1]["text"] and "12,000" in said[-1]["text"]
    with factory() as session:
        won = session.get(Plan, plan_id)
        assert won is not None and won.status == "won" and won.outcome_arr == 12000
        assert won.closed_by == MAYA

    # not this cycle: the plan comes back on the revisit date, 09:00 Maya's time
    _answer(slash(url, slack, "plan polar data"))
    polar = alert_for(factory, "Polar Data")
    with factory() as session:
        other = db.plans.open_plan(session, polar.account_id)
        assert other is not None and other.id is not None
        other_id = other.id
    revisit = date.today() + timedelta(days=60)
    view = choose("not_this_cycle", "park", other_id)
    picked = {"outcome_date_block": {"outcome_date": {"selected_date": revisit.isoformat()}}}
    assert _submit(url, view, picked).status_code == 200
    wait_for(lambda: slack.responses("park"))
    with factory() as session:
        parked = session.get(Plan, other_id)
        assert parked is not None and parked.status == "not_this_cycle"
        assert parked.revisit_on == revisit
        snooze = session.exec(
            select(Snooze).where(Snooze.target_type == "plan", Snooze.target_id == other_id)
        ).one()
    assert snooze.until.astimezone(BERLIN) == datetime.combine(revisit, time(9), tzinfo=BERLIN)
    assert jobs.return_snoozed_plans(factory, snooze.until + timedelta(minutes=1)) == 1
    _deliver(deps, snooze.until + timedelta(minutes=1))
    dms = [p for p in slack.posts() if p["channel"] == MAYA_DM and "revisit" in p["text"]]
    assert len(dms) == 1 and "Polar Data" in dms[0]["text"]


@pytest.mark.usefixtures("seeded")
def test_snoozed_and_stats_commands_answer_in_block_kit(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory, config: AppConfig
) -> None:
    url, _ = server
    assert "Nothing of yours is snoozed" in _answer(slash(url, slack, "snoozed"))["text"]
    polar = alert_for(factory, "Polar Data")
    _, steps = _start_plan(factory, config, "BrightOps Agency")
    now = utcnow()
    with transaction(factory) as session:
        services.snooze(
            session, alert_id=polar.id or 0, user_id=MAYA, until=now + timedelta(days=3), now=now
        )
        plan_cards.snooze_step(
            session,
            step_id=steps[2].id or 0,
            user_id=MAYA,
            until=now + timedelta(days=1),
            now=now,
        )
    answer = _answer(slash(url, slack, "snoozed"))
    text = json.dumps(answer["blocks"], ensure_ascii=False)
    assert "Waiting for you (2)" in answer["text"]
    assert text.index("BrightOps Agency") < text.index("Polar Data")  # soonest first
    assert text.count("<!date^") == 2

    def stats(user: str, rid: str) -> str:
        body = command_body(slack, "stats", user=user, rid=rid)
        resp = post(url, body, signed(body))
        assert resp.status_code == 200
        assert "Counting" in _answer(resp.json())["text"]  # acked at once
        said = wait_for(lambda: slack.responses(rid))[-1]
        assert said["response_type"] == "ephemeral" and not validate_blocks(said["blocks"])
        for block in said["blocks"]:
            parsed = Block.parse(block)
            assert parsed is not None
            parsed.validate_json()
        return json.dumps(said["blocks"], ensure_ascii=False)

    text = stats(MAYA, "stats-maya")
    assert "Your accounts" in text and "The whole team" in text and "Precision" in text
    text = stats(BOSS, "stats-boss")  # owns no accounts: the team's only
    assert "Your accounts" not in text and "The whole team" in text
    body = command_body(slack, "help")
    resp = post(url, body, signed(body))  # help needs nothing but the text: in the ack itself
    help_text = json.dumps(_answer(resp.json())["blocks"])
    assert "/expansion snoozed" in help_text and "/expansion stats" in help_text


@pytest.mark.usefixtures("seeded")
def test_app_home_shows_the_viewers_own_outcomes(deps: Deps, factory: SessionFactory) -> None:
    from bot.slack import flows

    view = flows.home(deps, user_id=MAYA).to_dict()
    text = json.dumps(view["blocks"], ensure_ascii=False)
    assert "Your outcomes" in text and "Won ARR" in text and "Precision" in text
    assert not validate_blocks(view["blocks"], 100)
    other = json.dumps(flows.home(deps, user_id=JONAS).to_dict()["blocks"], ensure_ascii=False)
    assert "Your outcomes" in other  # Jonas owns accounts too


@pytest.mark.usefixtures("seeded")
def test_reassign_a_step_and_a_whole_plan_through_modals(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory, config: AppConfig
) -> None:
    url, deps = server
    alert, steps, _ = _remind_second_step(factory, deps, config)
    channel, ts, _msg = next(
        m for m in _thread_replies(slack, alert) if "Time for the next step" in m[2]["text"]
    )
    value = ActionValue(step=steps[1].id, plan=steps[1].plan_id).dump()
    body = action_body(
        slack, action_id=Action.STEP_REASSIGN.value, value=value, channel=channel, ts=ts
    )
    assert post(url, body, signed(body)).status_code == 200
    view = _view(slack)
    assert view["callback_id"] == "owner_modal"
    picked = {"owner_user_block": {"owner_user": {"selected_user": JONAS}}}
    assert _submit(url, view, picked).status_code == 200
    wait_for(lambda: _step(factory, steps[1].id or 0).owner == "jonas.weber@example.com")
    update = wait_for(
        lambda: [
            c
            for c in slack.calls("chat.update")
            if c["ts"] == ts and "Now owned by" in json.dumps(c["blocks"])
        ]
    )
    assert f"Now owned by <@{JONAS}> (by <@{MAYA}>)" in json.dumps(update[-1]["blocks"])

    body = _fresh_trigger(
        action_body(
            slack,
            action_id=Action.PLAN_REASSIGN.value,
            value=ActionValue(plan=steps[0].plan_id).dump(),
            ephemeral=True,
            rid="handover",
        )
    )
    before = len(slack.calls("views.open"))
    assert post(url, body, signed(body)).status_code == 200
    wait_for(lambda: len(slack.calls("views.open")) > before)
    view = _view(slack)
    picked = {"owner_user_block": {"owner_user": {"selected_user": JONAS}}}
    assert _submit(url, view, picked).status_code == 200
    said = wait_for(lambda: slack.responses("handover"))
    assert f"now belong to <@{JONAS}>" in said[-1]["text"]
    with factory() as session:
        plan = session.get(Plan, steps[0].plan_id)
        assert plan is not None and plan.owner == "jonas.weber@example.com"
        open_owners = {
            s.owner for s in db.plans.plan_steps(session, plan.id or 0) if s.status == "pending"
        }
    assert open_owners == {"jonas.weber@example.com"}
    assert "plan.reassign" in _actions(factory)


def test_the_last_step_carries_the_outcome_choices_and_digests_stay_within_limits() -> None:
    from bot.domain.digests import DailyDigest, WeeklySummary
    from bot.slack.model import StepCard

    today = date(2026, 11, 20)
    last = StepCard(1, 2, "Acme", "Close", today, today, "pending", last=True)
    drawn = json.dumps([b.to_dict() for b in step_blocks(last)])
    assert Action.PLAN_OUTCOME.value in drawn
    middle = StepCard(1, 2, "Acme", "Proposal", today, today, "pending")
    assert Action.PLAN_OUTCOME.value not in json.dumps([b.to_dict() for b in step_blocks(middle)])
    huge = "<!here> " + "x" * 400
    digest = DailyDigest(
        "maya@example.com",
        today,
        new_candidates=[(huge, 15, "capacity")] * 300,
        overdue=[(huge, huge, today, huge)] * 300,
    )
    built = [b.to_dict() for b in daily_digest_blocks(digest)]
    assert not validate_blocks(built)
    text = json.dumps(built, ensure_ascii=False)
    assert "…and " in text and "<!here>" not in text
    weekly = WeeklySummary("2026-W47", top_movers=[(huge, 3, 40)] * 5, overdue_steps=2)
    built = [b.to_dict() for b in weekly_summary_blocks(weekly)]
    assert not validate_blocks(built)


def test_the_new_jobs_are_scheduled_behind_leases(
    deps: Deps, factory: SessionFactory, config: AppConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    added: dict[str, Any] = {}

    class Recorder:
        def add_job(self, func: Any, trigger: str, **kwargs: Any) -> None:
            added[kwargs["id"]] = func

    leased: list[str] = []

    def exclusively(_factory: Any, name: str, job: Any, ttl: Any) -> Any:
        leased.append(name)
        return job()

    monkeypatch.setattr(scheduled, "run_exclusively", exclusively)
    jobs.add_jobs(Recorder(), factory=factory, config=config, sender=deps.sender)
    new = ["slack.reminders", "slack.plan_snoozes", "slack.daily_digest", "slack.weekly_summary"]
    assert set(new) <= set(added)
    for name in new:
        added[name]()
    assert leased == new
