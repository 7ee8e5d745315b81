"""Buttons on alerts and cards. Acknowledged empty at once (``listen``); then the change lands
in the database, the channel message is edited through the outbox, and an ephemeral copy is
redrawn via response_url. Buttons that open a modal do it first thing after the ack, from the
database and what is already known of the person — never waiting for ``users.info`` — since
Slack's ``trigger_id`` only lasts three seconds."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.slack import flows, plan_flows
from bot.slack.blocks.cards import card_reply
from bot.slack.blocks.steps import step_blocks, step_text
from bot.slack.deps import Deps
from bot.slack.ids import Action
from bot.slack.listeners import listen
from bot.slack.model import ActionValue, Card, StepCard


def register(app: App) -> None:
    app.action(Action.ACKNOWLEDGE.value)(**listen(acknowledge))
    app.action(Action.SNOOZE.value)(**listen(snooze))
    app.action(Action.START_PLAN.value)(**listen(start_plan))
    app.action(Action.NOT_NOW.value)(**listen(not_now))
    app.action(Action.REASSIGN.value)(**listen(reassign))
    app.action(Action.OBJECTIONS.value)(**listen(objections))
    app.action(Action.PICK_ACCOUNT.value)(**listen(pick_account))
    app.action(Action.FEEDBACK_USEFUL.value)(**listen(feedback_useful))
    app.action(Action.FEEDBACK_NOISE.value)(**listen(feedback_noise))
    app.action(Action.STEP_DONE.value)(**listen(step_done))
    app.action(Action.STEP_SNOOZE.value)(**listen(step_snooze))
    app.action(Action.STEP_SKIP.value)(**listen(step_skip))
    app.action(Action.STEP_REASSIGN.value)(**listen(step_reassign))
    app.action(Action.PLAN_REASSIGN.value)(**listen(plan_reassign))
    app.action(Action.PLAN_OUTCOME.value)(**listen(plan_outcome))
    app.action(Action.PLAN_DOCUMENT.value)(**listen(plan_document))


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def _selected(action: dict[str, Any]) -> ActionValue:
    """The value of the menu option picked (snooze for…, outcome)."""
    return ActionValue.load((action.get("selected_option") or {}).get("value"))


def _ephemeral(body: dict[str, Any]) -> bool:
    return bool((body.get("container") or {}).get("is_ephemeral"))


def _redraw(body: dict[str, Any], respond: Respond, card: Card) -> None:
    """Channel messages are edited by the sender; an ephemeral card only via response_url."""
    if _ephemeral(body) and body.get("response_url"):
        reply = card_reply(card)
        respond(text=reply.text, blocks=reply.blocks, replace_original=True)


def acknowledge(body: dict[str, Any], action: dict[str, Any], respond: Respond, deps: Deps) -> None:
    card = flows.acknowledge(deps, user_id=_user(body), value=ActionValue.load(action.get("value")))
    _redraw(body, respond, card)


def snooze(
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    deps: Deps,
) -> None:
    value = _selected(action)
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


def start_plan(body: dict[str, Any], action: dict[str, Any], respond: Respond, deps: Deps) -> None:
    value = ActionValue.load(action.get("value"))
    reply = flows.start_plan(deps, user_id=_user(body), value=value)
    respond(text=reply.text, blocks=reply.blocks, response_type="ephemeral", replace_original=False)
    if value.alert is not None:
        _redraw(body, respond, flows.refreshed(deps, value.alert))


def _open_modal(
    kind: str, body: dict[str, Any], action: dict[str, Any], client: WebClient, deps: Deps
) -> None:
    value = ActionValue.load(action.get("value"))
    if _ephemeral(body):
        value = value.model_copy(update={"response_url": body.get("response_url")})
    view = flows.modal(deps, kind=kind, user_id=_user(body), value=value)
    client.views_open(trigger_id=body["trigger_id"], view=view)


def not_now(body: dict[str, Any], action: dict[str, Any], client: WebClient, deps: Deps) -> None:
    _open_modal("not_now", body, action, client, deps)


def reassign(body: dict[str, Any], action: dict[str, Any], client: WebClient, deps: Deps) -> None:
    _open_modal("reassign", body, action, client, deps)


def objections(body: dict[str, Any], action: dict[str, Any], client: WebClient, deps: Deps) -> None:
    _open_modal("objections", body, action, client, deps)


def pick_account(
    body: dict[str, Any], action: dict[str, Any], respond: Respond, deps: Deps
) -> None:
    value = ActionValue.load(action.get("value"))
    if value.account is None:
        return
    reply = flows.account_card(deps, user_id=_user(body), account_id=value.account)
    respond(text=reply.text, blocks=reply.blocks, replace_original=True)


# --- alert feedback -----------------------------------------------------------------------


def _feedback(
    vote: str, body: dict[str, Any], action: dict[str, Any], respond: Respond, deps: Deps
) -> None:
    card = flows.feedback(
        deps, user_id=_user(body), value=ActionValue.load(action.get("value")), vote=vote
    )
    _redraw(body, respond, card)


def feedback_useful(
    body: dict[str, Any], action: dict[str, Any], respond: Respond, deps: Deps
) -> None:
    _feedback("useful", body, action, respond, deps)


def feedback_noise(
    body: dict[str, Any], action: dict[str, Any], respond: Respond, deps: Deps
) -> None:
    _feedback("noise", body, action, respond, deps)


# --- plan steps and plans -------------------------------------------------------------------


def _where(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The channel and ts of the message whose button was clicked."""
    container = body.get("container") or {}
    return container.get("channel_id"), container.get("message_ts")


def _redraw_step(body: dict[str, Any], respond: Respond, deps: Deps, card: StepCard) -> None:
    if _ephemeral(body) and body.get("response_url"):
        respond(
            text=step_text(card),
            blocks=[b.to_dict() for b in step_blocks(card)],
            replace_original=True,
        )
        return
    channel, ts = _where(body)
    plan_flows.redraw_step(deps, channel=channel, ts=ts, card=card)


def _with_origin(body: dict[str, Any], value: ActionValue) -> ActionValue:
    """Remember the clicked message in the modal, to redraw it after the submission."""
    channel, ts = _where(body)
    if _ephemeral(body):
        return value.model_copy(update={"response_url": body.get("response_url")})
    return value.model_copy(update={"channel": channel, "ts": ts})


def _plan_modal(
    kind: str, body: dict[str, Any], value: ActionValue, client: WebClient, deps: Deps
) -> None:
    view = plan_flows.plan_modal(
        deps, kind=kind, user_id=_user(body), value=_with_origin(body, value)
    )
    client.views_open(trigger_id=body["trigger_id"], view=view)


def step_done(body: dict[str, Any], action: dict[str, Any], respond: Respond, deps: Deps) -> None:
    card = plan_flows.step_done(
        deps, user_id=_user(body), value=ActionValue.load(action.get("value"))
    )
    _redraw_step(body, respond, deps, card)


def step_snooze(
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    deps: Deps,
) -> None:
    value = _selected(action)
    if value.choice == "date":
        meta = value.model_copy(update={"choice": None})
        _plan_modal("step_snooze", body, meta, client, deps)
        return
    card = plan_flows.step_snooze(deps, user_id=_user(body), value=value, when=value.choice or "1d")
    _redraw_step(body, respond, deps, card)


def step_skip(body: dict[str, Any], action: dict[str, Any], client: WebClient, deps: Deps) -> None:
    _plan_modal("step_skip", body, ActionValue.load(action.get("value")), client, deps)


def step_reassign(
    body: dict[str, Any], action: dict[str, Any], client: WebClient, deps: Deps
) -> None:
    _plan_modal("step_reassign", body, ActionValue.load(action.get("value")), client, deps)


def plan_reassign(
    body: dict[str, Any], action: dict[str, Any], client: WebClient, deps: Deps
) -> None:
    _plan_modal("plan_reassign", body, ActionValue.load(action.get("value")), client, deps)


def plan_outcome(
    body: dict[str, Any], action: dict[str, Any], client: WebClient, deps: Deps
) -> None:
    value = _selected(action)
    _plan_modal("outcome", body, value, client, deps)


def plan_document(
    body: dict[str, Any], action: dict[str, Any], respond: Respond, deps: Deps
) -> None:
    """Seed 002's plan in the clicked message's thread (a canvas, else a file)."""
    channel, ts = _where(body)
    thread_ts = (body.get("message") or {}).get("thread_ts") or ts
    said = plan_flows.share_plan_document(
        deps,
        user_id=_user(body),
        value=ActionValue.load(action.get("value")),
        channel=channel,
        thread_ts=thread_ts,
        private=_ephemeral(body),
    )
    if said and body.get("response_url"):
        respond(text=said, response_type="ephemeral", replace_original=False)
