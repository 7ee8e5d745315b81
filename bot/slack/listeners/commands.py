"""``/expansion``: acknowledged at once, answered through the response_url.

The ack carries the answer only when it needs neither Slack nor the database — the help, and
input the bot cannot read. Everything else is acknowledged empty and answered (ephemeral)
moments later: an empty ack shows nothing, so the person sees one message, the answer, not a
"one moment" that would stay above it. ``stats`` reads the whole book and may take a few
seconds, so it says "Counting…" first.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.infra import metrics
from bot.slack import flows
from bot.slack.blocks.base import message_reply
from bot.slack.blocks.replies import help_reply
from bot.slack.deps import Deps
from bot.slack.errors import UserError
from bot.slack.ids import Command
from bot.slack.listeners import listen
from bot.slack.model import Reply
from bot.slack.parse import parse

log = logging.getLogger(__name__)

_RECEIVED = "expansion_radar_received"  # time.time() when the command arrived


def register(app: App) -> None:
    app.command(Command.EXPANSION.value)(**listen(answer, ack=acknowledge))


def acknowledge(ack: Ack, command: dict[str, Any], context: BoltContext) -> bool:
    """Answer in the ack what the text alone decides; False when that was the whole answer."""
    context[_RECEIVED] = time.time()
    cmd = parse(command.get("text", ""))
    if cmd.verb == "help":
        _ack_with(ack, help_reply(cmd.problem))
        return False
    if cmd.verb == "stats":
        _ack_with(ack, message_reply("Counting the outcomes… one moment."))
        return True
    ack()
    return True


def answer(command: dict[str, Any], respond: Respond, context: BoltContext, deps: Deps) -> None:
    try:
        reply = flows.expansion(deps, user_id=command["user_id"], text=command.get("text", ""))
    except UserError as exc:
        reply = message_reply(exc.message)
    sent = respond(response_type="ephemeral", text=reply.text, blocks=reply.blocks)
    if sent.status_code != 200:
        log.warning("Slack refused the answer to /expansion (HTTP %s)", sent.status_code)
    received = context.get(_RECEIVED)
    if isinstance(received, float):
        metrics.SLASH_SECONDS.observe(max(0.0, time.time() - received))
    if reply.refresh_alert is not None:
        deps.sender.flush(reply.refresh_alert)


def _ack_with(ack: Ack, reply: Reply) -> None:
    ack(response_type="ephemeral", text=reply.text, blocks=reply.blocks)
