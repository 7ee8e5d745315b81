"""Tests of the Slack fake itself, over real HTTP (slack_sdk, slack_bolt)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from tests.fakes import (
    FakeSlack,
    sign_request,
)


def test_slack_auth_test_and_post(slack: FakeSlack, web: WebClient) -> None:
    assert web.auth_test()["user_id"] == "U0FAKEBOT"
    r1 = web.chat_postMessage(channel="C111", text="hello")
    r2 = web.chat_postMessage(
        channel="C111",
        text="fallback",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}],
    )
    assert r1["ok"] and r1["channel"] == "C111"
    assert re.fullmatch(r"\d{10}\.\d{6}", r1["ts"])
    assert float(r2["ts"]) > float(r1["ts"])
    assert r2["message"]["blocks"][0]["type"] == "section"
    assert [p["text"] for p in slack.posts()] == ["hello", "fallback"]
    assert slack.calls("auth.test") == [{}]
    upd = web.chat_update(channel="C111", ts=r1["ts"], text="edited")
    assert upd["ts"] == r1["ts"] and upd["text"] == "edited"
    with pytest.raises(SlackApiError) as exc:
        web.chat_update(channel="C111", ts="1.000001", text="x")
    assert exc.value.response["error"] == "message_not_found"
    link = web.chat_getPermalink(channel="C111", message_ts=r1["ts"])
    assert link["permalink"].endswith(r1["ts"].replace(".", ""))
    eph = web.chat_postEphemeral(channel="C111", user="U1", text="psst")
    assert eph["message_ts"]


def test_slack_auth_errors(slack: FakeSlack) -> None:
    bad = WebClient(token="xoxb-wrong", base_url=slack.url)
    with pytest.raises(SlackApiError) as exc:
        bad.auth_test()
    assert exc.value.response.status_code == 200
    assert exc.value.response["error"] == "invalid_auth"
    anon = WebClient(base_url=slack.url)
    with pytest.raises(SlackApiError) as exc:
        anon.chat_postMessage(channel="C1", text="x")
    assert exc.value.response["error"] == "not_authed"


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([{"type": "divider"}] * 51, "/blocks"),
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
            "/blocks/0/text/text",
        ),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "/blocks/0/text/text",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}
                    ],
                }
            ],
            "/blocks/0/elements/0/text/text",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "ok"},
                            "value": "v" * 2001,
                        }
                    ],
                }
            ],
            "/blocks/0/elements/0/value",
        ),
    ],
)
def test_slack_invalid_blocks(
    slack: FakeSlack, web: WebClient, blocks: list[dict[str, Any]], pointer: str
) -> None:
    with pytest.raises(SlackApiError) as exc:
        web.chat_postMessage(channel="C111", text="t", blocks=blocks)
    resp = exc.value.response
    assert resp["error"] == "invalid_blocks"
    assert any(f"[json-pointer:{pointer}]" in e for e in resp["errors"])
    assert resp["response_metadata"]["messages"][0].startswith("[ERROR] ")
    assert slack.posts() == []


def test_slack_limits_at_boundary_are_ok(web: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}] + [
        {"type": "divider"}
    ] * 49
    assert web.chat_postMessage(channel="C1", text="t", blocks=blocks)["ok"]


def test_slack_channel_errors(slack: FakeSlack, web: WebClient) -> None:
    slack.set_channel_error("C404", "channel_not_found")
    slack.set_channel_error("C_OUT", "not_in_channel")
    slack.set_channel_error("C_OLD", "is_archived")
    for channel, error in (
        ("C404", "channel_not_found"),
        ("C_OUT", "not_in_channel"),
        ("C_OLD", "is_archived"),
    ):
        with pytest.raises(SlackApiError) as exc:
            web.chat_postMessage(channel=channel, text="x")
        assert exc.value.response["error"] == error
    with pytest.raises(SlackApiError) as exc, pytest.warns(UserWarning):
        web.chat_postMessage(channel="C1")
    assert exc.value.response["error"] == "no_text"


def test_slack_rate_limit_and_retry(slack: FakeSlack) -> None:
    slack.rate_limit("chat.postMessage", retry_after=0)
    plain = WebClient(token=slack.auth_token, base_url=slack.url)
    with pytest.raises(SlackApiError) as exc:
        plain.chat_postMessage(channel="C1", text="x")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] in ("0", ["0"])
    assert exc.value.response["error"] == "ratelimited"
    slack.rate_limit("chat.postMessage", retry_after=0)
    retrying = WebClient(
        token=slack.auth_token,
        base_url=slack.url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    assert retrying.chat_postMessage(channel="C1", text="x")["ok"]
    slack.inject("/api/chat.postMessage", status=503)
    with pytest.raises(SlackApiError) as exc:
        plain.chat_postMessage(channel="C1", text="x")
    assert exc.value.response.status_code == 503


def test_slack_users_and_dm(slack: FakeSlack, web: WebClient) -> None:
    emails = slack.populate(100, seed=1)
    email, uid = next(iter(emails.items()))
    user = web.users_lookupByEmail(email=email.upper())["user"]
    assert user["id"] == uid and "tz" in user and isinstance(user["tz_offset"], int)
    assert web.users_info(user=uid)["user"]["profile"]["email"] == email
    with pytest.raises(SlackApiError) as exc:
        web.users_lookupByEmail(email="nobody@example.com")
    assert exc.value.response["error"] == "users_not_found"
    dm = web.conversations_open(users=uid)["channel"]["id"]
    assert dm.startswith("D")
    assert web.chat_postMessage(channel=dm, text="hi")["channel"] == dm


def test_slack_unknown_method(web: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        web.api_call("bogus.method")
    assert exc.value.response["error"] == "unknown_method"


def test_slack_views(slack: FakeSlack, web: WebClient) -> None:
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "h"}}],
    }
    pub = web.views_publish(user_id="U1", view=home)["view"]
    assert pub["id"].startswith("V") and pub["type"] == "home"
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Settings"}, "blocks": []}
    opened = web.views_open(trigger_id="123.456.abc", view=modal)["view"]
    with pytest.raises(SlackApiError) as exc:
        web.views_open(trigger_id="123.456.abc", view=modal)
    assert exc.value.response["error"] == "exchanged_trigger_id"
    updated = web.views_update(view_id=opened["id"], view=modal | {"private_metadata": "x"})
    assert updated["view"]["private_metadata"] == "x"
    with pytest.raises(SlackApiError) as exc:
        web.views_open(
            trigger_id="1.2.x",
            view=modal | {"title": {"type": "plain_text", "text": "t" * 25}},
        )
    assert exc.value.response["error"] == "invalid_arguments"
    slack.set_method_error("views.publish", "not_enabled", times=1)
    with pytest.raises(SlackApiError) as exc:
        web.views_publish(user_id="U1", view=home)
    assert exc.value.response["error"] == "not_enabled"


def test_slack_form_encoded_and_json_string_blocks(slack: FakeSlack) -> None:
    blocks = json.dumps([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}])
    resp = httpx.post(
        slack.url + "chat.postMessage",
        content=urlencode({"channel": "C1", "text": "t", "blocks": blocks}),
        headers={
            "Authorization": f"Bearer {slack.auth_token}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert resp.status_code == 200 and resp.json()["error"] == "invalid_blocks"
    resp = httpx.post(slack.url + "auth.test", data={"token": slack.auth_token})
    assert resp.json()["ok"] is True


def test_slack_response_url(slack: FakeSlack) -> None:
    url = slack.url_for_response("abc")
    hook = WebhookClient(url)
    for i in range(5):
        assert hook.send(text=f"reply {i}", response_type="ephemeral").status_code == 200
    assert hook.send(text="sixth").status_code == 404
    assert [p["text"] for p in slack.responses("abc")] == [f"reply {i}" for i in range(5)]


def test_slack_response_url_expires() -> None:
    now = [1_700_000_000.0]
    with FakeSlack(clock=lambda: now[0]) as fake:
        hook = WebhookClient(fake.url_for_response("r1"))
        assert hook.send(text="ok").status_code == 200
        now[0] += 1801
        assert hook.send(text="late").status_code == 404


def test_slack_with_bolt_app(slack: FakeSlack) -> None:
    from slack_bolt import App, BoltRequest

    secret = "test-signing-secret"
    app = App(
        signing_secret=secret,
        client=WebClient(token=slack.auth_token, base_url=slack.url),
        process_before_response=True,  # run the listener inside dispatch()
    )
    assert slack.calls("auth.test")  # Bolt verifies the token at construction

    @app.command("/crm")
    def crm(ack: Any, respond: Any, client: WebClient, command: dict[str, Any]) -> None:
        ack()
        respond(text=f"looked up {command['text']}")
        client.chat_postMessage(channel=command["channel_id"], text="done")

    body = urlencode(
        {
            "command": "/crm",
            "text": "acme",
            "team_id": "T111",
            "channel_id": "C111",
            "user_id": "U111",
            "trigger_id": "1.2.abc",
            "response_url": slack.url_for_response("cmd1"),
        }
    )
    headers: dict[str, str | Sequence[str]] = dict(sign_request(secret, body))
    resp = app.dispatch(BoltRequest(body=body, headers=headers))
    assert resp.status == 200
    assert slack.responses("cmd1")[0]["text"] == "looked up acme"
    assert slack.posts()[-1]["text"] == "done"


def test_sign_request_matches_contract_vector() -> None:
    body = (
        "token=x&team_id=T111&channel_id=C111&user_id=U111&command=%2Fcrm&text=acme&response_url="
        "https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT111%2F1%2Fabc&trigger_id=1.2.abc"
    )
    headers = sign_request("test-signing-secret", body, timestamp=1700000000)
    assert headers["X-Slack-Signature"] == (
        "v0=fef74cfa7c70f51cae7355a860f3244016fcb08164800502b0e5e7f397eafe21"
    )


MARK = {"event_type": "expansion_radar_outbox_posted", "event_payload": {"outbox_id": 7, "v": 1}}


def test_slack_names_a_channel_by_id_and_pages_its_history(
    slack: FakeSlack, web: WebClient
) -> None:
    first = web.chat_postMessage(channel="#general", text="zero")
    cid = first["channel"]
    assert re.fullmatch(r"C[A-Z0-9]{10}", cid) and slack.channel_id("#general") == cid
    for i in range(1, 5):
        web.chat_postMessage(channel="general", text=str(i), metadata=MARK if i == 3 else None)
    with pytest.raises(SlackApiError) as exc:  # names are not accepted by the read methods
        web.conversations_history(channel="#general")
    assert exc.value.response["error"] == "channel_not_found"

    seen: list[str] = []
    cursor = None
    while True:
        page = web.conversations_history(channel=cid, limit=2, cursor=cursor)
        seen += [m["text"] for m in page["messages"]]
        assert all("metadata" not in m for m in page["messages"])  # not without the flag
        cursor = page["response_metadata"]["next_cursor"]
        assert page["has_more"] == bool(cursor)
        if not cursor:
            break
    assert seen == ["4", "3", "2", "1", "zero"]  # newest first

    marked = web.conversations_history(channel=cid, include_all_metadata=True)["messages"]
    assert [m["metadata"] for m in marked if "metadata" in m] == [MARK]
    newer = web.conversations_history(channel=cid, oldest=first["ts"])["messages"]
    assert [m["text"] for m in newer] == ["4", "3", "2", "1"]  # oldest is exclusive
    with pytest.raises(SlackApiError) as exc:
        web.conversations_history(channel=cid, cursor="not-a-cursor")
    assert exc.value.response["error"] == "invalid_cursor"


def test_slack_thread_replies_stay_out_of_the_channel_history(web: WebClient) -> None:
    parent = web.chat_postMessage(channel="#deals", text="parent")
    cid, ts = parent["channel"], parent["ts"]
    web.chat_postMessage(channel=cid, thread_ts=ts, text="reply 1", metadata=MARK)
    web.chat_postMessage(channel=cid, thread_ts=ts, text="reply 2")
    history = web.conversations_history(channel=cid)["messages"]
    assert [m["text"] for m in history] == ["parent"]
    thread = web.conversations_replies(channel=cid, ts=ts, include_all_metadata=True)
    assert [m["text"] for m in thread["messages"]] == ["parent", "reply 1", "reply 2"]
    assert thread["messages"][1]["metadata"] == MARK
    assert "metadata" not in web.conversations_replies(channel=cid, ts=ts)["messages"][1]
    with pytest.raises(SlackApiError) as exc:
        web.conversations_replies(channel=cid, ts="1.000000")
    assert exc.value.response["error"] == "thread_not_found"


def test_slack_lists_channels_in_pages_and_joins_public_ones(
    slack: FakeSlack, web: WebClient
) -> None:
    for i in range(5):
        slack.add_channel(f"team-{i}")
    secret = slack.add_channel("secret", private=True, member=False)
    outside = slack.add_channel("#outside", member=False)
    names: dict[str, str] = {}
    cursor = None
    while True:
        page = web.conversations_list(
            types="public_channel,private_channel", limit=2, cursor=cursor
        )
        names |= {c["name"]: c["id"] for c in page["channels"]}
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert names["outside"] == outside and secret not in names.values()
    assert {f"team-{i}" for i in range(5)} <= set(names)

    with pytest.raises(SlackApiError) as exc:
        web.conversations_history(channel=outside)
    assert exc.value.response["error"] == "not_in_channel"
    assert web.conversations_join(channel=outside)["channel"]["is_member"] is True
    assert web.conversations_history(channel=outside)["messages"] == []
    with pytest.raises(SlackApiError) as exc:
        web.conversations_join(channel=secret)
    assert exc.value.response["error"] == "method_not_supported_for_channel_type"


@pytest.mark.parametrize(
    "metadata",
    [
        {"event_type": "x"},
        {"event_type": "", "event_payload": {}},
        {"event_type": 3, "event_payload": {}},
        {"event_type": "x", "event_payload": "not an object"},
        "not json",
    ],
)
def test_slack_rejects_malformed_message_metadata(web: WebClient, metadata: Any) -> None:
    with pytest.raises(SlackApiError) as exc:
        web.api_call(
            "chat.postMessage", json={"channel": "C111", "text": "hi", "metadata": metadata}
        )
    assert exc.value.response["error"] == "invalid_metadata_format"


def test_slack_answer_late_stores_the_post_before_answering(slack: FakeSlack) -> None:
    impatient = WebClient(token=slack.auth_token, base_url=slack.url, timeout=1, retry_handlers=[])
    late = slack.answer_late("chat.postMessage", 3)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel="#slow", text="did it land?")
    assert time.monotonic() - started < 2.5
    assert late.fired == 1
    assert [m["text"] for m in slack.channel_messages("#slow")] == ["did it land?"]
    assert impatient.chat_postMessage(channel="#slow", text="quick")["ok"]  # the fault is spent


# --- canvases and file uploads (signals-contracts.md 5.4, 5.5) ----------------------------


def test_canvas_is_created_shared_and_kept(slack: FakeSlack, web: WebClient) -> None:
    made = web.canvases_create(
        title="Plan", document_content={"type": "markdown", "markdown": "# Plan\n\nHello"}
    )
    canvas_id = made["canvas_id"]
    assert re.fullmatch(r"F[0-9A-Z]{9}", canvas_id)
    web.canvases_access_set(canvas_id=canvas_id, access_level="read", channel_ids=["C111"])
    canvas = slack.canvases[canvas_id]
    assert canvas.title == "Plan" and canvas.markdown.startswith("# Plan")
    assert canvas.access == [{"level": "read", "channel_ids": ["C111"], "user_ids": []}]
    with pytest.raises(SlackApiError) as exc:
        web.canvases_access_set(canvas_id="F000", access_level="read", channel_ids=["C111"])
    assert exc.value.response["error"] == "canvas_not_found"
    with pytest.raises(SlackApiError) as exc:
        web.canvases_create(document_content={"type": "html", "html": "<p>"})
    assert exc.value.response["error"] == "invalid_arguments"


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("free", "free_teams_cannot_create_non_tabbed_canvases"),
        ("disabled", "canvas_disabled_user_team"),
    ],
)
def test_a_workspace_without_canvases_refuses_them(
    slack: FakeSlack, web: WebClient, mode: str, error: str
) -> None:
    slack.set_canvas_support(mode)
    with pytest.raises(SlackApiError) as exc:
        web.canvases_create(title="Plan", document_content={"type": "markdown", "markdown": "x"})
    assert exc.value.response["error"] == error and slack.canvases == {}


def test_file_upload_v2_takes_three_steps_over_http(slack: FakeSlack, web: WebClient) -> None:
    parent = web.chat_postMessage(channel="C111", text="alert")["ts"]
    done = web.files_upload_v2(
        channel="C111",
        thread_ts=parent,
        content="# Plan\n",
        filename="plan.md",
        title="The plan",
        initial_comment="Here it is",
    )
    assert done["file"]["title"] == "The plan"
    methods = [c.method for c in slack.slack_calls if c.method.startswith("files.")]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert len(slack.requests_to("/upload/v1/")) == 1  # step 2, between them
    (upload,) = slack.shared_files()
    assert upload.data == b"# Plan\n" and upload.length == len(b"# Plan\n")
    assert upload.shared_to == "C111" and upload.thread_ts == parent
    shared = [m for m in slack.channel_messages("C111") if m.get("subtype") == "file_share"]
    assert shared[0]["thread_ts"] == parent and shared[0]["text"] == "Here it is"


def test_completing_an_upload_that_never_came_fails(slack: FakeSlack, web: WebClient) -> None:
    step1 = web.files_getUploadURLExternal(filename="plan.md", length=10)
    with pytest.raises(SlackApiError) as exc:
        web.files_completeUploadExternal(files=[{"id": step1["file_id"], "title": "x"}])
    assert exc.value.response["error"] == "file_not_found"
    assert httpx.post(f"{slack.origin}/upload/v1/F404", content=b"x").status_code == 404
