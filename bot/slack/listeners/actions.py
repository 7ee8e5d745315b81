"""Buttons on alerts and cards. Ack first; the change lands in the database, the channel
message is edited through the outbox, and an ephemeral copy is redrawn via response_url."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.slack import blocks, flows
from bot.slack.ids import Action
from bot.slack.listeners import guarded
from bot.slack.model import ActionValue, Card


def register(app: App) -> None:
    app.action(Action.ACKNOWLEDGE.value)(guarded(acknowledge))
    app.action(Action.SNOOZE.value)(guarded(snooze))
    app.action(Action.START_PLAN.value)(guarded(start_plan))
    app.action(Action.NOT_NOW.value)(guarded(not_now))
    app.action(Action.REASSIGN.value)(guarded(reassign))
    app.action(Action.PICK_ACCOUNT.value)(guarded(pick_account))


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def _ephemeral(body: dict[str, Any]) -> bool:
    return bool((body.get("container") or {}).get("is_ephemeral"))


def _redraw(body: dict[str, Any], respond: Respond, card: Card) -> None:
    """Channel messages are edited by the sender; an ephemeral card only via response_url."""
    if _ephemeral(body) and body.get("response_url"):
        reply = blocks.card_reply(card)
        respond(text=reply.text, blocks=reply.blocks, replace_original=True)


def acknowledge(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, deps: flows.Deps
) -> None:
    ack()
    card = flows.acknowledge(deps, user_id=_user(body), value=ActionValue.load(action["value"]))
    _redraw(body, respond, card)


def snooze(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    deps: flows.Deps,
) -> None:
    ack()
    value = ActionValue.load((action.get("selected_option") or {}).get("value"))
    if value.choice == "date":
        meta = value.model_copy(
            update={
                "choice": None,
                "response_url": body.get("response_url") if _ephemeral(body) else None,
            }
        )
        view = flows.modal(deps, kind="snooze", user_id=_user(body), value=meta)
        client.views_open(trigger_id=body["trigger_id"], view=view)
        return
    card = flows.snooze(deps, user_id=_user(body), value=value, when=value.choice or "1d")
    _redraw(body, respond, card)


def start_plan(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, deps: flows.Deps
) -> None:
    ack()
    value = ActionValue.load(action["value"])
    reply = flows.start_plan(deps, user_id=_user(body), value=value)
    respond(text=reply.text, blocks=reply.blocks, response_type="ephemeral", replace_original=False)
    if value.alert is not None:
        _redraw(body, respond, flows.refreshed(deps, value.alert))


def _open_modal(
    kind: str, body: dict[str, Any], action: dict[str, Any], client: WebClient, deps: flows.Deps
) -> None:
    value = ActionValue.load(action["value"])
    if _ephemeral(body):
        value = value.model_copy(update={"response_url": body.get("response_url")})
    view = flows.modal(deps, kind=kind, user_id=_user(body), value=value)
    client.views_open(trigger_id=body["trigger_id"], view=view)


def not_now(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, deps: flows.Deps
) -> None:
    ack()
    _open_modal("not_now", body, action, client, deps)


def reassign(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, deps: flows.Deps
) -> None:
    ack()
    _open_modal("reassign", body, action, client, deps)


def pick_account(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, deps: flows.Deps
) -> None:
    ack()
    value = ActionValue.load(action["value"])
    if value.account is None:
        return
    reply = flows.account_card(deps, user_id=_user(body), account_id=value.account)
    respond(text=reply.text, blocks=reply.blocks, replace_original=True)
