"""The message shortcut *Log as expansion signal* and the account menu of its modal.

The shortcut is acknowledged empty; the work part opens the modal first thing, from the
payload alone (Slack's ``trigger_id`` lasts three seconds), and only then asks Slack for the
message's permalink and the database for the account the channel suggests, redrawing the
modal with them. The account menu's options are the acknowledgement itself, so they come
from the account index already in memory — never a database wait.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack import log_flows
from bot.slack.blocks import modals
from bot.slack.deps import Deps
from bot.slack.ids import Action, Shortcut
from bot.slack.listeners import listen


def register(app: App) -> None:
    app.message_shortcut(Shortcut.LOG_SIGNAL.value)(**listen(log_signal))
    app.options(Action.LOG_ACCOUNT.value)(**listen(_answered, ack=account_options))


def log_signal(body: dict[str, Any], client: WebClient, deps: Deps) -> None:
    source, text, thread_ts = log_flows.shortcut_source(body)
    opened = client.views_open(trigger_id=body["trigger_id"], view=modals.log_modal(source, text))
    view = opened.get("view")
    if isinstance(view, dict):
        log_flows.fill_log_modal(
            deps,
            view=view,
            source=source,
            text=text,
            channel_name=(body.get("channel") or {}).get("name"),
            thread_ts=thread_ts,
        )


def account_options(ack: Ack, payload: dict[str, Any], deps: Deps) -> bool:
    """Accounts matching what was typed so far (none until the index is built)."""
    typed = payload.get("value")
    found = None
    if isinstance(typed, str) and typed.strip():
        found = deps.search.find_ready(typed, limit=modals.OPTIONS_MAX)
    ack(options=modals.account_options(found.matches if found else []))
    return False


def _answered() -> None:
    """The options went out in the acknowledgement: nothing is left to do."""
