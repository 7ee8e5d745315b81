"""The app over real HTTP: signed requests exactly as Slack sends them, a fake Slack Web API
recording what the app posted, updated and answered."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import func
from sqlmodel import select

import db.alerts
import db.plans
from bot.slack import services
from bot.slack.deps import Deps
from bot.slack.ids import Action
from bot.slack.model import ActionValue
from db.engine import SessionFactory, transaction
from db.models import AuditLog, OutboxMessage, utcnow
from tests.bot.slack.conftest import (
    BOSS,
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


def _answer(body: dict) -> dict:
    """An /expansion answer: ephemeral, its blocks valid Block Kit."""
    assert body["response_type"] == "ephemeral"
    assert not validate_blocks(body["blocks"])
    for block in body["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
    assert isinstance(body, dict)
    return body


def _text(body: dict) -> str:
    return json.dumps(body["blocks"], ensure_ascii=False)


def _deliver(deps: Deps) -> None:
    deps.sender.run_once(limit=500)


@pytest.mark.usefixtures("seeded")
def test_slash_command_answers_the_account_card(server, slack: FakeSlack) -> None:
    url, _ = server
    body = command_body(slack, "brightops", rid="card")
    started = time.perf_counter()
    resp = post(url, body, signed(body))
    assert time.perf_counter() - started < 3
    assert resp.status_code == 200 and resp.text == ""  # acknowledged at once, empty
    answer = _answer(wait_for(lambda: slack.responses("card"))[0])  # then answered
    assert len(slack.responses("card")) == 1
    text = _text(answer)
    assert "BrightOps Agency" in answer["text"]
    assert "Capacity ceiling" in text and "44 of 50 seats" in text
    assert "Hi Sarah" in text  # the opening script
    assert "*ARR*" in text and "days left" in text
    assert Action.ACKNOWLEDGE.value in text  # the open alert's buttons


@pytest.mark.usefixtures("seeded")
def test_several_matches_get_a_pick_list_and_none_the_closest_names(server, slack) -> None:
    url, _ = server
    answer = _answer(slash(url, slack, "a"))
    assert "Several accounts match" in _text(answer)
    assert Action.PICK_ACCOUNT.value in _text(answer)
    answer = _answer(slash(url, slack, "zzyzx qqq"))
    assert "No account matches" in answer["text"] and "Closest names" in answer["text"]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("text", ["help", "snooze", "ack", "top 500", "snooze brightops soonish"])
def test_unknown_or_incomplete_input_gets_help_never_a_trace(server, slack, text: str) -> None:
    url, _ = server
    answer = _answer(slash(url, slack, text))
    assert "Traceback" not in json.dumps(answer)
    assert "/expansion" in _text(answer) or "Try" in _text(answer)


@pytest.mark.usefixtures("seeded")
def test_top_and_mine_list_the_callers_book(server, slack) -> None:
    url, _ = server
    for text in ("", "top 3", "mine"):
        answer = _answer(slash(url, slack, text))
        assert "BrightOps Agency" in _text(answer) or "Nimbus" in _text(answer)
    answer = _answer(slash(url, slack, "top 3"))
    assert _text(answer).count("\\n") <= 3  # three lines


@pytest.mark.usefixtures("seeded")
def test_ack_and_snooze_commands_change_the_alert_and_its_message(
    server, slack: FakeSlack, factory
) -> None:
    url, deps = server
    _deliver(deps)
    assert "Acknowledged" in _answer(slash(url, slack, "ack brightops"))["text"]
    alert = alert_for(factory, "BrightOps Agency")
    assert alert.status == "acknowledged" and alert.acknowledged_by == MAYA
    update = wait_for(lambda: [c for c in slack.calls("chat.update") if c["ts"] == alert.ts])
    assert "Acknowledged by <@U0MAYA0001>" in json.dumps(update[-1]["blocks"])

    assert (
        "more than a year"
        in _answer(slash(url, slack, "snooze polar data until 2099-01-01"))["text"]
    )
    assert "Snoozed" in _answer(slash(url, slack, "snooze polar data 2w"))["text"]
    polar = alert_for(factory, "Polar Data")
    assert polar.status == "snoozed" and polar.snoozed_until is not None
    # 09:00 in Maya's timezone (Berlin), two weeks from now
    local = polar.snoozed_until.astimezone(ZoneInfo("Europe/Berlin"))
    assert local.hour == 9


@pytest.mark.usefixtures("seeded")
def test_plan_command_creates_the_ninety_day_calendar_once(server, slack, factory) -> None:
    url, _ = server
    first = _answer(slash(url, slack, "plan brightops"))
    assert "Started the 90-day plan" in first["text"] or "Started" in _text(first)
    second = _answer(slash(url, slack, "plan brightops"))
    assert "Already open" in _text(second)
    with factory() as session:
        alert = alert_for(factory, "BrightOps Agency")
        plan = db.plans.open_plan(session, alert.account_id)
        assert plan is not None and plan.id is not None
        assert len(db.plans.plan_steps(session, plan.id)) >= 5


@pytest.mark.usefixtures("seeded")
def test_acknowledge_button_updates_the_message_in_place(server, slack: FakeSlack, factory) -> None:
    url, deps = server
    _deliver(deps)
    alert = alert_for(factory, "BrightOps Agency")
    assert alert.ts and alert.channel
    value = ActionValue(alert=alert.id, account=alert.account_id).dump()
    body = action_body(
        slack, action_id=Action.ACKNOWLEDGE.value, value=value, channel=alert.channel, ts=alert.ts
    )
    resp = post(url, body, signed(body))
    assert resp.status_code == 200 and resp.text == ""
    update = wait_for(lambda: [c for c in slack.calls("chat.update") if c["ts"] == alert.ts])
    blocks = update[-1]["blocks"]
    assert not validate_blocks(blocks)
    assert "Acknowledged by <@U0MAYA0001>" in json.dumps(blocks)
    assert Action.ACKNOWLEDGE.value not in json.dumps(blocks)  # the button is gone
    tops = [p for p in slack.posts() if not p.get("thread_ts") and "BrightOps" in p["text"]]
    assert len(tops) == 1  # edited, never posted again
    with factory() as session:
        actions = [a.action for a in session.exec(select(AuditLog)).all()]
    assert "alert.acknowledge" in actions


@pytest.mark.usefixtures("seeded")
def test_snooze_select_and_date_modal(server, slack: FakeSlack, factory) -> None:
    url, deps = server
    _deliver(deps)
    alert = alert_for(factory, "Nimbus Cloudworks")
    choice = ActionValue(alert=alert.id, choice="1w").dump()
    body = action_body(slack, action_id=Action.SNOOZE.value, selected=choice, ts=alert.ts or "")
    assert post(url, body, signed(body)).status_code == 200
    wait_for(lambda: alert_for(factory, "Nimbus Cloudworks").status == "snoozed")
    update = wait_for(lambda: [c for c in slack.calls("chat.update") if c["ts"] == alert.ts])
    assert "Snoozed by <@U0MAYA0001> until <!date^" in json.dumps(update[-1]["blocks"])

    other = alert_for(factory, "BrightOps Agency")
    choice = ActionValue(alert=other.id, choice="date").dump()
    body = action_body(slack, action_id=Action.SNOOZE.value, selected=choice)
    assert post(url, body, signed(body)).status_code == 200
    opened = wait_for(lambda: slack.calls("views.open"))
    view = (
        json.loads(opened[-1]["view"])
        if isinstance(opened[-1]["view"], str)
        else opened[-1]["view"]
    )
    assert view["callback_id"] == "snooze_modal"
    assert not validate_blocks(view["blocks"], 100)

    # submitting the modal with a date in the past is refused under the input
    past = {"snooze_date_block": {"snooze_date": {"selected_date": "2020-01-01"}}}
    submission = view_submission("snooze_modal", view["private_metadata"], past)
    body = form(submission)
    resp = post(url, body, signed(body))
    assert resp.json()["response_action"] == "errors"
    later = (date.today() + timedelta(days=10)).isoformat()
    submission["view"]["state"]["values"]["snooze_date_block"]["snooze_date"]["selected_date"] = (
        later
    )
    body = form(submission)
    resp = post(url, body, signed(body))
    assert resp.status_code == 200 and resp.text == ""  # an empty 200 closes the modal
    snoozed = wait_for(lambda: alert_for(factory, "BrightOps Agency").snoozed_until)
    assert snoozed.astimezone(ZoneInfo("Europe/Berlin")).date().isoformat() == later


@pytest.mark.usefixtures("seeded")
def test_not_now_modal_dismisses_with_a_reason(server, slack: FakeSlack, factory) -> None:
    url, deps = server
    _deliver(deps)
    alert = alert_for(factory, "Polar Data")
    value = ActionValue(alert=alert.id, account=alert.account_id).dump()
    body = action_body(slack, action_id=Action.NOT_NOW.value, value=value)
    assert post(url, body, signed(body)).status_code == 200
    opened = wait_for(lambda: slack.calls("views.open"))
    view = opened[-1]["view"]
    view = json.loads(view) if isinstance(view, str) else view
    values = {
        "not_now_reason_block": {"not_now_reason": {"selected_option": {"value": "timing"}}},
        "not_now_note_block": {"not_now_note": {"value": "<!channel> after Q1"}},
    }
    body = form(view_submission("not_now_modal", view["private_metadata"], values))
    assert post(url, body, signed(body)).status_code == 200
    wait_for(lambda: alert_for(factory, "Polar Data").status == "dismissed")
    update = wait_for(lambda: [c for c in slack.calls("chat.update") if c["ts"] == alert.ts])
    blocks = json.dumps(update[-1]["blocks"])
    assert "Not now" in blocks and "bad timing" in blocks
    assert "<!channel>" not in blocks and "&lt;!channel&gt;" in blocks
    assert Action.ACKNOWLEDGE.value not in blocks


@pytest.mark.usefixtures("seeded")
def test_reassign_changes_the_owner_and_says_so_in_the_thread(server, slack, factory) -> None:
    url, deps = server
    _deliver(deps)
    alert = alert_for(factory, "BrightOps Agency")
    value = ActionValue(alert=alert.id, account=alert.account_id).dump()
    body = action_body(slack, action_id=Action.REASSIGN.value, value=value)
    assert post(url, body, signed(body)).status_code == 200
    view = wait_for(lambda: slack.calls("views.open"))[-1]["view"]
    view = json.loads(view) if isinstance(view, str) else view
    chosen = {"reassign_user_block": {"reassign_user": {"selected_user": BOSS}}}
    body = form(view_submission("reassign_modal", view["private_metadata"], chosen))
    assert post(url, body, signed(body)).status_code == 200
    wait_for(lambda: alert_for(factory, "BrightOps Agency").owner_slack_id == BOSS)
    thread = wait_for(
        lambda: [p for p in slack.posts() if p.get("thread_ts") == alert.ts and BOSS in p["text"]]
    )
    assert "Now owned by" in thread[0]["text"]


@pytest.mark.usefixtures("seeded")
def test_ephemeral_card_buttons_redraw_through_response_url(server, slack, factory) -> None:
    url, deps = server
    _deliver(deps)
    alert = alert_for(factory, "BrightOps Agency")
    value = ActionValue(alert=alert.id, account=alert.account_id).dump()
    body = action_body(
        slack, action_id=Action.ACKNOWLEDGE.value, value=value, ephemeral=True, rid="eph1"
    )
    assert post(url, body, signed(body)).status_code == 200
    redrawn = wait_for(lambda: slack.responses("eph1"))
    assert redrawn[-1]["replace_original"] is True
    assert "Acknowledged by" in json.dumps(redrawn[-1]["blocks"])


@pytest.mark.usefixtures("seeded")
def test_pick_list_button_shows_the_card(server, slack, factory) -> None:
    url, _ = server
    alert = alert_for(factory, "Polar Data")
    value = ActionValue(account=alert.account_id).dump()
    body = action_body(slack, action_id=Action.PICK_ACCOUNT.value, value=value, rid="pick")
    assert post(url, body, signed(body)).status_code == 200
    shown = wait_for(lambda: slack.responses("pick"))
    assert "Polar Data" in shown[-1]["text"]


@pytest.mark.usefixtures("seeded")
def test_app_home_is_published_on_app_home_opened(server, slack: FakeSlack) -> None:
    url, _ = server
    event = {
        "token": "legacy",
        "team_id": "T0FAKE001",
        "api_app_id": "A0FAKEAPP",
        "type": "event_callback",
        "event_id": "Ev1",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": MAYA,
            "channel": "D0MAYA",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        },
    }
    body = json.dumps(event)
    headers = signed(body) | {"Content-Type": "application/json"}
    assert post(url, body, headers).status_code == 200
    home = wait_for(lambda: slack.home_views.get(MAYA))
    text = json.dumps(home["blocks"], ensure_ascii=False)
    assert "Your expansion book" in text and "Priority accounts" in text
    assert "BrightOps Agency" in text  # Maya's account


# --- refusals -------------------------------------------------------------------------------


def _count(factory: SessionFactory, model: type) -> int:
    with factory() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _no_side_effects(slack: FakeSlack, factory: SessionFactory, before: int) -> None:
    time.sleep(0.3)
    assert not [c for c in slack.slack_calls if c.method != "auth.test"]
    assert _count(factory, AuditLog) == 0
    assert _count(factory, OutboxMessage) == before


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("case", ["forged", "stale", "foreign_team", "unsigned"])
def test_bad_requests_are_refused_without_side_effects(server, slack, factory, case) -> None:
    url, _ = server
    before = _count(factory, OutboxMessage)
    alert = alert_for(factory, "BrightOps Agency")
    slack.slack_calls.clear()
    value = ActionValue(alert=alert.id, account=alert.account_id).dump()
    team = "T0OTHER01" if case == "foreign_team" else "T0FAKE001"
    for body in (
        command_body(slack, "ack brightops", team=team),
        action_body(slack, action_id=Action.ACKNOWLEDGE.value, value=value, team=team),
    ):
        if case == "forged":
            headers = signed(body, secret="not-the-secret")
        elif case == "stale":
            headers = signed(body, timestamp=int(time.time()) - 301)
        elif case == "unsigned":
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            headers = signed(body)
        resp = post(url, body, headers)
        assert resp.status_code == (403 if case == "foreign_team" else 401), resp.text
    _no_side_effects(slack, factory, before)
    assert alert_for(factory, "BrightOps Agency").status == "open"


def test_health_and_metrics(server) -> None:
    url, _ = server
    health = httpx.get(url + "/healthz").json()
    assert health["status"] == "ok" and health["database"] == "ok"
    metrics = httpx.get(url + "/metrics")
    assert metrics.status_code == 200
    assert "expansion_radar_slash_command_seconds" in metrics.text
    assert httpx.get(url + "/slack/events").status_code == 405


@pytest.mark.usefixtures("seeded")
def test_a_button_on_a_closed_alert_answers_politely(server, slack, factory) -> None:
    url, _ = server
    alert = alert_for(factory, "Polar Data")
    assert alert.id is not None
    with transaction(factory) as session:
        services.dismiss(
            session, alert_id=alert.id, user_id=MAYA, reason="timing", note=None, now=utcnow()
        )
    value = ActionValue(alert=alert.id, account=alert.account_id).dump()
    body = action_body(slack, action_id=Action.ACKNOWLEDGE.value, value=value, rid="closed")
    assert post(url, body, signed(body)).status_code == 200
    said = wait_for(lambda: slack.responses("closed"))
    assert "was dismissed" in said[-1]["text"] and said[-1]["response_type"] == "ephemeral"


@pytest.mark.usefixtures("seeded")
def test_an_unexpected_error_is_answered_with_an_error_id(
    server, slack, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = server

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr("bot.slack.flows.expansion", broken)
    said = slash(url, slack, "brightops")  # acknowledged all the same, then told
    assert "error id" in said["text"] and "database on fire" not in said["text"]


@pytest.mark.usefixtures("seeded")
def test_handle_an_objection_opens_the_four_answers_for_this_account(
    server, slack: FakeSlack, factory
) -> None:
    """The card's "Handle an objection" button opens seed 000's four objections, the last
    answer pointing at this account's own ceiling; reading it changes nothing."""
    url, deps = server
    _deliver(deps)
    alert = alert_for(factory, "Nimbus Cloudworks")
    card = next(p for p in slack.posts() if "Nimbus" in p["text"] and not p.get("thread_ts"))
    assert Action.OBJECTIONS.value in json.dumps(card["blocks"])
    assert "Proactive: bring the usage figures" in json.dumps(card["blocks"])  # seed 004
    value = ActionValue(alert=alert.id, account=alert.account_id).dump()
    body = action_body(slack, action_id=Action.OBJECTIONS.value, value=value)
    assert post(url, body, signed(body)).status_code == 200
    opened = wait_for(lambda: slack.calls("views.open"))
    view = opened[-1]["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "objections_modal" and "submit" not in view
    assert not validate_blocks(view["blocks"], 100)
    text = json.dumps(view["blocks"])
    for says in ("not ready to expand", "budget approved", "see more value", "happy with what"):
        assert says in text, says
    assert "API calls at 950,000 of 1,000,000 (95%)" in text
    assert alert_for(factory, "Nimbus Cloudworks").status == alert.status
