"""Every builder's output parses with slack_sdk's Block Kit models and keeps Block Kit's
limits — also for a 300-character name, 40 signals and 200 open plan steps."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.domain.digests import DailyDigest
from bot.slack.blocks.base import sparkline, thread_blocks
from bot.slack.blocks.cards import (
    alert_actions,
    card_blocks,
    card_text,
    delivery_failure_text,
    escalation_text,
    follow_up_text,
)
from bot.slack.blocks.digests import daily_digest_blocks
from bot.slack.blocks.home import home_view
from bot.slack.blocks.modals import (
    account_options,
    log_modal,
    not_now_modal,
    reassign_modal,
    snooze_modal,
)
from bot.slack.blocks.replies import help_reply, list_reply, logged_reply, no_match, pick_list
from bot.slack.blocks.steps import plan_reply, step_blocks
from bot.slack.model import (
    ActionValue,
    Activity,
    Card,
    HomeData,
    KeyFacts,
    ListItem,
    LoggedSignal,
    LogSource,
    Owner,
    SignalLine,
    StepCard,
    TriggerLine,
)
from tests.fakes import validate_blocks

with warnings.catch_warnings():  # "no longer actively maintained", yet it still validates
    warnings.simplefilter("ignore")
    from slack_sdk.models.messages.message import Message


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


TODAY = date(2026, 11, 20)
LONG_NAME = ("Very Long Holdings & <Partners> *International* " * 8)[:300]
LIMITS = {"section": 3000, "header": 150, "button": 75, "value": 2000, "field": 2000}


def check_message(blocks_: list[dict[str, Any]], text: str = "x") -> None:
    """Parse with slack_sdk's models (which validate) and check the hard limits ourselves."""
    assert len(blocks_) <= 50
    parsed = [Block.parse(b) for b in blocks_]
    assert all(p is not None for p in parsed)
    message = Message(text=text, blocks=[p for p in parsed if p is not None])
    message.to_dict()  # runs every block's JSON validators
    _limits(blocks_)
    assert not validate_blocks(blocks_)


def check_view(view: View, max_blocks: int) -> None:
    data = view.to_dict()  # validates the view and its blocks
    assert len(data["blocks"]) <= max_blocks
    View(**data).to_dict()  # and it parses back
    _limits(data["blocks"])
    assert not validate_blocks(data["blocks"], max_blocks)


def _limits(blocks_: list[dict[str, Any]]) -> None:
    ids = [b["block_id"] for b in blocks_ if "block_id" in b]
    assert len(ids) == len(set(ids))
    for b in blocks_:
        if b["type"] == "section":
            if "text" in b:
                assert 1 <= len(b["text"]["text"]) <= LIMITS["section"]
            for f in b.get("fields", []):
                assert len(f["text"]) <= LIMITS["field"]
        if b["type"] == "header":
            assert len(b["text"]["text"]) <= LIMITS["header"]
        elements = b.get("elements", []) + ([b["accessory"]] if "accessory" in b else [])
        for el in elements:
            if el.get("type") == "button":
                assert len(el["text"]["text"]) <= LIMITS["button"]
                assert len(el.get("value", "")) <= LIMITS["value"]


def card(**overrides: Any) -> Card:
    base: dict[str, Any] = {
        "account_id": 7,
        "name": "Acme Corp",
        "band": "priority",
        "score": 41,
        "as_of": TODAY,
        "alert_id": 12,
        "status": "open",
        "domain": "acme.example",
        "trigger": TriggerLine("Capacity ceiling", TODAY, "47 of 50 seats, up from 38 on 1 Oct"),
        "signals": (SignalLine(12, "Using 80%+ of what they bought", "47 of 50 seats (94%)"),),
        "offer": "Capacity expansion",
        "offer_reason": "they are outgrowing what they bought",
        "recommendation": "Capacity expansion: they are outgrowing what they bought",
        "script": "Hi Sam — I was reviewing Acme's account and saw 47 of 50 seats.",
        "facts": KeyFacts(28_800, TODAY + timedelta(days=75), 75, "green", 47, 50),
        "usage": (
            (TODAY - timedelta(days=60), 0.7),
            (TODAY - timedelta(days=30), 0.8),
            (TODAY, 0.94),
        ),
        "owner": Owner("U0MAYA0001", "Maya Chen"),
    }
    base.update(overrides)
    return Card(**base)


def huge_card() -> Card:
    return card(
        name=LONG_NAME,
        domain="x" * 255,
        trigger=TriggerLine("Capacity ceiling", TODAY, "evidence " * 500),
        signals=tuple(
            SignalLine(5, f"Signal number {i} with a long label", "evidence <@U1> " * 30)
            for i in range(40)
        ),
        gate=tuple((f"gate {i} " * 40, "fix it " * 40) for i in range(40)),
        script="Hi — " + "a long opening line. " * 400,
        offer_reason="because " * 1000,
        activity=tuple(
            Activity("dismissed", by="U0MAYA0001", at=datetime.now(UTC), note="n " * 400)
            for _ in range(40)
        ),
        usage=tuple((TODAY - timedelta(days=i), i / 100) for i in range(100)),
        owner=Owner(None, "O" * 300),
    )


@pytest.mark.parametrize("make", [card, huge_card])
def test_card_blocks_keep_every_limit(make) -> None:
    c = make()
    built = [b.to_dict() for b in card_blocks(c)]
    check_message(built, card_text(c))
    header = built[0]["text"]["text"]
    assert len(header) <= 150
    if c.name == LONG_NAME:
        assert header.endswith("…")
        text = dumps(built)
        assert "…and" in text  # 40 signals cut with a count, not rejected


def test_card_shows_band_score_trigger_points_offer_script_facts_usage_and_buttons() -> None:
    built = dumps([b.to_dict() for b in card_blocks(card())])
    for expected in (
        "Acme Corp",
        "*Priority* · score *41*",
        "Why now — Capacity ceiling",
        "47 of 50 seats, up from 38 on 1 Oct",
        "+12 Using 80%+",
        "Recommended: Capacity expansion",
        ">Hi Sam",
        "$28,800",
        "75 days left",
        "Green",
        "Usage `",
        "<@U0MAYA0001>",
        "alert_acknowledge",
        "alert_snooze",
        "alert_start_plan",
        "alert_not_now",
        "alert_reassign",
        "Pick a date",
    ):
        assert expected in built, expected


def test_gated_card_has_no_pitch() -> None:
    c = card(gate=(("Open urgent ticket", "Resolve it first"),), offer=None, script="Hi, buy more")
    built = dumps([b.to_dict() for b in card_blocks(c)])
    assert "Fix first" in built and "Hi, buy more" not in built and "Start plan" not in built
    assert "on hold until the issue below is fixed" in built
    assert "talk this week" not in built and "talk in the next 30 days" not in built


def test_one_day_of_usage_is_a_reading_not_a_trend() -> None:
    built = dumps([b.to_dict() for b in card_blocks(card(usage=((TODAY, 0.84),)))])
    assert "Usage 84% of capacity on " in built and "→" not in built
    two = dumps([b.to_dict() for b in card_blocks(card(usage=((TODAY, 0.8), (TODAY, 0.84))))])
    assert "→" not in two, "two readings of one day are still one day"


def test_owner_without_slack_id_is_named_in_plain_text() -> None:
    c = card(owner=Owner(None, "Luis <!here> Ortega"))
    built = dumps([b.to_dict() for b in card_blocks(c)])
    assert "Luis &lt;!here&gt; Ortega (no Slack account found)" in built


def test_closed_alerts_lose_their_buttons_and_say_why() -> None:
    now = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    cleared = card(status="cleared", activity=(Activity("cleared", on=TODAY),))
    built = dumps([b.to_dict() for b in card_blocks(cleared)])
    assert "alert_" not in built and "has cleared on 20 Nov 2026" in built
    acked = card(status="acknowledged", activity=(Activity("acknowledged", by="U1", at=now),))
    built = dumps([b.to_dict() for b in card_blocks(acked)])
    assert "alert_acknowledge" not in built and "alert_snooze" in built
    assert (
        "Acknowledged by <@U1> · <!date^1795167000^{date_short} {time}|20 Nov 2026 09:30 UTC>"
        in built
    )


def test_snooze_options_carry_the_alert_within_option_limits() -> None:
    actions = alert_actions(card())
    assert actions is not None
    select = next(e for e in actions.to_dict()["elements"] if e["type"] == "static_select")
    values = [ActionValue.load(o["value"]) for o in select["options"]]
    assert [v.choice for v in values] == ["1d", "1w", "2w", "date"]
    assert all(v.alert == 12 for v in values)
    assert all(len(o["value"]) <= 150 for o in select["options"])


def test_replies_and_lists_keep_limits() -> None:
    check_message(help_reply("`top` takes a number").blocks)
    check_message(no_match(LONG_NAME, [LONG_NAME] * 3).blocks)
    check_message(pick_list(LONG_NAME, [(i, LONG_NAME, "d" * 200) for i in range(40)]).blocks)
    items = [ListItem(LONG_NAME, "priority", 40, "detail " * 50) for _ in range(300)]
    check_message(list_reply("Your top accounts " * 20, items, "none").blocks)
    steps = [
        (TODAY + timedelta(days=i), f"Step {i} " + "x" * 200, "pending", "AE") for i in range(200)
    ]
    reply = plan_reply(LONG_NAME, "ninety_day", True, steps)
    check_message(reply.blocks)
    assert "…and" in dumps(reply.blocks)


def test_home_tab_with_a_huge_book_stays_under_100_blocks() -> None:
    until = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    items = tuple(ListItem(LONG_NAME, "priority", 40, "x" * 300) for _ in range(200))
    snoozed = tuple(
        ListItem(LONG_NAME, "ready", 25, status="snoozed", until=until) for _ in range(200)
    )
    steps = tuple(ListItem(LONG_NAME, "", 0, detail="step " * 60, due_on=TODAY) for _ in range(200))
    view = home_view(HomeData("U1", TODAY, items, items, snoozed, steps, owner_known=False))
    check_view(view, 100)
    text = dumps(view.to_dict())
    assert "snoozed until <!date^" in text and "…and" in text


def test_empty_home_tab_says_so() -> None:
    view = home_view(HomeData("U1", TODAY))
    check_view(view, 100)
    assert "No open alerts" in dumps(view.to_dict())


def test_modals_keep_limits() -> None:
    meta = ActionValue(alert=1, account=2, response_url="https://hooks.slack.com/x" * 20)
    for view in (
        snooze_modal(LONG_NAME, meta, TODAY),
        not_now_modal(LONG_NAME, meta),
        reassign_modal(LONG_NAME, meta, "U0MAYA0001"),
    ):
        check_view(view, 100)
        data = view.to_dict()
        assert len(data["title"]["text"]) <= 24
        assert ActionValue.load(data["private_metadata"]) == meta


def test_follow_ups_and_reports_are_valid_sections() -> None:
    c = huge_card()
    for reason in ("new_trigger", "snooze_ended", "escalated", "reassigned", "cleared", "other"):
        text = follow_up_text(reason, c, "<#C123>")
        check_message([b.to_dict() for b in thread_blocks(text)])
    check_message([b.to_dict() for b in thread_blocks(escalation_text(c, None, 24))])
    report = delivery_failure_text("the post for alert #1", "#gone", "channel_not_found")
    check_message([b.to_dict() for b in thread_blocks(report)])


def test_sparkline_scales_to_full_capacity() -> None:
    assert sparkline([]) == ""
    assert sparkline([(TODAY, 0.0), (TODAY, 0.5), (TODAY, 1.0)]) == "▁▅█"
    assert sparkline([(TODAY, 1.2)]) == "█"


# --- logging a signal (issue 12) ------------------------------------------------------------


def test_the_log_modal_keeps_limits_and_carries_the_message() -> None:
    source = LogSource(
        channel="C0SHARED01",
        ts="1700000000.000100",
        response_url="https://hooks.slack.com/app/T1/1/x",
        permalink="https://acme.slack.com/archives/C0SHARED01/p1700000000000100",
    )
    words = "<!channel> *loved* it & " * 300  # longer than an event holds
    for view in (
        log_modal(source, words),
        log_modal(source, "", suggested=(7, LONG_NAME), why="this channel is set to it"),
    ):
        check_view(view, 100)
        data = view.to_dict()
        assert len(data["title"]["text"]) <= 24
        assert LogSource.load(data["private_metadata"]) == source
        text_input = data["blocks"][3]["element"]
        assert len(text_input.get("initial_value", "")) <= text_input["max_length"] == 2000
    menu = log_modal(source, "", suggested=(7, LONG_NAME)).to_dict()["blocks"][1]
    assert menu["element"]["type"] == "external_select"
    assert menu["element"]["initial_option"]["value"] == "7"
    options = account_options([(i, f"k{i}", LONG_NAME, "x.example") for i in range(50)])
    assert len(options) == 20 and all(len(o["text"]["text"]) <= 75 for o in options)


def _logged(**kw: Any) -> LoggedSignal:
    base: dict[str, Any] = {
        "account": "Kestrel Media",
        "kind": "outcome",
        "on": TODAY,
        "before_score": 31,
        "before_band": "ready",
        "after_score": 41,
        "after_band": "priority",
    }
    return LoggedSignal(**(base | kw))


@pytest.mark.parametrize(
    ("logged", "says"),
    [
        (_logged(), "*Kestrel Media* 31 → 41, now Priority."),
        (_logged(after_score=33, after_band="ready"), "*Kestrel Media* 31 → 33, still Ready."),
        (
            _logged(after_score=31, after_band="ready", why_unchanged="Win counts for 90 days"),
            "*Kestrel Media* stays at 31 (Ready).\nWin counts for 90 days",
        ),
        (_logged(alert="opened"), "An alert is on its way to the channel."),
        (_logged(held_back="Find a new champion"), "Held back until this is fixed: Find"),
        (
            _logged(duplicate=True, logged_by="U0MAYA0001", after_score=31, after_band="ready"),
            "Already logged by <@U0MAYA0001> for *Kestrel Media*: a win, dated 20 Nov 2026.",
        ),
    ],
)
def test_the_logged_reply_says_what_changed(logged: LoggedSignal, says: str) -> None:
    reply = logged_reply(logged)
    check_message(reply.blocks, reply.text)
    assert says in reply.text, reply.text


def test_the_logged_reply_escapes_what_people_typed() -> None:
    reply = logged_reply(
        _logged(account="<!here> Acme", after_score=31, why_unchanged="It had: <@U1> *x*")
    )
    assert "<!here>" not in reply.text and "<@U1>" not in reply.text
    check_message(reply.blocks, reply.text)


def test_every_place_a_step_is_shown_names_who_does_it() -> None:
    steps = [
        (TODAY, "Executive business review", "pending", "CSM"),
        (TODAY + timedelta(days=28), "Renewal and expansion proposal", "pending", "AE"),
        (TODAY + timedelta(days=70), "Contract execution", "done", "Legal"),
    ]
    text = dumps(plan_reply("Acme", "renewal", True, steps).blocks)
    assert "Executive business review · CSM" in text and "Contract execution · Legal (done)" in text
    card = StepCard(1, 2, "Acme", "Negotiate and finalise", TODAY, TODAY, "pending", role="AE")
    assert "AE's step" in dumps([b.to_dict() for b in step_blocks(card)])
    digest = DailyDigest(
        "maya@example.com",
        TODAY,
        steps_due=[("Acme", "Contract execution", TODAY, "Legal")],
        overdue=[("Acme", "Negotiate and finalise", TODAY, "AE")],
    )
    drawn = dumps([b.to_dict() for b in daily_digest_blocks(digest)])
    assert "Contract execution · Legal by" in drawn and "Negotiate and finalise · AE (was" in drawn
