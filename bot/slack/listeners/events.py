"""Events: the App Home tab is drawn whenever someone opens it (after the ack: Slack retries
an event it has not had a 200 for within three seconds)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack import flows
from bot.slack.deps import Deps
from bot.slack.ids import Event
from bot.slack.listeners import listen


def register(app: App) -> None:
    app.event(Event.APP_HOME_OPENED.value)(**listen(home_opened))


def home_opened(event: dict[str, Any], client: WebClient, deps: Deps) -> None:
    if event.get("tab", "home") != "home":
        return
    user = str(event["user"])
    client.views_publish(user_id=user, view=flows.home(deps, user_id=user))
