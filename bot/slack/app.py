"""Build the Bolt app: a factory, nothing at import time.

``create_app`` wires the collaborators (settings, config, a session factory and optionally a
WebClient — tests pass one pointed at a local fake Slack) and registers the listeners.

Nothing acts on a request Slack did not sign: ``_Gate``, the first middleware that reads a
request (only Bolt's ssl_check probe, which answers an empty 200, comes before it), checks the
signature and timestamp (``signing.RequestCheck``; the HTTP server already checked them before
Bolt read a byte) and marks the request verified, and the error handler does nothing but answer
401 for a request without that mark. Requests from any workspace but the installed one are
refused before a listener runs.

``process_before_response=True``: Slack gets its HTTP response as soon as a listener's ack part
returns (see ``bot.slack.listeners``), never waiting for a free worker thread; the work runs
after it in Bolt's lazy listeners.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.context.respond import Respond
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.infra.settings import AppConfig, Settings, check_shadow_channel
from bot.slack.client import make_client
from bot.slack.deps import Deps
from bot.slack.errors import UserError, report_error
from bot.slack.listeners import register
from bot.slack.routing import Router
from bot.slack.search import AccountSearch
from bot.slack.sender import Sender
from bot.slack.signing import RequestCheck
from db.engine import SessionFactory
from scoring.config import ConfigError

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
    secret = settings.slack_signing_secret
    if secret is None and not socket_mode:
        raise UserError(
            "SLACK_SIGNING_SECRET is not set (or is empty). Serving Slack over HTTP needs it:"
            " copy it from the app's Basic Information → App Credentials."
        )
    client = client or make_client(settings)
    if not client.token:
        raise UserError("SLACK_BOT_TOKEN is not set (or is empty). Copy the Bot User OAuth Token.")
    # Socket Mode requests arrive over the authenticated socket, unsigned; HTTP ones are checked.
    check = RequestCheck(secret.get_secret_value()) if secret is not None else None
    try:
        check_shadow_channel(config, settings.expansion_channel)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
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
    # Bolt's default runs 5 lazy listeners at once; match the HTTP server's worker threads.
    executor = ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="listener")
    app = App(
        client=client,
        # Bolt's own check raises on a malformed timestamp and logs refused bodies: ours runs
        # in _Gate (and in the HTTP server, before Bolt).
        request_verification_enabled=False,
        before_authorize=_Gate(team_id, check),
        process_before_response=True,
        listener_executor=executor,
    )
    app.use(_inject(deps))
    app.error(_error_handler(executor))
    register(app)
    setattr(app, _DEPS, deps)
    setattr(app, _CHECK, check)
    return app


_DEPS = "expansion_radar_deps"
_CHECK = "expansion_radar_request_check"
VERIFIED = "expansion_radar_verified"  # in a request's context: it passed the signature check


def deps_of(app: App) -> Deps:
    """The collaborators an app was built with (the runner starts jobs with them)."""
    deps = getattr(app, _DEPS)
    assert isinstance(deps, Deps)
    return deps


def request_check(app: App) -> RequestCheck | None:
    """The signature check the HTTP server applies before Bolt sees a request (None: an app
    built for Socket Mode, which has no signing secret)."""
    check = getattr(app, _CHECK, None)
    assert check is None or isinstance(check, RequestCheck)
    return check


def _first(headers: dict[str, Any], name: str) -> str | None:
    values = headers.get(name) or [None]
    return values[0] if isinstance(values[0], str) else None


def _installed_team(client: WebClient) -> str | None:
    try:
        return str(client.auth_test()["team_id"])
    except SlackApiError as exc:
        raise UserError(
            f"Slack refused the bot token ({exc.response.get('error')}). Check SLACK_BOT_TOKEN."
        ) from None


class _Gate(Middleware):
    """Before any other middleware reads the payload (a class, not a function: Bolt
    builds a function middleware's arguments from the payload, which is exactly what a
    malformed one breaks). An HTTP request Slack did not sign gets a 401 and nothing else;
    payloads whose shape Slack never sends get a 400; requests from any workspace but ours a
    403 — including a user of another workspace acting through a shared channel, whose own
    ``user.team_id`` differs."""

    def __init__(self, team_id: str | None, check: RequestCheck | None) -> None:
        self.team_id = team_id
        self.check = check

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        if req.mode != "socket_mode":
            problem = (
                self.check.problem(
                    _first(req.headers, "x-slack-request-timestamp"),
                    _first(req.headers, "x-slack-signature"),
                    req.raw_body,
                )
                if self.check is not None
                else "no signing secret to check it with"
            )
            if problem:
                log.warning("refused a request: %s", problem)
                return BoltResponse(status=401, body="")
        req.context[VERIFIED] = True
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
_BY_A_USER = (
    "block_actions",
    "view_submission",
    "view_closed",
    "block_suggestion",
    "shortcut",
    "message_action",
)


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
    if "command" in body:  # a slash command: Slack always says who typed it and where to answer
        if not body.get("user_id"):
            return "a command without a user_id"
        if not body.get("response_url"):
            return "a command without a response_url"
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
    if kind == "message_action":  # a message shortcut: Slack always says which message
        if not body.get("trigger_id"):
            return "no trigger_id"
        if not isinstance((body.get("channel") or {}).get("id"), str):
            return "no channel id"
        if not isinstance((body.get("message") or {}).get("ts"), str):
            return "no message ts"
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


def _error_handler(executor: Executor) -> Callable[..., BoltResponse]:
    def on_error(
        error: Exception, request: BoltRequest, respond: Respond | None, client: WebClient
    ) -> BoltResponse:
        """Failures Bolt catches (in middleware: the listeners report their own). A request
        that did not pass the signature check is answered 401 and nothing else: its
        response_url, user and channel are whatever a stranger wrote, and its body is not
        logged. A verified one is acknowledged, and the person told after the response."""
        if not request.context.get(VERIFIED):
            log.warning("refused an unverified request (%s)", type(error).__name__)
            return BoltResponse(status=401, body="")
        body = request.body
        executor.submit(report_error, error, body=body, respond=respond, client=client)
        return BoltResponse(status=200, body="")

    return on_error
