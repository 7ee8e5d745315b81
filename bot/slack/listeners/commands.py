"""``/expansion``: answered in the ack itself (ephemeral), well inside Slack's 3 seconds —
except ``stats``, which reads the whole book and answers through the response_url."""

from __future__ import annotations

import time
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import metrics
from bot.slack import blocks, flows
from bot.slack.errors import UserError
from bot.slack.ids import Command
from bot.slack.listeners import guarded
from bot.slack.parse import parse


def register(app: App) -> None:
    app.command(Command.EXPANSION.value)(guarded(expansion))


def expansion(ack: Ack, command: dict[str, Any], respond: Respond, deps: flows.Deps) -> None:
    started = time.perf_counter()
    if parse(command.get("text", "")).verb == "stats":
        # metrics read the whole book: answer after the ack, not inside Slack's 3 seconds
        wait = blocks.message_reply("Counting the outcomes… one moment.")
        ack(response_type="ephemeral", text=wait.text, blocks=wait.blocks)
        reply = flows.stats(deps, user_id=command["user_id"])
        respond(response_type="ephemeral", text=reply.text, blocks=reply.blocks)
        return
    try:
        reply = flows.expansion(deps, user_id=command["user_id"], text=command.get("text", ""))
    except UserError as exc:
        reply = blocks.message_reply(exc.message)
    ack(response_type="ephemeral", text=reply.text, blocks=reply.blocks)
    metrics.SLASH_SECONDS.observe(time.perf_counter() - started)
    if reply.refresh_alert is not None:  # after the ack: Slack's 3 seconds are not ours to spend
        deps.sender.flush(reply.refresh_alert)
