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
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.context.respond import Respond
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
    router = Router(config, settings.expansion_channel, client)
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
        before_authorize=_only_team(team_id),
        process_before_response=False,
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


def _only_team(team_id: str | None) -> Callable[..., BoltResponse | None]:
    """Refuse requests from any workspace but ours (after the signature check)."""

    def guard(body: dict[str, Any], context: Any, next: Callable[[], None]) -> BoltResponse | None:
        if team_id is None or body.get("type") in ("url_verification",):
            next()
            return None
        sender_team = context.get("team_id") or _team_in(body)
        if sender_team != team_id:
            log.warning("refused a request from team %s (installed: %s)", sender_team, team_id)
            return BoltResponse(status=403, body="")
        next()
        return None

    return guard


def _team_in(body: dict[str, Any]) -> str | None:
    team = body.get("team")
    if isinstance(team, dict):
        return team.get("id")
    return body.get("team_id") or (body.get("user") or {}).get("team_id")


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
