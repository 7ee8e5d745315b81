"""The "Plan document" button over signed HTTP against the fake Slack: acknowledged at once, then
seed 002's plan is published as a canvas linked in the alert's thread — or, in a workspace that
refuses canvases, uploaded as a file into that thread (the three upload steps); from a private
card it goes to the person's DM."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.infra.settings import AppConfig
from bot.slack.deps import Deps
from bot.slack.ids import Action
from bot.slack.model import ActionValue
from db.alerts import alerts_with_accounts
from db.engine import SessionFactory
from tests.bot.slack.conftest import MAYA, action_body, post, signed, wait_for
from tests.bot.slack.test_plans_in_slack import _start_plan
from tests.fakes import FakeSlack


def _deliver(deps: Deps) -> None:
    """Send the outbox at midday UTC tomorrow (outside everyone's quiet hours)."""
    noon = datetime.combine(
        datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC
    ) + timedelta(hours=12)
    deps.sender.clock = lambda: noon
    deps.sender.run_once(limit=500)


def _document_button(slack: FakeSlack) -> tuple[str, str, str, str]:
    """(channel, ts, account name, button value) of the first alert card carrying it."""
    for (channel, ts), msg in list(slack.messages.items()):
        for block in msg.get("blocks") or []:
            for element in block.get("elements") or []:
                if element.get("action_id") == Action.PLAN_DOCUMENT.value:
                    name = msg["text"]
                    return channel, ts, name, str(element["value"])
    raise AssertionError("no card has a Plan document button")


def _click(url: str, slack: FakeSlack, **kwargs: Any) -> None:
    body = action_body(slack, action_id=Action.PLAN_DOCUMENT.value, **kwargs)
    started = time.monotonic()
    resp = post(url, body, signed(body))
    assert time.monotonic() - started < 3, "not acknowledged within Slack's 3 seconds"
    assert resp.status_code == 200 and resp.text == ""  # an empty ack; the work comes after


@pytest.mark.usefixtures("seeded")
def test_the_plan_becomes_a_canvas_linked_in_the_alerts_thread(
    server: tuple[str, Deps], slack: FakeSlack
) -> None:
    url, deps = server
    _deliver(deps)
    channel, ts, _, value = _document_button(slack)
    account = ActionValue.load(value).account
    assert account is not None
    _click(url, slack, value=value, channel=channel, ts=ts)
    note = wait_for(
        lambda: [p for p in slack.posts() if p.get("thread_ts") == ts and "canvas" in p["text"]]
    )[0]
    (canvas,) = slack.canvases.values()
    assert canvas.markdown.startswith("# Expansion Plan: ")
    for section in ("## Current State", "## Expansion Signals Detected", "## Recommended Plays"):
        assert section in canvas.markdown
    assert canvas.title is not None and canvas.title.startswith("Expansion plan — ")
    assert canvas.access == [{"level": "read", "channel_ids": [channel], "user_ids": []}]
    link = f"https://fake-workspace.slack.com/docs/T0FAKE001/{canvas.canvas_id}"
    assert (
        f"<{link}|open the canvas>" in note["text"]
        and "📄 The expansion plan for *" in (note["text"])
    )
    assert note["channel"] == channel and slack.shared_files() == []


@pytest.mark.parametrize("mode", ["free", "disabled"])
@pytest.mark.usefixtures("seeded")
def test_without_canvases_the_plan_is_uploaded_as_a_file_in_the_thread(
    server: tuple[str, Deps], slack: FakeSlack, mode: str
) -> None:
    url, deps = server
    _deliver(deps)
    slack.set_canvas_support(mode)
    channel, ts, _, value = _document_button(slack)
    _click(url, slack, value=value, channel=channel, ts=ts)
    (upload,) = wait_for(slack.shared_files)
    assert upload.data is not None and upload.data.decode().startswith("# Expansion Plan: ")
    assert upload.filename.startswith("expansion-plan-") and upload.filename.endswith(".md")
    assert upload.shared_to == channel and upload.thread_ts == ts
    refused = [c.response for c in slack.slack_calls if c.method == "canvases.create"]
    assert refused and not refused[0]["ok"] and slack.canvases == {}
    methods = [c.method for c in slack.slack_calls if c.method.startswith("files.")]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert len(slack.requests_to("/upload/v1/")) == 1
    shared = [m for m in slack.channel_messages(channel) if m.get("subtype") == "file_share"]
    assert shared[0]["thread_ts"] == ts and "doesn't allow canvases" in shared[0]["text"]


@pytest.mark.usefixtures("seeded")
def test_from_a_private_plan_reply_it_goes_to_the_persons_dm(
    server: tuple[str, Deps], slack: FakeSlack, factory: SessionFactory, config: AppConfig
) -> None:
    url, _ = server
    with factory() as session:
        _alert, account = next(iter(alerts_with_accounts(session)))
    plan, _steps = _start_plan(factory, config, account.name)
    plan_id = plan.id
    _click(
        url, slack, value=ActionValue(plan=plan_id).dump(), ephemeral=True, rid="plan-doc-private"
    )
    told = wait_for(lambda: slack.responses("plan-doc-private"))[0]
    assert "in a DM" in told["text"] and told["response_type"] == "ephemeral"
    (canvas,) = slack.canvases.values()
    assert canvas.access == [{"level": "read", "channel_ids": [], "user_ids": [MAYA]}]
    assert "## The Open Plan" in canvas.markdown  # the plan just started is in it
    dm = "D" + MAYA[1:]
    assert any("open the canvas" in m["text"] for m in slack.channel_messages(dm))


@pytest.mark.usefixtures("seeded")
def test_a_button_for_an_account_that_is_gone_says_so(
    server: tuple[str, Deps], slack: FakeSlack
) -> None:
    url, _ = server
    _click(url, slack, value=ActionValue(account=999_999).dump(), rid="plan-doc-gone")
    told = wait_for(lambda: slack.responses("plan-doc-gone"))[0]
    assert told["text"] == "That account no longer exists." and slack.canvases == {}
