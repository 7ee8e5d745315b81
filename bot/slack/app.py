"""Build the Bolt app: a factory, nothing at import time.

``create_app`` wires the collaborators (settings, config, a session factory and optionally a
WebClient — tests pass one pointed at a local fake Slack) and registers the listeners. Bolt's
signature verification stays on; requests from any workspace but the installed one are refused
before a listener runs.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.context.respond import Respond
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.settings import AppConfig, Settings
from bot.slack.errors import UserError, report_error
from bot.slack.flows import Deps
from bot.slack.listeners import register
from bot.slack.routing import Router
from bot.slack.search import AccountSearch
from bot.slack.sender import Sender, make_client
from db.engine import SessionFactory

log = logging.getLogger(__name__)

LISTENER_THREADS = 16


def create_app(
    settings: Settings,
    config: AppConfig,
    factory: SessionFactory,
    client: WebClient | None = None,
    *,
    socket_mode: bool = False,
) -> App:
    client = client or make_client(settings)
    secret = settings.slack_signing_secret
    if secret is None and not socket_mode:
        raise UserError("SLACK_SIGNING_SECRET is required to serve Slack over HTTP.")
    signing_secret = secret.get_secret_value() if secret else secrets.token_hex(32)
    team_id = config.slack.team_id or _installed_team(client)
    router = Router(config, settings.expansion_channel, client, factory)
    deps = Deps(
        settings=settings,
        config=config,
        factory=factory,
        client=client,
        router=router,
        sender=Sender(factory=factory, client=client, config=config, router=router),
        search=AccountSearch(factory),
        team_id=team_id,
    )
    app = App(
        client=client,
        signing_secret=signing_secret,
        before_authorize=_Gate(team_id),
        process_before_response=False,
        # Bolt's default runs 5 listeners at once; the rest queue while their HTTP threads
        # poll for the ack every 10 ms, which under load starves the process. Match the
        # HTTP server's worker threads instead.
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="listener"),
    )
    app.use(_inject(deps))
    app.error(_on_error)
    register(app)
    setattr(app, _DEPS, deps)
    return app


_DEPS = "expansion_radar_deps"


def deps_of(app: App) -> Deps:
    """The collaborators an app was built with (the runner starts jobs with them)."""
    deps = getattr(app, _DEPS)
    assert isinstance(deps, Deps)
    return deps


def _installed_team(client: WebClient) -> str | None:
    try:
        return str(client.auth_test()["team_id"])
    except SlackApiError as exc:
        raise UserError(
            f"Slack refused the bot token ({exc.response.get('error')}). Check SLACK_BOT_TOKEN."
        ) from None


class _Gate(Middleware):
    """Runs after the signature check and before anything reads the payload (a class, not a
    function: Bolt builds a function middleware's arguments from the payload, which is exactly
    what a malformed one breaks). Payloads whose shape Slack never sends get a 400; requests
    from any workspace but ours a 403 — including a user of another workspace acting through
    a shared channel, whose own ``user.team_id`` differs."""

    def __init__(self, team_id: str | None) -> None:
        self.team_id = team_id

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        body = req.body
        problem = malformed(body)
        if problem:
            log.warning("refused a malformed %s payload: %s", body.get("type"), problem)
            return BoltResponse(status=400, body="")
        if self.team_id is None or body.get("type") == "url_verification":
            return next()
        teams = set(_teams_in(body, req.context.get("team_id"))) - {None}
        if teams != {self.team_id}:
            log.warning("refused a request from team %s (installed: %s)", teams, self.team_id)
            return BoltResponse(status=403, body="")
        return next()


_OBJECTS = ("user", "team", "channel", "container", "view", "message", "enterprise", "event")
_STRINGS = ("type", "trigger_id", "response_url", "team_id", "user_id", "command", "text")
_BY_A_USER = ("block_actions", "view_submission", "view_closed", "block_suggestion", "shortcut")


def malformed(body: Any) -> str | None:
    """What is wrong with a payload's shape (one Slack would never send), or None."""
    if not isinstance(body, dict):
        return "not an object"
    for key in _OBJECTS:
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"{key} is not an object"
    for key in _STRINGS:
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"{key} is not a string"
    kind = body.get("type")
    if kind in _BY_A_USER and not isinstance((body.get("user") or {}).get("id"), str):
        return "no user id"
    if kind == "block_actions":
        if not body.get("trigger_id"):
            return "no trigger_id"
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            return "no actions"
        if not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
            return "an action without an action_id"
    if kind in ("view_submission", "view_closed"):
        view = body.get("view") or {}
        state = view.get("state", {})
        if not isinstance(state, dict) or not isinstance(state.get("values", {}), dict):
            return "view.state.values is not an object"
        if not isinstance(view.get("private_metadata") or "", str):
            return "view.private_metadata is not a string"
    if kind == "event_callback" and not isinstance((body.get("event") or {}).get("type"), str):
        return "no event type"
    return None


def _teams_in(body: dict[str, Any], bolt_says: Any) -> list[str | None]:
    """Every workspace the payload names: where it happened and whose user acted."""
    team, user = body.get("team"), body.get("user")
    named = [
        bolt_says,
        team.get("id") if isinstance(team, dict) else None,
        body.get("team_id"),
        user.get("team_id") if isinstance(user, dict) else None,
    ]
    return [t if t is None or isinstance(t, str) else "(not a team id)" for t in named]


def _inject(deps: Deps) -> Callable[..., None]:
    def middleware(context: Any, next: Callable[[], None]) -> None:
        context["deps"] = deps
        next()

    return middleware


def _on_error(
    error: Exception, body: dict[str, Any], respond: Respond | None, client: WebClient
) -> None:
    """Failures Bolt catches (middleware, or a listener before it acknowledged)."""
    report_error(error, body=body, respond=respond, client=client)
