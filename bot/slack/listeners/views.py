"""Modal submissions: snooze until a date, not now with a reason, reassign."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk.webhook import WebhookClient

from bot.slack import blocks, flows
from bot.slack.ids import Action, Block, Callback
from bot.slack.listeners import guarded
from bot.slack.model import ActionValue, Card


def register(app: App) -> None:
    app.view(Callback.SNOOZE_MODAL.value)(guarded(snooze_submitted))
    app.view(Callback.NOT_NOW_MODAL.value)(guarded(not_now_submitted))
    app.view(Callback.REASSIGN_MODAL.value)(guarded(reassign_submitted))


def _state(view: dict[str, Any], block: Block, action: Action) -> dict[str, Any]:
    values: dict[str, Any] = view["state"]["values"].get(block.value, {}).get(action.value, {})
    return values


def _redraw(value: ActionValue, card: Card) -> None:
    """The modal came from an ephemeral card: redraw it through its response_url."""
    if value.response_url:
        reply = blocks.card_reply(card)
        WebhookClient(value.response_url).send(
            text=reply.text, blocks=reply.blocks, replace_original=True
        )


def snooze_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: flows.Deps
) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    day = _state(view, Block.SNOOZE_DATE, Action.SNOOZE_DATE).get("selected_date")
    user = str(body["user"]["id"])
    problem = flows.snooze_date_error(deps, user_id=user, value=value, day=day)
    if problem:
        ack(response_action="errors", errors={Block.SNOOZE_DATE.value: problem})
        return
    ack()
    _redraw(value, flows.snooze(deps, user_id=user, value=value, when=str(day)))


def not_now_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: flows.Deps
) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    reason = (
        _state(view, Block.NOT_NOW_REASON, Action.NOT_NOW_REASON).get("selected_option") or {}
    ).get("value")
    note = _state(view, Block.NOT_NOW_NOTE, Action.NOT_NOW_NOTE).get("value")
    if not reason:
        ack(response_action="errors", errors={Block.NOT_NOW_REASON.value: "Pick a reason."})
        return
    ack()
    card = flows.dismiss(
        deps, user_id=str(body["user"]["id"]), value=value, reason=reason, note=note
    )
    _redraw(value, card)


def reassign_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], deps: flows.Deps
) -> None:
    value = ActionValue.load(view.get("private_metadata"))
    new_owner = _state(view, Block.REASSIGN_USER, Action.REASSIGN_USER).get("selected_user")
    if not new_owner:
        ack(response_action="errors", errors={Block.REASSIGN_USER.value: "Pick a person."})
        return
    ack()
    card = flows.reassign(deps, user_id=str(body["user"]["id"]), value=value, new_owner=new_owner)
    _redraw(value, card)
