"""Fixtures for the Slack app: a fake Slack Web API, a seeded book, the app over real HTTP."""

from __future__ import annotations

import itertools
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import httpx
import pytest

import db.alerts
from bot.infra.settings import AppConfig, Settings
from bot.poll.cycle import run_cycle
from bot.slack.app import create_app, deps_of
from bot.slack.client import make_client
from bot.slack.config import RoutingConfig, SlackConfig
from bot.slack.deps import Deps
from bot.slack.server import ServerThread, build_asgi
from db.engine import SessionFactory
from db.models import Alert
from sources.demo import demo_batch
from tests.fakes import FakeSlack, sign_request
from tests.fakes.slack import TEAM_ID
from tests.fakes.slack import command_body as slash_command_body
from tests.waiting import wait_until

SECRET = "test-signing-secret-0123456789"
MAYA = "U0MAYA0001"  # maya.chen@example.com, in Slack (Berlin)
JONAS = "U0JONAS001"  # jonas.weber@example.com, in Slack (New York)
BOSS = "U0BOSS0001"  # a manager, not an account owner
# luis.ortega@example.com is not in Slack: his alerts name him in plain text.


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user(MAYA, "maya.chen@example.com", "maya", "Maya Chen", tz="Europe/Berlin")
        fake.add_user(JONAS, "jonas.weber@example.com", "jonas", "Jonas Weber")
        fake.add_user(BOSS, "boss@example.com", "boss", "Pat Boss", tz="UTC")
        yield fake


@pytest.fixture
def settings(slack: FakeSlack) -> Settings:
    return Settings(
        slack_bot_token=slack.auth_token,
        slack_signing_secret=SECRET,
        slack_api_url=slack.url,
        expansion_channel="#expansion",
    )


@pytest.fixture
def config() -> AppConfig:
    return AppConfig(
        slack=SlackConfig(admin_channel="#radar-admin", hourly_cap_per_channel=50),
        routing=RoutingConfig(),
    )


@pytest.fixture
def today() -> date:
    return date.today()


@pytest.fixture
def seeded(factory: SessionFactory, config: AppConfig, today: date) -> list[int]:
    """The demo book scored today: alerts with 'post' rows waiting in the outbox."""
    result = run_cycle(factory, [demo_batch(today)], today, config)
    assert result.new_alerts
    return result.new_alerts


@pytest.fixture
def make_deps(
    settings: Settings, factory: SessionFactory, slack: FakeSlack
) -> Callable[[AppConfig], Deps]:
    def build(cfg: AppConfig) -> Deps:
        return deps_of(create_app(settings, cfg, factory, client=make_client(settings)))

    return build


@pytest.fixture
def deps(make_deps: Callable[[AppConfig], Deps], config: AppConfig) -> Deps:
    return make_deps(config)


@pytest.fixture
def server(
    settings: Settings, config: AppConfig, factory: SessionFactory, slack: FakeSlack
) -> Iterator[tuple[str, Deps]]:
    """The app over HTTP on 127.0.0.1 (uvicorn in a thread, a real socket)."""
    app = create_app(settings, config, factory, client=make_client(settings))
    thread = ServerThread(build_asgi(app, factory)).start()
    try:
        yield thread.url, deps_of(app)
    finally:
        thread.stop()


def alert_for(factory: SessionFactory, name: str) -> Alert:
    """The first alert found of the account called ``name``."""
    with factory() as session:
        for alert, account in db.alerts.alerts_with_accounts(session):
            if account.name == name:
                return alert
    raise AssertionError(name)


def signed(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    return sign_request(secret, body, timestamp)


def command_body(
    slack: FakeSlack, text: str, *, user: str = MAYA, team: str = TEAM_ID, rid: str = "cmd"
) -> str:
    """A slash-command POST body, form-encoded as Slack sends it."""
    return slash_command_body(slack, text, user=user, team=team, rid=rid)


def action_body(
    slack: FakeSlack,
    *,
    action_id: str,
    value: str | None = None,
    selected: str | None = None,
    user: str = MAYA,
    team: str = TEAM_ID,
    channel: str = "C0CHANNEL1",
    ts: str = "1700000000.000100",
    ephemeral: bool = False,
    rid: str = "act",
) -> str:
    """A block_actions POST body: one form field, ``payload``, holding JSON."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": "alert_actions",
        "action_ts": f"{time.time():.6f}",
    }
    if selected is not None:
        action.update(type="static_select", selected_option={"value": selected})
    else:
        action.update(type="button", value=value, text={"type": "plain_text", "text": "x"})
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": team},
        "api_app_id": "A0FAKEAPP",
        "token": "legacy",
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "team": {"id": team, "domain": "fake"},
        "channel": {"id": channel, "name": "expansion"},
        "message": {"type": "message", "ts": ts, "text": "..."},
        "response_url": slack.url_for_response(rid),
        "actions": [action],
    }
    return form(payload)


def view_submission(
    callback: str,
    meta: str,
    values: dict[str, Any],
    *,
    user: str = MAYA,
    team: str = TEAM_ID,
    user_team: str | None = None,
    view_id: str = "V1",
) -> dict[str, Any]:
    """A view_submission payload: the ``callback`` modal, its private_metadata ``meta`` as
    it was shown, submitted by ``user`` (of ``user_team``, else of ``team``) with ``values``."""
    return {
        "type": "view_submission",
        "team": {"id": team},
        "user": {"id": user, "team_id": user_team or team},
        "api_app_id": "A0FAKEAPP",
        "view": {
            "id": view_id,
            "type": "modal",
            "callback_id": callback,
            "private_metadata": meta,
            "state": {"values": values},
        },
    }


def form(payload: dict[str, Any]) -> str:
    """An interaction's POST body: one form field, ``payload``, holding JSON."""
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def post(url: str, body: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url + "/slack/events", content=body, headers=headers, timeout=10)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Bolt runs listeners after the ack: poll until their effect shows."""
    return wait_until(predicate, timeout=timeout, what="the listener's effect", every=0.02)


_RIDS = itertools.count()


def slash(
    url: str, slack: FakeSlack, text: str, *, user: str = MAYA, rid: str | None = None
) -> dict[str, Any]:
    """``/expansion <text>`` as Slack sends it, and its answer: in the ack when it needs
    neither Slack nor the database (help), else posted to the response_url after an empty ack.
    Either way the ack must come within Slack's 3 seconds."""
    rid = rid or f"slash-{next(_RIDS)}"
    body = command_body(slack, text, user=user, rid=rid)
    started = time.monotonic()
    resp = post(url, body, signed(body))
    assert time.monotonic() - started < 3, "not acknowledged within Slack's 3 seconds"
    assert resp.status_code == 200, resp.text
    if resp.text:
        acked: dict[str, Any] = resp.json()
        return acked
    answer: dict[str, Any] = wait_for(lambda: slack.responses(rid))[0]
    return answer
